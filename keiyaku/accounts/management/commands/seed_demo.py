from django.core.management.base import BaseCommand

from keiyaku.accounts.demo import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Create the demo organisation デモ市 (once) and print its staff logins."

    def handle(self, *args, **options):
        organisation, logins = demo_seed()
        self.stdout.write(f"{organisation.name}: staff logins (password: {DEMO_PASSWORD})")
        for login in logins:
            self.stdout.write(f"  {login.username:<12} {login.name}  [{', '.join(login.roles)}]")
