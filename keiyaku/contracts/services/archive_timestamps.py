"""The record of what a stored version's newest document timestamp rests on (R21), written by
every service that stores such a version: completion (progress.py), renewal (renewal.py)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from keiyaku.contracts.models import ArchiveTimestamp, DocumentVersion
from keiyaku.signing.archive import TimestampInfo

__all__ = ["archive_timestamp_record", "renewal_margin"]


def renewal_margin() -> timedelta:
    """How long before its TSA certificate expires a timestamp is renewed
    (KEIYAKU_RENEWAL_MARGIN_DAYS)."""
    return timedelta(days=settings.KEIYAKU_RENEWAL_MARGIN_DAYS)


def archive_timestamp_record(
    *,
    version: DocumentVersion,
    info: TimestampInfo,
    reason: str,
    detail: str = "",
    renews: ArchiveTimestamp | None = None,
    now: datetime | None = None,
) -> ArchiveTimestamp:
    """Record what ``version``'s newest document timestamp (``info``) rests on; call it inside
    the transaction that stores ``version``. The jitter is random in [0, spread] but never so
    large that the new row is due at once (R21)."""
    now = now or timezone.now()
    spread = timedelta(days=settings.KEIYAKU_RENEWAL_SPREAD_DAYS)
    room = max(timedelta(0), min(spread, info.tsa_not_after - renewal_margin() - now))
    jitter = secrets.randbelow(int(room.total_seconds()) + 1)
    return ArchiveTimestamp.objects.create(
        version=version,
        document_id=version.document_id,
        gen_time=info.gen_time,
        tsa_name=info.tsa_name[:500],
        tsa_cert_sha256=info.tsa_cert_sha256,
        tsa_not_after=info.tsa_not_after,
        digest_algorithm=info.digest_algorithm,
        tsa_digest_algorithm=info.tsa_digest_algorithm,
        key_algorithm=info.key_algorithm,
        jitter_seconds=jitter,
        expiry_due_at=info.tsa_not_after - timedelta(seconds=jitter),
        renews=renews,
        reason=reason,
        reason_detail=detail[:200],
    )
