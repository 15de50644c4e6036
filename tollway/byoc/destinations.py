"""Where a registered capability may point. The orchestrator forwards paid (or free) requests
to a capability's URL, so a registration must not turn it into a proxy to something else: never
a link-local address (cloud metadata), never the chain's RPC or the orchestrator's own API, and
only loopback, the GPU workers' own hosts and container networks, and the hosts the operator
lists (`"*"` there allows any host)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from tollway.errors import BadRequest, NoGpuWorker

__all__ = ["ANY_HOST", "CapabilityDestinations"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK = "loopback"
"""Every loopback address (and localhost) is one host here: a port on one is a port on all."""
ANY_HOST = "*"


def _split(url: str) -> tuple[str, Address | None, int] | None:
    """(host, its address when it is an IP, port), with any loopback host named LOOPBACK."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    host = parts.hostname.lower()
    try:
        address: Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if host == "localhost" or (address is not None and address.is_loopback):
        host = LOOPBACK
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range
        return None
    return host, address, port


@dataclass(frozen=True)
class CapabilityDestinations:
    denied: frozenset[tuple[str, int]]
    """(host, port) of services a capability must never be: the chain RPC, this API."""
    allowed: tuple[str, ...] = ()
    """Hosts, IPs or CIDRs the operator lets capabilities point at; `"*"`: any host."""

    @classmethod
    def of(cls, denied_urls: Iterable[str], allowed: Iterable[str]) -> CapabilityDestinations:
        split = (_split(url) for url in denied_urls)
        return cls(frozenset((s[0], s[2]) for s in split if s is not None), tuple(allowed))

    def check(self, url: str, workers: Iterable[str] = (), settled: bool = True) -> None:
        """BadRequest (naming `url`) unless a capability may point at `url`. `workers`: the
        hosts, IPs and CIDRs of the GPU workers that reported (where their containers listen);
        `settled`: every live GPU worker has reported since start, else a host not known yet
        is NoGpuWorker (503: the registration is tried again)."""
        split = _split(url)
        if split is None:
            raise BadRequest("url has no host or a bad port", field="url")
        host, address, port = split
        if address is not None and (
            address.is_link_local or address.is_multicast or address.is_unspecified
        ):
            raise BadRequest(f"a capability may not point at {address}", field="url")
        if (host, port) in self.denied:
            raise BadRequest(
                f"port {port} of {host} is one of the orchestrator's own services",
                field="url",
            )
        if host == LOOPBACK or ANY_HOST in self.allowed:
            return
        if not any(_matches(host, address, entry) for entry in (*self.allowed, *workers)):
            problem = (
                f"{host} is neither loopback, a GPU worker's host or container network, "
                "nor among the operator's capability_hosts"
            )
            if not settled:
                raise NoGpuWorker(f"{problem} (not every GPU worker has reported yet)")
            raise BadRequest(problem, field="url")


def _matches(host: str, address: Address | None, entry: str) -> bool:
    if "/" in entry:
        try:
            return address is not None and address in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    try:
        listed = ipaddress.ip_address(entry)
    except ValueError:
        return host == entry.lower()
    return address == listed
