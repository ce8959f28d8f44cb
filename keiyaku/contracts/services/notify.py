"""E-mails the contract flow sends. Called inside the transaction of the event."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from keiyaku.contracts.links import link_issue
from keiyaku.contracts.models import Contract, LinkPurpose, Party, PartyKind, PartyStatus
from keiyaku.contracts.states import CONTRACT_RUNNING, PARTY_ASKED, PARTY_SIGNED, party_sources
from keiyaku.notifications.services import mail_queue


def absolute(path: str) -> str:
    return settings.PUBLIC_URL + path


def party_notify(*, party: Party, template: str = "sign_request") -> bool:
    """It is this party's turn: mark it and send the request (or a reminder) with a fresh link.

    A conditional update from the states that lead to 「署名待ち」, while the contract runs: a
    party is asked once (two runs of the routing may both find it waiting), never again once
    it acted, and never in a finished contract. A party the caller holds as already notified
    is asked again (a reminder, a corrected address). Returns whether the request was sent.
    """
    sources = party_sources(PartyStatus.NOTIFIED)
    if party.status in PARTY_ASKED:  # asked again: a reminder or a corrected address
        sources.extend(PARTY_ASKED)
    now = timezone.now()
    changed = Party.objects.filter(
        pk=party.pk, status__in=sources, contract__status__in=CONTRACT_RUNNING
    ).update(status=PartyStatus.NOTIFIED, notified_at=now)
    if changed != 1:
        return False
    party.status, party.notified_at = PartyStatus.NOTIFIED, now
    # The link lives until the contract's deadline (links.py), which the mail states.
    token = link_issue(party=party, purpose=LinkPurpose.SIGN)
    contract = party.contract
    if party.is_approver:
        template = {"sign_request": "approval_request", "reminder": "approval_reminder"}.get(
            template, template
        )
    mail_queue(
        organisation=contract.organisation,
        contract=contract,
        party=party,
        to=party.email,
        template=template,
        context={
            "contract": contract,
            "party": party,
            "organisation": contract.organisation,
            "url": absolute(reverse("sign-entry", args=[token])),
            "needs_code": party.kind == PartyKind.EXTERNAL,
        },
    )
    return True


def party_tell(*, party: Party, template: str, **context: object) -> None:
    """An e-mail to a party without a link (e.g. the contract was cancelled)."""
    contract = party.contract
    mail_queue(
        organisation=contract.organisation,
        contract=contract,
        party=party,
        to=party.email,
        template=template,
        context={
            "contract": contract,
            "organisation": contract.organisation,
            "party": party,
            **context,
        },
    )


def sender_notify(*, contract: Contract, template: str, **context: object) -> None:
    sender = contract.created_by
    mail_queue(
        organisation=contract.organisation,
        contract=contract,
        to=sender.email,
        template=template,
        context={
            "contract": contract,
            "organisation": contract.organisation,
            "sender": sender,
            "url": absolute(reverse("contract-detail", args=[contract.pk])),
            **context,
        },
    )


def completion_notify(*, contract: Contract) -> None:
    """「電子署名完了のお知らせ」 to every party and the sender (R23).

    The signed PDFs are attached when together they are small; otherwise counterparties get a
    download link valid for KEIYAKU_DOWNLOAD_LINK_DAYS and staff a link to the contract page.
    """
    from keiyaku.contracts.selectors import document_final_versions

    finals = document_final_versions(contract)
    total = sum(v.blob.size for v in finals)
    attach = total < settings.KEIYAKU_ATTACH_LIMIT_BYTES
    attachments = [(v.blob, v.document.filename) for v in finals] if attach else []
    staff_url = absolute(reverse("contract-detail", args=[contract.pk]))
    recipients: list[tuple[str, Party | None, str]] = []
    for party in contract.parties.filter(status__in=PARTY_SIGNED):
        if party.kind == PartyKind.EXTERNAL and not attach:
            token = link_issue(
                party=party, purpose=LinkPurpose.DOWNLOAD, days=settings.KEIYAKU_DOWNLOAD_LINK_DAYS
            )
            url = absolute(reverse("download-entry", args=[token]))
        elif party.kind == PartyKind.EXTERNAL:
            url = ""
        else:
            url = staff_url
        recipients.append((party.email, party, url))
    if contract.created_by.email not in {r[0] for r in recipients}:
        recipients.append((contract.created_by.email, None, staff_url))
    for email, recipient, url in recipients:
        mail_queue(
            organisation=contract.organisation,
            contract=contract,
            party=recipient,
            to=email,
            template="completed",
            context={
                "contract": contract,
                "organisation": contract.organisation,
                "party": recipient,
                "url": url,
                "attached": attach,
                "days": settings.KEIYAKU_DOWNLOAD_LINK_DAYS,
            },
            attachments=attachments,
        )
