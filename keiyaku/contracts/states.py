"""The contract and party state machine: states, their groups, transitions and predicates.

This is the one place that knows what a status means (R9–R11, R15–R18). Services guard their
changes with the transitions and predicates here; templates ask the predicates, exposed as
properties of `Contract` and `Party`; nothing else compares a status to a string.

Contracts: draft ──send──▶ in_progress ──(every step done)──▶ completed, or in_progress ──▶
rejected / expired, or draft / in_progress ──cancel──▶ cancelled. An imported contract (R30)
is created completed and has no transition.
Parties: waiting ──▶ notified ──▶ agreed ──▶ signed (signers), notified ──▶ approved
(approvers), notified ──▶ rejected or forwarded (a new row takes the forwarded party's place).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("下書き")
    IN_PROGRESS = "in_progress", _("署名中")
    COMPLETED = "completed", _("締結済み")
    REJECTED = "rejected", _("却下")
    CANCELLED = "cancelled", _("取消")
    EXPIRED = "expired", _("期限切れ")


class PartyStatus(models.TextChoices):
    WAITING = "waiting", _("順番待ち")
    NOTIFIED = "notified", _("署名待ち")
    AGREED = "agreed", _("同意済み（署名処理中）")
    SIGNED = "signed", _("署名済み")
    REJECTED = "rejected", pgettext_lazy("party status", "却下")
    FORWARDED = "forwarded", _("転送済み")
    APPROVED = "approved", _("承認済み")


# --- contract groups ---------------------------------------------------------------------------

#: Routing, documents and boxes may still change (before 「送信」).
CONTRACT_EDITABLE = frozenset({ContractStatus.DRAFT})
#: Parties are being asked; signatures are being added.
CONTRACT_RUNNING = frozenset({ContractStatus.IN_PROGRESS})
#: Not finished: may still be cancelled (R10).
CONTRACT_OPEN = CONTRACT_EDITABLE | CONTRACT_RUNNING
#: Nothing happens any more; links are dead.
CONTRACT_FINISHED = frozenset(
    {
        ContractStatus.COMPLETED,
        ContractStatus.REJECTED,
        ContractStatus.CANCELLED,
        ContractStatus.EXPIRED,
    }
)
#: Signed by everybody: the signed PDF and the certificate of completion exist (R22).
CONTRACT_CONCLUDED = frozenset({ContractStatus.COMPLETED})

#: Cancelled by the sender (R10): an application link says so rather than "closed".
CONTRACT_CANCELLED = frozenset({ContractStatus.CANCELLED})

CONTRACT_GROUPS: dict[str, frozenset[ContractStatus]] = {
    "editable": CONTRACT_EDITABLE,
    "running": CONTRACT_RUNNING,
    "open": CONTRACT_OPEN,
    "finished": CONTRACT_FINISHED,
    "concluded": CONTRACT_CONCLUDED,
    "cancelled": CONTRACT_CANCELLED,
}

CONTRACT_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    ContractStatus.DRAFT: frozenset({ContractStatus.IN_PROGRESS, ContractStatus.CANCELLED}),
    ContractStatus.IN_PROGRESS: frozenset(
        {
            ContractStatus.COMPLETED,
            ContractStatus.REJECTED,
            ContractStatus.CANCELLED,
            ContractStatus.EXPIRED,
        }
    ),
    ContractStatus.COMPLETED: frozenset(),
    ContractStatus.REJECTED: frozenset(),
    ContractStatus.CANCELLED: frozenset(),
    ContractStatus.EXPIRED: frozenset(),
}

# --- party groups ------------------------------------------------------------------------------

#: Not asked yet, or asked and not acted: the sender may still correct the address or unlock.
PARTY_PENDING = frozenset({PartyStatus.WAITING, PartyStatus.NOTIFIED})
#: The party holds the contract: asked, or agreed while its signature is being made.
PARTY_HOLDING = frozenset({PartyStatus.NOTIFIED, PartyStatus.AGREED})
#: Its part is done (a signature in the PDF, or an approval).
PARTY_DONE = frozenset({PartyStatus.SIGNED, PartyStatus.APPROVED})
#: Agreed from its link: the link has been used.
PARTY_AGREED = frozenset({PartyStatus.AGREED, PartyStatus.SIGNED, PartyStatus.APPROVED})
#: Takes part in the routing (a forwarded party handed its place to another row; a party that
#: rejected ended the contract).
PARTY_ACTIVE = frozenset(
    {
        PartyStatus.WAITING,
        PartyStatus.NOTIFIED,
        PartyStatus.AGREED,
        PartyStatus.SIGNED,
        PartyStatus.APPROVED,
    }
)
#: Asked and not yet acted: reminded, or asked again at a corrected address (R11).
PARTY_ASKED = frozenset({PartyStatus.NOTIFIED})
#: Agreed, the signature not made yet: the signature job (or the sweeper) makes it (R20).
PARTY_SIGNING = frozenset({PartyStatus.AGREED})
#: A signature of theirs is in the PDF: they get the completion mail and the signed PDF (R23).
PARTY_SIGNED = frozenset({PartyStatus.SIGNED})
#: Counted in progress (x of n): everybody but a forwarded row, whose successor counts instead.
PARTY_COUNTED = PARTY_ACTIVE | {PartyStatus.REJECTED}

PARTY_GROUPS: dict[str, frozenset[PartyStatus]] = {
    "pending": PARTY_PENDING,
    "holding": PARTY_HOLDING,
    "done": PARTY_DONE,
    "agreed": PARTY_AGREED,
    "active": PARTY_ACTIVE,
    "counted": PARTY_COUNTED,
    "asked": PARTY_ASKED,
    "signing": PARTY_SIGNING,
    "signed": PARTY_SIGNED,
}

PARTY_TRANSITIONS: dict[PartyStatus, frozenset[PartyStatus]] = {
    PartyStatus.WAITING: frozenset({PartyStatus.NOTIFIED}),
    PartyStatus.NOTIFIED: frozenset(
        {
            PartyStatus.AGREED,
            PartyStatus.APPROVED,
            PartyStatus.REJECTED,
            PartyStatus.FORWARDED,
        }
    ),
    PartyStatus.AGREED: frozenset({PartyStatus.SIGNED}),
    PartyStatus.SIGNED: frozenset(),
    PartyStatus.REJECTED: frozenset(),
    PartyStatus.FORWARDED: frozenset(),
    PartyStatus.APPROVED: frozenset(),
}


def contract_sources(target: str) -> list[str]:
    """The contract states from which `target` may be reached: for conditional updates
    (`filter(status__in=contract_sources(X)).update(status=X)`)."""
    return sorted(s for s, targets in CONTRACT_TRANSITIONS.items() if target in targets)


def party_sources(target: str) -> list[str]:
    """The party states from which `target` may be reached (see `contract_sources`)."""
    return sorted(s for s, targets in PARTY_TRANSITIONS.items() if target in targets)


# --- predicates (exposed to templates as properties of Contract and Party) ----------------------


def contract_is_editable(contract: Any) -> bool:
    """Documents, parties, boxes and routing may change, and the contract may be sent."""
    return contract.status in CONTRACT_EDITABLE


def contract_is_running(contract: Any) -> bool:
    return contract.status in CONTRACT_RUNNING


def contract_is_finished(contract: Any) -> bool:
    return contract.status in CONTRACT_FINISHED


def contract_is_concluded(contract: Any) -> bool:
    """Completed: the signed PDF (for an imported contract, the file with its import
    timestamp) can be downloaded."""
    return contract.status in CONTRACT_CONCLUDED


def contract_is_imported(contract: Any) -> bool:
    """Concluded elsewhere (on paper, another service) and imported (R30): it enters as
    completed, with no parties and no routing, and never changes state."""
    return contract.imported_at is not None


def contract_has_certificate(contract: Any) -> bool:
    """A certificate of completion (R24) exists or may be issued: concluded on keiyaku. An
    imported contract has none: keiyaku did not witness its conclusion."""
    return contract_is_concluded(contract) and not contract_is_imported(contract)


def contract_is_cancelled(contract: Any) -> bool:
    return contract.status in CONTRACT_CANCELLED


def contract_can_cancel(contract: Any) -> bool:
    """取消 (R10): any time before the contract is finished."""
    return contract.status in CONTRACT_OPEN


def contract_can_remind(contract: Any) -> bool:
    """A reminder (R11) goes to the parties whose turn it is, while signing runs."""
    return contract.status in CONTRACT_RUNNING


def contract_can_change_deadline(contract: Any) -> bool:
    """The signing deadline (R11) may be moved while signing runs; every link follows it."""
    return contract.status in CONTRACT_RUNNING


def party_can_readdress(party: Any) -> bool:
    """The sender may correct an external party's address until it has acted (R11)."""
    return (
        party.kind == "external"
        and party.status in PARTY_PENDING
        and party.contract.status in CONTRACT_OPEN
    )


def party_can_unlock(party: Any) -> bool:
    """The sender may unlock an external party's link and set a new access code (R18)."""
    return party_can_readdress(party)


def party_forwards_made(party: Any) -> int:
    """How often the request at this party's position has been forwarded already (R17)."""
    return party.contract.parties.filter(
        position=party.position, status=PartyStatus.FORWARDED
    ).count()


def party_can_forward(party: Any) -> bool:
    """「この書類を転送する」 (R17): an external party, in a contract that allows forwarding,
    while its position has forwards left (KEIYAKU_MAX_FORWARDS) and the contract has room for
    one more party row (KEIYAKU_MAX_PARTIES)."""
    return (
        party.kind == "external"
        and bool(party.contract.allow_forwarding)
        and party_forwards_made(party) < settings.KEIYAKU_MAX_FORWARDS
        and party.contract.parties.count() < settings.KEIYAKU_MAX_PARTIES
    )


def party_is_done(party: Any) -> bool:
    """Its part is done: a signature in the PDF, or an approval."""
    return party.status in PARTY_DONE


def party_has_forwarded(party: Any) -> bool:
    """The party handed its request to somebody else (R17); its successor row signs instead."""
    return party.status == PartyStatus.FORWARDED


def party_never_asked(party: Any) -> bool:
    """The contract ended (rejected, cancelled, expired) before this party's turn came: it was
    never asked, and will not be. Shown as 「依頼されていません」, not 順番待ち (issue 14)."""
    return (
        party.status in PARTY_PENDING - PARTY_ASKED and party.contract.status in CONTRACT_FINISHED
    )


# --- links ------------------------------------------------------------------------------------


class LinkState(models.TextChoices):
    """What an e-mailed link leads to: OK, or why it is dead. The label is the dead page's title."""

    OK = "ok", _("署名手続きに進めます")
    INVALID = "invalid", _("このリンクは使用できません")
    COMPLETED = "completed", _("この契約は締結済みです")
    CANCELLED = "cancelled", _("この契約は取り消されました")
    REJECTED = "rejected", _("この契約は却下されました")
    EXPIRED = "expired", _("リンクの有効期限が切れています")
    REVOKED = "revoked", _("このリンクは無効になりました")
    USED = "used", _("署名手続きは完了しています")
    LOCKED = "locked", _("このリンクはロックされています")
    FORWARDED = "forwarded", _("この署名依頼は転送されました")
    DOWNLOAD_EXPIRED = "download_expired", _("ダウンロードの有効期限が切れています")


#: The text of a dead link's page; `%(organisation)s` is the sending organisation.
LINK_DEAD_TEXT: dict[LinkState, _StrPromise] = {
    LinkState.OK: _("このリンクから署名手続きに進めます。"),
    LinkState.INVALID: _(
        "リンクが正しくないか、使用できない状態です。メールのリンクをもう一度ご確認ください。"
    ),
    LinkState.COMPLETED: _(
        "すべての署名が完了しています。署名済みの書類は「電子署名完了のお知らせ」メールから"
        "ダウンロードできます。"
    ),
    LinkState.CANCELLED: _("送信者により取り消されたため、署名できません。"),
    LinkState.REJECTED: _("署名者により却下されたため、手続きは終了しました。"),
    LinkState.EXPIRED: _(
        "署名期限を過ぎたため、このリンクは使用できません。手続きを続ける場合は、下記の"
        "お問い合わせ先にご連絡ください。"
    ),
    LinkState.REVOKED: _(
        "新しいリンクが発行されたため、このリンクは使用できません。最新のメールのリンクを"
        "お使いください。"
    ),
    LinkState.USED: _(
        "この署名依頼への同意は記録済みです。同じリンクをもう一度使うことはできません。"
    ),
    LinkState.LOCKED: _(
        "アクセスコードの入力を規定回数誤ったため、ロックされました。下記のお問い合わせ先"
        "（%(organisation)s）にご連絡ください。"
    ),
    LinkState.FORWARDED: _("この署名依頼は別の方に転送されたため、このリンクは使用できません。"),
    LinkState.DOWNLOAD_EXPIRED: _(
        "このダウンロードページは有効期限を過ぎたため、使用できません。署名済みの書類が必要な"
        "場合は、下記のお問い合わせ先にご連絡ください。無料アカウントに登録すると、締結済みの"
        "契約をいつでも確認できます。"
    ),
}

#: HTTP status of a dead link's page: 404 for a link that never was, 410 for one that is gone.
LINK_HTTP_STATUS: dict[LinkState, int] = {state: 410 for state in LinkState} | {
    LinkState.OK: 200,
    LinkState.INVALID: 404,
}

#: What a signing link shows, decided by the contract first …
CONTRACT_LINK_STATE: dict[ContractStatus, LinkState | None] = {
    ContractStatus.DRAFT: LinkState.INVALID,  # no link exists before sending
    ContractStatus.IN_PROGRESS: None,  # the party decides
    ContractStatus.COMPLETED: LinkState.COMPLETED,
    ContractStatus.REJECTED: LinkState.REJECTED,
    ContractStatus.CANCELLED: LinkState.CANCELLED,
    ContractStatus.EXPIRED: LinkState.EXPIRED,
}
#: … then by the party, while the contract runs.
PARTY_LINK_STATE: dict[PartyStatus, LinkState | None] = {
    PartyStatus.WAITING: LinkState.INVALID,  # not asked yet
    PartyStatus.NOTIFIED: None,  # the link itself decides: revoked, expired, locked or ok
    PartyStatus.AGREED: LinkState.USED,
    PartyStatus.SIGNED: LinkState.USED,
    PartyStatus.APPROVED: LinkState.USED,
    PartyStatus.REJECTED: LinkState.REJECTED,
    PartyStatus.FORWARDED: LinkState.FORWARDED,
}


def sign_link_state_of(
    *, contract_status: str, party_status: str, revoked: bool, expired: bool, locked: bool
) -> LinkState:
    """The state of a signing link, in the order a party must be told: the contract's end
    first, then the party's own action, then the link's life, then the lock (R18)."""
    by_contract = CONTRACT_LINK_STATE[ContractStatus(contract_status)]
    if by_contract is not None:
        return by_contract
    by_party = PARTY_LINK_STATE[PartyStatus(party_status)]
    if by_party is not None:
        return by_party
    if revoked:
        return LinkState.REVOKED
    if expired:
        return LinkState.EXPIRED
    if locked:
        return LinkState.LOCKED
    return LinkState.OK


def download_link_state_of(*, revoked: bool, expired: bool) -> LinkState:
    """A completion mail's download link lives until it expires (KEIYAKU_DOWNLOAD_LINK_DAYS,
    R23) or is replaced; then its page says so in its own words, not a signing link's."""
    return LinkState.DOWNLOAD_EXPIRED if revoked or expired else LinkState.OK
