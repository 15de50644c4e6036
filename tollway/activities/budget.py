"""Settle a job's budget hold: its real cost replaces the worst case it reserved, once."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from tollway.store.budgets import BudgetStore

__all__ = ["BudgetActivities", "SettleBudgetInput"]


class SettleBudgetInput(BaseModel):
    job_id: str
    cost_wei: int
    """What the job cost (0 for a job that failed: nobody charged it)."""


class BudgetActivities:
    def __init__(self, budgets: BudgetStore) -> None:
        self._budgets = budgets

    @activity.defn(name="settle_budget")
    async def settle_budget(self, entry: SettleBudgetInput) -> bool:
        return await self._budgets.settle(entry.job_id, entry.cost_wei)
