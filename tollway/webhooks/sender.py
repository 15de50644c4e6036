"""One webhook delivery attempt: the payload signed by the Standard Webhooks scheme
(`webhook-id`, `webhook-timestamp`, `webhook-signature`), POSTed to the checked address with no
redirect followed. A 2xx answer delivers it; anything else (a 3xx included) is a failed
attempt, recorded with the status or the error, that the delivery workflow retries later."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from tollway.errors import WebhookTargetRefused
from tollway.webhooks.targets import resolve

__all__ = ["Attempt", "WebhookSender", "sign"]

MAX_ERROR_CHARS = 1000


def sign(secret: str, message_id: str, at: datetime, body: str) -> str:
    """The `webhook-signature` header's value (`v1,<base64 HMAC-SHA256>`)."""
    return Webhook(secret).sign(message_id, at, body)


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    status: int | None
    """The receiver's HTTP status; None when no answer came."""
    error: str | None
    duration_ms: int


class WebhookSender:
    def __init__(
        self, http: httpx.AsyncClient, *, allow_private: bool, timeout_seconds: float
    ) -> None:
        self._http = http
        self._allow_private = allow_private
        self._timeout = timeout_seconds

    async def send(self, url: str, secret: str, message_id: str, body: str) -> Attempt:
        started = time.monotonic()
        try:
            target = await resolve(url, self._allow_private)
        except WebhookTargetRefused as exc:
            return Attempt(False, None, exc.message, _ms_since(started))
        at = datetime.now(UTC)
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": "tollway-webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": sign(secret, message_id, at, body),
        }
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        try:
            answer = await self._http.post(
                target.url,
                content=body.encode(),
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
                extensions=extensions,
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return Attempt(False, None, error[:MAX_ERROR_CHARS], _ms_since(started))
        duration = _ms_since(started)
        if answer.is_success:
            return Attempt(True, answer.status_code, None, duration)
        if answer.is_redirect:
            where = answer.headers.get("location", "?")
            error = f"answered {answer.status_code} to {where!r}: redirects are not followed"
        else:
            error = f"answered {answer.status_code}: {answer.text[:200]}"
        return Attempt(False, answer.status_code, error[:MAX_ERROR_CHARS], duration)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
