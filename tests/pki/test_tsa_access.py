"""Who may ask keiyaku's TSA: the token keiyaku's own processes send, and where it goes."""

from __future__ import annotations

import pytest

from keiyaku.pki import tsa_access


@pytest.fixture(autouse=True)
def _public_url(settings) -> None:
    settings.PUBLIC_URL = "https://keiyaku.city.example.lg.jp"


@pytest.mark.parametrize(
    "url",
    [
        "https://keiyaku.city.example.lg.jp/pki/tsa",
        "http://127.0.0.1:8000/pki/tsa",
        "http://localhost:8000/pki/tsa",
        "http://[::1]:8000/pki/tsa",
    ],
)
def test_the_token_goes_to_our_own_endpoint(url: str) -> None:
    assert tsa_access.headers_for(url) == {tsa_access.HEADER: tsa_access.client_token()}


@pytest.mark.parametrize(
    "url",
    [
        "https://tsa.example.com/tsa",
        "https://tsa.example.com/pki/tsa",
        "http://keiyaku.city.example.lg.jp/pki/tsa",  # not the scheme of PUBLIC_URL
        "https://keiyaku.city.example.lg.jp.evil.example/pki/tsa",
        "http://127.0.0.1:8000/tsa",
    ],
)
def test_the_token_never_goes_to_anyone_else(url: str) -> None:
    assert tsa_access.headers_for(url) == {}


def test_the_token_follows_the_master_key(settings) -> None:
    first = tsa_access.client_token()
    settings.MASTER_KEY = "another-master-key"
    assert tsa_access.client_token() != first
    assert len(first) == 64 and first != settings.MASTER_KEY


def test_a_request_needs_the_exact_token(rf) -> None:
    good = rf.post("/pki/tsa", headers={tsa_access.HEADER: tsa_access.client_token()})
    bad = rf.post("/pki/tsa", headers={tsa_access.HEADER: tsa_access.client_token()[:-1] + "x"})
    assert tsa_access.request_allowed(good)
    assert not tsa_access.request_allowed(bad)
    assert not tsa_access.request_allowed(rf.post("/pki/tsa"))


def test_a_previous_master_keys_token_is_accepted_while_it_is_configured(rf, settings) -> None:
    """A worker still running with the old key reaches a web process that has the new one."""
    old = tsa_access.client_token()
    request = rf.post("/pki/tsa", headers={tsa_access.HEADER: old})
    settings.MASTER_KEY_PREVIOUS = [settings.MASTER_KEY]
    settings.MASTER_KEY = "the new master key"
    assert tsa_access.client_token() != old  # the new key's token is sent
    assert tsa_access.request_allowed(request)
    settings.MASTER_KEY_PREVIOUS = []
    assert not tsa_access.request_allowed(request)
