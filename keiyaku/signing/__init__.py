"""PDF signing: the Django-free engine (``engine``) and the per-process key set-up (``keys``)."""
