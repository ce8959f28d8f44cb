"""Background work shared by several consumer processes: leases (a lock per contract that a
killed consumer cannot keep) and periodic tasks that run once per period however many
consumers enqueue them."""
