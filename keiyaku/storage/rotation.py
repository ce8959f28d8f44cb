"""Master key rotation: seal again under KEIYAKU_MASTER_KEY what a previous key sealed (R43).

What the master key protects, and so what a rotation visits (`SEALED_COLUMNS` and the PKI):

- every contract's data key (``storage.KeyRing.wrapped_key``): unwrapped and wrapped again. The
  data key itself stays, so the stored files sealed with it are not touched (nor need to be);
- the sign-in secrets, sealed text columns (``login.StaffSignIn.totp_secret_sealed``,
  ``login.OrganisationSignIn.oidc_client_secret_sealed``, the counterparty account's
  ``counterparty_accounts.CounterpartyAccount.totp_secret_sealed``);
- the 認証キー of electronic sureties (``contracts.Surety.auth_key_sealed``, R32) and the
  previous ones their corrections keep (``contracts.SuretyCorrection.auth_key_sealed``);
- the webhook signing secrets, current and being rotated out (``webhooks.WebhookEndpoint``'s
  ``secret_sealed`` and ``previous_secret_sealed``, R40);
- the local authority's three private keys (``KEIYAKU_PKI_DIR``), encrypted again.

Not stored, nothing to re-seal: the TSA client token (derived from the key on each use; a
previous key's token is accepted while it is configured). Outside the installation, never
re-sealed: a backup's master key check (a backup taken before the rotation restores with the
old key among the previous ones).

`master_key_rotate` goes through each column in batches of primary keys, each batch in one
transaction holding its rows' locks (``SELECT … FOR UPDATE``; SQLite's IMMEDIATE transactions
hold the whole database): a value is read, opened with whichever configured key opens it and
written back sealed under the current key, or left alone when the current key already sealed
it. So a run re-seals only what needs it, a second run re-seals nothing, and a run stopped half
way (killed, or a value that opens with no configured key) keeps the batches it committed and
is finished by the next run. An audit entry records each run's counts, never a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, models, router, transaction

from keiyaku.audit.services import audit_record
from keiyaku.pki.authority import AuthorityError, key_passphrase_positions, reencrypt_keys
from keiyaku.storage import crypto

__all__ = [
    "SEALED_COLUMNS",
    "RotationStopped",
    "SealedColumn",
    "Survey",
    "master_key_rotate",
    "master_key_survey",
]

PKI_KEYS = "PKI private keys"


@dataclass(frozen=True)
class SealedColumn:
    """A database column whose values are sealed with the master key."""

    label: str
    """What the values are, in reports ("contract data keys")."""
    model: str
    """``app_label.Model``."""
    field: str
    reseal: Callable[[Any, Any], Any]
    """``reseal(pk, value)``: the value sealed under the current key, or None when it already
    is; raises crypto.SealBroken when no configured key opens it."""

    def queryset(self) -> models.QuerySet[Any]:
        """The rows holding a value (an empty text column holds no secret)."""
        model = apps.get_model(self.model)
        found = model._default_manager.all()
        if isinstance(model._meta.get_field(self.field), models.TextField):
            found = found.exclude(**{self.field: ""})
        return found


def _rewrap(pk: Any, value: Any) -> bytes | None:
    return crypto.rewrap_key(bytes(value), key_id=str(pk))


def _text(purpose: str) -> Callable[[Any, Any], str | None]:
    return lambda _pk, value: crypto.reseal_text(value, purpose=purpose)


# Every model field holding master-key-sealed values; tests/storage/test_rotation.py checks that
# every `*_sealed` field and every key ring is named here.
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("contract data keys", "storage.KeyRing", "wrapped_key", _rewrap),
    SealedColumn(
        "TOTP seeds", "signin.StaffSignIn", "totp_secret_sealed", _text(crypto.TOTP_PURPOSE)
    ),
    SealedColumn(
        "counterparty TOTP seeds",
        "counterparty_accounts.CounterpartyAccount",
        "totp_secret_sealed",
        _text(crypto.TOTP_PURPOSE),
    ),
    SealedColumn(
        "OpenID client secrets",
        "signin.OrganisationSignIn",
        "oidc_client_secret_sealed",
        _text(crypto.OIDC_CLIENT_SECRET_PURPOSE),
    ),
    SealedColumn(
        "surety authentication keys",
        "contracts.Surety",
        "auth_key_sealed",
        _text(crypto.SURETY_KEY_PURPOSE),
    ),
    SealedColumn(
        "corrected surety authentication keys",
        "contracts.SuretyCorrection",
        "auth_key_sealed",
        _text(crypto.SURETY_KEY_PURPOSE),
    ),
    SealedColumn(
        "webhook secrets",
        "webhooks.WebhookEndpoint",
        "secret_sealed",
        _text(crypto.WEBHOOK_SECRET_PURPOSE),
    ),
    SealedColumn(
        "webhook secrets being rotated out",
        "webhooks.WebhookEndpoint",
        "previous_secret_sealed",
        _text(crypto.WEBHOOK_SECRET_PURPOSE),
    ),
)


@dataclass
class Counts:
    """Values of one kind: under the current key, re-sealed by this run, needing a previous key,
    opening with no configured key."""

    current: int = 0
    resealed: int = 0
    previous: int = 0
    broken: int = 0


@dataclass
class Survey:
    """Counts by kind (the labels of SEALED_COLUMNS and PKI_KEYS), in that order."""

    kinds: dict[str, Counts] = field(default_factory=dict)
    complete: bool = True
    """False when a rotation stopped before the end."""

    def total(self, what: str) -> int:
        """The sum of one count ("current", "resealed", "previous", "broken") over all kinds."""
        return sum(getattr(c, what) for c in self.kinds.values())

    def lines(self) -> list[str]:
        return [
            f"{label}: {c.current} under the current key, {c.resealed} re-sealed, "
            f"{c.previous} need a previous key, {c.broken} open with no configured key"
            for label, c in self.kinds.items()
        ]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts as plain data, for the audit entry (never a key or a value)."""
        return {label: dict(vars(c)) for label, c in self.kinds.items()}


class RotationStopped(RuntimeError):
    """A rotation stopped at a value no configured master key opens; what it committed before
    stays, and the next run finishes once the key that sealed the value is configured."""

    def __init__(self, message: str, survey: Survey) -> None:
        super().__init__(message)
        self.survey = survey


def _pki_dir() -> Path:
    return Path(settings.KEIYAKU_PKI_DIR)


def _survey_pki(survey: Survey) -> None:
    counts = survey.kinds.setdefault(PKI_KEYS, Counts())
    positions = key_passphrase_positions(_pki_dir(), passphrases=crypto.master_key_passphrases())
    for position in positions.values():
        if position is None:
            counts.broken += 1
        elif position == 0:
            counts.current += 1
        else:
            counts.previous += 1


def _survey_rows(column: SealedColumn, rows: Any, counts: Counts) -> None:
    for pk, value in rows:
        try:
            again = column.reseal(pk, value)
        except crypto.SealBroken:
            counts.broken += 1
            continue
        if again is None:
            counts.current += 1
        else:
            counts.previous += 1


def master_key_survey(*, sample: int | None = None) -> Survey:
    """How many sealed values open with the current key, need a previous one, or open with
    none, by kind; changes nothing. ``sample``: look at only the first and the last ``sample``
    rows of each column by primary key (the deploy check's quick look), else at every row
    (``keiyaku rotate-master-key --check``; about 10,000 values a second on a 2-core machine,
    SQLite or PostgreSQL)."""
    survey = Survey()
    for column in SEALED_COLUMNS:
        counts = survey.kinds.setdefault(column.label, Counts())
        rows = column.queryset().values_list("pk", column.field)
        if sample is None:
            _survey_rows(column, rows.order_by("pk").iterator(chunk_size=2000), counts)
            continue
        first = list(rows.order_by("pk")[:sample])
        last = [r for r in rows.order_by("-pk")[:sample] if r not in first]
        _survey_rows(column, first + last, counts)
    _survey_pki(survey)
    return survey


def _rotate_batch(column: SealedColumn, after: Any, batch_size: int, counts: Counts) -> Any:
    """Re-seal one batch of ``column`` (rows with a primary key above ``after``) in one
    transaction; return the last primary key seen, or None at the end of the column."""
    model = apps.get_model(column.model)
    changed = []
    with transaction.atomic():
        rows = column.queryset().select_for_update().order_by("pk")
        if after is not None:
            rows = rows.filter(pk__gt=after)
        batch = list(rows.values_list("pk", column.field)[:batch_size])
        for pk, value in batch:
            try:
                again = column.reseal(pk, value)
            except crypto.SealBroken as exc:
                raise _Broken(f"{column.model} {pk} ({column.label})") from exc
            if again is not None:
                changed.append((pk, again))
        _write(model, column.field, changed)
    # Counted once the batch committed: a batch rolled back re-seals nothing.
    counts.resealed += len(changed)
    counts.current += len(batch) - len(changed)
    return batch[-1][0] if batch else None


def _write(model: Any, field_name: str, rows: list[tuple[Any, Any]]) -> None:
    """Set ``field_name`` of each (pk, value) in ``rows``: one prepared UPDATE executed for all
    (the ORM's update() or bulk_update() costs ten times the sealing per row)."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    column = model._meta.get_field(field_name)
    pk = model._meta.pk
    quote = connection.ops.quote_name
    # Only names from the model's own metadata, quoted; the values are parameters.
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {quote(column.column)} = %s "  # noqa: S608
        f"WHERE {quote(pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (
                    column.get_db_prep_value(value, connection),
                    pk.get_db_prep_value(key, connection),
                )
                for key, value in rows
            ],
        )


class _Broken(Exception):
    pass


def master_key_rotate(*, batch_size: int = 500) -> Survey:
    """Seal again under KEIYAKU_MASTER_KEY every value a previous key (KEIYAKU_MASTER_KEY_PREVIOUS)
    sealed: the PKI private keys, then each column of SEALED_COLUMNS in batches of
    ``batch_size`` rows, each batch one transaction with its rows locked. Stored files are not
    touched (their data keys stay; only their wrapping changes). Returns the counts by kind
    ("resealed" by this run, "current" already under the current key) and writes the audit
    event ``master_key.rotate`` with them.

    Raises RotationStopped (after recording the counts so far, ``complete`` false) at the first
    value that no configured key opens: the batches committed before it stay re-sealed, and a
    new run once the missing key is in KEIYAKU_MASTER_KEY_PREVIOUS finishes the rotation. The
    PKI keys are checked before any is rewritten (pki.authority.reencrypt_keys), so a PKI key
    no configured key opens stops the run before anything changes.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    survey = Survey({column.label: Counts() for column in SEALED_COLUMNS})
    pki = survey.kinds.setdefault(PKI_KEYS, Counts())
    current, *older = crypto.master_key_passphrases()
    try:
        try:
            pki.resealed, pki.current = reencrypt_keys(
                _pki_dir(), passphrase=current, older_passphrases=older
            )
        except AuthorityError as exc:
            raise _Broken(f"a private key in {_pki_dir()}") from exc
        for column in SEALED_COLUMNS:
            counts = survey.kinds[column.label]
            after = None
            while True:
                after = _rotate_batch(column, after, batch_size, counts)
                if after is None:
                    break
    except _Broken as broken:
        survey.complete = False
        _record(survey)
        raise RotationStopped(
            f"stopped: {broken} opens with no configured master key. What was re-sealed before "
            "it stays so; add the master key that sealed it to KEIYAKU_MASTER_KEY_PREVIOUS and "
            "run keiyaku rotate-master-key again to finish.",
            survey,
        ) from broken.__cause__
    _record(survey)
    return survey


def _record(survey: Survey) -> None:
    audit_record(
        event="master_key.rotate",
        actor_label="keiyaku rotate-master-key",
        detail={
            "complete": survey.complete,
            "previous_keys": len(crypto.master_keys()) - 1,
            "counts": survey.summary(),
        },
    )
