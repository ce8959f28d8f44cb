"""The word index behind contract search (R28): 部分一致 for Japanese words without a full scan.

Japanese has no spaces between words, so a word index cannot split text into words; and the
words staff type are often two characters (「道路」「札幌」), too short for a trigram index
(SQLite FTS5's ``trigram`` tokenizer and PostgreSQL's ``pg_trgm`` both need three, and
``pg_trgm`` drops non-ASCII characters under the C locale). keiyaku indexes **bigrams**, cut
in Python the same way for both engines, the way Groonga's ``TokenBigram`` does:

- the text is normalised (:func:`normalise`: NFKC, so half-width and full-width letters,
  digits and katakana match; case folded; anything but letters and digits dropped, so
  「Ｎｏ．１２３」, 「no.123」 and 「NO 123」 are one word);
- each field becomes the list of its overlapping two-character tokens plus its last character
  alone (「札幌市」 → 札幌 幌市 市), so every character starts a token;
- a word of two characters or more matches where its bigrams are consecutive tokens (a phrase
  query); a word of one character matches a token starting with it (a prefix query); no token
  spans two fields, so a word never matches across a title and a company name.

Where the tokens live (migration ``0012_contract_search_index``):

- **SQLite**: an FTS5 table (``unicode61`` tokenizer: each bigram is one token) over
  :class:`~keiyaku.contracts.models.SearchText`'s rows (external content, kept in step by
  triggers); ``MATCH '"札幌 幌市"'`` and ``MATCH '札*'``.
- **PostgreSQL**: the same rows hold a ``tsvector`` literal with positions, under a GIN index
  on ``grams::tsvector``; ``@@ '札幌 <-> 幌市'::tsquery`` and ``'札':*``. No text search
  configuration or locale is involved: the tokens are given, not parsed.

Long text (a document's) is cut into overlapping chunks of :data:`CHUNK_CHARS` so positions
stay within PostgreSQL's limit; a word longer than :data:`MAX_WORD_CHARS` is refused.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import BooleanField, Count, F, Func, OuterRef, Q, Subquery, Value
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext_lazy as _

from keiyaku.refusals import Refusal

if TYPE_CHECKING:
    from keiyaku.contracts.models import Document

__all__ = [
    "CHUNK_CHARS",
    "MAX_WORD_CHARS",
    "SearchField",
    "WordFilter",
    "WordTooLong",
    "COLLECT_ROWS",
    "contract_fields",
    "custom_search_field",
    "document_text_copy",
    "document_text_index",
    "field_mark",
    "index_rows",
    "normalise",
    "planner_rows",
    "search_index_refresh",
    "word_filter",
    "word_matches",
]

CHUNK_CHARS = 4000
"""Characters of normalised text per indexed chunk of a document (positions ≤ 16,383 in PG)."""
MAX_WORD_CHARS = 64
"""Longest word searched for; chunks overlap by this much so no word is cut at a boundary."""


class SearchField:
    """What an index row holds (``SearchText.field``): one of the searchable fields."""

    TITLE = "title"
    NUMBER = "number"  # 管理番号
    COUNTERPARTY = "counterparty"  # 相手方 and every party's company and name
    FILENAME = "filename"
    NOTE = "note"
    TEXT = "text"  # the documents' own text, extracted at ingest
    ALL = (TITLE, NUMBER, COUNTERPARTY, FILENAME, NOTE, TEXT)


class WordTooLong(Refusal):
    """A search word longer than MAX_WORD_CHARS after normalisation."""

    default_code = "search_word_too_long"


def normalise(text: str) -> str:
    """``text`` as the index stores it: NFKC, case folded, letters and digits only.

    NFKC makes full-width ``ＡＢＣ１２３`` and half-width ``ｶﾀｶﾅ`` the usual ``abc123`` and
    ``カタカナ`` (電子帳簿保存法's search must find a contract however the number was typed).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def _tokens(normalised: str) -> list[str]:
    """The overlapping bigrams of one field, then its last character alone."""
    if not normalised:
        return []
    return [normalised[i : i + 2] for i in range(len(normalised) - 1)] + [normalised[-1]]


def _chunks(normalised: str) -> Iterable[str]:
    """``normalised`` in pieces of CHUNK_CHARS overlapping by MAX_WORD_CHARS − 1 characters."""
    if len(normalised) <= CHUNK_CHARS:
        yield normalised
        return
    step = CHUNK_CHARS - (MAX_WORD_CHARS - 1)
    for start in range(0, len(normalised) - (MAX_WORD_CHARS - 1), step):
        yield normalised[start : start + CHUNK_CHARS]


def field_mark(field: str) -> str:
    """The token that marks every index row of ``field`` (「#title」, 「#custom12」), so that
    the index itself finds a word within some fields only (a title word among a million
    company names that hold it too). Its 「#」 keeps it apart from every token of the text
    and from a one-character word's prefix query: `normalise` leaves only letters and digits.
    """
    return "#" + "".join(ch for ch in field if ch.isalnum())


_MARK_POSITION = 16383
"""Where a row's field mark stands in a PostgreSQL tsvector: the last position, away from
the text's own (at most CHUNK_CHARS), so it is no word's neighbour in a phrase."""


def _grams(normalised: str, vendor: str, field: str) -> str:
    """The stored form of one chunk's tokens of ``field`` for the engine ``vendor`` (Django's
    name): the tokens, then the field's mark."""
    tokens = _tokens(normalised)
    mark = field_mark(field)
    if vendor == "postgresql":
        # A tsvector literal: each token quoted (letters and digits only: nothing to escape)
        # with its position, so phrase queries can ask for neighbours.
        text = " ".join(f"'{token}':{position}" for position, token in enumerate(tokens, 1))
        return f"{text} '{mark}':{_MARK_POSITION}"
    return " ".join((*tokens, mark))


def _query(word: str, fields: Sequence[str] | None = None) -> str:
    """The engine's query text for one normalised word (see the module), within ``fields``
    (their marks, `field_mark`) or anywhere."""
    if connection.vendor == "postgresql":
        if len(word) == 1:
            found = f"'{word}':*"
        else:
            found = " <-> ".join(f"'{token}'" for token in _tokens(word)[:-1])
        if fields is None:
            return found
        return f"({found}) & ({' | '.join(repr(field_mark(f)) for f in fields)})"
    found = f"{word}*" if len(word) == 1 else '"' + " ".join(_tokens(word)[:-1]) + '"'
    if fields is None:
        return found
    marks = " OR ".join('"' + field_mark(f) + '"' for f in fields)
    return f"{found} AND ({marks})"


# The contracts whose rows of the fields FIELDS (one placeholder each) match a query.
_MATCH_SQL = {
    "postgresql": (
        "SELECT contract_id FROM contracts_searchtext "
        "WHERE grams::tsvector @@ %s::tsquery AND field IN (FIELDS)"
    ),
    "sqlite": (
        "SELECT t.contract_id FROM contracts_searchtext_fts f "
        "JOIN contracts_searchtext t ON t.id = f.rowid "
        "WHERE contracts_searchtext_fts MATCH %s AND t.field IN (FIELDS)"
    ),
}


COLLECT_ROWS = {"sqlite": 10_000, "postgresql": 20_000}
"""Index rows, per engine, up to which a word's contracts are collected through the index
(`WordFilter.collected`) rather than tested one by one (`WordFilter.row_by_row`). Collecting
costs about 6 µs a row on SQLite (the FTS5 phrase, the row, its contract, the sort) and 4–10 µs
on PostgreSQL (a GIN bitmap, the heap, the contract); PostgreSQL's figure is the planner's
estimate, which counts a field's rows by the field's share of all rows (「清掃」 in titles:
15,600 estimated, 5,600 found). bench/search.py measures both."""

# How many index rows hold a query, counted up to a limit (one placeholder each).
_PROBE_SQL = (
    "SELECT count(*) FROM (SELECT 1 FROM contracts_searchtext_fts "
    "WHERE contracts_searchtext_fts MATCH %s LIMIT %s)"
)
# The planner's estimate of the index rows holding a query (PostgreSQL).
_ESTIMATE_SQL = "SELECT 1 FROM contracts_searchtext WHERE grams::tsvector @@ %s::tsquery"
_ESTIMATED_TOKENS = 6
"""Tokens of a long word whose estimates are asked for (spread over the word)."""


def planner_rows(sql: str, params: Sequence[Any]) -> int:
    """PostgreSQL's estimate of the rows ``sql`` returns (EXPLAIN, without running it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _rows(normalised: str, fields: Sequence[str] | None, limit: int) -> int:
    """How many index rows of ``fields`` (None: any) hold ``normalised``, at most ``limit`` + 1.

    SQLite: counted (FTS5 stops at the limit, so a common word costs what a rare one does).
    PostgreSQL: a count would build the GIN index's whole bitmap first (100–170 ms for a word
    in half a million rows), so the planner's estimate from the index's statistics (ANALYZE's
    most common tokens) is read instead: the smallest over the word's tokens, an upper bound
    for a phrase of them (the planner multiplies tokens' frequencies, which undercounts
    neighbouring bigrams such as 道路 路補 by an order of magnitude).
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PROBE_SQL, (_query(normalised, fields), limit + 1))
            (found,) = cursor.fetchone()
        return int(found)
    if len(normalised) == 1:
        words = [normalised]
    else:
        tokens = _tokens(normalised)[:-1]
        step = max(1, len(tokens) // _ESTIMATED_TOKENS)
        words = tokens[::step][:_ESTIMATED_TOKENS]
    # Each token alone is a word of its own (two characters: one token).
    estimates = [planner_rows(_ESTIMATE_SQL, (_query(word, fields),)) for word in words]
    return min(min(estimates), limit + 1)


def _row_needle(normalised: str) -> str:
    """What `_RowHolds` looks for in one row: on PostgreSQL the tsquery of `_query`; on SQLite
    the word's tokens as they stand in a row's ``grams`` (space-separated, so " 道路 路補 "
    is the phrase 道路 路補 and " 札" a token starting with 札)."""
    if connection.vendor == "postgresql":
        return _query(normalised)
    if len(normalised) == 1:
        return f" {normalised}"
    return " " + " ".join(_tokens(normalised)[:-1]) + " "


def _row_pieces(normalised: str) -> list[str]:
    """Text each of the word's tokens leaves in a PostgreSQL row's ``grams`` (a tsvector
    literal): 「'道路':」 for a bigram, 「'札」 for a one-character word's prefix."""
    if len(normalised) == 1:
        return [f"'{normalised}"]
    return [f"'{token}':" for token in dict.fromkeys(_tokens(normalised)[:-1])]


class _RowHolds(Func):
    """True where one SearchText row's tokens hold a word (`_row_needle`), read from the row
    itself: no index is used, so it costs the same for a common word as for a rare one.

    PostgreSQL: ``(grams || '')::tsvector @@ needle``: the expression differs from the GIN
    index's on purpose, so the planner tests the rows of each contract the outer walk meets
    (through the index on contract_id) instead of collecting every match through the GIN
    index first. Reading a row's literal as a tsvector costs a few microseconds, so each of
    the word's tokens is first looked for in the text (``strpos``, `_row_pieces`) and only a
    row holding them all is read: most rows of most contracts hold none. SQLite:
    ``instr(' ' || grams || ' ', needle) > 0``.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, normalised: str) -> None:
        pieces = _row_pieces(normalised) if connection.vendor == "postgresql" else []
        super().__init__(F("grams"), Value(_row_needle(normalised)), *map(Value, pieces))

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        grams, grams_params = compiler.compile(self.source_expressions[0])
        needle, needle_params = compiler.compile(self.source_expressions[1])
        if connection.vendor != "postgresql":
            sql = f"(instr(' ' || {grams} || ' ', {needle}) > 0)"
            return sql, [*grams_params, *needle_params]
        tests, params = [], []
        for piece in self.source_expressions[2:]:
            piece_sql, piece_params = compiler.compile(piece)
            tests.append(f"strpos({grams}, {piece_sql}) > 0")
            params += [*grams_params, *piece_params]
        tests.append(f"({grams} || '')::tsvector @@ ({needle})::tsquery")
        return "(" + " AND ".join(tests) + ")", [*params, *grams_params, *needle_params]


class _Collected(Func):
    """True where the contract is among the ids a subquery collects (``sql``, ``params``).

    PostgreSQL: ``id = ANY(ARRAY(subquery))``: the ids are gathered once and each is looked up
    by primary key; a plain ``IN`` lets the planner turn it into a semi-join and, trusting its
    estimates, sort every contract of the organisation first and probe each (bench/search.py:
    0.3 s for a word in 33,000 rows, against 20 ms). SQLite: ``id IN (subquery)``, an
    ephemeral index of the ids.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, sql: str, params: Sequence[Any]) -> None:
        super().__init__(F("pk"))
        self.subquery_sql, self.subquery_params = sql, tuple(params)

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        pk, pk_params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            sql = f"({pk} = ANY(ARRAY({self.subquery_sql})))"
        else:
            sql = f"({pk} IN ({self.subquery_sql}))"
        return sql, [*pk_params, *self.subquery_params]


@dataclass(frozen=True)
class WordFilter:
    """One search word's filter on Contract, in the shape the number of its index rows calls
    for (docs/architecture.md, Contract search)."""

    normalised: str
    fields: tuple[str, ...] | None
    rows: int
    """Index rows of the fields holding the word, counted or estimated up to the engine's
    COLLECT_ROWS + 1 (`_rows`)."""

    @property
    def collectable(self) -> bool:
        """Few enough rows hold it (COLLECT_ROWS) for its contracts to be collected."""
        return self.rows <= COLLECT_ROWS[connection.vendor]

    def matches(self) -> Q:
        """The contracts holding the word: collected through the index when it is
        `collectable`, else tested contract by contract (`row_by_row`)."""
        return self.collected() if self.collectable else self.row_by_row()

    def collected(self) -> Q:
        """Every contract holding the word, collected through the index."""
        sql = _MATCH_SQL[connection.vendor]
        fields: tuple[str, ...] = self.fields or ()
        if self.fields is None:
            sql = sql.replace(" AND field IN (FIELDS)", "").replace(" AND t.field IN (FIELDS)", "")
        else:
            sql = sql.replace("FIELDS", ", ".join(["%s"] * len(fields)))
        # Only "%s" placeholders are formatted into the SQL; the query and fields are
        # parameters, and the query holds letters and digits only (normalise): no FTS syntax.
        return Q(_Collected(sql, (_query(self.normalised, self.fields), *fields)))

    def row_by_row(self) -> Q:
        """True for a contract whose own index rows hold the word: tested per contract, so it
        costs the same for a common word as for a rare one."""
        from keiyaku.contracts.models import SearchText

        rows = SearchText.objects.filter(contract_id=OuterRef("pk")).filter(
            _RowHolds(self.normalised)
        )
        if self.fields is not None:
            rows = rows.filter(field__in=self.fields)
        # A count, not EXISTS: PostgreSQL would turn an EXISTS into a join and could then
        # read every row of the index table; an aggregate stays a subquery run per contract.
        held = rows.order_by().values("contract_id").annotate(n=Count("id")).values("n")
        return Q(GreaterThan(Subquery(held), 0))


def word_filter(word: str, fields: Sequence[str] | None = None) -> WordFilter | None:
    """The filter for contracts with ``word`` inside one of ``fields`` (部分一致).

    Args:
        word: what the person typed (one word; the caller splits on spaces for AND).
        fields: SearchField values (or `custom_search_field` names) to look in; None: all of
            them, custom fields included (the keyword anywhere).

    Returns None when the word normalises to nothing (only punctuation): it restricts nothing.
    Asks the index how common the word is (one query, or a planner estimate per token).
    Raises WordTooLong for a word of more than MAX_WORD_CHARS letters and digits.
    """
    normalised = normalise(word)
    if not normalised:
        return None
    if len(normalised) > MAX_WORD_CHARS:
        raise WordTooLong(
            _("検索語が長すぎます（%(limit)s文字まで）。") % {"limit": MAX_WORD_CHARS}
        )
    where = None if fields is None else tuple(fields)
    return WordFilter(normalised, where, _rows(normalised, where, COLLECT_ROWS[connection.vendor]))


def word_matches(word: str, fields: Sequence[str] | None = None) -> Q | None:
    """A filter on Contract: the contracts with ``word`` inside one of ``fields`` (部分一致);
    see `word_filter` and `WordFilter.matches`."""
    found = word_filter(word, fields)
    return None if found is None else found.matches()


def custom_search_field(field_id: int) -> str:
    """The index's field name for a custom text field's values (``SearchText.field``)."""
    return f"custom:{field_id}"


def contract_fields(contract_id: uuid.UUID) -> dict[str, list[str]]:
    """The metadata texts of one contract, per SearchField (the documents' text is apart),
    and its custom text fields' values, per `custom_search_field`."""
    from keiyaku.contracts.models import Contract, CustomFieldKind, CustomValue, Document, Party

    contract = Contract.objects.only(
        "title", "management_number", "counterparty_company", "note"
    ).get(pk=contract_id)
    parties = Party.objects.filter(contract_id=contract_id).values_list("company", "name")
    return {
        SearchField.TITLE: [contract.title],
        SearchField.NUMBER: [contract.management_number],
        SearchField.COUNTERPARTY: [
            contract.counterparty_company,
            *(text for pair in parties for text in pair),
        ],
        SearchField.FILENAME: list(
            Document.objects.filter(contract_id=contract_id).values_list("filename", flat=True)
        ),
        SearchField.NOTE: [contract.note],
        **{
            custom_search_field(field_id): [text]
            for field_id, text in CustomValue.objects.filter(
                contract_id=contract_id, field__kind=CustomFieldKind.TEXT
            ).values_list("field_id", "text")
        },
    }


def index_rows(texts: dict[str, list[str]], vendor: str) -> list[tuple[str, str]]:
    """(field, grams) of each row that indexes ``texts`` (SearchField → its texts) on the
    engine ``vendor``: each distinct text of a field once, long ones in chunks. Pure: the
    migration that builds the index for existing contracts uses it with its own models."""
    rows = []
    for field, given in texts.items():
        for text in dict.fromkeys(normalise(t) for t in given):
            for chunk in _chunks(text):
                if chunk:
                    rows.append((field, _grams(chunk, vendor, field)))
    return rows


def search_index_refresh(contract_id: uuid.UUID) -> None:
    """Index one contract's searchable metadata again (title, 管理番号, 相手方 and the parties,
    file names, 備考), replacing what was indexed for it; its documents' text rows
    (`document_text_index`) stay. A contract deleted meanwhile is left alone.
    """
    from keiyaku.contracts.models import Contract, SearchText

    with transaction.atomic():
        if not Contract.objects.filter(pk=contract_id).exists():
            return
        SearchText.objects.filter(contract_id=contract_id, document__isnull=True).delete()
        SearchText.objects.bulk_create(
            SearchText(contract_id=contract_id, field=field, grams=grams)
            for field, grams in index_rows(contract_fields(contract_id), connection.vendor)
        )


def document_text_index(document: Document, text: str) -> None:
    """Index a document's text (extracted once at ingest: `render.document_text`), in the
    transaction that stores the document; the rows go with the document (R28)."""
    from keiyaku.contracts.models import SearchText

    SearchText.objects.bulk_create(
        SearchText(contract_id=document.contract_id, document=document, field=field, grams=grams)
        for field, grams in index_rows({SearchField.TEXT: [text]}, connection.vendor)
    )


def document_text_copy(*, source: Document, copy: Document) -> None:
    """Give ``copy`` (a duplicated contract's document, same bytes) ``source``'s text rows."""
    from keiyaku.contracts.models import SearchText

    SearchText.objects.bulk_create(
        SearchText(contract_id=copy.contract_id, document=copy, field=field, grams=grams)
        for field, grams in SearchText.objects.filter(document=source).values_list("field", "grams")
    )


# What each model contributes to the index (contract_fields): a save that names none of these
# fields (``update_fields``) leaves the index as it is.
_INDEXED_FIELDS = {
    "Contract": {"title", "management_number", "counterparty_company", "note"},
    "Party": {"company", "name"},
    "Document": {"filename"},
    "CustomValue": {"text"},
}


def _on_save(
    sender: type, instance: object, created: bool, update_fields=None, **_: object
) -> None:  # type: ignore[no-untyped-def]
    if update_fields is not None and not set(update_fields) & _INDEXED_FIELDS[sender.__name__]:
        return
    search_index_refresh(_contract_id_of(instance))


def _on_delete(sender: type, instance: object, **_: object) -> None:
    search_index_refresh(_contract_id_of(instance))


def _contract_id_of(instance: object) -> uuid.UUID:
    from keiyaku.contracts.models import Contract

    if isinstance(instance, Contract):
        return instance.pk  # type: ignore[no-any-return]
    return instance.contract_id  # type: ignore[attr-defined,no-any-return]


def search_index_connect() -> None:
    """Keep the index in step with every save of a contract, party or document, in the same
    transaction (the app's ``ready``): a change and its index entry commit or roll back
    together. Updates through ``QuerySet.update`` bypass this; none changes an indexed field
    (tests/contracts/test_search_index.py lists the services that write them)."""
    from django.db.models.signals import post_delete, post_save

    from keiyaku.contracts.models import Contract, CustomValue, Document, Party

    for model in (Contract, Party, Document, CustomValue):
        post_save.connect(_on_save, sender=model, dispatch_uid=f"search-index-{model.__name__}")
    for model in (Party, Document, CustomValue):
        post_delete.connect(
            _on_delete, sender=model, dispatch_uid=f"search-unindex-{model.__name__}"
        )
