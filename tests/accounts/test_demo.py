import pytest
from django.core.management import call_command
from django.test import Client

from keiyaku.accounts.demo import DEMO_PASSWORD
from keiyaku.accounts.models import Organisation, Staff

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_logins_work(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert Organisation.objects.filter(name="デモ市").count() == 1
    assert Organisation.objects.get(slug="demo").is_trial  # its mail is never sent (R46)
    assert Staff.objects.filter(organisation__slug="demo").count() == 3
    out = capsys.readouterr().out
    assert "demo-sender" in out and DEMO_PASSWORD in out
    client = Client()
    assert client.login(username="demo-sender", password=DEMO_PASSWORD)
    assert client.get("/").status_code == 200
