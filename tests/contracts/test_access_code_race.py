"""Access codes tried in parallel (R18): counting and locking are one step.

Real requests at once against a real server process, each from a browser of its own: the
access-code page is fetched, then the codes are posted together. Exactly
KEIYAKU_ACCESS_CODE_ATTEMPTS failures are counted, the sender is told once, and a locked link
refuses even the right code.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.models import Contract, Party
from keiyaku.notifications.models import OutboxMessage
from tests.flow import External, draft_contract, last_link
from tests.web_process import Browser, post_all_at_once, web_process

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
# The per-address rate limit is another guard; here every browser comes from 127.0.0.1.
SERVER = {"KEIYAKU_RATE_ACCESS_CODE": "1000", "KEIYAKU_ACCESS_CODE_ATTEMPTS": "5"}


def sent(personas) -> Contract:
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    return contract


def events(name: str) -> int:
    return Event.objects.filter(event=name).count()


def lock_mails() -> int:
    return OutboxMessage.objects.filter(kind="party_locked").count()


def wrong_codes_at_once(url: str, link: str, count: int) -> list[int]:
    browsers = [Browser(url) for _ in range(count)]
    for browser in browsers:
        assert browser.get(link).status == 200
    answers = post_all_at_once(
        [(browser, link, {"code": f"9{n:03d}"}) for n, browser in enumerate(browsers)]
    )
    return [answer.status for answer in answers]


@pytest.mark.slow
def test_thirty_parallel_wrong_codes_count_five_failures_and_send_one_lock_mail(personas):
    contract = sent(personas)
    link = last_link(FIRM.email)
    with web_process(**SERVER) as url:
        statuses = wrong_codes_at_once(url, link, 30)

    party = contract.parties.get()
    assert party.is_locked and party.failed_attempts == 5
    assert events("party.access_code_failed") == 5
    assert events("party.access_code_locked") == 1
    assert lock_mails() == 1
    # A counted failure says "wrong code" (unless the lock came first); every other is refused
    # as locked.
    assert set(statuses) <= {400, 410} and statuses.count(400) <= 4


@pytest.mark.slow
def test_the_right_code_sent_among_wrong_ones_is_refused_once_the_link_is_locked(personas):
    contract = sent(personas)
    link = last_link(FIRM.email)
    with web_process(**SERVER) as url:
        wrong_codes_at_once(url, link, 30)
        assert contract.parties.get().is_locked

        browsers = [Browser(url) for _ in range(13)]
        for browser in browsers:
            assert browser.get(link).status == 410
        codes = [FIRM.code] + [f"8{n:03d}" for n in range(12)]
        answers = post_all_at_once(
            [(browser, link, {"code": code}) for browser, code in zip(browsers, codes, strict=True)]
        )
        assert [answer.status for answer in answers] == [410] * 13
        assert "ロックされています" in answers[0].body
        # The browser that sent the right code was not let in.
        assert browsers[0].get(link + "documents/").status == 410

    party = contract.parties.get()
    assert party.failed_attempts == 5
    assert events("party.access_code_failed") == 5
    assert events("party.access_code_locked") == 1
    assert lock_mails() == 1


# The same race without a server: the caller read the party before the link was locked (the
# view reads it when the request starts); the decision must not trust that copy.


def test_a_right_code_checked_against_a_party_read_before_the_lock_is_refused(personas):
    contract = sent(personas)
    read_early = contract.parties.get()
    for _ in range(settings.KEIYAKU_ACCESS_CODE_ATTEMPTS):
        assert not services.party_verify_access_code(
            party=Party.objects.get(pk=read_early.pk), code="0000", meta=SYSTEM
        )
    assert not read_early.is_locked

    assert not services.party_verify_access_code(party=read_early, code=FIRM.code, meta=SYSTEM)
    party = contract.parties.get()
    assert party.is_locked and party.failed_attempts == settings.KEIYAKU_ACCESS_CODE_ATTEMPTS


def test_wrong_codes_after_the_lock_are_not_counted_and_the_sender_is_told_once(personas):
    contract = sent(personas)
    read_early = contract.parties.get()
    for _ in range(settings.KEIYAKU_ACCESS_CODE_ATTEMPTS + 3):
        assert not services.party_verify_access_code(party=read_early, code="0000", meta=SYSTEM)

    party = contract.parties.get()
    assert party.is_locked and party.failed_attempts == settings.KEIYAKU_ACCESS_CODE_ATTEMPTS
    assert events("party.access_code_failed") == settings.KEIYAKU_ACCESS_CODE_ATTEMPTS
    assert events("party.access_code_locked") == 1
    assert lock_mails() == 1


def test_the_right_code_before_the_lock_starts_the_count_again(personas):
    contract = sent(personas)
    party = contract.parties.get()
    for _ in range(settings.KEIYAKU_ACCESS_CODE_ATTEMPTS - 1):
        services.party_verify_access_code(party=party, code="0000", meta=SYSTEM)
    assert services.party_verify_access_code(party=party, code=FIRM.code, meta=SYSTEM)
    party.refresh_from_db()
    assert party.failed_attempts == 0 and not party.is_locked
