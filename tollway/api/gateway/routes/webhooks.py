"""Webhooks: `/v1/webhooks` (a tenant's endpoints, with an event filter) and
`/v1/webhook-deliveries` (the delivery log, and replay). Every delivery is signed by the
Standard Webhooks scheme: `webhook-id`, `webhook-timestamp` and `webhook-signature` over the
JSON body `{"type", "timestamp", "data"}`; a tenant's endpoint with the secret it was made with,
a job's own webhook (`webhook` in the submission) with `GET /v1/webhooks/default/secret`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tollway.api.gateway.deps import Services, WebhookManager
from tollway.api.openapi import problems
from tollway.errors import NotFound
from tollway.schemas.webhooks import (
    DeliveryPage,
    DeliveryState,
    EventType,
    NewWebhook,
    Webhook,
    WebhookDelivery,
)
from tollway.webhooks.targets import check_url
from tollway.workflows.webhook_outbox import start_delivery

__all__ = ["DefaultSecret", "WebhookRequest", "router"]

router = APIRouter(tags=["webhooks"])


class WebhookRequest(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="An http(s) URL; private and loopback addresses only where the operator "
        "allows them. Redirects are not followed.",
    )
    event_types: list[EventType] = Field(
        default=[], description="The events sent to it; empty: every event."
    )
    description: str | None = Field(default=None, max_length=256)


class DefaultSecret(BaseModel):
    secret: str
    """Verifies the deliveries of webhooks given with a job (`webhook` in a submission)."""


@router.post("/v1/webhooks", status_code=201)
async def create_webhook(
    request: WebhookRequest, services: Services, caller: WebhookManager
) -> NewWebhook:
    """A webhook for every event of the tenant's that passes its filter. Its `secret` is
    shown here only."""
    check_url(request.url, services.settings.webhook_allow_private_targets)
    return await services.webhooks.create(
        caller.tenant, request.url, request.event_types, request.description
    )


@router.get("/v1/webhooks")
async def list_webhooks(services: Services, caller: WebhookManager) -> list[Webhook]:
    return await services.webhooks.list_webhooks(caller.tenant)


@router.get("/v1/webhooks/default/secret")
async def default_secret(services: Services, caller: WebhookManager) -> DefaultSecret:
    return DefaultSecret(secret=await services.webhooks.tenant_secret(caller.tenant))


@router.get("/v1/webhooks/{webhook_id}", responses=problems(NotFound))
async def get_webhook(webhook_id: str, services: Services, caller: WebhookManager) -> Webhook:
    return await services.webhooks.get(caller.tenant, webhook_id)


@router.delete("/v1/webhooks/{webhook_id}", status_code=204, responses=problems(NotFound))
async def delete_webhook(webhook_id: str, services: Services, caller: WebhookManager) -> None:
    """No more events go to it; its deliveries still retrying stop."""
    await services.webhooks.delete(caller.tenant, webhook_id)


@router.get("/v1/webhook-deliveries")
async def list_deliveries(
    services: Services,
    caller: WebhookManager,
    webhook_id: str | None = None,
    job_id: str | None = None,
    state: Annotated[list[DeliveryState] | None, Query(description="Repeat for several.")] = None,
    event_type: EventType | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> DeliveryPage:
    """The tenant's deliveries, newest first; `next_cursor` pages on."""
    return await services.webhooks.page(
        caller.tenant,
        webhook_id=webhook_id,
        job_id=job_id,
        states=state,
        event_type=event_type,
        limit=limit,
        cursor=cursor,
    )


@router.get("/v1/webhook-deliveries/{delivery_id}", responses=problems(NotFound))
async def get_delivery(
    delivery_id: str, services: Services, caller: WebhookManager
) -> WebhookDelivery:
    """One delivery with every attempt: when, the receiver's status or the error."""
    return await services.webhooks.delivery(caller.tenant, delivery_id)


@router.post(
    "/v1/webhook-deliveries/{delivery_id}/replay", status_code=202, responses=problems(NotFound)
)
async def replay_delivery(
    delivery_id: str, services: Services, caller: WebhookManager
) -> WebhookDelivery:
    """Send the delivery again, with its message id (a receiver that has it drops it), on a
    fresh retry schedule."""
    replay = await services.webhooks.begin_replay(caller.tenant, delivery_id)
    settings = services.settings
    await start_delivery(
        services.temporal,
        settings.task_queue,
        settings.webhook_retry_seconds,
        delivery_id,
        replay,
    )
    return await services.webhooks.delivery(caller.tenant, delivery_id)
