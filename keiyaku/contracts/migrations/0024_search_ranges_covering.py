"""The search ranges' indexes cover the department, the status and the list's order (R28;
docs/architecture.md, Contract search).

On SQLite, where statistics were gathered (ANALYZE), they are gathered again for the contracts
table: with statistics for the old indexes and none for these, SQLite's planner takes a new
index for a plain walk of the list (it guesses a handful of rows per organisation there) and
sorts a million contracts.
"""

from django.conf import settings
from django.db import migrations, models


def _statistics_again(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is not None:
            cursor.execute("ANALYZE contracts_contract")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_organisation_renewal_alert_days"),
        ("contracts", "0023_search_field_marks"),
        ("storage", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="contract",
            name="contract_by_contract_date",
        ),
        migrations.RemoveIndex(
            model_name="contract",
            name="contract_by_completed_at",
        ),
        migrations.RemoveIndex(
            model_name="contract",
            name="contract_by_period_end",
        ),
        migrations.AddIndex(
            model_name="contract",
            index=models.Index(
                fields=[
                    "organisation",
                    "contract_date",
                    "department",
                    "status",
                    "last_activity_at",
                    "id",
                ],
                name="contract_by_contract_date",
            ),
        ),
        migrations.AddIndex(
            model_name="contract",
            index=models.Index(
                fields=[
                    "organisation",
                    "completed_at",
                    "department",
                    "status",
                    "last_activity_at",
                    "id",
                ],
                name="contract_by_completed_at",
            ),
        ),
        migrations.AddIndex(
            model_name="contract",
            index=models.Index(
                fields=[
                    "organisation",
                    "period_end",
                    "department",
                    "status",
                    "last_activity_at",
                    "id",
                ],
                name="contract_by_period_end",
            ),
        ),
        migrations.RunPython(_statistics_again, migrations.RunPython.noop),
    ]
