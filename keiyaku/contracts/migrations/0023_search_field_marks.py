"""Field marks in the contract search index (R28).

Each SearchText row's tokens now end with its field's mark (`search_index.field_mark`:
「#title」, 「#custom12」), so that the index itself finds a word within some fields only (a
title word that a million company names also hold) instead of collecting every row holding
it and dropping the other fields' rows. Rows written before get their mark here; rows already
marked (a database made after this change by migration 0012) are left alone. SQLite's FTS5
table is made again with 「#」 as a token character and rebuilt; PostgreSQL's GIN index is
built again after the rows change.
"""

from django.db import migrations

_TRIGGERS = [
    """CREATE TRIGGER contracts_searchtext_ai AFTER INSERT ON contracts_searchtext BEGIN
        INSERT INTO contracts_searchtext_fts(rowid, grams) VALUES (new.id, new.grams);
    END""",
    """CREATE TRIGGER contracts_searchtext_ad AFTER DELETE ON contracts_searchtext BEGIN
        INSERT INTO contracts_searchtext_fts(contracts_searchtext_fts, rowid, grams)
        VALUES ('delete', old.id, old.grams);
    END""",
    """CREATE TRIGGER contracts_searchtext_au AFTER UPDATE ON contracts_searchtext BEGIN
        INSERT INTO contracts_searchtext_fts(contracts_searchtext_fts, rowid, grams)
        VALUES ('delete', old.id, old.grams);
        INSERT INTO contracts_searchtext_fts(rowid, grams) VALUES (new.id, new.grams);
    END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER contracts_searchtext_au",
    "DROP TRIGGER contracts_searchtext_ad",
    "DROP TRIGGER contracts_searchtext_ai",
    "DROP TABLE contracts_searchtext_fts",
]


def _sqlite_create(tokenchars: bool) -> list[str]:
    tokenize = "unicode61 remove_diacritics 0" + (" tokenchars ''#''" if tokenchars else "")
    return [
        f"""CREATE VIRTUAL TABLE contracts_searchtext_fts USING fts5(
            grams, content='contracts_searchtext', content_rowid='id',
            tokenize='{tokenize}', prefix='1')""",
        *_TRIGGERS,
        "INSERT INTO contracts_searchtext_fts(contracts_searchtext_fts) VALUES ('rebuild')",
    ]


_SQLITE_MARK = (
    "UPDATE contracts_searchtext SET grams = grams || ' #' || replace(field, ':', '') "
    "WHERE instr(grams, '#') = 0"
)
_SQLITE_UNMARK = (
    "UPDATE contracts_searchtext "
    "SET grams = substr(grams, 1, length(grams) - length(' #' || replace(field, ':', ''))) "
    "WHERE instr(grams, '#') > 0"
)
_POSTGRESQL_INDEX = (
    "CREATE INDEX contracts_searchtext_grams ON contracts_searchtext USING gin ((grams::tsvector))"
)
_POSTGRESQL_MARK = (
    "UPDATE contracts_searchtext "
    "SET grams = grams || ' ''#' || replace(field, ':', '') || ''':16383' "
    "WHERE position('#' in grams) = 0"
)
_POSTGRESQL_UNMARK = (
    "UPDATE contracts_searchtext SET grams = regexp_replace(grams, ' ''#[^'']*'':16383$', '') "
    "WHERE position('#' in grams) > 0"
)


def _mark(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = [*_SQLITE_DROP, _SQLITE_MARK, *_sqlite_create(tokenchars=True)]
    elif vendor == "postgresql":
        statements = [
            "DROP INDEX contracts_searchtext_grams",
            _POSTGRESQL_MARK,
            # Checks deferred in this transaction must run before an index may be built.
            "SET CONSTRAINTS ALL IMMEDIATE",
            _POSTGRESQL_INDEX,
            # The new index has no statistics until autovacuum's next ANALYZE, and the search
            # reads how common a word is from them (search_index._rows).
            "ANALYZE contracts_searchtext",
        ]
    else:
        statements = []
    for statement in statements:
        schema_editor.execute(statement)


def _unmark(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = [*_SQLITE_DROP, _SQLITE_UNMARK, *_sqlite_create(tokenchars=False)]
    elif vendor == "postgresql":
        statements = [
            "DROP INDEX contracts_searchtext_grams",
            _POSTGRESQL_UNMARK,
            "SET CONSTRAINTS ALL IMMEDIATE",
            _POSTGRESQL_INDEX,
        ]
    else:
        statements = []
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0022_party_viewed_at"),
    ]

    operations = [migrations.RunPython(_mark, _unmark)]
