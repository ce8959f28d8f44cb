"""Client addresses and IP allow-lists (R38, R19).

The client address is the peer's address, except when the peer is a configured trusted proxy
(`KEIYAKU_TRUSTED_PROXIES`): then it is the right-most address in X-Forwarded-For that is not
itself a trusted proxy. A header sent by anyone else is ignored, so it cannot be spoofed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is the IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(lines: Iterable[str]) -> tuple[list[Network], list[str]]:
    """Networks from addresses or CIDR ranges, one per item; also the items that are not."""
    networks: list[Network] = []
    bad: list[str] = []
    for raw in lines:
        item = raw.split("#", 1)[0].strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            bad.append(item)
    return networks, bad


@lru_cache(maxsize=16)
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    networks, bad = parse_networks(proxies)
    if bad:
        raise ValueError(
            _("KEIYAKU_TRUSTED_PROXIES に不正な値があります: %(items)s") % {"items": bad}
        )
    return tuple(networks)


def _in(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_ip(request: Any) -> str | None:
    """The address of the client behind the request, as text (None when unknown)."""
    peer = parse_address(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    trusted = _trusted(tuple(settings.KEIYAKU_TRUSTED_PROXIES))
    if trusted and _in(peer, trusted):
        forwarded = [
            h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()
        ]
        for hop in reversed(forwarded):
            address = parse_address(hop)
            if address is None:
                break  # a malformed entry: trust nothing to its left
            peer = address
            if not _in(address, trusted):
                break
    return str(peer)


def address_allowed(address: str | None, allowlist: str) -> bool:
    """Whether an address is in an organisation's allow-list (an empty list allows all)."""
    networks, _bad = parse_networks(allowlist.splitlines())
    if not networks:
        return True
    parsed = parse_address(address or "")
    return parsed is not None and _in(parsed, networks)
