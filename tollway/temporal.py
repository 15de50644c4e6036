"""One way to reach Temporal: the pydantic data converter, everywhere; and the search
attributes that job and stream workflows carry, so operators filter them in the Temporal UI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, model_validator
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, TLSConfig

__all__ = [
    "CAPABILITY",
    "COST_ETH",
    "ORCHESTRATOR",
    "SEARCH_ATTRIBUTES",
    "STATE",
    "SWAPS",
    "TENANT",
    "TemporalAuth",
    "connect",
    "connect_options",
    "ensure_search_attributes",
    "start_attributes",
]

log = logging.getLogger("tollway.temporal")

TENANT = SearchAttributeKey.for_keyword("TollwayTenant")
CAPABILITY = SearchAttributeKey.for_keyword("TollwayCapability")
ORCHESTRATOR = SearchAttributeKey.for_keyword("TollwayOrchestrator")
"""Where the job ran, or the stream runs now."""
STATE = SearchAttributeKey.for_keyword("TollwayState")
"""`running` until a job ends (`succeeded`, `rejected`, `failed`, `canceled`); a stream's
`starting`, `running`, `swapping`, `stopped` or `failed`."""
COST_ETH = SearchAttributeKey.for_float("TollwayCostEth")
"""What the job cost, in ETH (the exact wei is in the job index)."""
SWAPS = SearchAttributeKey.for_int("TollwaySwaps")
"""How many times a stream moved to another orchestrator."""
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    TENANT,
    CAPABILITY,
    ORCHESTRATOR,
    STATE,
    COST_ETH,
    SWAPS,
)


class TemporalAuth(BaseModel):
    """How a role proves itself to a Temporal cluster beyond its address: nothing for a dev
    server; TLS (with a client certificate for mTLS) for a self-hosted cluster or Temporal
    Cloud's mTLS namespaces; an API key (over TLS) for Temporal Cloud's API-key namespaces.
    Paths rather than PEM text, so the secrets stay in mounted files (deploy/README.md)."""

    tls: bool = False
    """Connect over TLS; implied by a certificate, a CA or an API key."""
    ca_file: Path | None = None
    """The CA that signed the server's certificate (default: the system's roots)."""
    cert_file: Path | None = None
    """This role's client certificate (mTLS), with `key_file`."""
    key_file: Path | None = None
    server_name: str | None = None
    """The name the server's certificate is checked against (default: the address's host)."""
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    """A file holding the API key (a mounted secret); read at connect, whitespace stripped."""

    @model_validator(mode="after")
    def _certificate_with_its_key(self) -> TemporalAuth:
        """Refused when the settings load, not at the first connect."""
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a Temporal client certificate needs both cert_file and key_file")
        return self

    def uses_tls(self) -> bool:
        return bool(self.tls or self.ca_file or self.cert_file or self.api_key or self.api_key_file)


def connect_options(auth: TemporalAuth | None) -> dict[str, Any]:
    """`Client.connect`'s `tls` and `api_key` arguments for `auth` (files read now)."""
    if auth is None:
        return {"tls": False, "api_key": None}
    api_key = auth.api_key.get_secret_value() if auth.api_key else None
    if auth.api_key_file is not None:
        api_key = auth.api_key_file.read_text().strip()
    tls: bool | TLSConfig = auth.uses_tls()
    if auth.ca_file or auth.cert_file or auth.server_name:
        tls = TLSConfig(
            server_root_ca_cert=auth.ca_file.read_bytes() if auth.ca_file else None,
            client_cert=auth.cert_file.read_bytes() if auth.cert_file else None,
            client_private_key=auth.key_file.read_bytes() if auth.key_file else None,
            domain=auth.server_name,
        )
    return {"tls": tls, "api_key": api_key}


async def connect(address: str, namespace: str, auth: TemporalAuth | None = None) -> Client:
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=pydantic_data_converter,
        **connect_options(auth),
    )


async def ensure_search_attributes(client: Client) -> None:
    """Register tollway's search attributes in the client's namespace where they are missing
    (a workflow that sets an unknown one fails its task). A server that refuses (Temporal
    Cloud registers them through its own API: deploy/README.md) is logged, not fatal."""
    try:
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = {
            key.name: IndexedValueType.ValueType(key.indexed_value_type)
            for key in SEARCH_ATTRIBUTES
            if key.name not in known.custom_attributes
        }
        if missing:  # one another process added meanwhile is taken again without an error
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
    except RPCError as exc:
        log.warning(
            "could not register search attributes %s in namespace %r: %s",
            [k.name for k in SEARCH_ATTRIBUTES],
            client.namespace,
            exc,
        )


def start_attributes(tenant: str, capability: str, state: str) -> TypedSearchAttributes:
    """A job's or stream's search attributes when its workflow starts."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(TENANT, tenant),
            SearchAttributePair(CAPABILITY, capability),
            SearchAttributePair(STATE, state),
        ]
    )
