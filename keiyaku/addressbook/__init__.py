"""The address book (アドレス帳, R12): companies and their contacts, shared in an organisation."""
