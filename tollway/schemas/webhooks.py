"""The webhooks API's JSON shapes: an endpoint (`Webhook`, `NewWebhook` with its secret), the
event types it may filter on, its deliveries and their attempts (`WebhookDelivery`,
`DeliveryPage`) and a budget alert's data (`BudgetAlert`). Pydantic only, so the gateway's store
and `tollway.client` share them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel

__all__ = [
    "EVENT_TYPES",
    "BudgetAlert",
    "DeliveryPage",
    "DeliveryState",
    "EventType",
    "NewWebhook",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
]

EventType = Literal[
    "job.queued",
    "job.started",
    "job.succeeded",
    "job.rejected",
    "job.failed",
    "job.canceled",
    "budget.threshold",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
DeliveryState = Literal["pending", "retrying", "delivered", "failed"]
"""`pending` until its first attempt; `retrying` after a failed one; `delivered` once a
receiver answered 2xx; `failed` when its retries ran out (a replay sends it again)."""


class BudgetAlert(BaseModel):
    """The `data` of a `budget.threshold` event."""

    budget_id: str
    tenant: str
    key_id: str | None = None
    period: str
    percent: int
    """50, 80 or 100: the share of the limit the window's spend reached."""
    limit_wei: str
    spent_wei: str
    """Settled costs and running jobs' holds in the window."""
    window_start: datetime
    resets_at: datetime | None = None


class Webhook(BaseModel):
    id: str
    tenant: str
    url: str
    event_types: list[EventType]
    """The events sent; empty: every one."""
    job_id: str | None = None
    """Set for a webhook given with a job: only that job's events."""
    description: str | None = None
    created_at: datetime


class NewWebhook(Webhook):
    secret: str
    """Verifies the `webhook-signature` of its deliveries (Standard Webhooks); shown once."""


class WebhookAttempt(BaseModel):
    number: int
    at: datetime
    status: int | None = None
    """The receiver's answer; None when none came (refused target, connection, timeout)."""
    error: str | None = None
    duration_ms: int


class WebhookDelivery(BaseModel):
    id: str
    """The message id: the `webhook-id` header, the same on every attempt and replay, so a
    receiver drops one it has seen."""
    webhook_id: str
    job_id: str | None = None
    event_type: str
    payload: dict[str, Any]
    state: DeliveryState
    attempts: int
    replays: int
    created_at: datetime
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    attempt_log: list[WebhookAttempt] | None = None
    """Every attempt, oldest first (when one delivery is read)."""

    def payload_json(self) -> str:
        """The body sent: the payload as compact JSON (the signature covers these bytes)."""
        return json.dumps(self.payload, separators=(",", ":"))


class DeliveryPage(BaseModel):
    data: list[WebhookDelivery]
    next_cursor: str | None = None
    has_more: bool = False
