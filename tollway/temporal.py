"""One way to reach Temporal: the pydantic data converter, everywhere; and the search
attributes that job and stream workflows carry, so operators filter them in the Temporal UI."""

from __future__ import annotations

import logging
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

__all__ = [
    "CAPABILITY",
    "COST_ETH",
    "ORCHESTRATOR",
    "SEARCH_ATTRIBUTES",
    "STATE",
    "SWAPS",
    "TENANT",
    "connect",
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


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
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
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
    except RPCError as exc:
        if "already exists" not in str(exc).lower():
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
