"""Duplicate a contract into a new draft (issue 14, clerk): the usual way to send again after a
rejection, an expiry or a cancellation, without uploading, routing and placing boxes again.

What the new draft takes over: every document as it was uploaded (the original bytes and the
normalised first version, never a prepared or signed version), the routing as it stands (the
party a request was forwarded to, not the one who forwarded it; order, steps, roles), every box
with its place, kind, label and rules, and the contract's details (title, numbers, company,
amount, dates, note, forwarding). What it never takes over: a signature, an agreement, a box's
value, an access code, a link, a share, a deadline. External parties need a new access code
(`party_set_access_code`) before the draft can be sent (`confirmation.require_access_codes`).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Role, Staff
from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import (
    Box,
    Contract,
    CustomValue,
    Document,
    DocumentVersion,
    Party,
    PartyKind,
    PartyRole,
    VersionKind,
)
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.search_index import document_text_copy
from keiyaku.contracts.services.drafting import _lock_party, _touch, access_code_fields
from keiyaku.contracts.services.routing import restep
from keiyaku.contracts.states import PARTY_COUNTED
from keiyaku.storage.blobs import blob_discard, blob_get, blob_put, keyring_create
from keiyaku.storage.models import Blob, KeyRing


def contract_duplicate(
    *,
    contract: Contract,
    actor: Staff,
    once: str = "",
    as_renewal: bool = False,
    meta: RequestMeta = SYSTEM,
) -> Contract:
    """A new draft made from `contract` (any state), created by `actor`; returns it.

    Only someone who may change the contract duplicates it (`require_contract_change`). The
    documents' bytes are read and sealed again under the new draft's own key before the
    transaction (as `contract_create` stores uploads), and discarded if it fails. A staff party
    must still be active with the right role, else the duplicate is refused naming them. The
    audit log records ``contract.duplicate`` on the new draft and ``contract.duplicated`` on
    the original, in the same transaction.

    `once` (up to 64 characters; the form's own token) makes a repeated request (a double
    click) return the draft the first one made instead of a second draft: checked with the
    original's row locked, so two requests at once make one draft.

    `as_renewal` (a concluded contract only) makes the draft the contract's renewal
    (`Contract.renews`): from then on, while the renewal is not rejected, cancelled or
    expired, the contract gets no renewal alert (R31, `services.renewal_alerts`).

    Raises:
        NotAllowed: the actor may not change `contract`.
        ContractError: ``staff_role`` (a staff party may no longer sign or approve);
            ``imported`` (an imported contract's files were never ingested for signing, R30);
            ``renewal_of_unconcluded`` (`as_renewal` for a contract not concluded).
    """
    require_contract_change(actor, contract)
    source = Contract.objects.select_related("organisation").get(pk=contract.pk)
    if source.is_imported:
        raise ContractError(
            _("取り込んだ契約は複製できません。新しい案件として作成してください。"),
            code="imported",
        )
    if as_renewal and not source.is_concluded:
        raise ContractError(
            _("更新の契約として複製できるのは、締結済みの契約だけです。"),
            code="renewal_of_unconcluded",
        )
    parties = list(source.parties.filter(status__in=PARTY_COUNTED).order_by("position", "pk"))
    for party in parties:
        _check_staff(party)
    documents = list(source.documents.order_by("position", "pk"))
    keyring = keyring_create()
    written: list[Blob] = []
    copies: list[tuple[Document, Blob, Blob]] = []
    try:
        for document in documents:
            # As uploaded and as normalised at upload: never a prepared or signed version.
            original = blob_put(keyring=keyring, data=blob_get(document.original))
            written.append(original)
            normalised = blob_put(keyring=keyring, data=blob_get(document.versions.get(seq=1).blob))
            written.append(normalised)
            copies.append((document, original, normalised))
        with transaction.atomic():
            Contract.objects.select_for_update().get(pk=source.pk)
            made = _made_once(source, once)
            if made is None:
                return _duplicate_rows(
                    source=source,
                    actor=actor,
                    keyring=keyring,
                    parties=parties,
                    copies=copies,
                    once=once,
                    as_renewal=as_renewal,
                    meta=meta,
                )
        raise _AlreadyMade(made)
    except _AlreadyMade as already:
        for blob in written:
            blob_discard(blob)
        keyring.delete()
        return already.draft
    except BaseException:
        for blob in written:
            blob_discard(blob)
        keyring.delete()
        raise


class _AlreadyMade(Exception):
    def __init__(self, draft: Contract) -> None:
        self.draft = draft


def _made_once(source: Contract, once: str) -> Contract | None:
    """The draft an earlier request with the same `once` made from `source`, if any."""
    if not once:
        return None
    event = Event.objects.filter(
        subject=source.audit_subject, event="contract.duplicated", detail__once=once[:64]
    ).first()
    return Contract.objects.filter(pk=event.detail["to"]).first() if event else None


def _check_staff(party: Party) -> None:
    if party.kind != PartyKind.STAFF:
        return
    staff = party.staff
    needed = Role.APPROVER if party.role == PartyRole.APPROVER else Role.SIGNER
    if staff is None or not staff.is_active or not staff.has_role(needed):
        raise ContractError(
            _("%(name)s さんは現在「%(role)s」を行えないため、複製できません。")
            % {"name": party.name, "role": Role(needed).label},
            code="staff_role",
        )


def _duplicate_rows(
    *,
    source: Contract,
    actor: Staff,
    keyring: KeyRing,
    parties: list[Party],
    copies: list[tuple[Document, Blob, Blob]],
    once: str,
    as_renewal: bool,
    meta: RequestMeta,
) -> Contract:
    now = timezone.now()
    draft = Contract.objects.create(
        organisation=source.organisation,
        created_by=actor,
        department=source.department,
        keyring=keyring,
        title=source.title,
        management_number=source.management_number,
        counterparty_company=source.counterparty_company,
        amount=source.amount,
        contract_date=source.contract_date,
        period_start=source.period_start,
        period_end=source.period_end,
        auto_renew=source.auto_renew,
        notice_deadline=source.notice_deadline,
        note=source.note,
        allow_forwarding=source.allow_forwarding,
        renews=source if as_renewal else None,
        certificate_id=secrets.token_hex(10).upper(),
        last_activity_at=now,
    )
    # The custom fields' values, as they are (a field retired since keeps its value).
    CustomValue.objects.bulk_create(
        CustomValue(contract=draft, field_id=v.field_id, text=v.text, number=v.number, date=v.date)
        for v in CustomValue.objects.filter(contract=source)
    )
    new_party: dict[int, Party] = {}
    for position, party in enumerate(parties, start=1):
        staff = party.staff if party.kind == PartyKind.STAFF else None
        new_party[party.pk] = Party.objects.create(
            contract=draft,
            position=position,
            kind=party.kind,
            role=party.role,
            parallel=party.parallel and position > 1,
            company=party.company,
            name=staff.label if staff is not None else party.name,
            email=staff.email if staff is not None else party.email,
            staff=staff,
        )
    restep(draft)
    new_document: dict[int, Document] = {}
    for document, original, normalised in copies:
        copy = Document.objects.create(
            contract=draft,
            position=document.position,
            filename=document.filename,
            original=original,
            page_count=document.page_count,
            page_sizes=document.page_sizes,
            ingest_changes=document.ingest_changes,
        )
        DocumentVersion.objects.create(
            document=copy, seq=1, kind=VersionKind.NORMALISED, blob=normalised
        )
        document_text_copy(source=document, copy=copy)
        new_document[document.pk] = copy
    boxes = Box.objects.filter(document__contract=source, party_id__in=new_party).order_by("pk")
    Box.objects.bulk_create(
        Box(
            document=new_document[box.document_id],
            party=new_party[box.party_id],
            page=box.page,
            x=box.x,
            y=box.y,
            width=box.width,
            height=box.height,
            kind=box.kind,
            label=box.label,
            required=box.required,
            max_length=box.max_length,
        )
        for box in boxes
    )
    audit_record(
        event="contract.duplicate",
        organisation=draft.organisation,
        actor=actor,
        subject=draft.audit_subject,
        detail={
            "from": str(source.pk),
            "from_certificate_id": source.certificate_id,
            "title": draft.title,
            "files": [document.filename for document, _o, _n in copies],
            "parties": len(new_party),
            "renewal": as_renewal,
        },
        meta=meta,
    )
    audit_record(
        event="contract.duplicated",
        organisation=source.organisation,
        actor=actor,
        subject=source.audit_subject,
        detail={
            "to": str(draft.pk),
            "to_certificate_id": draft.certificate_id,
            "renewal": as_renewal,
            **({"once": once[:64]} if once else {}),
        },
        meta=meta,
    )
    return draft


@transaction.atomic
def party_set_access_code(
    *, party: Party, actor: Staff, access_code: str, meta: RequestMeta = SYSTEM
) -> None:
    """Set an external party's access code on a draft (R7, R18): a duplicated draft's external
    parties have none until the sender gives them one (a code is never copied).

    Raises:
        NotAllowed: the actor may not change the contract.
        ContractError: ``not_draft``; ``access_code`` (see `clean_access_code`); ``kind`` for a
            staff party (staff sign in instead).
    """
    require_contract_change(actor, party.contract)
    contract, current = _lock_party(party)
    if current is None:
        return
    if current.kind != PartyKind.EXTERNAL:
        raise ContractError(_("職員にはアクセスコードを設定しません。"), code="kind")
    Party.objects.filter(pk=current.pk).update(
        **access_code_fields(access_code, organisation=contract.organisation)
    )
    audit_record(
        event="party.access_code",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"position": current.position, "name": current.name},
        meta=meta,
    )
    _touch(contract)
