"""Register and unregister a capability with the orchestrator API, as a BYOC worker would."""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from tollway.byoc.registry import ExternalCapability


class RegistrationActivities:
    def __init__(self, http: httpx.AsyncClient, orchestrator_url: str, secret: str) -> None:
        self._http = http
        self._url = orchestrator_url.rstrip("/")
        self._secret = secret

    async def _post(self, path: str, content: bytes) -> None:
        response = await self._http.post(
            f"{self._url}{path}", content=content, headers={"Authorization": self._secret}
        )
        if response.status_code in (400, 401):
            raise ApplicationError(
                f"{path} refused: {response.text[:300]}",
                type="RegistrationRefused",
                non_retryable=True,
            )
        response.raise_for_status()

    @activity.defn(name="register_capability")
    async def register(self, capability: ExternalCapability) -> None:
        await self._post("/capability/register", capability.model_dump_json().encode())

    @activity.defn(name="unregister_capability")
    async def unregister(self, name: str) -> None:
        await self._post("/capability/unregister", name.encode())
