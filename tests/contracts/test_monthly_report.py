"""The monthly report (R33): figures against hand-counted expectations for a small set across
two months and two departments, made through the real services under a fake clock
(time_machine; a conclusion is dated afterwards, see `signed`), with a contract concluded at 23:59 JST on the last day of a month. The screen
draws its chart on the server; the CSV is Excel's (BOM, CRLF); staff see only what they may."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time

import pytest
import time_machine
from django.test import Client

from keiyaku.accounts.models import Role
from keiyaku.accounts.services import staff_create
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.models import Contract
from keiyaku.contracts.report import JST, monthly_report
from keiyaku.contracts.services.job_failures import job_failure_record
from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from keiyaku.notifications.services import mail_deliver
from tests.flow import agree, draft_contract, last_link
from tests.loopback_http import free_port

pytestmark = pytest.mark.django_db(transaction=True)

JAN, FEB = date(2027, 1, 1), date(2027, 2, 1)


def jst(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(date(2027, month, day), time(hour, minute), tzinfo=JST)


def sent(sender, title: str, when: datetime, mayor, *, deadline: datetime | None = None):
    with time_machine.travel(when, tick=True):
        contract = draft_contract(sender, staff_signers=[mayor], title=title)
        services.contract_send(contract=contract, actor=sender, deadline=deadline)
    return contract


def signed(contract: Contract, when: datetime, mayor) -> None:
    """The mayor signs (the real flow), then the conclusion is dated `when`.

    Signing cannot run under the fake clock: its validation children (keiyaku.signing.budget)
    are other processes on the real clock, and refuse the OCSP and TSA answers the travelled
    clock dates in their future. So the contract is concluded now, and only its
    `completed_at` moves to the instant the report must place."""
    client = Client()
    client.force_login(mayor)
    agree(client, last_link(mayor.email))
    contract.refresh_from_db()
    assert contract.is_concluded
    Contract.objects.filter(pk=contract.pk).update(completed_at=when)


@pytest.fixture
def report_set(personas, settings):
    """Hand-counted (month, department): see each step's comment."""
    doboku = staff_create(
        organisation=personas.org,
        username="doboku",
        password=personas.password,
        display_name="土木 三郎",
        email="doboku@city.example.jp",
        department=personas.other_dept,
        roles=[Role.SENDER],
    )
    mayor = personas.mayor
    # A (契約課): sent in January, concluded at 23:59 JST on 31 January: January's (UTC says
    # 14:59 that day; a UTC month would say so too, but a day later would be February's).
    a = sent(personas.sender, "A 庁舎清掃", jst(1, 10), mayor, deadline=jst(2, 15, 17))
    signed(a, jst(1, 31, 23, 59), mayor)
    # A's signature job failed once and was retried (January).
    with time_machine.travel(jst(1, 31, 12), tick=True):
        job_failure_record(job="apply_signature", contract_id=a.pk, retried=True, error=OSError())
    # B (契約課): sent in January, rejected just after midnight JST on 1 February (the last
    # day of January in UTC).
    b = sent(personas.sender, "B 備品購入", jst(1, 20), mayor, deadline=jst(2, 15, 17))
    with time_machine.travel(jst(2, 1, 0, 0), tick=True):
        services.party_reject(party=b.parties.get(), reason="金額が違います", meta=SYSTEM)
    # E (土木課): sent in January with a deadline of 1 February; expires on 2 February, and the
    # sender's mail about it cannot be delivered (the relay is unreachable): February's.
    e = sent(doboku, "E 道路補修", jst(1, 25), mayor, deadline=jst(2, 1, 17))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with time_machine.travel(jst(2, 2, 9), tick=True):
        assert services.deadlines_check(now=jst(2, 2, 9)) == (0, 1)
        message = OutboxMessage.objects.get(contract=e, kind="expired")
        for _attempt in range(10):
            try:
                mail_deliver(message_id=message.pk)
            except OSError:
                pass
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    settings.EMAIL_BACKEND = "keiyaku.notifications.mailbox.CaptureBackend"
    # C (土木課): sent on 3 February, concluded two days later.
    c = sent(doboku, "C 橋梁点検", jst(2, 3), mayor)
    signed(c, jst(2, 5), mayor)
    # D (土木課): a draft cancelled in February (never sent).
    with time_machine.travel(jst(2, 10), tick=True):
        d = draft_contract(doboku, title="D 取りやめ")
        services.contract_cancel(contract=d, actor=doboku, reason="事業の中止")
    return doboku


def figures(report, month: date, department: str) -> dict[str, object]:
    (row,) = [r for r in report.rows if r.month == month and r.department == department]
    f = row.figures
    return {
        "sent": f.sent,
        "concluded": f.concluded,
        "rejected": f.rejected,
        "cancelled": f.cancelled,
        "expired": f.expired,
        "imported": f.imported,
        "average_days": f.average_days,
        "jobs_retried": f.jobs_retried,
        "jobs_failed": f.jobs_failed,
        "mails_undelivered": f.mails_undelivered,
    }


ZERO = dict.fromkeys(
    [
        "sent",
        "concluded",
        "rejected",
        "cancelled",
        "expired",
        "imported",
        "jobs_retried",
        "jobs_failed",
        "mails_undelivered",
    ],
    0,
)


@pytest.mark.slow(seconds=20)
def test_figures_per_month_and_department_and_who_sees_them(personas, report_set):
    doboku = report_set
    report = monthly_report(staff=personas.admin, first_month=JAN, last_month=FEB)
    assert report.months == [JAN, FEB]
    assert [(r.month, r.department) for r in report.rows] == [
        (JAN, "土木課"),
        (JAN, "契約課"),
        (FEB, "土木課"),
        (FEB, "契約課"),
    ]
    # 21 days, 14 h 59 min from sending to conclusion.
    assert figures(report, JAN, "契約課") == ZERO | {
        "sent": 2,
        "concluded": 1,
        "average_days": 21.6,
        "jobs_retried": 1,
    }
    assert figures(report, JAN, "土木課") == ZERO | {"sent": 1, "average_days": None}
    assert figures(report, FEB, "契約課") == ZERO | {"rejected": 1, "average_days": None}
    assert figures(report, FEB, "土木課") == ZERO | {
        "sent": 1,
        "concluded": 1,
        "average_days": 2.0,
        "cancelled": 1,
        "expired": 1,
        "mails_undelivered": 1,
    }
    assert report.totals[JAN].sent == 3 and report.totals[FEB].concluded == 1
    # A sender of 土木課 sees 土木課's contracts only (R29); a viewer of 契約課 契約課's.
    own = monthly_report(staff=doboku, first_month=JAN, last_month=FEB)
    assert {r.department for r in own.rows} == {"土木課"}
    assert own.totals[JAN].sent == 1
    viewer = monthly_report(staff=personas.viewer, first_month=JAN, last_month=FEB)
    assert {r.department for r in viewer.rows} == {"契約課"}
    assert viewer.totals[FEB].mails_undelivered == 0
    outsider = monthly_report(staff=personas.outsider, first_month=JAN, last_month=FEB)
    assert outsider.rows == []

    # The screen: a chart drawn on the server, and the CSV as Excel reads it.
    client = Client()
    client.force_login(personas.admin)
    page = client.get("/reports/monthly/", {"first": "2027-01", "last": "2027-02"})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart"' in html
    assert html.count('class="bar"') == 6  # two months × sent, concluded, stopped
    assert "<script" not in html.split('id="report-chart"')[1].split("</div>")[0]
    answer = client.get("/reports/monthly.csv", {"first": "2027-01", "last": "2027-02"})
    assert answer.status_code == 200
    data = answer.content
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["月", "所属", "送信"]
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key[("2027-01", "契約課")][2:] == [
        "2",
        "1",
        "0",
        "0",
        "0",
        "0",
        "21.6",
        "1",
        "0",
        "0",
    ]
    assert by_key[("2027-02", "土木課")][2:] == ["1", "1", "0", "1", "1", "0", "2.0", "0", "0", "1"]
    assert by_key[("2027-02", "合計")][2:5] == ["1", "1", "1"]


def test_bad_months_are_refused_in_japanese(personas):
    client = Client()
    client.force_login(personas.viewer)
    for query, message in (
        ({"first": "2027-13"}, "月は「2026-04」の形で入力してください。"),
        ({"first": "2027-03", "last": "2027-01"}, "開始月は終了月以前にしてください。"),
        ({"first": "2020-01", "last": "2027-01"}, "一度に表示できるのは36か月までです。"),
    ):
        for url in ("/reports/monthly/", "/reports/monthly.csv"):
            answer = client.get(url, query)
            assert answer.status_code == 400, (url, query)
            assert message in answer.content.decode()
    assert client.get("/reports/monthly/").status_code == 200  # the last twelve months


def test_the_last_month_a_date_holds_is_reported_not_a_500(personas):
    """December 9999 (the form takes any four-digit year from 1900): its end is past every
    time a database holds, so it restricts nothing, and the months are reported empty. A 500
    before (no January 10000)."""
    draft_contract(personas.sender, title="道路補修工事")
    client = Client()
    client.force_login(personas.viewer)
    for url in ("/reports/monthly/", "/reports/monthly.csv"):
        answer = client.get(url, {"first": "9999-11", "last": "9999-12"})
        assert answer.status_code == 200, url
    report = monthly_report(
        staff=personas.admin, first_month=date(9999, 12, 1), last_month=date(9999, 12, 1)
    )
    assert report.months == [date(9999, 12, 1)] and report.rows == []
