"""The webhook payloads, declared in the OpenAPI document (its `webhooks`): what a receiver is
sent for each event type, with the Standard Webhooks headers that sign it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import FastAPI, Header
from pydantic import BaseModel

from tollway.schemas.jobs import JobRecord
from tollway.schemas.webhooks import BudgetAlert

__all__ = ["BudgetWebhookEvent", "JobWebhookEvent", "declare_webhooks"]

JobEventType = Literal[
    "job.queued", "job.started", "job.succeeded", "job.rejected", "job.failed", "job.canceled"
]


class JobWebhookEvent(BaseModel):
    type: JobEventType
    timestamp: datetime
    data: JobRecord
    """The job's record when the event happened (`orchestrator` on `job.started`: where it was
    sent)."""


class BudgetWebhookEvent(BaseModel):
    type: Literal["budget.threshold"]
    timestamp: datetime
    data: BudgetAlert


WebhookId = Annotated[
    str,
    Header(
        alias="webhook-id",
        description="The message id: the same on every retry and replay; drop one seen before.",
    ),
]
WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="Unix seconds when it was signed.")
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>` with the "
        "webhook's secret (Standard Webhooks); `tollway.client.verify_webhook` checks it.",
    ),
]


def declare_webhooks(app: FastAPI) -> None:
    """Each event type as an OpenAPI webhook: a receiver answers 2xx to take it; any other
    answer, a redirect or no answer is retried on the delivery's schedule."""
    for event_type in get_args(JobEventType):
        _declare_job_event(app, event_type)

    @app.webhooks.post("budget.threshold", status_code=204)
    def budget_threshold(
        body: BudgetWebhookEvent,
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """A budget's window reached 50, 80 or 100% of its limit (once each per window)."""


def _declare_job_event(app: FastAPI, event_type: str) -> None:
    @app.webhooks.post(
        event_type,
        status_code=204,
        operation_id=f"webhook_{event_type}",
        summary=f"A job's `{event_type}` event",
    )
    def job_event(
        body: JobWebhookEvent,
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """The job's record when the event happened."""
