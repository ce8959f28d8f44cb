"""`keiyaku organisation_create`: the platform operator adds an organisation and its first admin."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from keiyaku.accounts.services import organisation_create_with_admin, password_set_url
from keiyaku.refusals import Refusal


class Command(BaseCommand):
    help = "Create an organisation (tenant) with its first admin, who is e-mailed a password link."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="団体名, e.g. 札幌市")
        parser.add_argument("--slug", required=True, help="short ASCII name, e.g. sapporo")
        parser.add_argument("--admin-login", required=True)
        parser.add_argument("--admin-name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument(
            "--trial",
            action="store_true",
            help="a trial organisation (R46): its mail is kept in the mailbox, never sent",
        )

    def handle(self, *args, **options) -> None:
        try:
            organisation, admin = organisation_create_with_admin(
                name=options["name"],
                slug=options["slug"],
                admin_username=options["admin_login"],
                admin_name=options["admin_name"],
                admin_email=options["admin_email"],
                is_trial=options["trial"],
            )
        except Refusal as exc:  # a duplicate, or a name with a line break
            raise CommandError(exc.message) from exc
        trial = " (trial: mail is kept in the mailbox)" if organisation.is_trial else ""
        self.stdout.write(f"created {organisation.name} ({organisation.slug}){trial}")
        self.stdout.write(f"admin {admin.username}: set the password at {password_set_url(admin)}")
