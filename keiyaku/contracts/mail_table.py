"""Who gets which mail: one table, event × recipient kind → mail template or none (issue 14).

The services say what happened (`MailEvent`) and to whom it may matter (every party of the
contract, and the sender); `recipient_kind` says what each of them is, and `MAIL_TABLE` alone
decides which mail each gets. No service chooses a template itself
(`contracts/services/notify.py` sends what the table names). Templates are
`notifications/mail/<name>.txt`; docs/architecture.md ("Who gets which mail") shows the table,
and tests/notifications/test_mail_table.py runs every event and checks every cell.

A party counts as reached once it has been asked (a request mail went to it); a party the
routing never reached gets no mail about a contract it never heard of. The sender is the staff
member who created the contract (`Contract.created_by`); for a renewal alert (R31), the
senders of the contract's department (`services.renewal_alerts.alert_recipients`): the people
who would renew it, whoever created it years before.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from keiyaku.contracts.models import PartyKind
from keiyaku.contracts.states import party_has_forwarded


class MailEvent(StrEnum):
    """What happened to a contract."""

    SENT = "sent"  # contract_send: the first step is asked (R9)
    NEXT_TURN = "next_turn"  # an agreement or approval finished a step: the next is asked (R9)
    REMINDER = "reminder"  # contract_remind, by staff or before the deadline (R11)
    READDRESSED = "readdressed"  # party_change_email: the request again, to the right address
    APPROVED = "approved"  # an approver approved (the next step's request is NEXT_TURN)
    COMPLETED = "completed"  # every signature and the document timestamp are in (R23)
    REJECTED = "rejected"  # a party rejected (R16)
    CANCELLED = "cancelled"  # the sender cancelled (R10)
    EXPIRED = "expired"  # the deadline passed (R11)
    FORWARDED = "forwarded"  # a party forwarded its request (R17)
    PARTY_LOCKED = "party_locked"  # too many wrong access codes (R18)
    DEADLINE_CHANGED = "deadline_changed"  # the links follow the deadline: nobody is mailed
    APPLICATION_SENT = "application_sent"  # the 利用申出書 link to the company (R14)
    APPLICATION_SUBMITTED = "application_submitted"  # the company answered (R14)
    RENEWAL_DUE = "renewal_due"  # a concluded contract's period end or notice deadline nears (R31)


class Recipient(StrEnum):
    """What a recipient is to the contract."""

    EXTERNAL_SIGNER = "external_signer"  # a counterparty (事業者), asked with a link and code
    STAFF_SIGNER = "staff_signer"  # staff who sign (契約締結権限者), asked to log in
    APPROVER = "approver"  # staff who approve beforehand (事前承認)
    FORWARDER = "forwarder"  # a counterparty who forwarded its request to somebody else
    FORWARDED_TO = "forwarded_to"  # the person a request was forwarded to, who signs instead
    SENDER = "sender"  # the staff member who sent the contract
    NEVER_REACHED = "never_reached"  # a party the routing has not asked (yet, or ever)


E, S, A, F, T, D, N = (
    Recipient.EXTERNAL_SIGNER,
    Recipient.STAFF_SIGNER,
    Recipient.APPROVER,
    Recipient.FORWARDER,
    Recipient.FORWARDED_TO,
    Recipient.SENDER,
    Recipient.NEVER_REACHED,
)

#: event → recipient kind → template (None: no mail). Every cell is written out. The request
#: events (sent, next turn, reminder, readdressed, forwarded) concern the parties they ask; the
#: others concern every party and the sender. A forwarded-to party is asked by the forward
#: itself, never by the routing, so the routing's cells for it are None.
MAIL_TABLE: dict[MailEvent, dict[Recipient, str | None]] = {
    MailEvent.SENT: {
        E: "sign_request", S: "sign_request", A: "approval_request",
        F: None, T: None, D: None, N: None,
    },
    MailEvent.NEXT_TURN: {
        E: "sign_request", S: "sign_request", A: "approval_request",
        F: None, T: None, D: None, N: None,
    },
    MailEvent.REMINDER: {
        E: "reminder", S: "reminder", A: "approval_reminder",
        F: None, T: "reminder", D: None, N: None,
    },
    MailEvent.READDRESSED: {
        E: "sign_request", S: None, A: None,
        F: None, T: "sign_request", D: None, N: None,
    },
    MailEvent.APPROVED: {
        E: None, S: None, A: None,
        F: None, T: None, D: None, N: None,
    },
    MailEvent.COMPLETED: {
        E: "completed", S: "completed", A: "completed",
        F: None, T: "completed", D: "completed", N: None,
    },
    MailEvent.REJECTED: {
        E: None, S: None, A: None,
        F: None, T: None, D: "rejected", N: None,
    },
    MailEvent.CANCELLED: {
        E: "cancelled", S: "cancelled", A: "cancelled",
        F: "cancelled", T: "cancelled", D: None, N: None,
    },
    MailEvent.EXPIRED: {
        E: None, S: None, A: None,
        F: None, T: None, D: "expired", N: None,
    },
    MailEvent.FORWARDED: {
        E: None, S: None, A: None,
        F: None, T: "sign_request", D: "forwarded", N: None,
    },
    MailEvent.PARTY_LOCKED: {
        E: None, S: None, A: None,
        F: None, T: None, D: "party_locked", N: None,
    },
    MailEvent.DEADLINE_CHANGED: {
        E: None, S: None, A: None,
        F: None, T: None, D: None, N: None,
    },
    MailEvent.APPLICATION_SENT: {
        E: "application_request", S: None, A: None,
        F: None, T: None, D: None, N: None,
    },
    MailEvent.APPLICATION_SUBMITTED: {
        E: None, S: None, A: None,
        F: None, T: None, D: "application_submitted", N: None,
    },
    MailEvent.RENEWAL_DUE: {
        E: None, S: None, A: None,
        F: None, T: None, D: "renewal_alert", N: None,
    },
}  # fmt: skip


def mail_template(event: MailEvent, recipient: Recipient) -> str | None:
    """The template the table names for this event and recipient kind, or None (no mail)."""
    return MAIL_TABLE[event][recipient]


def recipient_kind(party: Any, *, reached: bool | None = None) -> Recipient:
    """What a party is to its contract's mail (`Recipient`).

    `reached` says whether the party has been asked; by default, whether a request was ever
    sent to it (`notified_at`). The routing passes True for the party it is asking now.
    A forwarder is one whatever else it is; the person forwarded to comes next; then the
    party's role and kind.
    """
    if reached is None:
        reached = party.notified_at is not None
    if not reached:
        return Recipient.NEVER_REACHED
    if party_has_forwarded(party):
        return Recipient.FORWARDER
    if party.forwarded_from_id is not None:
        return Recipient.FORWARDED_TO
    if party.is_approver:
        return Recipient.APPROVER
    if party.kind == PartyKind.STAFF:
        return Recipient.STAFF_SIGNER
    return Recipient.EXTERNAL_SIGNER
