"""PDF signing: the Django-free engine (``engine``) and the per-process key set-up (``keys``)."""

from keiyaku.signing import pyhanko_hex, pyhanko_time_slide

# pyHanko reads hex strings (every signature's /Contents) a byte at a time: issue 12.
pyhanko_hex.install()
# pyHanko's AdES time slide trusts revocation data issued after a certificate expired, so an
# archive timestamp chain fails once its first TSA certificate has expired: issue 13.
pyhanko_time_slide.install()
