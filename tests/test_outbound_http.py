"""keiyaku.outbound_http: internal addresses refused (also after a redirect), caps enforced.

Only loopback servers started here are ever connected to: a guard on `socket.create_connection`
fails the test before any other address is reached, should the policy ever let one through.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from keiyaku import outbound_http
from keiyaku.outbound_http import OutboundError, OutboundRefused, fetch, is_internal
from tests.loopback_http import LoopbackServer, loopback_server

TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _only_loopback_connections(monkeypatch) -> None:
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "127.0.0.2"), f"tried to connect to {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture(autouse=True)
def _nothing_allowed(settings) -> None:
    settings.KEIYAKU_OUTBOUND_ALLOW = []


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server("127.0.0.1") as running:
        yield running


@pytest.fixture
def first_hop(settings) -> Iterator[LoopbackServer]:
    """A server on 127.0.0.2, which the operator allowed (and nothing else)."""
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.2/32"]
    with loopback_server("127.0.0.2") as running:
        yield running


INTERNAL = [
    "https://10.0.0.1/",
    "https://10.255.255.254/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.1.1/",
    "https://[::1]/",
    "https://[fe80::1]/",
    "https://[fd00:ec2::254]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "https://100.100.100.200/",  # shared address space (a cloud's metadata)
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://0x7f000001/",  # 127.0.0.1 spelt another way
    "https://2130706433/",  # and another
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_by_default(url):
    with pytest.raises(OutboundRefused) as refused:
        fetch(url, timeout=TIMEOUT)
    assert refused.value.code == "outbound_address"
    assert "内部ネットワーク" in refused.value.message


def test_loopback_is_refused_and_never_reached(server):
    for url in (f"{server.url}/ok", f"http://localhost:{server.port}/ok"):
        with pytest.raises(OutboundRefused):
            fetch(url, timeout=TIMEOUT)
    assert server.hits == []


REDIRECT_TARGETS = [
    "http://127.0.0.1:{port}/ok",
    "http://localhost:{port}/ok",
    "http://[::1]:{port}/ok",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
]


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_a_redirect_to_an_internal_address_is_refused(first_hop, server, target):
    """The first hop is allowed by the operator; the redirect it answers is what is refused."""
    location = target.format(port=server.port)
    with pytest.raises(OutboundRefused):
        fetch(f"{first_hop.url}/redirect?to={location}", timeout=TIMEOUT)
    assert [hit.path.split("?")[0] for hit in first_hop.hits] == ["/redirect"]
    assert server.hits == []


def test_an_allowed_address_passes(first_hop):
    response = fetch(f"{first_hop.url}/ok", timeout=TIMEOUT)
    assert (response.status, response.body) == (200, b"ok")
    # The Host header names the original host and its port (RFC 9110 7.2).
    assert first_hop.hits[0].headers["Host"] == f"127.0.0.2:{first_hop.port}"


def test_an_allowed_host_name_passes(settings, server):
    settings.KEIYAKU_OUTBOUND_ALLOW = ["localhost"]
    response = fetch(f"http://localhost:{server.port}/ok", timeout=TIMEOUT)
    assert response.body == b"ok"
    assert server.hits[0].headers["Host"] == f"localhost:{server.port}"


def test_a_redirect_within_the_allowed_range_is_followed(first_hop):
    response = fetch(f"{first_hop.url}/redirect?to=/ok", timeout=TIMEOUT)
    assert response.status == 200 and response.url == f"{first_hop.url}/ok"


def test_credentials_are_not_sent_to_another_origin(settings, first_hop):
    with loopback_server("127.0.0.2") as other:
        response = fetch(
            f"{first_hop.url}/redirect?to={other.url}/ok",
            headers={"Authorization": "Basic c2VjcmV0"},
            timeout=TIMEOUT,
        )
        assert response.body == b"ok"
        assert "Authorization" in first_hop.hits[0].headers
        assert "Authorization" not in other.hits[0].headers


def test_redirect_loops_end(first_hop):
    first_hop.redirect_to = "/r/again"
    with pytest.raises(OutboundError, match="redirects"):
        fetch(f"{first_hop.url}/r/start", timeout=TIMEOUT)
    assert len(first_hop.hits) == outbound_http.MAX_REDIRECTS + 1


def test_plain_http_only_to_what_the_operator_allowed():
    with pytest.raises(OutboundRefused) as refused:
        fetch("http://1.1.1.1/", timeout=TIMEOUT)
    assert refused.value.code == "outbound_scheme"
    with pytest.raises(OutboundRefused):
        fetch("file:///etc/passwd", timeout=TIMEOUT)


def test_the_host_is_resolved_once_and_the_checked_address_is_used(monkeypatch, first_hop):
    """DNS rebinding: a second lookup could answer an internal address; there is none."""
    answers = iter(["127.0.0.2", "10.0.0.1"])
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if not host.endswith(".test"):
            return real(host, port, *args, **kwargs)  # an address literal
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    response = fetch(f"http://idp.rebind.test:{first_hop.port}/ok", timeout=TIMEOUT)
    assert response.body == b"ok" and lookups == ["idp.rebind.test"]
    assert first_hop.hits[0].headers["Host"] == f"idp.rebind.test:{first_hop.port}"


def test_one_internal_answer_among_several_is_refused(monkeypatch):
    def mixed(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("1.1.1.1", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(OutboundRefused):
        fetch("https://idp.mixed.test/", timeout=TIMEOUT)


def test_the_size_cap_is_enforced(settings, first_hop):
    settings.KEIYAKU_OUTBOUND_MAX_KB = 1
    assert len(fetch(f"{first_hop.url}/big?n=1024", timeout=TIMEOUT).body) == 1024
    with pytest.raises(OutboundError, match="larger"):
        fetch(f"{first_hop.url}/big?n=1025", timeout=TIMEOUT)
    with pytest.raises(OutboundError, match="larger"):
        fetch(f"{first_hop.url}/stream?n=5000", timeout=TIMEOUT)
    with pytest.raises(OutboundError, match="larger"):
        fetch(f"{first_hop.url}/big?n=200", timeout=TIMEOUT, max_bytes=100)


@pytest.mark.parametrize("path", ["/hang", "/trickle"])
def test_the_deadline_covers_the_whole_call(first_hop, path):
    """A silent server, and one that trickles a byte at a time (each read is quick)."""
    started = time.monotonic()
    with pytest.raises(OutboundError, match="timed out"):
        fetch(f"{first_hop.url}{path}", timeout=0.5)
    assert time.monotonic() - started < 4


def test_url_check_refuses_without_connecting(server):
    with pytest.raises(OutboundRefused):
        outbound_http.url_check(f"{server.url}/")
    outbound_http.url_check("https://idp.does-not-resolve.invalid/")  # checked again at use
    assert server.hits == []


@pytest.mark.parametrize(
    ("address", "internal"),
    [("127.0.0.1", True), ("8.8.8.8", False), ("2001:4860:4860::8888", False), ("::", True)],
)
def test_is_internal(address, internal):
    import ipaddress

    assert is_internal(ipaddress.ip_address(address)) is internal
