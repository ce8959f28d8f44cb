"""A contract completes end to end with its files in S3-compatible object storage (issue 11).

The test S3 server is moto in server mode in its own process (tests/servers/s3.py); keiyaku talks
to it over HTTP with boto3, as to AWS S3 or Ceph RGW.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus
from keiyaku.pki.service import get_authority
from keiyaku.signing.verification import verify_pdf
from keiyaku.storage.models import Blob
from tests.flow import External, agree, draft_contract, last_link
from tests.outside import openssl_verify_timestamps, pdfsig

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FIRM = External("株式会社テスト建設", "署名 太郎", "taro@firm.example.jp", "4321")


def test_a_contract_completes_with_every_file_encrypted_in_the_bucket(personas, s3_storage):
    contract = draft_contract(personas.sender, externals=[FIRM], staff_signers=[personas.mayor])
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED

    # The final PDF, as the sender downloads it, validates (pyHanko, pdfsig, openssl ts).
    document = contract.documents.get()
    sender = Client()
    sender.force_login(personas.sender)
    answer = sender.get(reverse("document-download", args=[contract.pk, document.pk, "current"]))
    assert answer.status_code == 200
    pdf = answer.content
    report = verify_pdf(pdf)
    assert report.ok, report.as_dict()
    assert len([s for s in report.signatures if s.kind == "signature"]) == 2
    pdfsig(pdf)
    authority = get_authority()
    openssl_verify_timestamps(pdf, authority.root_pem(), authority.tsa_cert.dump())

    # Every stored file is in the bucket, and only as ciphertext (R43).
    blobs = list(Blob.objects.all())
    assert len(blobs) >= 3  # the upload and each signed version
    listing = s3_storage.server.client().list_objects_v2(Bucket=s3_storage.bucket)
    keys = {entry["Key"] for entry in listing.get("Contents", [])}
    assert keys == {s3_storage.key(blob.object_name) for blob in blobs}
    for blob in blobs:
        raw = s3_storage.raw(blob.object_name)
        assert b"%PDF-" not in raw
        assert len(raw) == blob.size + 12 + 16
    assert document.current_version().blob.sha256 in {b.sha256 for b in blobs}
