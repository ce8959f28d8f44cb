"""Reads that depend on who asks. Access control for contracts lives here, in one place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.selectors import department_with_descendants
from keiyaku.contracts.links import link_expiry, link_find
from keiyaku.contracts.models import (
    ArchiveTimestamp,
    Contract,
    ContractShare,
    ContractTemplate,
    Document,
    DocumentVersion,
    Link,
    Party,
    VersionKind,
)
from keiyaku.contracts.states import (
    PARTY_COUNTED,
    PARTY_DONE,
    PARTY_HOLDING,
    LinkState,
    download_link_state_of,
    sign_link_state_of,
)


def contracts_visible_to(staff: Staff) -> QuerySet[Contract]:
    """Contracts a staff member may see (R1, R29). Every screen, download and API reads here.

    Never another organisation's. Admins see all of their organisation's; everybody else those
    of their own department (and the departments below it when the organisation chooses so),
    those shared with them or their department, those they created, and those they sign.
    """
    return _contracts_of(staff, as_party=True)


def contracts_changeable_by(staff: Staff) -> QuerySet[Contract]:
    """Contracts whose sender side a staff member may work on, role permitting (R2, R29, R36):
    those they see, except where they are only a party. Being asked to sign or approve a
    contract lets a staff member read it, not redirect its counterparties or cancel it."""
    return _contracts_of(staff, as_party=False)


def contracts_visible_to_parts(staff: Staff) -> list[QuerySet[Contract]]:
    """`contracts_visible_to(staff)` as querysets whose union is exactly it (R1, R29): one per
    reason to see a contract (all of the organisation's for an admin; else department, author,
    party, share). A read that orders and limits each part on its own index and then merges
    them (the contract list's keyset pages) stays fast whether a person sees a few contracts or
    most of them; the parts are the same conditions `contracts_visible_to` ORs together."""
    return _parts_of(staff, as_party=True)


def _parts_of(staff: Staff, *, as_party: bool) -> list[QuerySet[Contract]]:
    if not staff.is_authenticated or not staff.is_active or staff.organisation_id is None:
        return []
    contracts = Contract.objects.filter(organisation_id=staff.organisation_id)
    if staff.has_role(Role.ADMIN):
        return [contracts]
    return [contracts.filter(reason) for reason in _reasons(staff, as_party=as_party)]


def _reasons(staff: Staff, *, as_party: bool) -> list[Q]:
    """Each condition under which a non-admin member of the organisation sees a contract."""
    reasons = [Q(created_by=staff)]
    if as_party:
        reasons.append(Q(pk__in=Party.objects.filter(staff=staff).values("contract_id")))
    reasons.append(Q(pk__in=ContractShare.objects.filter(staff=staff).values("contract_id")))
    if staff.department_id is not None:
        departments = (
            department_with_descendants(staff.department_id)
            if staff.organisation is not None and staff.organisation.include_subdepartments
            else {staff.department_id}
        )
        reasons.append(Q(department_id__in=departments))
        reasons.append(
            Q(
                pk__in=ContractShare.objects.filter(department_id__in=departments).values(
                    "contract_id"
                )
            )
        )
    return reasons


def _contracts_of(staff: Staff, *, as_party: bool) -> QuerySet[Contract]:
    if not staff.is_authenticated or not staff.is_active or staff.organisation_id is None:
        return Contract.objects.none()
    contracts = Contract.objects.filter(organisation_id=staff.organisation_id)
    if staff.has_role(Role.ADMIN):
        return contracts
    visible = Q()
    for reason in _reasons(staff, as_party=as_party):
        visible |= reason
    return contracts.filter(visible)


def contract_for(staff: Staff, contract_id: uuid.UUID | str) -> Contract:
    """The contract, or 404 for anyone who may not see it (never 403: no existence leak)."""
    try:
        return (
            contracts_visible_to(staff)
            .select_related("organisation", "created_by")
            .get(pk=contract_id)
        )
    except (Contract.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def templates_for(staff: Staff) -> QuerySet[ContractTemplate]:
    """The organisation's contract templates (R13); shared by all its staff."""
    if not staff.is_authenticated or staff.organisation_id is None:
        return ContractTemplate.objects.none()
    return ContractTemplate.objects.filter(organisation_id=staff.organisation_id)


def document_page_sizes(document: Document) -> list[tuple[float, float]]:
    """Each page's size in points as displayed. Recorded at upload; a document stored before
    sizes were recorded gets them measured once from its first version."""
    if len(document.page_sizes) != document.page_count:
        from keiyaku.signing.render import page_sizes
        from keiyaku.storage.blobs import blob_get

        first = document.versions.order_by("seq").first()
        assert first is not None
        sizes = page_sizes(blob_get(first.blob))
        Document.objects.filter(pk=document.pk).update(page_sizes=[list(s) for s in sizes])
        document.page_sizes = [list(s) for s in sizes]
    return [(float(w), float(h)) for w, h in document.page_sizes]


def _current_versions(party: Party, document_id: int | None = None) -> QuerySet[DocumentVersion]:
    versions = DocumentVersion.objects.filter(document__contract_id=party.contract_id)
    if document_id is not None:
        versions = versions.filter(document_id=document_id)
    return versions.select_related("document", "blob__keyring").order_by(
        "document__position", "document_id", "-seq"
    )


def documents_shown_to(party: Party) -> list[tuple[Document, DocumentVersion]]:
    """Each document of the party's contract, in order, with the version the party reads now:
    the current one (highest ``seq``), its blob and key ring loaded. One query whatever the
    number of documents and versions (issue 12: the signing page and every page image ask)."""
    current: dict[int, DocumentVersion] = {}
    for version in _current_versions(party):
        current.setdefault(version.document_id, version)  # the first of each: highest seq
    return [(version.document, version) for version in current.values()]


def document_shown_to(party: Party, document_id: int) -> tuple[Document, DocumentVersion]:
    """The document ``document_id`` of the party's contract with the version the party reads
    now, as in `documents_shown_to`, in one query. Http404 for a document of another contract
    or none."""
    version = _current_versions(party, document_id).first()
    if version is None:
        raise Http404
    return version.document, version


def archive_timestamps_of(contract: Contract) -> QuerySet[ArchiveTimestamp]:
    """Every document timestamp recorded for ``contract``'s documents (at completion, then each
    renewal, R21), oldest first, with their document."""
    return (
        ArchiveTimestamp.objects.filter(document__contract=contract)
        .select_related("document")
        .order_by("gen_time", "pk")
    )


def archive_renewals_of(contract: Contract) -> list[ArchiveTimestamp]:
    """The renewals among :func:`archive_timestamps_of` (what the certificate of completion and
    the contract page list, R21)."""
    return [stamp for stamp in archive_timestamps_of(contract) if stamp.is_renewal]


def document_final_versions(contract: Contract) -> list[DocumentVersion]:
    return [
        v
        for v in (doc.current_version() for doc in contract.documents.all())
        if v.kind in (VersionKind.COMPLETED, VersionKind.RENEWED)
    ]


@dataclass(frozen=True)
class Progress:
    signed: int
    total: int
    holders: list[Party]
    undelivered: list[Party]
    """Parties whose request could not be delivered to their current address."""

    @property
    def label(self) -> str:
        return f"{self.signed}/{self.total}"


def contract_progress(contract: Contract) -> Progress:
    from keiyaku.notifications.models import OutboxMessage, OutboxStatus

    parties = [p for p in contract.parties.all() if p.status in PARTY_COUNTED]
    done = sum(1 for p in parties if p.status in PARTY_DONE)
    holders = [p for p in parties if p.status in PARTY_HOLDING]
    failed = set(
        OutboxMessage.objects.filter(
            party__in=[p.pk for p in holders], status=OutboxStatus.FAILED
        ).values_list("party_id", "to")
    )
    undelivered = [p for p in holders if (p.pk, p.email) in failed]
    return Progress(signed=done, total=len(parties), holders=holders, undelivered=undelivered)


@dataclass(frozen=True)
class LinkLookup:
    """What an e-mailed link leads to: its state (OK, or why it is dead) and the link, if any."""

    state: LinkState
    link: Link | None = None

    @property
    def party(self) -> Party:
        assert self.link is not None
        return self.link.party


def sign_link_state(token: str) -> LinkLookup:
    link = link_find(token, purpose="sign")
    if link is None:
        return LinkLookup(LinkState.INVALID)
    party = link.party
    state = sign_link_state_of(
        contract_status=party.contract.status,
        party_status=party.status,
        revoked=link.revoked_at is not None,
        expired=link_expiry(link) <= timezone.now(),
        locked=party.is_locked,
    )
    return LinkLookup(state, link)


def download_link_state(token: str) -> LinkLookup:
    link = link_find(token, purpose="download")
    if link is None:
        return LinkLookup(LinkState.INVALID)
    state = download_link_state_of(
        revoked=link.revoked_at is not None, expired=link_expiry(link) <= timezone.now()
    )
    return LinkLookup(state, link)


def imported_version_at(sha256: str) -> Contract | None:
    """The imported contract (R30) one of whose stored, timestamped versions has exactly this
    SHA-256 (hex), or None. For the operator's `keiyaku verify`: an imported file carries only
    document timestamps, which say nothing about who imported it; the database does. Not for
    pages anyone may open (it would tell whether a file was imported here)."""
    version = (
        DocumentVersion.objects.filter(
            blob__sha256=sha256.lower(), document__contract__imported_at__isnull=False
        )
        .exclude(kind=VersionKind.IMPORTED)  # the file as it came: no timestamp of ours yet
        .select_related("document__contract")
        .first()
    )
    return version.document.contract if version is not None else None
