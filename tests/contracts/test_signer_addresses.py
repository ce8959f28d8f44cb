"""A signer's address is checked by every service that names one (added, forwarded to,
corrected): an address that cannot receive mail is refused before anything is queued."""

from __future__ import annotations

import pytest

from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract
from tests.flow import External, draft_contract

pytestmark = pytest.mark.django_db

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
NOT_ADDRESSES = ["takahashi", "takahashi@", "@example.jp", "a@@example.jp", "a b@example.jp"]


def test_no_signer_is_named_with_an_address_that_is_not_one(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    for email in NOT_ADDRESSES:
        with pytest.raises(ContractError) as refused:
            services.party_add(
                contract=contract,
                actor=personas.sender,
                kind="external",
                name="木村 三郎",
                email=email,
                access_code="1357",
            )
        assert (refused.value.code, refused.value.field) == ("email", "email")
    Contract.objects.filter(pk=contract.pk).update(allow_forwarding=True)
    services.contract_send(contract=contract, actor=personas.sender)
    signer = contract.parties.get()
    for email in NOT_ADDRESSES:
        with pytest.raises(ContractError) as refused:
            services.party_forward(party=signer, name="木村 三郎", email=email, meta=SYSTEM)
        assert refused.value.code == "email"
        with pytest.raises(ContractError) as refused:
            services.party_change_email(party=signer, actor=personas.sender, email=email)
        assert refused.value.code == "email"
    signer.refresh_from_db()
    assert (signer.email, contract.parties.count()) == (FIRM.email, 1)
    services.party_change_email(party=signer, actor=personas.sender, email=" new@example.jp ")
    signer.refresh_from_db()
    assert signer.email == "new@example.jp"
