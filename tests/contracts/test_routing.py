"""Issue 3, acceptance 1: approvers, a parallel step of three companies, the organisation's signer."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus, PartyStatus
from keiyaku.signing.verification import verify_pdf
from keiyaku.storage.blobs import blob_get
from tests.flow import SHA_RE, External, agree, approver, draft_contract, last_link, mails_to
from tests.outside import pdfsig

pytestmark = pytest.mark.django_db(transaction=True)

FIRMS = [
    External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111"),
    External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222"),
    External("鈴木土木有限会社", "鈴木 三郎", "suzuki@example.jp", "3333"),
]


def build(personas):
    contract = draft_contract(personas.sender)
    chief = approver(personas, "chief", "課長 一")
    director = approver(personas, "director", "部長 二")
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver"
    )
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=director, role="approver"
    )
    for index, firm in enumerate(FIRMS):
        services.party_add(
            contract=contract,
            actor=personas.sender,
            kind="external",
            company=firm.company,
            name=firm.name,
            email=firm.email,
            access_code=firm.code,
            parallel=index > 0,
        )
    services.party_add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)
    return contract, chief, director


def staff_agree(user, address):
    client = Client()
    client.force_login(user)
    agree(client, last_link(address))


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1)], ids=["in-order", "any-order"])
def test_approvers_then_parallel_companies_then_mayor(personas, order):
    contract, chief, director = build(personas)
    steps = [(p.role, p.step) for p in contract.parties.order_by("position")]
    assert steps == [
        ("approver", 1),
        ("approver", 2),
        ("signer", 3),
        ("signer", 3),
        ("signer", 3),
        ("signer", 4),
    ]
    services.contract_send(contract=contract, actor=personas.sender)
    assert [m.subject for m in mails_to(chief.email)] == [
        f"【keiyaku】「{contract.title}」の承認依頼"
    ]
    assert mails_to(director.email) == [] and mails_to(FIRMS[0].email) == []

    staff_agree(chief, chief.email)
    assert mails_to(FIRMS[0].email) == []
    staff_agree(director, director.email)
    # The parallel step: all three companies are asked at once.
    assert all(len(mails_to(f.email)) == 1 for f in FIRMS)

    for done, index in enumerate(order, start=1):
        firm = FIRMS[index]
        agree(Client(), last_link(firm.email), firm.code)
        if done < len(FIRMS):
            assert mails_to(personas.mayor.email) == []  # the next step waits for all three
    assert len(mails_to(personas.mayor.email)) == 1
    staff_agree(personas.mayor, personas.mayor.email)

    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    statuses = [p.status for p in contract.parties.order_by("position")]
    assert statuses == [PartyStatus.APPROVED] * 2 + [PartyStatus.SIGNED] * 4

    pdf = blob_get(contract.documents.get().current_version().blob)
    report = verify_pdf(pdf)
    assert report.ok, report.as_dict()
    signatures = [s for s in report.signatures if s.kind == "signature"]
    assert len(signatures) == 4  # one per signing party; approvers do not sign the PDF
    assert report.ltv_ok
    assert len([s for s in pdfsig(pdf) if not s["is_document_timestamp"]]) == 4

    staff = Client()
    staff.force_login(personas.sender)
    certificate = staff.get(f"/contracts/{contract.pk}/certificate.pdf").content
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=certificate, capture_output=True, check=True
    ).stdout.decode()
    assert "課長 一" in text and "部長 二" in text and "承認者" in text


def test_jv_order_is_expressible(personas):
    """City approval → JV members in parallel → the lead member → the city's signer."""
    contract = draft_contract(personas.sender)
    chief = approver(personas, "chief", "課長 一")
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver"
    )
    for index, firm in enumerate(FIRMS[1:]):
        services.party_add(
            contract=contract,
            actor=personas.sender,
            kind="external",
            company=firm.company,
            name=firm.name,
            email=firm.email,
            access_code=firm.code,
            parallel=index > 0,
        )
    lead = FIRMS[0]
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=lead.company,
        name=lead.name,
        email=lead.email,
        access_code=lead.code,
    )
    services.party_add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)
    assert [p.step for p in contract.parties.order_by("position")] == [1, 2, 2, 3, 4]


def test_staff_need_the_role_for_their_part(personas):
    contract = draft_contract(personas.sender)
    from keiyaku.contracts.errors import ContractError

    with pytest.raises(ContractError, match="承認者"):
        services.party_add(
            contract=contract,
            actor=personas.sender,
            kind="staff",
            staff=personas.mayor,
            role="approver",
        )
    with pytest.raises(ContractError, match="承認者は職員"):
        services.party_add(
            contract=contract,
            actor=personas.sender,
            kind="external",
            name="a",
            email="a@example.jp",
            access_code="1234",
            role="approver",
        )


def test_parallel_signer_may_agree_to_the_version_it_read_before_another_signed(personas):
    contract = draft_contract(personas.sender)
    for index, firm in enumerate(FIRMS[:2]):
        services.party_add(
            contract=contract,
            actor=personas.sender,
            kind="external",
            company=firm.company,
            name=firm.name,
            email=firm.email,
            access_code=firm.code,
            parallel=index > 0,
        )
    services.contract_send(contract=contract, actor=personas.sender)
    first, second = FIRMS[0], FIRMS[1]
    reader = Client()
    link = last_link(second.email)
    assert reader.post(link, {"code": second.code}).status_code == 302
    page = reader.post(link + "confirm/").content.decode()
    read = dict(SHA_RE.findall(page))  # the version the second company is reading

    agree(Client(), last_link(first.email), first.code)  # meanwhile the first one signs
    document = contract.documents.get()
    assert document.current_version().blob.sha256 not in read.values()

    forged = reader.post(link + "complete/", {name: "0" * 64 for name in read})
    assert forged.status_code == 409
    done = reader.post(link + "complete/", read)
    assert done.status_code == 200
    party = contract.parties.get(email=second.email)
    assert party.shown_sha256 == {str(document.pk): read[f"sha256_{document.pk}"]}
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    report = verify_pdf(blob_get(document.current_version().blob))
    assert report.ok and len([s for s in report.signatures if s.kind == "signature"]) == 2
