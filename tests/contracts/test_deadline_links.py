"""Issue 14: the contract's signing deadline is the one rule for a signing link's life, and
every request and reminder mail states it (JST; in the era where the organisation chooses)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from keiyaku.accounts.services import organisation_update_settings
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract, Link
from keiyaku.contracts.services.confirmation import MAX_DEADLINE_DAYS
from keiyaku.contracts.timefmt import JST, deadline_text
from keiyaku.refusals import NotAllowed
from tests.flow import External, draft_contract, enter_code, last_link, mails_to

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")


def end_of_day(days: int) -> datetime:
    day = timezone.now().astimezone(JST).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59, 59), tzinfo=JST)


def sent(personas, *, days: int) -> Contract:
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender, deadline=end_of_day(days))
    contract.refresh_from_db()
    return contract


def test_a_link_lives_until_the_deadline_which_every_request_and_reminder_states(personas):
    """A 30-day deadline: the link still opens on day 20 (it died on day 14 before) and is
    dead a second after the deadline, before any job has marked the contract expired."""
    contract = sent(personas, days=30)
    assert contract.deadline is not None
    link = last_link(FIRM.email)
    assert Link.objects.get().expires_at == contract.deadline
    request = mails_to(FIRM.email)[-1]
    stated = deadline_text(contract.deadline)
    assert f"署名期限: {stated}" in request.body
    assert "14日" not in request.body and "このリンクは署名期限まで使えます。" in request.body
    with time_machine.travel(timezone.now() + timedelta(days=20)):
        assert Client().get(link).status_code == 200
    with time_machine.travel(contract.deadline + timedelta(seconds=1)):
        page = Client().get(link)
        assert page.status_code == 410 and "署名期限を過ぎたため" in page.content.decode()
    services.contract_remind(contract=contract, actor=personas.sender)
    reminder = mails_to(FIRM.email)[-1]
    assert reminder.subject.startswith("【リマインド】")
    assert f"署名期限: {stated}" in reminder.body


def test_extending_the_deadline_extends_every_link_already_sent(personas):
    contract = sent(personas, days=1)
    assert contract.deadline is not None
    link = last_link(FIRM.email)
    assert services.deadlines_check(now=contract.deadline - timedelta(hours=12)) == (1, 0)
    link = last_link(FIRM.email)  # the automatic reminder's
    later = end_of_day(40)
    services.contract_deadline_change(contract=contract, actor=personas.sender, deadline=later)
    contract.refresh_from_db()
    assert contract.deadline == later
    assert contract.reminded_at is None  # reminded again before the new deadline
    with time_machine.travel(timezone.now() + timedelta(days=20)):
        party = Client()
        assert enter_code(party, link, FIRM.code).status_code == 302
        page = party.get(link + "documents/").content.decode()
        assert deadline_text(later) in page
    event = Event.objects.filter(event="contract.deadline").get()
    assert event.detail["after"] == later.isoformat() and event.actor == personas.sender
    assert len(mails_to(FIRM.email)) == 2  # request and reminder: the link in hand works

    change = services.contract_deadline_change
    with pytest.raises(ContractError) as past:
        change(contract=contract, actor=personas.sender, deadline=timezone.now())
    assert past.value.code == "deadline"
    with pytest.raises(ContractError) as far:
        change(
            contract=contract,
            actor=personas.sender,
            deadline=timezone.now() + timedelta(days=MAX_DEADLINE_DAYS + 1),
        )
    assert far.value.code == "deadline_too_far"
    with pytest.raises(NotAllowed):
        change(contract=contract, actor=personas.viewer, deadline=end_of_day(9))
    with pytest.raises(NotAllowed):
        change(contract=contract, actor=personas.outsider, deadline=end_of_day(9))
    services.contract_cancel(contract=contract, actor=personas.sender, reason="取りやめ")
    with pytest.raises(ContractError) as finished:
        change(contract=contract, actor=personas.sender, deadline=end_of_day(9))
    assert finished.value.code == "not_in_progress"


def test_the_organisation_may_have_deadlines_in_the_japanese_era(personas):
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist="",
        current_ip=None,
        deadline_wareki=True,
    )
    event = Event.objects.filter(event="organisation.settings").latest("id")
    assert event.detail["before"]["deadline_wareki"] is False
    assert event.detail["after"]["deadline_wareki"] is True
    contract = sent(personas, days=5)
    assert contract.deadline is not None
    body = mails_to(FIRM.email)[-1].body
    assert f"署名期限: {deadline_text(contract.deadline, era=True)}" in body
    assert "署名期限: 令和" in body
    party = Client()
    link = last_link(FIRM.email)
    assert "令和" in party.get(link).content.decode()
