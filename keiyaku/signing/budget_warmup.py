"""Imported once by the validation fork server (``keiyaku.signing.budget``): sets Django up
when the process that started the server uses it (a budgeted ingest translates its refusals),
then runs one ingest
proof on a blank page, so that the caches every validation child needs (the throw-away key, the
font subset, pyHanko's and asn1crypto's lazily built tables) are filled before the first fork
and inherited by every child, instead of being rebuilt in each one (about 0.5 s a call).
"""

from __future__ import annotations

import io
import logging
import os

import pikepdf

from keiyaku.signing.ingest_proof import prove_in_process

logger = logging.getLogger(__name__)

if os.environ.get("DJANGO_SETTINGS_MODULE"):
    # A budgeted ingest needs Django (settings, translations): set it up once here, so that no
    # child pays for it. No database connection is opened.
    try:
        import django

        django.setup()
    except Exception:  # the child sets it up itself then
        logger.warning("validation fork server: Django set-up failed", exc_info=True)


def _blank_page() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


try:
    _reason = prove_in_process(_blank_page())
    if _reason:
        logger.warning("validation warm-up: %s", _reason)
    # 「送信」's child (`keiyaku.signing.sending`): the certificate ID's font registered and
    # subset once here, not in every send (0.6 s a call before).
    from keiyaku.signing.ingest import stamp_certificate_id

    stamp_certificate_id(_blank_page(), "0")
except Exception:  # a failed warm-up only costs speed; never stop the fork server
    logger.warning("validation warm-up failed", exc_info=True)
