"""Many contracts driven at once over HTTP, each from staff creation to its last agreement."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from keiyaku.contracts.models import Contract, ContractStatus
from tests.consumer_process import wait_for
from tests.pdfs import make_pdf
from tests.production_cluster.cluster import Cluster
from tests.production_cluster.people import (
    PartyPlan,
    Person,
    Stats,
    contract_create_and_send,
    party_agree,
    staff_sign_in,
    wait_for_link,
)

PARTIES = 3


@dataclass
class Run:
    contract_ids: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    driven_seconds: float = 0.0
    """From the first request to the last party's agreement."""
    completed_seconds: float = 0.0
    """From the first request to the last contract's completion."""


def plans(number: int) -> list[PartyPlan]:
    return [
        PartyPlan(
            company=f"株式会社規模{number:03d}-{n}",
            name=f"署名 {number:03d}{'一二三'[n]}郎",
            email=f"c{number:03d}.p{n}@firm{n}.example.jp",
            code=f"{2468 + n}",
        )
        for n in range(PARTIES)
    ]


def drive(
    cluster: Cluster,
    *,
    count: int,
    staff_username: str,
    password: str,
    threads: int,
    mail_wait: float,
    complete_wait: float,
    during: Callable[[threading.Event], None] | None = None,
) -> Run:
    """Drive `count` contracts of PARTIES external signers each, `threads` at a time, through
    `cluster`'s web processes; then wait until all are completed. `during`, when given, runs in
    this thread meanwhile, until the event it is given is set (every agreement was made)."""
    run = Run()
    urls = cluster.web_urls
    staff = Person(urls, address="192.0.2.10", stats=run.stats)
    staff_sign_in(staff, staff_username, password)
    pdf = make_pdf(pages=1, text="令和8年度 庁舎清掃業務委託契約")
    ids: dict[int, str] = {}

    def one(number: int) -> None:
        # A browser tab of the same signed-in staff member per contract.
        tab = Person(urls, address="192.0.2.10", stats=run.stats)
        tab.cookies = dict(staff.cookies)
        parties = plans(number)
        ids[number] = contract_create_and_send(
            tab, title=f"規模試験 契約 第{number:03d}号", pdf=pdf, parties=parties
        )
        for n, party in enumerate(parties):
            link = wait_for_link(cluster.relay, party.email, seconds=mail_wait)
            address = f"10.{number // 200}.{number % 200}.{n + 1}"
            person = Person(urls, address=address, stats=run.stats)
            party_agree(person, link, party.code)

    # The kills run in this (the test's main) thread: the processes they start again follow
    # the thread that started them (PR_SET_PDEATHSIG, keiyaku.process_lifetime).
    done = threading.Event()
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(one, n) for n in range(count)]
        waiter = threading.Thread(target=lambda: (wait(futures), done.set()), daemon=True)
        waiter.start()
        if during is not None:
            during(done)
        done.wait()
        for future in futures:
            future.result()
    run.driven_seconds = time.monotonic() - started
    run.contract_ids = [ids[n] for n in range(count)]

    def all_completed() -> bool:
        finished = Contract.objects.filter(
            pk__in=run.contract_ids, status=ContractStatus.COMPLETED
        ).count()
        return finished == count

    assert wait_for(all_completed, seconds=complete_wait, every=1), cluster.logs()
    run.completed_seconds = time.monotonic() - started
    return run
