"""Where a webhook may go. A webhook URL is the tenant's, and the gateway sends from inside the
operator's network, so a URL that names or resolves to a private, loopback, link-local or
otherwise non-public address is refused unless the operator allows such targets. The address
is checked when the URL is resolved for each attempt, and the request then goes to that very
address (the URL's host kept for `Host` and TLS), so a name that re-resolves elsewhere between
the check and the connection gains nothing."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from tollway.errors import WebhookTargetRefused

__all__ = ["Target", "check_url", "resolve"]

MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class Target:
    url: str
    """The URL to connect to: the checked address in place of the host name."""
    host_header: str
    """The URL's own host (and port), for `Host`."""
    sni_hostname: str | None
    """The name TLS verifies the certificate against (https only)."""


def check_url(url: str, allow_private: bool) -> SplitResult:
    """The URL parsed, or WebhookTargetRefused naming what is wrong with it. A literal address
    is checked here; a name only when it is resolved (`resolve`)."""
    if len(url) > MAX_URL_CHARS:
        raise WebhookTargetRefused(f"the webhook URL is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as exc:
        raise WebhookTargetRefused(f"the webhook URL is malformed: {exc}", field="url") from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetRefused(
            f"a webhook URL must be http or https, not {parts.scheme or 'schemeless'!r}",
            field="url",
        )
    if not parts.hostname:
        raise WebhookTargetRefused("the webhook URL names no host", field="url")
    if parts.username or parts.password:
        raise WebhookTargetRefused("the webhook URL may not carry credentials", field="url")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        if parts.hostname.lower().rstrip(".").endswith("localhost") and not allow_private:
            raise WebhookTargetRefused(
                f"webhook host {parts.hostname!r} is loopback, which this gateway does not send to",
                field="url",
            ) from None
    else:
        _check_address(literal, parts.hostname, allow_private)
    return parts


async def resolve(url: str, allow_private: bool) -> Target:
    """Check the URL, resolve its host and check every address it gives; the Target connects
    to the first."""
    parts = check_url(url, allow_private)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookTargetRefused(f"webhook host {host!r} does not resolve: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise WebhookTargetRefused(f"webhook host {host!r} resolves to no address")
    for address in addresses:
        _check_address(address, host, allow_private)
    first = addresses[0]
    shown = f"[{first}]" if first.version == 6 else str(first)
    netloc = f"{shown}:{port}"
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(pinned, host_header, host if parts.scheme == "https" else None)


def _check_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, host: str, allow_private: bool
) -> None:
    if allow_private:
        return
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if not address.is_global or address.is_multicast:
        raise WebhookTargetRefused(
            f"webhook host {host!r} is {address}, a private, loopback or reserved address "
            "this gateway does not send to",
            field="url",
        )
