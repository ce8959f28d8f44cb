"""Acceptance 1 of the core: 17 parties, 2 documents, PAdES B-LTA checked by several validators."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus, PartyStatus, VersionKind
from keiyaku.pki.service import get_authority
from keiyaku.signing.verification import verify_pdf
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, draft_contract, keiyaku_verify, last_link, mails_to
from tests.outside import openssl_verify_timestamps, pdfsig, qpdf_check

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow(seconds=60)]


def test_seventeen_parties_two_documents_complete_as_b_lta(personas, tmp_path):
    externals = [
        External(
            company=f"株式会社テスト建設{i:02d}",
            name=f"署名 {i:02d}郎",
            email=f"signer{i:02d}@firm{i:02d}.example.jp",
            code=f"{4000 + i}",
        )
        for i in range(16)
    ]
    contract = draft_contract(
        personas.sender, externals=externals, staff_signers=[personas.mayor], documents=2, pages=2
    )
    services.contract_send(contract=contract, actor=personas.sender)

    for index, ext in enumerate(externals):
        # Sequential routing (R9): only the current party has been asked so far.
        assert len(mails_to(ext.email)) == 1
        if index + 1 < len(externals):
            assert mails_to(externals[index + 1].email) == []
        agree(Client(), last_link(ext.email), ext.code)
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))

    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    parties = list(contract.parties.all())
    assert len(parties) == 17 and all(p.status == PartyStatus.SIGNED for p in parties)
    for party in parties:  # R19: who, when, where from, how, what
        assert party.agreed_at and party.agreed_ip == "127.0.0.1" and party.auth_method
        assert len(party.shown_sha256) == 2

    authority = get_authority()
    for document in contract.documents.all():
        final = document.current_version()
        assert final.kind == VersionKind.COMPLETED
        pdf = blob_get(final.blob)
        report = verify_pdf(pdf)
        assert report.ok, report.as_dict()
        signatures = [s for s in report.signatures if s.kind == "signature"]
        assert len(signatures) == 17
        reasons = [s.reason for s in signatures]
        assert reasons[0].startswith(
            "株式会社テスト建設00 署名 00郎 様 [signer00@firm00.example.jp] が "
        )
        assert reasons[0].endswith(" +09:00 JSTに承認しました")
        assert report.ltv_ok, report.as_dict()
        later = verify_pdf(pdf, at=timezone.now() + timedelta(days=11 * 366))
        assert later.ltv_ok, later.as_dict()

        results = pdfsig(pdf)
        assert len(results) >= 17
        openssl_verify_timestamps(pdf, authority.root_pem(), authority.tsa_cert.dump())
        qpdf_check(pdf)

        path = tmp_path / f"final-{document.pk}.pdf"
        path.write_bytes(pdf)
        ok = keiyaku_verify(path, "--json")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert json.loads(ok.stdout)["ok"] is True

        # One changed byte inside the signed content breaks the signatures that cover it.
        tampered = bytearray(pdf)
        start = pdf.index(b"stream", pdf.index(b"/Type /Page")) + 20
        tampered[start] ^= 0x01
        broken = tmp_path / f"tampered-{document.pk}.pdf"
        broken.write_bytes(bytes(tampered))
        bad = keiyaku_verify(broken)
        assert bad.returncode != 0
        assert "keiyaku-party-01" in bad.stdout

    # R23: every party and the sender are told, with the PDFs attached (they are small).
    for address in [e.email for e in externals] + [personas.mayor.email, personas.sender.email]:
        notices = [m for m in mails_to(address) if m.subject.startswith("電子署名完了のお知らせ")]
        assert len(notices) == 1, address
        assert notices[0].attachments.count() == 2
