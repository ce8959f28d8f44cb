"""PDF signing: the Django-free engine (``engine``) and the per-process key set-up (``keys``)."""

from keiyaku.signing import pyhanko_hex

# pyHanko reads hex strings (every signature's /Contents) a byte at a time: issue 12.
pyhanko_hex.install()
