"""What both clients share: the submission body, headers, and turning a problem document back
into the error class the gateway raised."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

from tollway.errors import BadSignature, TollwayError, error_type

__all__ = [
    "headers",
    "page_params",
    "raise_for_problem",
    "submission",
    "submit_headers",
    "verify_webhook",
    "webhook_body",
]


def headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": "tollway-client"}


def submission(
    capability: str,
    input: Any,
    input_bytes: bytes | None,
    content_type: str | None,
    fields: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"capability": capability, **fields}
    if input_bytes is not None:
        body["input_base64"] = base64.b64encode(input_bytes).decode()
        body["content_type"] = content_type or "application/octet-stream"
    else:
        body["input"] = input
        if content_type is not None:
            body["content_type"] = content_type
    return {k: v for k, v in body.items() if v is not None}


def submit_headers(idempotency_key: str | None, wait: int | None) -> dict[str, str]:
    sent = {}
    if idempotency_key is not None:
        sent["Idempotency-Key"] = idempotency_key
    if wait is not None:
        sent["Prefer"] = f"wait={wait}"
    return sent


def page_params(
    status: list[str] | None, capability: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = ",".join(status)
    if capability is not None:
        params["capability"] = capability
    if cursor is not None:
        params["cursor"] = cursor
    return params


def raise_for_problem(answer: httpx.Response) -> None:
    """Raise the error an error answer stands for: the class its problem document's `code`
    names, with the document as its details (TollwayError for a code not of the tree)."""
    if answer.status_code < 400:
        return
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict) or "detail" not in problem:
        raise TollwayError(
            f"the gateway answered {answer.status_code}: {answer.text[:300]}",
            status=answer.status_code,
        )
    error = error_type(str(problem.get("code")))(str(problem["detail"]), **problem)
    error.headers = dict(answer.headers)
    raise error


def webhook_body(
    url: str, event_types: list[Any] | None, description: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "event_types": list(event_types or [])}
    if description is not None:
        body["description"] = description
    return body


def verify_webhook(secret: str, body: bytes | str, headers: dict[str, str]) -> dict[str, Any]:
    """A delivery a receiver got, checked: its event (`type`, `timestamp`, `data`) when the
    Standard Webhooks signature matches `secret` and its timestamp is within five minutes,
    else BadSignature. Drop one whose `webhook-id` was seen already: a retry or a replay."""
    try:
        event: dict[str, Any] = Webhook(secret).verify(body, headers)
    except WebhookVerificationError as exc:
        raise BadSignature(f"the webhook does not verify: {exc}") from exc
    return event
