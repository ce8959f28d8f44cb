"""E-mails the contract flow sends. Called inside the transaction of the event."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from keiyaku.contracts.links import link_issue
from keiyaku.contracts.mail_table import MailEvent, Recipient, mail_template, recipient_kind
from keiyaku.contracts.models import Contract, LinkPurpose, Party, PartyKind, PartyStatus
from keiyaku.contracts.states import CONTRACT_RUNNING, PARTY_ASKED, party_sources
from keiyaku.notifications.services import mail_queue


def absolute(path: str) -> str:
    return settings.PUBLIC_URL + path


def party_notify(*, party: Party, event: MailEvent = MailEvent.NEXT_TURN) -> bool:
    """It is this party's turn: mark it and send the request (or a reminder) with a fresh link.

    `event` is what asks it (sent, next turn, reminder, readdressed, forwarded); the mail is
    the one `mail_table.MAIL_TABLE` names for the party's kind. A conditional update from the
    states that lead to 「署名待ち」, while the contract runs: a party is asked once (two runs
    of the routing may both find it waiting), never again once it acted, and never in a
    finished contract. A party the caller holds as already notified is asked again (a
    reminder, a corrected address). Returns whether the party was asked.
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
    template = mail_template(event, recipient_kind(party, reached=True))
    if template is None:
        return True
    # The link lives until the contract's deadline (links.py), which the mail states.
    token = link_issue(party=party, purpose=LinkPurpose.SIGN)
    contract = party.contract
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


def party_tell(*, party: Party, event: MailEvent, **context: object) -> None:
    """The mail the table names for `event` and this party's kind (often none), without a
    link: the contract was cancelled, or the party forwarded its request …"""
    template = mail_template(event, recipient_kind(party))
    if template is not None:
        contract = party.contract
        mail_queue(
            organisation=contract.organisation,
            contract=contract,
            party=party,
            to=party.email,
            template=template,
            context={
                **context,
                "contract": contract,
                "organisation": contract.organisation,
                "party": party,
            },
        )


def sender_notify(*, contract: Contract, event: MailEvent, **context: object) -> None:
    """The sender gets the mail the table names for `event` (if any), with the contract
    page's link."""
    template = mail_template(event, Recipient.SENDER)
    if template is None:
        return
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


def contract_event_mail(
    *, contract: Contract, event: MailEvent, actor: Party | None = None, **context: object
) -> None:
    """An event that concerns everybody (rejected, cancelled, expired, locked, deadline
    changed, approved): each party and the sender get what the table names. `actor` is the
    party that caused it, named in the sender's mail as `party`."""
    for party in contract.parties.order_by("position", "id"):
        party_tell(party=party, event=event, **context)
    sender_notify(contract=contract, event=event, party=actor, **context)


def completion_notify(*, contract: Contract) -> None:
    """「電子署名完了のお知らせ」 to each party the table names and the sender (R23).

    The signed PDFs are attached when together they are small. Counterparties (and the
    people requests were forwarded to) always get the download page's link, valid for
    KEIYAKU_DOWNLOAD_LINK_DAYS, attached or not; staff get the contract page's link.
    Everybody gets the verification page's URL. One mail per address: a sender who also
    signed gets one.
    """
    from keiyaku.contracts.selectors import document_final_versions

    finals = document_final_versions(contract)
    total = sum(v.blob.size for v in finals)
    attach = total < settings.KEIYAKU_ATTACH_LIMIT_BYTES
    attachments = [(v.blob, v.document.filename) for v in finals] if attach else []
    staff_url = absolute(reverse("contract-detail", args=[contract.pk]))
    recipients: list[tuple[str, Party | None, str, str]] = []
    for party in contract.parties.order_by("position", "id"):
        template = mail_template(MailEvent.COMPLETED, recipient_kind(party))
        if template is None:
            continue
        if party.kind == PartyKind.EXTERNAL:
            token = link_issue(
                party=party, purpose=LinkPurpose.DOWNLOAD, days=settings.KEIYAKU_DOWNLOAD_LINK_DAYS
            )
            url = absolute(reverse("download-entry", args=[token]))
        else:
            url = staff_url
        recipients.append((party.email, party, url, template))
    sender_template = mail_template(MailEvent.COMPLETED, Recipient.SENDER)
    if sender_template and contract.created_by.email not in {r[0] for r in recipients}:
        recipients.append((contract.created_by.email, None, staff_url, sender_template))
    seen: set[str] = set()
    for email, recipient, url, template in recipients:
        if email in seen:
            continue
        seen.add(email)
        mail_queue(
            organisation=contract.organisation,
            contract=contract,
            party=recipient,
            to=email,
            template=template,
            context={
                "contract": contract,
                "organisation": contract.organisation,
                "party": recipient,
                "url": url,
                "verify_url": absolute(reverse("verify")),
                "attached": attach,
                "days": settings.KEIYAKU_DOWNLOAD_LINK_DAYS,
            },
            attachments=attachments,
        )
