"""The contract search index (R28): SearchText rows and, per engine, what searches them.

See keiyaku/contracts/search_index.py for the bigram tokens. SQLite gets an FTS5 table over the
rows (external content, kept in step by triggers); PostgreSQL a GIN index on the rows' tokens
read as a tsvector. Existing contracts are indexed here (metadata; their documents' text is
indexed when it is extracted).
"""

import django.db.models.deletion
from django.db import migrations, models

_SQLITE = [
    """CREATE VIRTUAL TABLE contracts_searchtext_fts USING fts5(
        grams, content='contracts_searchtext', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0', prefix='1')""",
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
_SQLITE_REVERSE = [
    "DROP TRIGGER contracts_searchtext_au",
    "DROP TRIGGER contracts_searchtext_ad",
    "DROP TRIGGER contracts_searchtext_ai",
    "DROP TABLE contracts_searchtext_fts",
]
_POSTGRESQL = [
    "CREATE INDEX contracts_searchtext_grams ON contracts_searchtext "
    "USING gin ((grams::tsvector))",
]
_POSTGRESQL_REVERSE = ["DROP INDEX contracts_searchtext_grams"]


def _engine_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}.get(vendor, []):
        schema_editor.execute(statement)


def _engine_index_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": _SQLITE_REVERSE, "postgresql": _POSTGRESQL_REVERSE}.get(vendor, []):
        schema_editor.execute(statement)


def _index_existing(apps, schema_editor):
    from keiyaku.contracts.search_index import SearchField, index_rows

    Contract = apps.get_model("contracts", "Contract")
    Party = apps.get_model("contracts", "Party")
    Document = apps.get_model("contracts", "Document")
    SearchText = apps.get_model("contracts", "SearchText")
    vendor = schema_editor.connection.vendor
    fields = ("pk", "title", "management_number", "counterparty_company", "note")
    for pk, title, number, company, note in Contract.objects.values_list(*fields).iterator():
        parties = Party.objects.filter(contract_id=pk).values_list("company", "name")
        texts = {
            SearchField.TITLE: [title],
            SearchField.NUMBER: [number],
            SearchField.COUNTERPARTY: [company, *(t for pair in parties for t in pair)],
            SearchField.FILENAME: list(
                Document.objects.filter(contract_id=pk).values_list("filename", flat=True)
            ),
            SearchField.NOTE: [note],
        }
        SearchText.objects.bulk_create(
            SearchText(contract_id=pk, field=field, grams=grams)
            for field, grams in index_rows(texts, vendor)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0011_party_access_code_digits"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchText",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("field", models.CharField(max_length=20)),
                (
                    "document",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="contracts.document",
                    ),
                ),
                ("grams", models.TextField()),
                (
                    "contract",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="contracts.contract",
                    ),
                ),
            ],
        ),
        migrations.RunPython(_engine_index, _engine_index_drop),
        migrations.RunPython(_index_existing, migrations.RunPython.noop),
    ]
