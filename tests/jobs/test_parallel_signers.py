"""Twenty parallel signers on one contract: exactly twenty signature computations (issue 12,
acceptance 4), on both queue back ends.

Before the contract's lease (keiyaku.jobs.leases, issue 11), 15–19 of 20 signatures were made
twice: each job signed the version it found, another job's signature landed first, and it
signed again on the newer one. The count comes from three places that do not depend on each
other: the engine's own log of every signature it computes, in each consumer process
("computed signature <field>"); the encrypted blobs stored (each computation stores one before
its transaction decides whether to keep it); and the signatures in the final PDF, checked by
pyHanko and by poppler's pdfsig.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY

from keiyaku.contracts import services
from keiyaku.contracts.models import Contract, ContractStatus
from keiyaku.signing.verdict import CERTIFICATE_FIELD
from keiyaku.storage.models import Blob
from tests.consumer_process import consumers, queue_on_redis, wait_for
from tests.flow import External, agree, draft_contract, last_link
from tests.jobs.test_redis_queue import _one_signature_per_party

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIGNERS = 20
_COMPUTED = re.compile(r"computed signature (\S+) \(#\d+ in this process\)")


@contextmanager
def _queue(kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """This process queues on Redis, or on the SQLite queue file the consumers read; yields
    the Redis URL for the consumers ("" for the file)."""
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        with queue_on_redis(url):
            yield url
        return
    HUEY.immediate = False
    HUEY.flush()
    try:
        yield ""
    finally:
        HUEY.flush()
        HUEY.immediate = True


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_twenty_parallel_signers_make_exactly_twenty_signatures(personas, queue, request):
    signers = [
        External(f"株式会社同時{n:02d}", f"同時 {n:02d}郎", f"s{n:02d}@same.example.jp", "9753")
        for n in range(SIGNERS)
    ]
    contract = draft_contract(personas.sender, externals=signers)
    for party in contract.parties.order_by("position")[1:]:
        services.party_set_parallel(party=party, actor=personas.sender, parallel=True)
    services.contract_send(contract=contract, actor=personas.sender)
    stored = Blob.objects.filter(keyring=contract.keyring_id).count()

    with _queue(queue, request) as redis_url:
        # Every job waits in the queue before the consumers start: their four threads take
        # four at the same moment, as when twenty people press the button together.
        for signer in signers:
            agree(Client(), last_link(signer.email), signer.code)
        with consumers(2, redis_url=redis_url) as started:
            completed = wait_for(
                lambda: Contract.objects.get(pk=contract.pk).status == ContractStatus.COMPLETED,
                seconds=600,
            )
            logs = [consumer.log() for consumer in started]
    assert completed, "\n".join(log[-3000:] for log in logs)

    computed = Counter(field for log in logs for field in _COMPUTED.findall(log))
    # The certificate of completion is signed once too, after the last party (issue 14).
    assert computed.pop(CERTIFICATE_FIELD, 0) == 1, computed
    fields = {party.signature_field for party in contract.parties.all()}
    assert sum(computed.values()) == SIGNERS, computed
    assert set(computed) == fields and set(computed.values()) == {1}, computed
    # (Which consumer signed is not asserted: on a loaded machine the second may still be
    # starting while the first's two threads take every job. Without the lease this set-up
    # counted 72 computations: the threads do race.)
    # Twenty signatures, one completed version and the certificate of completion stored:
    # nothing computed and thrown away.
    assert Blob.objects.filter(keyring=contract.keyring_id).count() - stored == SIGNERS + 2
    _one_signature_per_party(contract, SIGNERS)
