"""Settle: record the job's cost in the gateway's spend ledger, once."""

from __future__ import annotations

from temporalio import activity

from tollway import metrics
from tollway.payments.spend import SettleInput, SpendLedger

__all__ = ["SettlementActivities"]


class SettlementActivities:
    def __init__(self, ledger: SpendLedger) -> None:
        self._ledger = ledger

    @activity.defn(name="settle_job")
    async def settle(self, entry: SettleInput) -> bool:
        recorded = self._ledger.record(entry)
        if recorded:
            metrics.JOBS.labels("gateway", "settled").inc()
        return recorded
