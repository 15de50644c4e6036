"""WebhookDeliveryWorkflow: one webhook delivery, sent until a receiver takes it or its retry
schedule runs out.

The first attempt goes at once; each later one after the schedule's next delay (the gateway's
`webhook_retry_seconds`: by default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, about 28 hours
in all). A durable timer holds each
wait, so a worker's restart loses no delivery and sends none early. Its id is the delivery's
(`webhook-<message id>`, `-replay-<n>` for a replay), so a delivery is started once however
many processes find it in the outbox.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from tollway.activities.webhooks import DeliveryAttempt, WebhookActivities

__all__ = ["WebhookDeliveryInput", "WebhookDeliveryWorkflow"]

ATTEMPT_TIMEOUT = timedelta(seconds=60)
"""Resolving, connecting and the receiver's answer (the sender's own timeout is shorter)."""


class WebhookDeliveryInput(BaseModel):
    delivery_id: str
    retry_seconds: list[float]
    """The waits before each retry (the gateway's `webhook_retry_seconds`)."""


@workflow.defn(name="WebhookDeliveryWorkflow")
class WebhookDeliveryWorkflow:
    def __init__(self) -> None:
        self._attempts = 0

    @workflow.run
    async def run(self, request: WebhookDeliveryInput) -> bool:
        """True once delivered; False when every attempt failed."""
        delays = request.retry_seconds
        for number in range(len(delays) + 1):
            final = number == len(delays)
            self._attempts += 1
            settled = await workflow.execute_activity_method(
                WebhookActivities.deliver,
                DeliveryAttempt(delivery_id=request.delivery_id, final=final),
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                # Only the database failing raises: retried, it is still this attempt.
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )
            if settled:
                return True
            if not final:
                await workflow.sleep(timedelta(seconds=delays[number]))
        return False

    @workflow.query
    def attempts(self) -> int:
        return self._attempts
