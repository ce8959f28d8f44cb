"""The contracts of an export in batches, by keyset (issue 15).

The order is the contracts' creation (``created_at``, then id), which nothing changes: a
contract that changes while an export runs is neither skipped nor written twice, as it
could be in the list's order of last activity. Each batch is one query that starts strictly
after the last row of the previous one on the index ``contract_export_order`` (organisation,
created_at, id), so the thousandth batch costs what the first does and no more than a batch
of rows is ever in memory.

"No more than a batch" needs one more step. Django's prefetches link each related row back
to its contract (a party's ``contract``, a version's ``document``), so a batch is a web of
reference cycles that outlives the loop that read it: only the interpreter's full collection
frees it, and that runs rarely in a large process (when a quarter as many objects again as it
already holds are waiting). An export of thousands of contracts grew by some 30 kB a contract
until then. `contract_batches` breaks a batch's links (`forget`) when the next is asked for,
so each batch is freed at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Model, Prefetch, Q, QuerySet

from keiyaku.accounts.models import Staff
from keiyaku.contracts.models import Contract, Party
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.selectors import contracts_visible_to

#: Contracts read per query: what an export holds at once (with their parties, documents,
#: versions and certificates, some tens of kB each).
BATCH = 200


def result_contracts(staff: Staff, search: SearchConditions | None) -> QuerySet[Contract, Any]:
    """The contracts ``staff`` may see (R29, `contracts_visible_to`) that meet ``search``
    (R28): the whole result of the list's search, not one page of it. Never wider than what
    the person sees; empty for someone outside any organisation."""
    contracts = contracts_visible_to(staff)
    return search.apply(contracts) if search is not None else contracts


def contract_batches(
    contracts: QuerySet[Contract, Any], *, size: int | None = None
) -> Iterator[list[Contract]]:
    """``contracts`` in batches of at most ``size`` (default BATCH), in order of creation,
    each batch with its department, author and parties (routing order) read in two more
    queries."""
    size = size if size is not None else BATCH
    base = contracts.select_related("department", "created_by").prefetch_related(
        Prefetch("parties", queryset=Party.objects.order_by("position", "id"))
    )
    after: Contract | None = None
    while True:
        page = base
        if after is not None:
            page = page.filter(
                Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, pk__gt=after.pk)
            ).filter(created_at__gte=after.created_at)
        batch = list(page.order_by("created_at", "pk")[:size])
        if not batch:
            return
        try:
            yield batch
        finally:  # the next batch is asked for, or the export ends or is abandoned
            forget(batch)
        if len(batch) < size:
            return
        after = batch[-1]


def forget(instances: Iterable[Model]) -> None:
    """Drop what Django caches on ``instances`` and on every row reached from them: prefetched
    rows (``_prefetched_objects_cache`` and ``to_attr`` lists) and related rows (select_related,
    and the back links a prefetch sets). These caches are the reference cycles between rows;
    without them a batch is freed as soon as nothing outside refers to it. A row used again
    afterwards reads its relations from the database again: nothing is wrong, only slower."""
    stack = list(instances)
    seen: set[int] = set()
    while stack:
        row = stack.pop()
        if id(row) in seen:
            continue
        seen.add(id(row))
        fields = row.__dict__
        for rows in fields.pop("_prefetched_objects_cache", {}).values():
            stack.extend(rows._result_cache or ())
        cache = row._state.fields_cache
        stack.extend(value for value in cache.values() if isinstance(value, Model))
        cache.clear()
        for name, value in list(fields.items()):
            if isinstance(value, list) and value and isinstance(value[0], Model):
                stack.extend(value)
                del fields[name]
