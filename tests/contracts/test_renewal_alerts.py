"""Renewal alerts (R31; issue 15, acceptance 4): with a fake clock, each alert goes out once at
the right time, to the contract's department's senders, and never for a cancelled, draft or
renewed contract. Two processes running the job at once send each alert once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date, datetime, time, timedelta

import pytest
from django.test import Client

from keiyaku.accounts.services import organisation_update_settings
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract, RenewalAlert
from keiyaku.contracts.report import JST
from keiyaku.contracts.services.duplicate import contract_duplicate
from keiyaku.contracts.services.renewal_alerts import renewal_alerts_send
from keiyaku.contracts.services.term import contract_term_change
from keiyaku.notifications.models import CapturedMail
from tests.flow import agree, draft_contract, last_link
from tests.process_environment import ROOT, on_test_database

PERIOD_END = date(2027, 3, 31)


def at(day: date, hour: int = 9) -> datetime:
    """A fake clock: `day` at `hour` JST."""
    return datetime.combine(day, time(hour), tzinfo=JST)


def concluded(personas, title: str, **term) -> Contract:
    """A contract the mayor signed (the real flow), then given its term by the service."""
    contract = draft_contract(personas.sender, staff_signers=[personas.mayor], title=title)
    services.contract_send(contract=contract, actor=personas.sender)
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))
    contract.refresh_from_db()
    assert contract.is_concluded
    return contract_term_change(
        contract=contract,
        actor=personas.sender,
        period_start=date(2026, 4, 1),
        period_end=term.get("period_end", PERIOD_END),
        auto_renew=term.get("auto_renew", False),
        notice_deadline=term.get("notice_deadline"),
    )


def alert_mails(address: str) -> list[str]:
    return [
        m.subject
        for m in CapturedMail.objects.filter(to=address).order_by("id")
        if "近づいています" in m.subject
    ]


def days(personas, text: str) -> None:
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist="",
        current_ip=None,
        renewal_alert_days=text,
    )


@pytest.mark.django_db(transaction=True)
def test_each_alert_once_at_its_day_to_the_departments_senders(personas):
    days(personas, "30, ７")  # a full-width digit and a space are read too
    personas.org.refresh_from_db()
    assert personas.org.renewal_alert_days == [30, 7]
    contract = concluded(personas, "庁舎清掃業務委託")
    before = len(CapturedMail.objects.filter(to=personas.sender.email))
    end = PERIOD_END
    assert renewal_alerts_send(now=at(end - timedelta(days=31))) == 0  # too early
    assert renewal_alerts_send(now=at(end - timedelta(days=30), 0)) == 1  # 00:00 JST that day
    assert renewal_alerts_send(now=at(end - timedelta(days=30), 23)) == 0  # once
    assert renewal_alerts_send(now=at(end - timedelta(days=29))) == 0
    assert renewal_alerts_send(now=at(end - timedelta(days=8), 23)) == 0
    assert renewal_alerts_send(now=at(end - timedelta(days=7))) == 1
    assert renewal_alerts_send(now=at(end - timedelta(days=7))) == 0
    assert renewal_alerts_send(now=at(end)) == 0  # the 7-day alert is the nearest; sent
    assert renewal_alerts_send(now=at(end + timedelta(days=1))) == 0  # past
    subjects = alert_mails(personas.sender.email)
    assert subjects == ["【keiyaku】契約期間の終了が近づいています「庁舎清掃業務委託」"] * 2
    assert len(CapturedMail.objects.filter(to=personas.sender.email)) == before + 2
    # Only senders of the contract's department: not its viewer, not the signing mayor.
    assert alert_mails(personas.viewer.email) == []
    assert alert_mails(personas.mayor.email) == []
    alerts = RenewalAlert.objects.filter(contract=contract).order_by("sent_at")
    assert [(a.kind, a.days_before, a.due_date) for a in alerts] == [
        ("period_end", 30, end),
        ("period_end", 7, end),
    ]
    body = CapturedMail.objects.filter(to=personas.sender.email).order_by("-id").first().body
    assert "2027年3月31日" in body and "あと7日" in body and str(contract.pk) in body
    assert Event.objects.filter(event="contract.renewal_alert").count() == 2


@pytest.mark.django_db(transaction=True)
def test_notice_deadline_of_an_automatically_renewed_contract_and_a_late_entry(personas):
    """Both dates get alerts; a contract whose date is already near gets the nearest reminder
    only, not every reminder it missed."""
    days(personas, "60,30,7")
    notice = date(2027, 1, 31)
    concluded(personas, "複合機保守", auto_renew=True, notice_deadline=notice)
    assert renewal_alerts_send(now=at(notice - timedelta(days=5))) == 1  # the 7-day one only
    assert renewal_alerts_send(now=at(notice - timedelta(days=2))) == 0  # 61 days to the end
    assert renewal_alerts_send(now=at(PERIOD_END - timedelta(days=60))) == 1
    assert [(a.kind, a.days_before) for a in RenewalAlert.objects.order_by("id")] == [
        ("notice_deadline", 7),
        ("period_end", 60),
    ]
    assert alert_mails(personas.sender.email) == [
        "【keiyaku】更新拒絶の通知期限が近づいています「複合機保守」",
        "【keiyaku】契約期間の終了が近づいています「複合機保守」",
    ]


@pytest.mark.django_db(transaction=True)
def test_no_alert_for_cancelled_draft_or_renewed_contracts(personas):
    days(personas, "30")
    cancelled = draft_contract(personas.sender, title="取り消した委託")
    contract_term_change(
        contract=cancelled,
        actor=personas.sender,
        period_start=None,
        period_end=PERIOD_END,
        auto_renew=False,
        notice_deadline=None,
    )
    services.contract_cancel(contract=cancelled, actor=personas.sender, reason="予算の都合")
    draft_contract(personas.sender, title="下書きのまま")  # a draft: never alerted
    renewed = concluded(personas, "更新した委託")
    renewal = contract_duplicate(contract=renewed, actor=personas.sender, as_renewal=True)
    assert renewal.renews == renewed
    moved = concluded(personas, "延長した委託")
    assert renewal_alerts_send(now=at(PERIOD_END - timedelta(days=40))) == 0
    # The period of `moved` is extended by a year before its alert: the old date never alerts.
    later = date(2028, 3, 31)
    contract_term_change(
        contract=moved,
        actor=personas.sender,
        period_start=date(2026, 4, 1),
        period_end=later,
        auto_renew=False,
        notice_deadline=None,
    )
    assert renewal_alerts_send(now=at(PERIOD_END - timedelta(days=30))) == 0
    assert RenewalAlert.objects.count() == 0
    assert alert_mails(personas.sender.email) == []
    # A renewal that is cancelled does not count: the contract needs renewing again.
    services.contract_cancel(contract=renewal, actor=personas.sender, reason="内容を見直す")
    assert renewal_alerts_send(now=at(PERIOD_END - timedelta(days=29))) == 1
    assert renewal_alerts_send(now=at(later - timedelta(days=30))) == 1
    assert [a.contract_id for a in RenewalAlert.objects.order_by("id")] == [renewed.pk, moved.pk]


@pytest.mark.django_db(transaction=True)
def test_the_term_is_checked_wherever_it_is_entered(personas):
    contract = draft_contract(personas.sender, title="検査")
    bad = [
        ({"auto_renew": False, "notice_deadline": date(2027, 1, 31)}, "notice_without_renewal"),
        ({"auto_renew": True, "notice_deadline": date(2027, 4, 1)}, "notice_after_end"),
        ({"period_start": date(2027, 4, 1)}, "period"),
    ]
    for change, code in bad:
        term = {
            "period_start": date(2026, 4, 1),
            "period_end": PERIOD_END,
            "auto_renew": False,
            "notice_deadline": None,
        } | change
        with pytest.raises(ContractError) as refused:
            contract_term_change(contract=contract, actor=personas.sender, **term)
        assert refused.value.code == code
        assert refused.value.field in {"notice_deadline", "period_end"}
    with pytest.raises(ContractError) as refused:
        services.contract_create(
            actor=personas.sender,
            title="作成時",
            uploads=[],
            period_end=PERIOD_END,
            notice_deadline=date(2027, 1, 31),
        )
    assert refused.value.code == "notice_without_renewal"
    # As a viewer: 404 for the page's form is the view's; the service refuses too.
    from keiyaku.refusals import NotAllowed

    with pytest.raises(NotAllowed):
        contract_term_change(
            contract=contract,
            actor=personas.viewer,
            period_start=None,
            period_end=None,
            auto_renew=False,
            notice_deadline=None,
        )


@pytest.mark.django_db(transaction=True)
def test_renewal_of_a_contract_not_concluded_is_refused(personas):
    contract = draft_contract(personas.sender, title="まだ下書き")
    with pytest.raises(ContractError) as refused:
        contract_duplicate(contract=contract, actor=personas.sender, as_renewal=True)
    assert refused.value.code == "renewal_of_unconcluded"


@pytest.mark.django_db(transaction=True)
def test_alert_days_setting_is_checked(personas):
    from keiyaku.accounts.services import AccountsError

    for text in ("30,abc", "0", "400", "1,2,3,4,5,6"):
        with pytest.raises(AccountsError) as refused:
            days(personas, text)
        assert refused.value.field == "renewal_alert_days"
    days(personas, "")
    personas.org.refresh_from_db()
    assert personas.org.renewal_alert_days == []


RUN = textwrap.dedent(
    """
    import django, sys
    django.setup()
    from datetime import datetime
    from keiyaku.contracts.services.renewal_alerts import renewal_alerts_send
    sys.stdin.readline()  # both processes start the job together
    print(renewal_alerts_send(now=datetime.fromisoformat(sys.argv[1])))
    """
)


@pytest.mark.slow(seconds=8)
@pytest.mark.django_db(transaction=True)
def test_two_processes_at_once_send_each_alert_once(personas):
    """Two workers run the job at the same moment: every alert is claimed by one of them."""
    days(personas, "30")
    titles = ["並行A", "並行B", "並行C"]
    for title in titles:
        concluded(personas, title)
    now = at(PERIOD_END - timedelta(days=30)).isoformat()
    processes = [
        subprocess.Popen(  # noqa: S603 - this interpreter, the test's own script
            [sys.executable, "-c", RUN, now],
            env=on_test_database(),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert sum(int(out.strip().splitlines()[-1]) for out in outputs) == 3
    assert RenewalAlert.objects.count() == 3
    assert sorted(alert_mails(personas.sender.email)) == sorted(
        f"【keiyaku】契約期間の終了が近づいています「{t}」" for t in titles
    )
