"""The audit log screen for admins (R39): search by date, actor, event and contract; CSV export."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Event
from tests.flow import draft_contract


@pytest.fixture
def admin(personas) -> Client:
    client = Client()
    client.force_login(personas.admin)
    return client


def test_admins_search_the_log_by_event_actor_and_contract(personas, admin):
    park = draft_contract(personas.sender, title="公園整備工事")
    road = draft_contract(personas.sender, title="道路補修工事")
    viewer = Client()
    viewer.force_login(personas.viewer)
    viewer.get(f"/contracts/{park.pk}/")

    page = admin.get("/admin-org/audit/", {"event": "contract.create"}).content.decode()
    assert page.count("案件作成") >= 3  # two rows and the filter's option
    page = admin.get("/admin-org/audit/", {"contract": "公園"}).content.decode()
    assert f"contract:{park.pk}" in page and f"contract:{road.pk}" not in page
    page = admin.get("/admin-org/audit/", {"actor": personas.viewer.pk}).content.decode()
    assert "閲覧 次郎" in page and f"contract:{park.pk}" in page
    assert f"contract:{road.pk}" not in page
    today = timezone.localdate().isoformat()
    page = admin.get("/admin-org/audit/", {"date_from": today, "date_to": today}).content.decode()
    assert f"contract:{road.pk}" in page
    page = admin.get("/admin-org/audit/", {"date_to": "2020-01-01"}).content.decode()
    assert "該当する記録はありません" in page
    response = admin.get("/admin-org/audit/", {"date_from": "not a date"})
    assert response.status_code == 400


def test_the_export_is_excel_friendly_csv(personas, admin):
    contract = draft_contract(personas.sender, title="公園整備工事")
    response = admin.get("/admin-org/audit/export.csv", {"contract": "公園"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
    assert rows[0][:4] == ["番号", "日時", "操作", "操作者"]
    assert any(r[2] == "案件作成" and r[4] == f"contract:{contract.pk}" for r in rows[1:])
    assert Event.objects.filter(event="audit.export", actor=personas.admin).exists()


def test_a_browser_name_that_looks_like_a_formula_is_exported_as_text(personas, admin):
    # The export itself is audited with the browser's name, which anybody can choose.
    admin.get("/admin-org/audit/export.csv", HTTP_USER_AGENT="@SUM(1)")
    body = b"".join(admin.get("/admin-org/audit/export.csv").streaming_content)
    rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
    agents = {r[6] for r in rows[1:]}
    assert "'@SUM(1)" in agents
    assert not any(agent.startswith(("=", "+", "-", "@")) for agent in agents)


def test_the_log_shows_only_the_admins_own_organisation(personas):
    draft_contract(personas.sender, title="公園整備工事")
    outsider = Client()
    outsider.force_login(personas.outsider)
    page = outsider.get("/admin-org/audit/").content.decode()
    assert "公園" not in page and "契約 花子" not in page
    body = b"".join(outsider.get("/admin-org/audit/export.csv").streaming_content).decode()
    assert "契約 花子" not in body


def test_staff_changes_are_in_the_log(personas, admin):
    response = admin.post(
        f"/admin-org/staff/{personas.viewer.pk}/",
        {
            "display_name": "閲覧 次郎",
            "username": "city-viewer",
            "email": "etsuran@city.example.jp",
            "department": personas.contracts_dept.pk,
            "roles": ["viewer", "approver"],
            "is_active": "",
        },
    )
    assert response.status_code == 302
    entry = Event.objects.filter(event="staff.update").latest("id")
    assert entry.actor == personas.admin
    assert entry.detail["changes"]["active"] == [True, False]
    assert entry.detail["changes"]["roles"] == [["viewer"], ["viewer", "approver"]]


def test_the_first_and_last_days_a_date_holds_filter_the_log_not_a_500(personas, admin):
    """From 0001-01-01 (before year 1 in UTC) or up to 9999-12-31 (no day after it): that end
    restricts nothing. A 500 before."""
    road = draft_contract(personas.sender, title="道路補修工事")
    for ends in (
        {"date_from": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
    ):
        page = admin.get("/admin-org/audit/", ends)
        assert page.status_code == 200 and f"contract:{road.pk}" in page.content.decode(), ends
        assert admin.get("/admin-org/audit/export.csv", ends).status_code == 200, ends
    page = admin.get("/admin-org/audit/", {"date_to": "0001-01-01"}).content.decode()
    assert "該当する記録はありません" in page
