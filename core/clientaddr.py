"""The address a request came from, seen through the reverse proxies we trust.

Behind a proxy every request has the proxy's address. Each proxy appends the address
it received the request from to `X-Forwarded-For`, so the header is only as
trustworthy as the hop that wrote each entry: we walk it from the right, skipping
the proxies named in TRUSTED_PROXIES, and take the first address that is not one of
them. Entries further left were written by the client and are never believed. With
TRUSTED_PROXIES empty (the default) the header is ignored altogether.

Used by the failed-authentication limiter of the webhook and by django-axes
(AXES_CLIENT_IP_CALLABLE), so both count per real client, not per proxy.
"""

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """CIDRs or single addresses, comma-separated (or a list); ValueError on a bad one."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


@lru_cache(maxsize=8)
def _networks(value: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(value)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def client_address(request: Any) -> str:
    """The client's address: REMOTE_ADDR, or the right-most untrusted X-Forwarded-For hop."""
    meta: Mapping[str, str] = request.META
    address = meta.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(address, networks):
        return address
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # A trusted proxy wrote something that is not an address: stop at that proxy.
            return address
        if not _trusted(hop, networks):
            return hop
        address = hop
    # Every hop is one of our proxies: the request started inside.
    return address
