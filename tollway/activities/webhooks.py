"""Send one webhook delivery: read it from the outbox, sign and POST it, log the attempt. A
receiver's failure is the activity's result (the delivery workflow keeps its own schedule); only
the database failing raises, for Temporal to retry."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from tollway.store.webhooks import WebhookStore
from tollway.webhooks.sender import WebhookSender

__all__ = ["DeliveryAttempt", "WebhookActivities"]


class DeliveryAttempt(BaseModel):
    delivery_id: str
    final: bool
    """The schedule's last attempt: a failure leaves the delivery `failed`."""


class WebhookActivities:
    def __init__(self, store: WebhookStore, sender: WebhookSender) -> None:
        self._store = store
        self._sender = sender

    @activity.defn(name="deliver_webhook")
    async def deliver(self, attempt: DeliveryAttempt) -> bool:
        """True when the delivery is settled (delivered, or its webhook deleted): no retry."""
        found = await self._store.to_send(attempt.delivery_id)
        if found is None:
            await self._store.mark_abandoned(attempt.delivery_id, "the webhook was deleted")
            return True
        delivery, url, secret = found
        body = delivery.payload_json()
        sent = await self._sender.send(url, secret, delivery.id, body)
        await self._store.record_attempt(
            delivery.id,
            delivered=sent.delivered,
            status=sent.status,
            error=sent.error,
            duration_ms=sent.duration_ms,
            final=attempt.final,
        )
        if not sent.delivered:
            activity.logger.info(
                "webhook %s to %s: attempt failed: %s", delivery.id, url, sent.error
            )
        return sent.delivered
