"""Master key rotation (`keiyaku rotate-master-key`, docs/operations.md): an installation with a
completed contract, a TOTP seed, an OpenID client secret and the PKI keeps working once the old
key is gone; a stopped run is finished by the next; the deploy check says what is left."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import models
from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts.models import Contract
from keiyaku.login import services as signin
from keiyaku.login import totp
from keiyaku.login.services import PolicyValues, organisation_signin_update
from keiyaku.pki.authority import AuthorityError, load_authority
from keiyaku.pki.service import get_authority
from keiyaku.storage import crypto
from keiyaku.storage.backup import backup_create
from keiyaku.storage.blobs import blob_get, keyring_create, object_open
from keiyaku.storage.models import Blob, KeyRing
from keiyaku.storage.rotation import SEALED_COLUMNS
from tests.conftest import Personas
from tests.flow import External, completed_pdf, draft_contract
from tests.outside import pdfsig
from tests.storage.installation import Installation

pytestmark = pytest.mark.django_db(transaction=True)

OLD = "the installation's first master key (48 random bytes in real life)"
NEW = "the master key it is rotated to (48 random bytes in real life too)"
OLDER = "a master key of a rotation before that one, not configured any more"
COMPANY = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
LATER = External("株式会社新規工業", "新規 二郎", "shinki@example.jp", "2222")
ROTATION_CHECKS = {"keiyaku.E120", "keiyaku.W121", "keiyaku.W122"}
CLIENT_SECRET = "client-secret-from-the-provider"  # noqa: S105 - a test value


def _reload_keys() -> None:
    """Processes load the PKI once; a test that changes the keys starts a new "process"."""
    from keiyaku.signing.keys import get_service_signer

    get_authority.cache_clear()
    get_service_signer.cache_clear()


def use_keys(settings, current: str, *previous: str) -> None:
    """What a restart with KEIYAKU_MASTER_KEY=current, KEIYAKU_MASTER_KEY_PREVIOUS=previous does."""
    settings.MASTER_KEY = current
    settings.MASTER_KEY_PREVIOUS = list(previous)
    _reload_keys()


@pytest.fixture
def installation(settings, tmp_path) -> Iterator[Personas]:
    """An installation under OLD with its own PKI folder (the session's stays as it is)."""
    settings.KEIYAKU_PKI_DIR = tmp_path / "pki"
    use_keys(settings, OLD)
    yield Personas()
    _reload_keys()  # the next test loads the session's PKI again, with its own key


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_master_key", *args, stdout=out)
    return out.getvalue()


def still_needed(output: str) -> int:
    return int(output.strip().splitlines()[-1].split()[0])


def deploy_messages() -> dict[str, str]:
    found = run_checks(include_deployment_checks=True, databases=["default"])
    return {m.id: m.msg for m in found if m.id in ROTATION_CHECKS}


def enrol_totp(staff) -> str:
    secret = totp.random_secret()
    signin.totp_enrol(staff=staff, secret=secret, code=totp.totp(secret, time.time()), meta=SYSTEM)
    return secret


def set_client_secret(personas: Personas, settings) -> None:
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    organisation_signin_update(
        organisation=personas.org,
        actor=personas.admin,
        values=PolicyValues(
            totp_required=False,
            session_timeout_minutes=60,
            oidc_enabled=True,
            oidc_issuer="http://127.0.0.1:9/idp",
            oidc_client_id="keiyaku",
            oidc_client_secret=CLIENT_SECRET,
            oidc_match="email",
            oidc_create_users=False,
        ),
        meta=SYSTEM,
    )


def stored_objects() -> dict[str, str]:
    """Each blob's object at rest (sealed with its data key), by SHA-256."""
    found = {}
    for blob in Blob.objects.all():
        with object_open(blob.object_name) as handle:
            found[str(blob.id)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def verify_signed(pdf: bytes, tmp_path: Path, parties: int) -> None:
    """`keiyaku verify` (pyHanko, this installation's root) and pdfsig (poppler) accept it."""
    path = tmp_path / f"verify-{hashlib.sha256(pdf).hexdigest()[:8]}.pdf"
    path.write_bytes(pdf)
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify", str(path), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert exited.value.code == 0, report
    assert (report["verdict"], report["parties"], report["ok"]) == ("concluded", parties, True)
    signatures = pdfsig(pdf, trust_root_pem=get_authority().root_pem())
    assert sum(not s["is_document_timestamp"] for s in signatures) == parties


def test_every_sealed_field_is_rotated():
    """A model field that holds master-key-sealed values (named *_sealed, or binary like a
    wrapped key) is one the rotation visits."""
    rotated = {(c.model, c.field) for c in SEALED_COLUMNS}
    # Binary but not sealed: the mailbox page's copy of an attachment (a trial's PDF as sent),
    # the public certificates keiyaku has signed with (each is in every PDF it signed), and an
    # API call's answer kept a day for its Idempotency-Key (a contract's metadata, plain in
    # its own table too; never an access code or a signing link).
    plain = {
        ("api.IdempotentRequest", "body"),
        ("notifications.CapturedAttachment", "content"),
        ("signing.ServiceCertificate", "der"),
    }
    found = set()
    for model in apps.get_models():
        if not model.__module__.startswith("keiyaku."):
            continue
        for field in model._meta.concrete_fields:
            if field.name.endswith("_sealed") or isinstance(field, models.BinaryField):
                found.add((model._meta.label, field.name))
    assert found - plain == rotated


def test_after_rotation_the_old_key_is_not_needed(installation, settings, tmp_path):
    personas = installation
    signed_before = completed_pdf(personas, [COMPANY])
    contract = Contract.objects.get()
    secret = enrol_totp(personas.sender)
    set_client_secret(personas, settings)
    pki_dir = Path(settings.KEIYAKU_PKI_DIR)
    certificates = {p.name: p.read_bytes() for p in pki_dir.glob("*.crt.pem")}
    objects = stored_objects()
    rings = KeyRing.objects.count()
    assert rings >= 1

    use_keys(settings, NEW, OLD)
    check = rotate("--check")
    # Every key ring, the TOTP seed, the client secret and the three PKI keys.
    assert still_needed(check) == rings + 1 + 1 + 3, check
    assert deploy_messages().keys() == {"keiyaku.W122"}

    done = rotate("--batch-size", "2")
    assert f"contract data keys: 0 under the current key, {rings} re-sealed" in done
    assert "TOTP seeds: 0 under the current key, 1 re-sealed" in done
    assert "OpenID client secrets: 0 under the current key, 1 re-sealed" in done
    assert "PKI private keys: 0 under the current key, 3 re-sealed" in done
    assert f"rotation complete: {rings + 5} values re-sealed, 0 already" in done
    again = rotate()
    assert f"rotation complete: 0 values re-sealed, {rings + 5} already" in again
    assert still_needed(rotate("--check")) == 0
    assert deploy_messages().keys() == {"keiyaku.W121"}
    entries = list(Event.objects.filter(event="master_key.rotate").order_by("id"))
    assert [e.detail["counts"]["contract data keys"]["resealed"] for e in entries] == [rings, 0]
    assert entries[0].detail["complete"] is True and entries[0].detail["previous_keys"] == 1
    assert not any(key in json.dumps(e.detail) for e in entries for key in (OLD, NEW))

    # The old key removed from the configuration.
    use_keys(settings, NEW)
    assert deploy_messages() == {}
    with pytest.raises(AuthorityError):
        load_authority(pki_dir, passphrase=OLD.encode())
    assert {p.name: p.read_bytes() for p in pki_dir.glob("*.crt.pem")} == certificates
    # Stored files were not re-encrypted: the same objects, opened with the same data keys.
    assert stored_objects() == objects
    staff = Client()
    staff.force_login(personas.sender)
    document = contract.documents.get()
    response = staff.get(f"/contracts/{contract.id}/documents/{document.id}/signed.pdf")
    assert response.status_code == 200
    downloaded = b"".join(response.streaming_content) if response.streaming else response.content
    assert downloaded == signed_before
    verify_signed(downloaded, tmp_path, parties=2)
    # TOTP still checks (the next 30-second step: the one used at enrolment is spent).
    code = totp.totp(secret, time.time() + 30)
    assert signin.second_factor_verify(staff=personas.sender, code=code, meta=SYSTEM) == "totp"
    assert signin.oidc_client_secret(signin.policy_for(personas.org)) == CLIENT_SECRET
    # A new contract is signed with the PKI keys under the new key, and verifies.
    signed_after = completed_pdf(personas, [LATER])
    verify_signed(signed_after, tmp_path, parties=2)
    assert still_needed(rotate("--check")) == 0


def test_a_stopped_rotation_is_finished_by_the_next_run(installation, settings):
    rings = [keyring_create() for _ in range(7)]
    order = sorted(str(r.id) for r in rings)
    # One data key still wrapped by a key two rotations back, in the middle of the rows.
    forgotten = order[3]
    data_key = crypto.unwrap_key(
        bytes(KeyRing.objects.get(pk=forgotten).wrapped_key), key_id=forgotten
    )
    use_keys(settings, OLDER)
    KeyRing.objects.filter(pk=forgotten).update(
        wrapped_key=crypto.wrap_key(data_key, key_id=forgotten)
    )
    use_keys(settings, OLD)
    get_authority()  # the PKI exists, under OLD
    use_keys(settings, NEW, OLD)

    with pytest.raises(CommandError) as stopped:
        rotate("--batch-size", "2")
    message = str(stopped.value)
    assert f"storage.KeyRing {forgotten} (contract data keys) opens with no configured" in message
    assert "KEIYAKU_MASTER_KEY_PREVIOUS" in message
    # The first batch (rows 0 and 1) committed; the batch holding row 3 rolled back.
    use_keys(settings, NEW)
    opens_with_new = []
    for pk in order:
        try:
            crypto.unwrap_key(bytes(KeyRing.objects.get(pk=pk).wrapped_key), key_id=pk)
            opens_with_new.append(pk)
        except crypto.SealBroken:
            pass
    assert opens_with_new == order[:2]
    stop = Event.objects.get(event="master_key.rotate")
    assert stop.detail["complete"] is False
    assert stop.detail["counts"]["contract data keys"]["resealed"] == 2

    use_keys(settings, NEW, OLD)
    with pytest.raises(CommandError, match="1 values open with no configured master key"):
        rotate("--check")
    use_keys(settings, NEW, OLD, OLDER)
    assert still_needed(rotate("--check")) == 5
    done = rotate("--batch-size", "2")
    assert "contract data keys: 2 under the current key, 5 re-sealed" in done
    assert "PKI private keys: 3 under the current key, 0 re-sealed" in done  # the first run's
    use_keys(settings, NEW)
    assert still_needed(rotate("--check")) == 0
    for pk in order:
        crypto.unwrap_key(bytes(KeyRing.objects.get(pk=pk).wrapped_key), key_id=pk)


def test_with_neither_key_the_error_is_clear(installation, settings):
    contract = draft_contract(installation.sender)
    blob = contract.documents.get().original
    use_keys(settings, NEW)
    with pytest.raises(crypto.SealBroken, match="KEIYAKU_MASTER_KEY nor any"):
        blob_get(Blob.objects.select_related("keyring").get(pk=blob.pk))
    with pytest.raises(CommandError, match="1 values open with no configured master key"):
        rotate("--check")
    with pytest.raises(CommandError, match="opens with no configured master key"):
        rotate()
    messages = deploy_messages()
    assert messages.keys() == {"keiyaku.E120"}
    assert "open with no configured master key (1 contract data keys" in messages["keiyaku.E120"]
    # Nothing was changed: the right key still opens everything.
    use_keys(settings, OLD)
    assert blob_get(Blob.objects.select_related("keyring").get(pk=blob.pk))
    assert deploy_messages() == {}


@pytest.mark.slow(seconds=40)
def test_a_backup_taken_before_rotation_restores_with_the_old_key_as_previous(
    installation, settings, tmp_path
):
    get_authority()
    draft_contract(installation.sender, documents=2)
    enrol_totp(installation.sender)
    rings = KeyRing.objects.count()
    backup_create(dest=tmp_path / "backup")
    use_keys(settings, NEW, OLD)
    rotate()
    use_keys(settings, NEW)

    refused = Installation(tmp_path / "without-old", KEIYAKU_MASTER_KEY=NEW)
    done = refused.keiyaku("restore", str(tmp_path / "backup"), check=False)
    assert done.returncode != 0 and "master key is not the one" in done.stderr
    assert "KEIYAKU_MASTER_KEY_PREVIOUS" in done.stderr

    other = Installation(
        tmp_path / "restored",
        KEIYAKU_MASTER_KEY=NEW,
        KEIYAKU_MASTER_KEY_PREVIOUS=f"an unrelated key,{OLD}",
    )
    restored = other.keiyaku("restore", str(tmp_path / "backup"))
    assert "objects checked, audit log intact" in restored.stdout
    # The restored data is under the old key: rotate it there too (the hyphenated name).
    checked = other.keiyaku("rotate-master-key", "--check")
    assert "the current one and 2 previous" in checked.stdout
    assert still_needed(checked.stdout) == rings + 1 + 3  # the key rings, the seed, the PKI
    other.keiyaku("rotate-master-key")
    # The embedded set-up's way: previous keys in the data folder's master_key_previous file.
    del other.env["KEIYAKU_MASTER_KEY_PREVIOUS"]
    (other.data_dir / "master_key_previous").write_text(f"{OLD}\n")
    assert still_needed(other.keiyaku("rotate-master-key", "--check").stdout) == 0
    (other.data_dir / "master_key_previous").unlink()
    assert still_needed(other.keiyaku("rotate-master-key", "--check").stdout) == 0
    facts = other.facts()
    assert len(facts["versions"]) == 2 and "audit log intact" in facts["audit"]
