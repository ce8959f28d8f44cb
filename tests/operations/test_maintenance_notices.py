"""Maintenance notices (issue 14): the platform operator announces planned downtime; every
organisation's admins are mailed; staff and counterparty pages show it from a week before
until it ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.services import staff_create
from keiyaku.audit.models import Event
from keiyaku.operations import notices
from keiyaku.operations.models import MaintenanceNotice
from keiyaku.operations.notices import notices_prime, notices_shown
from keiyaku.operations.services import (
    MaintenanceRefused,
    maintenance_notice_post,
    maintenance_notice_withdraw,
)
from keiyaku.refusals import NotAllowed
from tests.flow import mails_to

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
TEXT = "システム更新のため、keiyaku を停止します。\n署名の期限にご注意ください。"


@pytest.fixture
def operator() -> Staff:
    return Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-operator-1")


def in_days(days: float, hour: int = 22) -> datetime:
    day = datetime.now(JST) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def post(operator: Staff, *, starts: datetime, hours: int = 3, text: str = TEXT):
    return maintenance_notice_post(
        actor=operator, starts_at=starts, ends_at=starts + timedelta(hours=hours), text=text
    )


def test_posting_mails_every_organisations_admins_once_after_commit(
    operator, personas, django_capture_on_commit_callbacks
):
    starts = datetime(2099, 3, 14, 22, 0, tzinfo=JST)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        notice = post(operator, starts=starts)
    assert queued, "the mail is queued on commit"
    for admin in (personas.admin, personas.outsider):  # admins of both organisations
        [mail] = mails_to(admin.email)
        assert mail.subject == "【keiyaku】メンテナンスのお知らせ（2099年3月14日 22:00から）"
        assert f"{admin.label} 様" in mail.body
        assert "2099年3月14日（土）22:00 〜 2099年3月15日（日）01:00（日本時間）" in mail.body
        assert TEXT in mail.body
    for staff in (personas.sender, personas.mayor, personas.viewer, operator):
        assert mails_to(staff.email) == []
    entry = Event.objects.get(event="maintenance.post")
    assert entry.actor == operator and entry.subject == f"maintenance:{notice.pk}"
    assert entry.detail["text"] == TEXT


def test_only_the_platform_operator_posts_or_withdraws(operator, personas):
    with_organisation = staff_create(
        organisation=personas.org,
        username="super-in-city",
        password=personas.password,
        display_name="特権 職員",
        email="super@city.example.jp",
        roles=[Role.ADMIN],
    )
    Staff.objects.filter(pk=with_organisation.pk).update(is_superuser=True)
    with_organisation.refresh_from_db()
    for actor in (personas.admin, personas.sender, with_organisation):
        with pytest.raises(NotAllowed):
            post(actor, starts=in_days(3))
    assert not MaintenanceNotice.objects.exists()
    notice = post(operator, starts=in_days(3))
    with pytest.raises(NotAllowed):
        maintenance_notice_withdraw(actor=personas.admin, notice=notice)
    assert notices_shown() == [notice]


@pytest.mark.parametrize(
    ("starts", "hours", "text", "code"),
    [
        (in_days(3), 0, TEXT, "ends_before_start"),
        (in_days(-3), 2, TEXT, "ends_in_past"),
        (in_days(3), 24 * 32, TEXT, "too_long"),
        (in_days(3), 2, "  \n ", "invalid"),
        (in_days(3), 2, "あ" * 1001, "invalid"),
    ],
    ids=["end before start", "ended", "longer than 31 days", "empty", "too long a text"],
)
def test_a_notice_that_cannot_be_shown_is_refused(operator, starts, hours, text, code):
    with pytest.raises(MaintenanceRefused) as refused:
        post(operator, starts=starts, hours=hours, text=text)
    assert refused.value.code == code
    assert not MaintenanceNotice.objects.exists()
    assert not Event.objects.filter(event="maintenance.post").exists()


def test_shown_from_a_week_before_until_it_ends_and_not_once_withdrawn(operator):
    starts = in_days(20)
    notice = post(operator, starts=starts, hours=3)
    week_before = starts - timedelta(days=7)
    assert notices_shown(now=week_before - timedelta(minutes=1)) == []
    assert notices_shown(now=week_before) == [notice]
    assert notices_shown(now=starts + timedelta(hours=3, seconds=-1)) == [notice]
    assert notices_shown(now=starts + timedelta(hours=3)) == []
    maintenance_notice_withdraw(actor=operator, notice=notice)
    assert notices_shown(now=starts) == []
    assert Event.objects.filter(event="maintenance.withdraw", actor=operator).count() == 1
    with pytest.raises(MaintenanceRefused):
        maintenance_notice_withdraw(actor=operator, notice=notice)


def test_the_operator_page_posts_lists_and_withdraws_and_others_are_refused(operator, personas):
    client = Client()
    client.force_login(operator)
    starts = in_days(2)
    answer = client.post(
        "/operator/notices/",
        {
            "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (starts + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
            "text": TEXT,
        },
    )
    assert answer.status_code == 302
    notice = MaintenanceNotice.objects.get()
    assert notice.starts_at == starts and notice.ends_at == starts + timedelta(hours=4)
    page = client.get("/operator/notices/").content.decode()
    assert "お知らせを掲載し、各団体の管理者にメールで知らせました。" in page
    assert 'id="maintenance-notices"' in page  # the banner, on the operator's page too
    # An end before the start is shown on the form, not a 500.
    refused = client.post(
        "/operator/notices/",
        {
            "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (starts - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "text": TEXT,
        },
    )
    assert refused.status_code == 400
    assert "終了日時は開始日時より後にしてください。" in refused.content.decode()
    assert client.post(f"/operator/notices/{notice.pk}/withdraw/").status_code == 302
    assert notices_shown() == []

    admin = Client()
    admin.force_login(personas.admin)
    assert admin.get("/operator/notices/").status_code == 403
    assert admin.post(f"/operator/notices/{notice.pk}/withdraw/").status_code == 403


def test_pages_read_the_notices_once_per_refresh_and_another_process_sees_a_new_one_then(
    operator, monkeypatch, django_assert_num_queries
):
    notice = post(operator, starts=in_days(1))
    assert notices_shown() == [notice]  # this process: at once
    notices_prime(())  # another process, which read the rows before the notice was posted
    with django_assert_num_queries(0):
        assert notices_shown() == []
    monkeypatch.setattr(notices, "REFRESH_SECONDS", 0.0)
    with django_assert_num_queries(1):
        assert notices_shown() == [notice]
