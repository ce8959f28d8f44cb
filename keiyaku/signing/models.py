from __future__ import annotations

from django.db import models


class TsaStatus(models.Model):
    """What one time-stamp authority last did, as every keiyaku process saw it (issue 13).

    One row per TSA URL (without user information), written after each request by
    ``keiyaku.signing.tsas.tsa_attempts_record``; read by /readyz, the operator page and the
    job back-off. A row outlives its TSA's removal from the settings; only configured TSAs
    are shown.
    """

    url = models.CharField(max_length=500, unique=True)
    successes = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_signer = models.CharField(max_length=300, blank=True)
    """The subject of the certificate that signed the last good token."""
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure_reason = models.CharField(max_length=32, blank=True)
    """A key of ``keiyaku.signing.timestamping.REASONS``."""
    last_failure_detail = models.CharField(max_length=500, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    """The first failure after the last success; empty while the TSA works."""

    def __str__(self) -> str:
        return self.url


class ServiceCertificate(models.Model):
    """A certificate this keiyaku has signed agreements with (issue 13, rotation; Sapporo 7(7)).

    Recorded by ``keiyaku.signing.keys.service_certificate_record`` before the first signature
    made with it, so that after the signing key is changed (a new external certificate, an HSM)
    documents signed under every earlier one are still judged as concluded on this keiyaku
    (``keys.get_service_certs``). Rows are never deleted.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    """SHA-256 of the certificate's DER, lower-case hex."""
    der = models.BinaryField()
    subject = models.CharField(max_length=500)
    first_used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.subject
