"""The certificate of completion of real contracts, field by field (issue 14, acceptance 3).

Each contract is completed as users do (an approver, then a counterparty who forwards the
request, whose successor signs), with 1, 2 and 5 documents; the certificate is downloaded as
staff do, its text extracted with poppler's pdftotext and every field compared with what the
database holds. The certificate is signed: pyHanko (keiyaku's verdict), pdfsig, openssl ts and
qpdf --check all accept it.
"""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.certificate_pdf import format_jst, format_reiwa
from keiyaku.contracts.models import CompletionCertificate, ContractStatus, PartyStatus
from keiyaku.contracts.services.certificates import CERTIFICATE_FIELD
from keiyaku.contracts.states import PARTY_DONE
from keiyaku.pki.service import get_authority
from keiyaku.signing.verdict import Outcome
from keiyaku.signing.verification import judge_pdf
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, approver, draft_contract, enter_code, last_link
from tests.outside import openssl_verify_timestamps, pdfsig, qpdf_check  # noqa: F401
from tests.pdfs import pdftotext

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社髙橋建設 東日本事業本部", "髙橋 一郎", "takahashi@example.jp", "2468")
SUCCESSOR = ("髙橋 花子", "hanako@example.jp")


def _complete(personas, documents: int):
    """A contract of ``documents`` PDFs: the chief approves (事前承認), FIRM forwards to
    SUCCESSOR, who signs."""
    contract = draft_contract(personas.sender, documents=documents)
    chief = approver(personas, "chief", "課長 一")
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver"
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=FIRM.company,
        name=FIRM.name,
        email=FIRM.email,
        access_code=FIRM.code,
    )
    services.contract_send(contract=contract, actor=personas.sender)
    staff = Client()
    staff.force_login(chief)
    agree(staff, last_link(chief.email))
    forwarder = Client()
    link = last_link(FIRM.email)
    enter_code(forwarder, link, FIRM.code)
    response = forwarder.post(
        link + "forward/", {"company": FIRM.company, "name": SUCCESSOR[0], "email": SUCCESSOR[1]}
    )
    assert response.status_code == 200
    agree(Client(), last_link(SUCCESSOR[1]), FIRM.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    return contract


def _when(moment) -> list[str]:
    return [format_jst(moment), f"（{format_reiwa(moment)}）"]


def _expected_lines(contract) -> list[str]:
    """Every line the certificate must print, in order, from the database."""
    documents = list(contract.documents.order_by("position"))
    lines = [
        "締結証明書",
        f"締結証明書ID {contract.certificate_id}",
        f"契約名 {contract.title}",
        f"管理番号 {contract.management_number}",
        f"組織 {contract.organisation.name}",
        f"作成者 {contract.created_by.label}",
        f"作成日時 {_when(contract.created_at)[0]}",
        _when(contract.created_at)[1],
        f"締結完了日時 {_when(contract.completed_at)[0]}",
        _when(contract.completed_at)[1],
        f"文書数 {len(documents)}件",
    ]
    for number, doc in enumerate(documents, start=1):
        final = doc.current_version()
        assert final.kind == "completed"
        lines += [
            f"{number} {doc.filename} {doc.page_count} 締結済み文書",
            final.blob.sha256,
            "アップロード時",
            doc.original.sha256,
        ]
    lines.append("当事者")
    for party in contract.parties.filter(status__in=PARTY_DONE).order_by("position"):
        role = "承認者（事前承認）" if party.is_approver else "署名者（事業者）"
        if party.kind == "staff" and not party.is_approver:
            role = "署名者（職員）"
        lines += [
            f"{party.position} {role}",
            f"会社名 {party.company or '—'}",
            f"氏名 {party.name} メールアドレス {party.email}",
            f"合意日時 {_when(party.agreed_at)[0]}",
            _when(party.agreed_at)[1],
            f"IPアドレス {party.agreed_ip}",
            f"認証方法 {party.get_auth_method_display()}",
        ]
        if party.forwarded_from is not None:
            by = party.forwarded_from
            lines.append(f"転送元 {by.company} {by.name} 様")
        if party.agreed_user_agent:
            lines.append(f"端末 {party.agreed_user_agent}")
    return lines


def _assert_in_order(lines: list[str], expected: list[str]) -> None:
    """Each expected line appears, whole, after the one before it."""
    at = 0
    for want in expected:
        try:
            at = lines.index(want, at) + 1
        except ValueError:
            raise AssertionError(
                f"missing or out of order: {want!r}\n" + "\n".join(lines)
            ) from None


@pytest.mark.slow(seconds=25)
@pytest.mark.parametrize("documents", [1, 2, 5])
def test_every_field_matches_the_records_and_the_certificate_is_signed(personas, documents):
    contract = _complete(personas, documents)
    staff = Client()
    staff.force_login(personas.sender)
    response = staff.get(f"/contracts/{contract.pk}/certificate.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    stored = CompletionCertificate.objects.get(contract=contract, current=True)
    assert pdf == blob_get(stored.blob)

    text = pdftotext(pdf)
    assert "未確定" not in text
    # pdftotext writes a full-width space between order and role as it was drawn.
    lines = [line.replace("\u3000", " ").strip() for line in text.splitlines()]
    _assert_in_order(lines, _expected_lines(contract))
    forwarded = contract.parties.get(status=PartyStatus.FORWARDED)
    assert forwarded.email not in text  # only the parties who agreed are listed

    # Signed like a contract: keiyaku's signature, its timestamp, B-LTA.
    verdict = judge_pdf(pdf)
    assert verdict.outcome == Outcome.CONCLUDED and verdict.long_term, verdict.as_dict()
    assert [line.item.field_name for line in verdict.lines][0] == CERTIFICATE_FIELD
    assert verdict.lines[0].item.reason == f"締結証明書 {contract.certificate_id} を発行しました"
    authority = get_authority()
    signatures = pdfsig(pdf)
    assert [s["is_document_timestamp"] for s in signatures] == [False, True]
    assert openssl_verify_timestamps(pdf, authority.root_pem(), authority.tsa_cert.dump()) == 2
    qpdf_check(pdf)
