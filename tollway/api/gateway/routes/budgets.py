"""Budgets: `/v1/budgets`. The operator (`admin`) sets a tenant's; a tenant's key manager
(`keys:write`) sets its own keys'; `usage:read` reads them with what their current window has
spent and held, and when it resets."""

from __future__ import annotations

from typing import Self

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from tollway.api.gateway.deps import KeyManager, Services, UsageReader
from tollway.api.openapi import problems
from tollway.errors import BadRequest, NotFound
from tollway.store.budgets import Budget, Period
from tollway.store.tenants import Principal

__all__ = ["BudgetRequest", "router"]

router = APIRouter(prefix="/v1/budgets", tags=["budgets"])


class BudgetRequest(BaseModel):
    period: Period = Field(description="`day` and `month` reset at UTC midnight; `total` never.")
    amount_wei: str | None = Field(default=None, pattern=r"^[0-9]{1,78}$")
    amount_usd: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,6})?$",
        description="At the gateway's `usd_per_eth` when a job is accepted.",
    )
    key_id: str | None = Field(default=None, description="A key's budget; omitted: the tenant's.")
    tenant: str | None = Field(default=None, description="Another tenant's: `admin` only.")

    @model_validator(mode="after")
    def _one_amount(self) -> Self:
        if (self.amount_wei is None) == (self.amount_usd is None):
            raise ValueError("give exactly one of amount_wei and amount_usd")
        return self


@router.post("", status_code=201, responses=problems(BadRequest, NotFound))
async def set_budget(request: BudgetRequest, services: Services, caller: KeyManager) -> Budget:
    """Set the budget of a tenant or one of its keys for a period, replacing that one's limit
    (what it spent stays). A tenant's own budget is the operator's to set."""
    tenant = caller.tenant_for(request.tenant)
    if request.key_id is None:
        caller.require("admin")
    else:
        key = await services.tenants.get_key(request.key_id)
        if key.tenant != tenant:
            raise BadRequest(f"key {request.key_id} is not tenant {tenant!r}'s", field="key_id")
    budgets = services.budgets
    if request.amount_wei is not None:
        return await budgets.set_budget(
            tenant, request.key_id, request.period, "wei", request.amount_wei
        )
    assert request.amount_usd is not None
    return await budgets.set_budget(
        tenant, request.key_id, request.period, "usd", request.amount_usd
    )


@router.get("")
async def list_budgets(
    services: Services, caller: UsageReader, tenant: str | None = None
) -> list[Budget]:
    return await services.budgets.list_budgets(caller.tenant_for(tenant))


@router.delete("/{budget_id}", status_code=204, responses=problems(NotFound))
async def delete_budget(budget_id: str, services: Services, caller: KeyManager) -> None:
    budget = await _visible(budget_id, services, caller)
    if budget.key_id is None:
        caller.require("admin")
    await services.budgets.delete_budget(budget_id)


async def _visible(budget_id: str, services: Services, caller: Principal) -> Budget:
    budget = await services.budgets.get_budget(budget_id)
    if budget.tenant != caller.tenant and "admin" not in caller.scopes:
        raise NotFound(f"no budget {budget_id!r}")
    return budget
