"""IP allow-list per organisation (R38): staff screens refuse other addresses, signing pages don't."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.accounts.network import client_ip
from keiyaku.accounts.services import AccountsError, organisation_update_settings
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from tests.flow import External, draft_contract, last_link

INSIDE_V4, INSIDE_V6, OUTSIDE = "192.0.2.7", "2001:db8:10::5", "203.0.113.5"


@pytest.fixture
def listed(personas):
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist="192.0.2.0/24\n2001:db8::/32\n198.51.100.1",
        current_ip=INSIDE_V4,
    )
    return personas


def staff_client(user, address: str, **headers) -> Client:
    client = Client(REMOTE_ADDR=address, **headers)
    client.force_login(user)
    return client


def test_staff_screens_refuse_addresses_outside_the_list(listed):
    for address in (INSIDE_V4, INSIDE_V6, "198.51.100.1"):
        assert staff_client(listed.sender, address).get("/").status_code == 200, address
    response = staff_client(listed.sender, OUTSIDE).get("/")
    assert response.status_code == 403
    assert "この接続元（203.0.113.5）からは" in response.content.decode()
    for url in ("/contracts/new/", "/admin-org/", "/admin-org/audit/"):
        assert staff_client(listed.admin, OUTSIDE).get(url).status_code == 403, url
    # Another organisation has no list: its staff are not affected.
    assert staff_client(listed.outsider, OUTSIDE).get("/").status_code == 200


def test_machine_endpoints_refuse_outside_addresses_in_json(listed):
    """The JSON the staff screens fetch (and the API, under /api/) answers 403 with a JSON body."""
    contract = draft_contract(
        listed.sender, externals=[External("株式会社髙橋建設", "髙橋 一郎", "t@example.jp")]
    )
    url = f"/contracts/{contract.pk}/boxes.json"
    assert staff_client(listed.sender, INSIDE_V4).get(url).status_code == 200
    refused = staff_client(listed.sender, OUTSIDE).get(url)
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["code"] == "ip_not_allowed"
    assert refused.json()["address"] == OUTSIDE
    assert "203.0.113.5" in refused.json()["error"]
    posted = staff_client(listed.sender, OUTSIDE).post(url, {}, content_type="application/json")
    assert posted.status_code == 403 and not contract.documents.first().boxes.exists()


@pytest.mark.django_db(transaction=True)
def test_signing_pages_and_public_pages_still_work_from_anywhere(personas):
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist="192.0.2.0/24",
        current_ip=INSIDE_V4,
    )
    contract = draft_contract(
        personas.sender, externals=[External("株式会社A", "甲 太郎", "a@example.jp")]
    )
    services.contract_send(contract=contract, actor=personas.sender)
    link = last_link("a@example.jp")
    counterparty = Client(REMOTE_ADDR=OUTSIDE)
    assert counterparty.get(link).status_code == 200
    assert counterparty.post(link, {"code": "1234"}).status_code == 302
    assert counterparty.get(link + "documents/").status_code == 200
    # A staff member logged in elsewhere can still read the login page and the verify page.
    staff = staff_client(personas.sender, OUTSIDE)
    assert staff.get("/login/").status_code == 200
    assert staff.get("/verify/").status_code == 200
    assert staff.get("/").status_code == 403


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(listed, settings):
    settings.KEIYAKU_TRUSTED_PROXIES = ["10.0.0.0/8"]
    spoofed = staff_client(listed.sender, OUTSIDE, HTTP_X_FORWARDED_FOR=INSIDE_V4)
    assert spoofed.get("/").status_code == 403
    # Through the trusted proxy, the forwarded client address counts.
    proxied = staff_client(listed.sender, "10.1.2.3", HTTP_X_FORWARDED_FOR=INSIDE_V4)
    assert proxied.get("/").status_code == 200
    # A client may prepend anything; only the hop the proxy appended is believed.
    forged = staff_client(listed.sender, "10.1.2.3", HTTP_X_FORWARDED_FOR=f"{INSIDE_V4}, {OUTSIDE}")
    assert forged.get("/").status_code == 403


def test_client_ip_walks_back_through_trusted_proxies_only(rf, settings):
    settings.KEIYAKU_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9, 10.0.0.1")
    assert client_ip(request) == "198.51.100.9"
    request = rf.get("/", REMOTE_ADDR="fd00::1", HTTP_X_FORWARDED_FOR="2001:DB8::1")
    assert client_ip(request) == "2001:db8::1"
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="junk, 198.51.100.9")
    assert client_ip(request) == "198.51.100.9"
    request = rf.get("/", REMOTE_ADDR="::ffff:192.0.2.1")
    assert client_ip(request) == "192.0.2.1"
    settings.KEIYAKU_TRUSTED_PROXIES = []
    request = rf.get("/", REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert client_ip(request) == "203.0.113.1"


def test_the_audit_log_records_the_real_client_address(listed, settings):
    settings.KEIYAKU_TRUSTED_PROXIES = ["10.0.0.0/8"]
    contract = draft_contract(listed.sender)
    client = staff_client(listed.sender, "10.0.0.3", HTTP_X_FORWARDED_FOR=INSIDE_V4)
    assert client.get(f"/contracts/{contract.pk}/").status_code == 200
    view = Event.objects.filter(event="contract.view").latest("id")
    assert view.ip == INSIDE_V4


def test_an_admin_cannot_lock_themselves_out_without_confirming(personas):
    admin = staff_client(personas.admin, OUTSIDE)
    response = admin.post("/admin-org/settings/", {"ip_allowlist": "192.0.2.0/24"})
    assert response.status_code == 400
    assert "現在の接続元（203.0.113.5）が許可リストに含まれていません" in response.content.decode()
    personas.org.refresh_from_db()
    assert personas.org.ip_allowlist == ""
    response = admin.post(
        "/admin-org/settings/", {"ip_allowlist": "192.0.2.0/24", "confirm_lockout": "on"}
    )
    assert response.status_code == 302
    personas.org.refresh_from_db()
    assert personas.org.ip_allowlist == "192.0.2.0/24"
    assert admin.get("/admin-org/settings/").status_code == 403
    assert Event.objects.filter(event="organisation.settings").count() == 1


def test_bad_entries_are_refused_with_a_message(personas):
    with pytest.raises(AccountsError, match="999.1.1.1"):
        organisation_update_settings(
            organisation=personas.org,
            actor=personas.admin,
            include_subdepartments=False,
            ip_allowlist="192.0.2.0/24\n999.1.1.1\n",
            current_ip=INSIDE_V4,
        )
    admin = staff_client(personas.admin, INSIDE_V4)
    response = admin.post("/admin-org/settings/", {"ip_allowlist": "not an address"})
    assert response.status_code == 400
    assert "正しくない行があります" in response.content.decode()
