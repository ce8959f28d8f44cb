"""What a document's newest document timestamp rests on, and when it is due for renewal (R21).

Knows nothing of Django. A PAdES B-LTA document stays verifiable only while the newest document
timestamp does: its TSA certificate must not have expired, and the hash and key algorithms it
uses must still be trusted. Before either ends, a new document timestamp over everything (with
the validation data of the old one) extends the proof (``engine.renew``). This module reads a
timestamp into a :class:`TimestampInfo` and decides, from a renewal policy, whether and why it
is due.

A renewal policy is a list of :class:`Retirement` entries such as ``"sha256 after 2040-01-01"``
or ``"rsa2048 after 2035-01-01"`` (setting ``KEIYAKU_RENEWAL_POLICY``): from that day (00:00
UTC), a timestamp using the algorithm is due for renewal, whatever its certificate's lifetime.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509

__all__ = [
    "DIGESTS",
    "RENEWAL_DIGESTS",
    "Retirement",
    "TimestampInfo",
    "due_reason",
    "newest_document_timestamp",
    "parse_retirements",
    "renewal_digest",
    "timestamp_info",
]

DIGESTS = frozenset(
    {"sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"}
)
"""Hash algorithms a policy may retire (asn1crypto's names)."""
RENEWAL_DIGESTS = ("sha256", "sha384", "sha512")
"""Hashes a renewal asks the TSA for, in order of preference: the first not retired."""
_KEY = re.compile(r"^(?:(?:rsa|ecdsa|dsa)\d{3,5}|ed25519|ed448)$")
_ENTRY = re.compile(r"^\s*([a-z0-9_]+)\s+after\s+(\d{4}-\d{2}-\d{2})\s*$")

EXPIRY = "tsa_expiry"
"""Reason code: the TSA certificate of the newest timestamp ends within the margin."""
ALGORITHM = "algorithm"
"""Reason code: the policy retires an algorithm the newest timestamp uses."""


@dataclass(frozen=True)
class TimestampInfo:
    """One RFC 3161 timestamp token, as far as its renewal is concerned."""

    gen_time: dt.datetime
    """When the TSA made it (genTime, UTC)."""
    tsa_name: str
    """The TSA certificate's subject, human-readable."""
    tsa_cert_sha256: str
    """SHA-256 of the TSA certificate (DER, hex)."""
    tsa_not_after: dt.datetime
    """When the TSA certificate expires (UTC): the timestamp must be renewed before."""
    digest_algorithm: str
    """Hash of the message imprint (what binds the document), e.g. ``"sha256"``."""
    tsa_digest_algorithm: str
    """Hash under the TSA's own signature on the token."""
    key_algorithm: str
    """The TSA key: ``"rsa2048"``, ``"ecdsa256"``, ``"ed25519"`` …"""

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset({self.digest_algorithm, self.tsa_digest_algorithm, self.key_algorithm})


@dataclass(frozen=True)
class Retirement:
    """One policy entry: ``algorithm`` is no longer trusted from ``after`` on."""

    algorithm: str
    """A hash from :data:`DIGESTS` or a key such as ``"rsa2048"``, ``"ecdsa256"``."""
    after: dt.datetime
    """00:00 UTC of the day named in the policy."""

    def __str__(self) -> str:
        return f"{self.algorithm} after {self.after.date().isoformat()}"

    @property
    def is_digest(self) -> bool:
        return self.algorithm in DIGESTS


def parse_retirements(text: str) -> tuple[Retirement, ...]:
    """``"sha256 after 2040-01-01, rsa2048 after 2035-01-01"`` (entries separated by commas or
    semicolons; empty text: no entry). Raises ``ValueError`` naming the entry that is not of
    the form ``<algorithm> after <YYYY-MM-DD>`` with a known hash or a key such as rsa2048."""
    entries = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        match = _ENTRY.match(part.lower())
        if match is None:
            raise ValueError(f"{part.strip()!r} is not '<algorithm> after <YYYY-MM-DD>'")
        algorithm, day = match.groups()
        if algorithm not in DIGESTS and not _KEY.match(algorithm):
            raise ValueError(f"{part.strip()!r}: unknown algorithm {algorithm!r}")
        try:
            after = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(f"{part.strip()!r}: {day} is not a date") from None
        entries.append(Retirement(algorithm, after))
    return tuple(entries)


def retired(policy: tuple[Retirement, ...], *, now: dt.datetime) -> tuple[Retirement, ...]:
    """The entries of ``policy`` in force at ``now``."""
    return tuple(entry for entry in policy if entry.after <= now)


def renewal_digest(policy: tuple[Retirement, ...], *, now: dt.datetime) -> str:
    """The hash a renewal at ``now`` uses: the first of :data:`RENEWAL_DIGESTS` the policy has
    not retired. Raises ``ValueError`` when it retired them all."""
    gone = {entry.algorithm for entry in retired(policy, now=now)}
    for name in RENEWAL_DIGESTS:
        if name not in gone:
            return name
    raise ValueError("the renewal policy retires every hash a renewal could use")


def due_reason(
    info: TimestampInfo,
    *,
    now: dt.datetime,
    margin: dt.timedelta,
    policy: tuple[Retirement, ...],
) -> tuple[str, str] | None:
    """Why a timestamp described by ``info`` needs renewing at ``now``: (:data:`EXPIRY`, the
    expiry date) when its TSA certificate ends within ``margin``; (:data:`ALGORITHM`, the policy
    entry) when the policy retired one of its algorithms; None when it needs nothing yet."""
    if info.tsa_not_after - margin <= now:
        return EXPIRY, info.tsa_not_after.date().isoformat()
    for entry in retired(policy, now=now):
        if entry.algorithm in info.algorithms:
            return ALGORITHM, str(entry)
    return None


def newest_document_timestamp(pdf: bytes) -> TimestampInfo | None:
    """The newest document timestamp of ``pdf`` (the last in file order), or None when it has
    none. Reads the signature dictionaries only (no page content, no validation)."""
    # Imported here: settings.py parses the policy with this module, before pyHanko is needed.
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(pdf), strict=False)
    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return None
    return timestamp_info(stamps[-1].signed_data)


def timestamp_info(signed_data: cms.SignedData) -> TimestampInfo:
    """A timestamp token's SignedData read into a :class:`TimestampInfo`. Raises ``ValueError``
    when the token does not carry its TSA's certificate (keiyaku always asks for it)."""
    tst_info = signed_data["encap_content_info"]["content"].parsed
    signer_info = signed_data["signer_infos"][0]
    cert = _signer_cert(signed_data, signer_info)
    public_key = cert.public_key
    algorithm = public_key.algorithm
    if algorithm == "ec":
        key = f"ecdsa{public_key.bit_size}"
    elif algorithm in {"ed25519", "ed448"}:
        key = algorithm
    else:
        key = f"{algorithm}{public_key.bit_size}"
    return TimestampInfo(
        gen_time=tst_info["gen_time"].native.astimezone(dt.UTC),
        tsa_name=cert.subject.human_friendly,
        tsa_cert_sha256=cert.sha256.hex(),
        tsa_not_after=cert["tbs_certificate"]["validity"]["not_after"].native.astimezone(dt.UTC),
        digest_algorithm=tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native,
        tsa_digest_algorithm=signer_info["digest_algorithm"]["algorithm"].native,
        key_algorithm=key,
    )


def _signer_cert(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> asn1_x509.Certificate:
    sid = signer_info["sid"]
    for choice in signed_data["certificates"] or ():
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if (
                cert.issuer == sid.chosen["issuer"]
                and cert.serial_number == sid.chosen["serial_number"].native
            ):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise ValueError("the timestamp token does not carry its TSA's certificate")
