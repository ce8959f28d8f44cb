"""Outbound HTTP to addresses an organisation chooses (its OpenID provider, its webhooks).

An organisation's administrator types a URL; keiyaku's server then calls it. Without care that
is a server-side request forgery: the URL (or a redirect, or a DNS answer) can point at the
loopback interface, the internal network or a cloud metadata service, which the server reaches
and the administrator does not. Every such call goes through `fetch`, which

- resolves the host once and checks **every** address it resolves to: loopback, private
  (RFC 1918, RFC 4193), shared (RFC 6598), link-local (with 169.254.169.254), multicast,
  reserved, unspecified and any other non-global address is refused, as is an IPv6 address that
  embeds one of those (IPv4-mapped, 6to4, Teredo, NAT64);
- connects to the checked address itself, never looking the name up again (a second answer
  could differ: DNS rebinding), while still sending the original name as Host and TLS SNI and
  checking the certificate against it;
- speaks https, and plain http only to what the operator allowed;
- follows at most `MAX_REDIRECTS` redirects of a GET itself, checking each new target the same
  way, and drops credentials when the origin changes;
- stops at one deadline for the whole call (connect, headers, body, redirects) and at a size cap
  (`KEIYAKU_OUTBOUND_MAX_KB`).

The operator may allow internal targets (an identity provider on the internal network) with
`KEIYAKU_OUTBOUND_ALLOW`: comma-separated addresses, CIDR ranges or host names. An allowed
address or name is exempt from the address check and may be spoken to over plain http.

Written on the standard library: the Python SSRF clients looked at either are no longer
maintained and pin urllib3 below 2 (advocate), or drop the port from the Host header
(RFC 9110 7.2) and pull in requests (microsoft-antissrf 1.0.0). `http.client` lets us pin the
address with one hook (`_create_connection`) and keeps Host, SNI and certificate checks intact.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from keiyaku.ascii_digits import is_ascii_digits
from keiyaku.refusals import Refusal

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that `ipaddress` does not call private but that lead inside all the same.
_ALSO_INTERNAL: tuple[Network, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # shared address space (RFC 6598); Alibaba metadata
    ipaddress.ip_network("168.63.129.16/32"),  # Azure's host endpoint (WireServer)
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64 (RFC 6052): the IPv4 address is checked too
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Refusal):
    """keiyaku will not call this URL: its address is internal, or its scheme is not https.

    Raised before any connection is made to the refused target.
    """

    default_code = "outbound_refused"


class OutboundError(Exception):
    """The call was allowed but failed: unreachable, timed out, too large, too many redirects."""


@dataclass(frozen=True)
class Response:
    """An answer read in full (at most the size cap)."""

    status: int
    """The HTTP status of the last answer (after redirects)."""
    headers: Mapping[str, str]
    """Header names in lower case; repeated headers joined with ", "."""
    body: bytes
    url: str
    """The URL that gave this answer (the last redirect target)."""


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[Address, ...]


# --- policy ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _operator_allowed(entries: tuple[str, ...]) -> tuple[tuple[Network, ...], frozenset[str]]:
    networks: list[Network] = []
    hosts: set[str] = set()
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return tuple(networks), frozenset(hosts)


def _allowed(allow: Sequence[str] | None = None) -> tuple[tuple[Network, ...], frozenset[str]]:
    entries = settings.KEIYAKU_OUTBOUND_ALLOW if allow is None else allow
    return _operator_allowed(tuple(entries))


def _address_allowed(address: Address, allow: Sequence[str] | None = None) -> bool:
    networks, _hosts = _allowed(allow)
    return any(address.version == n.version and address in n for n in networks)


def _host_allowed(host: str, allow: Sequence[str] | None = None) -> bool:
    """Whether the operator allowed this host by name, or (for an address literal) by range."""
    _networks, hosts = _allowed(allow)
    if host.lower().rstrip(".") in hosts:
        return True
    try:
        return _address_allowed(ipaddress.ip_address(host), allow)
    except ValueError:
        return False


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_internal(address: Address) -> bool:
    """Whether an address leads to this machine, the internal network or a metadata service."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and is_internal(embedded):
            return True
        if address.is_site_local:
            return True
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or any(address.version == n.version and address in n for n in _ALSO_INTERNAL)
    )


def _parse(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if scheme not in ("http", "https") or not host:
        raise OutboundRefused(
            _("接続先のURL（%(url)s）は http または https のURLではありません。") % {"url": url},
            code="outbound_scheme",
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _refuse_address(host: str) -> OutboundRefused:
    return OutboundRefused(
        _(
            "接続先 %(host)s は内部ネットワーク（ループバック、プライベート、リンクローカル、"
            "メタデータ等）のアドレスを指しているため、keiyaku からは接続しません。"
            "社内の接続先を使う場合は、運用者に許可（KEIYAKU_OUTBOUND_ALLOW）を依頼してください。"
        )
        % {"host": host},
        code="outbound_address",
    )


def _resolve(host: str, port: int) -> tuple[Address, ...]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise OutboundError(f"{host}: cannot resolve ({exc})") from exc
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundError(f"{host}: no address")
    return tuple(addresses)


def _target(url: str, allow: Sequence[str] | None = None) -> _Target:
    scheme, host, port, path = _parse(url)
    addresses = _resolve(host, port)
    by_name = _host_allowed(host, allow)
    operator_allowed = by_name or all(_address_allowed(a, allow) for a in addresses)
    if not by_name:
        for address in addresses:
            if is_internal(address) and not _address_allowed(address, allow):
                log.warning("outbound call to %s refused: %s is internal", url, address)
                raise _refuse_address(host)
    if scheme != "https" and not operator_allowed:
        raise OutboundRefused(
            _("接続先のURL（%(url)s）は https ではないため、接続しません。") % {"url": url},
            code="outbound_scheme",
        )
    return _Target(scheme, host, port, path, addresses)


def url_check(url: str) -> None:
    """Refuse a URL that `fetch` would refuse, without connecting (for forms that save one).

    A host that does not resolve now is not refused: the name may be fixed later, and `fetch`
    checks again on every call.
    """
    try:
        _target(url)
    except OutboundError:
        pass


def browser_url_check(url: str) -> None:
    """Refuse a URL the user's browser is sent to unless it is https (or allowed by the operator).

    The server does not call it, so its address is not checked.
    """
    scheme, host, _port, _path = _parse(url)
    if scheme != "https" and not _host_allowed(host):
        raise OutboundRefused(
            _("接続先のURL（%(url)s）は https ではないため、接続しません。") % {"url": url},
            code="outbound_scheme",
        )


# --- the call --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsOptions:
    """How to speak TLS to one server the operator configured (a time-stamp authority).

    Paths are PEM files read when the first call needs them (then kept for the process)."""

    ca_file: str = ""
    """Certificates that may issue the server's certificate, instead of the system store."""
    client_cert: str = ""
    """The client certificate (and its key, unless ``client_key`` is given) to present."""
    client_key: str = ""
    """The client certificate's private key, when not in ``client_cert``."""


@cache
def _tls_context(options: TlsOptions | None = None) -> ssl.SSLContext:
    if options is None:
        return ssl.create_default_context()
    context = ssl.create_default_context(cafile=options.ca_file or None)
    if options.client_cert:
        context.load_cert_chain(options.client_cert, options.client_key or None)
    return context


def _connection(
    target: _Target, timeout: float, opened: list[socket.socket], tls: TlsOptions | None = None
) -> http.client.HTTPConnection:
    """A connection to `target` that connects to its checked addresses; the socket it opens is
    appended to `opened` (http.client lets go of it once a response says it will close)."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=_tls_context(tls)
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def connect_to_checked(
        address: tuple[str, int], timeout: float | None = None, *args: Any
    ) -> socket.socket:
        # http.client would look the name up again; the checked addresses are used instead.
        failure: OSError | None = None
        for checked in target.addresses:
            try:
                sock = socket.create_connection((str(checked), target.port), timeout, *args)
            except OSError as exc:
                failure = exc
            else:
                opened.append(sock)
                return sock
        assert failure is not None
        raise failure

    connection._create_connection = connect_to_checked  # type: ignore[attr-defined]
    return connection


def _exchange(
    target: _Target,
    *,
    method: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: float,
    max_bytes: int,
    tls: TlsOptions | None = None,
) -> tuple[int, dict[str, str], bytes]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OutboundError(f"{target.host}: timed out")
    opened: list[socket.socket] = []
    try:
        connection = _connection(target, remaining, opened, tls)
    except (OSError, ValueError) as exc:  # a TLS option's file cannot be read or used
        raise OutboundError(f"{target.host}: TLS set-up failed: {exc!r}") from exc
    # One deadline for the whole exchange: a server that trickles bytes would otherwise reset a
    # per-read timeout forever. At the deadline the socket is shut, which ends any blocked read.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        for sock in opened:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(remaining, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(method, target.path, body=body, headers=dict(headers))
        response = connection.getresponse()
        declared = response.getheader("Content-Length")
        if declared and is_ascii_digits(declared) and int(declared) > max_bytes:
            raise OutboundError(f"{target.host}: answer larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read1(65536):
            size += len(chunk)
            if size > max_bytes:
                raise OutboundError(f"{target.host}: answer larger than {max_bytes} bytes")
            chunks.append(chunk)
        if expired.is_set():
            raise OutboundError(f"{target.host}: timed out")
        answer_headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            answer_headers[key] = (
                f"{answer_headers[key]}, {value}" if key in answer_headers else value
            )
        return response.status, answer_headers, b"".join(chunks)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError):
            raise OutboundError(f"{target.host}: timed out") from exc
        raise OutboundError(f"{target.host}: {exc!r}") from exc
    finally:
        watchdog.cancel()
        connection.close()
        for sock in opened:
            sock.close()


def _origin(url: str) -> tuple[str, str, int]:
    scheme, host, port, _path = _parse(url)
    return scheme, host.lower(), port


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
    max_bytes: int | None = None,
    allow: Sequence[str] | None = None,
    tls: TlsOptions | None = None,
) -> Response:
    """Call `url` under the policy above and return the answer, whatever its status.

    Args:
        timeout: seconds for the whole call, redirects included.
        max_bytes: the largest body accepted; `KEIYAKU_OUTBOUND_MAX_KB` unless told.
        allow: the operator-allowed targets for this call, in `KEIYAKU_OUTBOUND_ALLOW`'s form,
            instead of that setting (for a target the operator named in a setting of its own,
            such as a time-stamp authority). With `allow` and `max_bytes` given, no setting is
            read: the call works where Django is not configured (a validation child).
        tls: CA file and client certificate for https; the system store and no client
            certificate unless told.

    Raises:
        OutboundRefused: the URL, or a redirect, leads somewhere keiyaku does not call.
        OutboundError: the call failed (network, timeout, size cap, too many redirects).
    """
    limit = max_bytes if max_bytes is not None else settings.KEIYAKU_OUTBOUND_MAX_KB * 1024
    deadline = time.monotonic() + timeout
    sent = dict(headers or {})
    for _hop in range(MAX_REDIRECTS + 1):
        target = _target(url, allow)
        status, answer_headers, content = _exchange(
            target,
            method=method,
            headers=sent,
            body=body,
            deadline=deadline,
            max_bytes=limit,
            tls=tls,
        )
        location = answer_headers.get("location")
        if status not in REDIRECT_STATUSES or not location or method not in ("GET", "HEAD"):
            return Response(status=status, headers=answer_headers, body=content, url=url)
        following = urljoin(url, location)
        if _origin(following) != _origin(url):
            sent = {k: v for k, v in sent.items() if k.lower() not in _CREDENTIAL_HEADERS}
        url = following
    raise OutboundError(f"more than {MAX_REDIRECTS} redirects")
