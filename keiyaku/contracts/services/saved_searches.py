"""Saved contract searches (R28): a staff member keeps the searches they run often.

A saved search is personal: only its owner lists, opens or deletes it; it holds the search
form's fields as a query string (never a page position), so opening it runs the search again
on today's contracts, through the visibility selector like any search (R29).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import SavedSearch
from keiyaku.text_input import require_single_line

__all__ = ["MAX_SAVED_SEARCHES", "SEARCH_FIELDS", "saved_search_delete", "saved_search_save"]

MAX_SAVED_SEARCHES = 50
"""Saved searches per staff member."""

SEARCH_FIELDS = (
    *("q", "title", "filename", "counterparty", "number", "department", "status"),
    *("amount_min", "amount_max", "contract_date_from", "contract_date_to"),
    *("signed_from", "signed_to", "period_end_from", "period_end_to", "sort"),
)
"""The search form's fields (web/forms.ContractSearchForm) a saved search keeps."""


def _search_query(query: str) -> str:
    """`query` reduced to the search form's fields, in a stable order."""
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=False) if k in SEARCH_FIELDS]
    return urlencode(sorted(kept, key=lambda item: SEARCH_FIELDS.index(item[0])))


def saved_search_save(
    *, actor: Staff, name: str, query: str, meta: RequestMeta = SYSTEM
) -> SavedSearch:
    """Save (or, under a name the actor used before, replace) a search of the actor's.

    Args:
        actor: the staff member; the search is theirs alone.
        name: up to 100 characters, one line.
        query: the contract list's query string; only the search form's fields are kept.

    Raises ContractError: no name, an empty search (no condition), or more than
    MAX_SAVED_SEARCHES of them. Audited as ``search.save``.
    """
    name = name.strip()
    require_single_line(name=(_("名前"), name))
    if not name or len(name) > 100:
        raise ContractError(_("検索の名前を100文字以内で入力してください。"), field="name")
    kept = _search_query(query)
    if not kept:
        raise ContractError(_("保存する検索条件がありません。"), code="empty_search")
    with transaction.atomic():
        Staff.objects.select_for_update().filter(pk=actor.pk).first()  # one save at a time
        saved = SavedSearch.objects.filter(staff=actor, name=name).first()
        if saved is None:
            if SavedSearch.objects.filter(staff=actor).count() >= MAX_SAVED_SEARCHES:
                raise ContractError(
                    _("保存できる検索は%(count)s件までです。不要なものを削除してください。")
                    % {"count": MAX_SAVED_SEARCHES},
                    code="too_many",
                )
            saved = SavedSearch.objects.create(staff=actor, name=name, query=kept)
        else:
            saved.query = kept
            saved.save(update_fields=["query"])
        audit_record(
            event="search.save",
            organisation=actor.organisation,
            actor=actor,
            subject=f"saved_search:{saved.pk}",
            detail={"name": name, "query": kept},
            meta=meta,
        )
    return saved


def saved_search_delete(*, actor: Staff, saved_id: int, meta: RequestMeta = SYSTEM) -> None:
    """Delete one of the actor's saved searches. Raises ContractError (404 in the view) for a
    search that is not theirs or no longer exists. Audited as ``search.delete``."""
    with transaction.atomic():
        saved = SavedSearch.objects.select_for_update().filter(pk=saved_id, staff=actor).first()
        if saved is None:
            raise ContractError(_("この検索は見つかりません。"), code="not_found")
        audit_record(
            event="search.delete",
            organisation=actor.organisation,
            actor=actor,
            subject=f"saved_search:{saved.pk}",
            detail={"name": saved.name},
            meta=meta,
        )
        saved.delete()
