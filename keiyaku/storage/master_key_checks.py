"""`keiyaku check --deploy --database default`: do the configured master keys open the data?

- keiyaku.E120: a sealed value (a contract's data key, a sign-in secret, a PKI private key)
  opens with no configured master key: KEIYAKU_MASTER_KEY is wrong, or a previous key was
  removed before `keiyaku rotate-master-key` finished.
- keiyaku.W121: KEIYAKU_MASTER_KEY_PREVIOUS is set but nothing needs it any more: remove it.
- keiyaku.W122: values still need a previous key: run `keiyaku rotate-master-key`.

With no previous key configured it looks at a sample (the first and last 200 rows of each
sealed column, and the PKI keys), so that a start stays quick on a large database; with previous
keys (during a rotation) at every value, since W121 must know that none needs them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

SAMPLE = 200


@checks.register(checks.Tags.database, deploy=True)
def master_keys_open_the_data(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The messages above. Reads the database, so only with ``--database default`` (as
    `keiyaku serve` runs it)."""
    if not databases or "default" not in databases:
        return []
    from keiyaku.storage.rotation import master_key_survey

    rotating = bool(settings.MASTER_KEY_PREVIOUS)
    try:
        survey = master_key_survey(sample=None if rotating else SAMPLE)
    except DatabaseError:
        return []  # not migrated yet: nothing sealed
    broken = {label: c.broken for label, c in survey.kinds.items() if c.broken}
    if broken:
        found = ", ".join(f"{n} {label}" for label, n in broken.items())
        return [
            checks.Error(
                f"Sealed values open with no configured master key ({found}"
                f"{', in a sample' if not rotating else ''}): their contracts' files, sign-in "
                "secrets or signing keys cannot be read.",
                hint="Set KEIYAKU_MASTER_KEY to this installation's master key; after a "
                "rotation, put the key they were sealed with back into "
                "KEIYAKU_MASTER_KEY_PREVIOUS and run `keiyaku rotate-master-key` to finish.",
                id="keiyaku.E120",
            )
        ]
    if not rotating:
        return []
    waiting = survey.total("previous")
    if waiting:
        return [
            checks.Warning(
                f"{waiting} sealed values still need a key of KEIYAKU_MASTER_KEY_PREVIOUS.",
                hint="Run `keiyaku rotate-master-key` (docs/operations.md, 'Master key rotation').",
                id="keiyaku.W122",
            )
        ]
    return [
        checks.Warning(
            "KEIYAKU_MASTER_KEY_PREVIOUS is set but no sealed value needs it any more.",
            hint="Remove KEIYAKU_MASTER_KEY_PREVIOUS (and the data folder's master_key_previous "
            "file) on every machine, restart, and take a new backup; keep the old key with the "
            "backups taken before the rotation.",
            id="keiyaku.W121",
        )
    ]
