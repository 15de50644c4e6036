"""The async client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tollway.client._shared import (
    headers,
    page_params,
    raise_for_problem,
    submission,
    submit_headers,
    webhook_body,
)
from tollway.schemas.jobs import JobAccepted, JobEvent, JobPage, JobRecord, JobView, UsageRow
from tollway.schemas.webhooks import (
    DeliveryPage,
    EventType,
    NewWebhook,
    Webhook,
    WebhookDelivery,
)

__all__ = ["AsyncClient"]

RECONNECT_SECONDS = 1.0


class AsyncClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 90.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, headers=headers(api_key), timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def submit(
        self,
        capability: str,
        input: Any = None,
        *,
        input_bytes: bytes | None = None,
        content_type: str | None = None,
        idempotency_key: str | None = None,
        wait: int | None = None,
        **fields: Any,
    ) -> JobAccepted:
        """Start a job (`fields`: `timeout_seconds`, `max_price_wei_per_second`, `path`, ...);
        with `wait`, its `job` is filled in, finished if it finished in time."""
        answer = await self._http.post(
            "/v1/jobs",
            json=submission(capability, input, input_bytes, content_type, fields),
            headers=submit_headers(idempotency_key, wait),
            timeout=(wait or 0) + 30,
        )
        raise_for_problem(answer)
        return JobAccepted.model_validate(answer.json())

    async def get(self, job_id: str) -> JobView:
        answer = await self._http.get(f"/v1/jobs/{job_id}")
        raise_for_problem(answer)
        return JobView.model_validate(answer.json())

    async def page(
        self,
        status: list[str] | None = None,
        capability: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        params = page_params(status, capability, limit, cursor)
        answer = await self._http.get("/v1/jobs", params=params)
        raise_for_problem(answer)
        return JobPage.model_validate(answer.json())

    async def jobs(self, **filters: Any) -> AsyncIterator[JobRecord]:
        """Every job that `filters` select, newest first, page after page."""
        cursor = None
        while True:
            page = await self.page(cursor=cursor, **filters)
            for record in page.data:
                yield record
            if not page.has_more:
                return
            cursor = page.next_cursor

    async def output(self, job_id: str) -> bytes:
        answer = await self._http.get(f"/v1/jobs/{job_id}/output")
        raise_for_problem(answer)
        return answer.content

    async def cancel(self, job_id: str) -> JobView:
        """Cancel the job; the canceled job (Conflict, 409, when it ended first)."""
        answer = await self._http.post(f"/v1/jobs/{job_id}/cancel")
        raise_for_problem(answer)
        return JobView.model_validate(answer.json())

    async def delete(self, job_id: str) -> None:
        raise_for_problem(await self._http.delete(f"/v1/jobs/{job_id}"))

    async def usage(self, **params: Any) -> list[UsageRow]:
        answer = await self._http.get("/v1/usage", params=params)
        raise_for_problem(answer)
        return [UsageRow.model_validate(row) for row in answer.json()]

    async def create_webhook(
        self, url: str, event_types: list[EventType] | None = None, description: str | None = None
    ) -> NewWebhook:
        """A webhook for the tenant's events (all, or `event_types`); its `secret` shown once."""
        body = webhook_body(url, event_types, description)
        answer = await self._http.post("/v1/webhooks", json=body)
        raise_for_problem(answer)
        return NewWebhook.model_validate(answer.json())

    async def webhooks(self) -> list[Webhook]:
        answer = await self._http.get("/v1/webhooks")
        raise_for_problem(answer)
        return [Webhook.model_validate(w) for w in answer.json()]

    async def delete_webhook(self, webhook_id: str) -> None:
        raise_for_problem(await self._http.delete(f"/v1/webhooks/{webhook_id}"))

    async def webhook_secret(self) -> str:
        """The secret that signs the webhooks given with jobs (`webhook=` in `submit`)."""
        answer = await self._http.get("/v1/webhooks/default/secret")
        raise_for_problem(answer)
        return str(answer.json()["secret"])

    async def webhook_deliveries(self, **filters: Any) -> DeliveryPage:
        """The delivery log, newest first (`webhook_id`, `job_id`, `state`, `cursor`...)."""
        answer = await self._http.get("/v1/webhook-deliveries", params=filters)
        raise_for_problem(answer)
        return DeliveryPage.model_validate(answer.json())

    async def webhook_delivery(self, delivery_id: str) -> WebhookDelivery:
        answer = await self._http.get(f"/v1/webhook-deliveries/{delivery_id}")
        raise_for_problem(answer)
        return WebhookDelivery.model_validate(answer.json())

    async def replay_webhook_delivery(self, delivery_id: str) -> WebhookDelivery:
        answer = await self._http.post(f"/v1/webhook-deliveries/{delivery_id}/replay")
        raise_for_problem(answer)
        return WebhookDelivery.model_validate(answer.json())

    async def events(self, job_id: str, after: int = 0) -> AsyncIterator[JobEvent]:
        """The job's events as they happen (server-sent events) until it ends; a dropped
        connection is taken up again after the last event seen (`Last-Event-ID`)."""
        while True:
            sent = {"Accept": "text/event-stream", "Last-Event-ID": str(after)}
            try:
                async with self._http.stream(
                    "GET", f"/v1/jobs/{job_id}/events", headers=sent, timeout=None
                ) as answer:
                    if answer.status_code >= 400:
                        await answer.aread()
                        raise_for_problem(answer)
                    kind = ""
                    async for line in answer.aiter_lines():
                        if line.startswith("event:"):
                            kind = line[6:].strip()
                        elif line.startswith("data:") and kind == "done":
                            return
                        elif line.startswith("data:") and kind:
                            event = JobEvent.model_validate(json.loads(line[5:]))
                            after = event.seq
                            yield event
            except httpx.TransportError:
                await asyncio.sleep(RECONNECT_SECONDS)
