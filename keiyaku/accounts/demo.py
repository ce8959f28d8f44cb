"""The demo organisation 「デモ市」, a trial organisation (R46): its mail is never sent."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from keiyaku.accounts.models import Organisation, Role, Staff
from keiyaku.accounts.services import department_get_or_create, organisation_create, staff_create

DEMO_SLUG = "demo"
DEMO_PASSWORD = "keiyaku-demo"  # noqa: S105 - a published demo login, demo organisation only


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    roles: tuple[str, ...]


DEMO_STAFF = (
    (
        "demo-admin",
        "管理 太郎",
        "総務課",
        "admin@demo.keiyaku.localhost",
        (Role.ADMIN, Role.SENDER),
    ),
    ("demo-sender", "契約 花子", "契約課", "keiyaku@demo.keiyaku.localhost", (Role.SENDER,)),
    ("demo-mayor", "市長 一郎", "市長室", "mayor@demo.keiyaku.localhost", (Role.SIGNER,)),
)


@transaction.atomic
def demo_seed() -> tuple[Organisation, list[DemoLogin]]:
    """Create デモ市 and its staff once; later calls change nothing."""
    organisation = Organisation.objects.filter(slug=DEMO_SLUG).first()
    if organisation is None:
        organisation = organisation_create(name="デモ市", slug=DEMO_SLUG, is_trial=True)
    logins = []
    for username, name, department, email, roles in DEMO_STAFF:
        if not Staff.objects.filter(username=username).exists():
            staff_create(
                organisation=organisation,
                username=username,
                password=DEMO_PASSWORD,
                display_name=name,
                email=email,
                department=department_get_or_create(organisation=organisation, name=department),
                roles=roles,
            )
        logins.append(DemoLogin(username=username, name=name, roles=tuple(roles)))
    return organisation, logins
