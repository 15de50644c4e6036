"""Pay: sign a batch of PM tickets when credit with the orchestrator is short.

The orchestrator's reported balance is trusted only up to the gateway's own mirror of it, less
the credit the gateway's other in-flight jobs hold there, and its ticket params only within the
gateway's limits; otherwise this candidate is refused.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from tollway import metrics
from tollway.errors import TollwayError, to_application_error
from tollway.market.selection import Candidate
from tollway.payments.funds import SenderFunds
from tollway.payments.sender import (
    Nonces,
    SenderLimits,
    TicketSender,
    check_params,
    credit_units,
    tickets_needed,
)
from tollway.payments.spend import SpendLedger
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price

__all__ = ["PaymentActivities", "PaymentInput", "PaymentPlan"]


class PaymentInput(BaseModel):
    job_id: str
    capability: str
    candidate: Candidate
    timeout_seconds: int


class PaymentPlan(BaseModel):
    header: str | None
    tickets: int
    ev_wei: int


NO_PAYMENT = PaymentPlan(header=None, tickets=0, ev_wei=0)


class PaymentActivities:
    def __init__(
        self,
        sender: TicketSender,
        nonces: Nonces,
        ledger: SpendLedger,
        limits: SenderLimits,
        funds: SenderFunds | None = None,
    ) -> None:
        self._sender = sender
        self._nonces = nonces
        self._ledger = ledger
        self._limits = limits
        self._funds = funds

    @activity.defn(name="create_payment")
    async def create_payment(self, request: PaymentInput) -> PaymentPlan:
        candidate = request.candidate
        if candidate.ticket_params is None:
            return NO_PAYMENT
        price = Price(
            price_per_unit=candidate.price_per_unit, pixels_per_unit=candidate.pixels_per_unit
        )
        required = price.cost(credit_units(candidate.unit, request.timeout_seconds))
        covered = self._ledger.reserve(
            request.job_id,
            candidate.address,
            request.capability,
            candidate.balance_wei,
            required,
            ttl_seconds=request.timeout_seconds + 60,
        )
        # Like go-livepeer (which tops up below twice the minimum), keep a job's worth of
        # credit in reserve: jobs finishing between this token and this job debit it first.
        buffered = max(0, covered - required)
        try:
            params = TicketParams.from_json(candidate.ticket_params)
            count = tickets_needed(price, request.timeout_seconds, buffered, params, candidate.unit)
            if count == 0:
                return NO_PAYMENT
            check_params(params, count, self._limits)
            if self._funds is not None:
                await self._funds.check(params)
        except TollwayError as exc:
            self._ledger.release(request.job_id)
            raise to_application_error(exc) from exc
        nonces = await self._nonces.allocate(params.recipient_rand_hash, count)
        batch = self._sender.sign(params, price, nonces)
        self._ledger.paid(candidate.address, request.capability, batch.ev_wei)
        metrics.TICKETS_SENT.inc(count)
        metrics.TICKET_EV_SENT.inc(batch.ev_wei)
        return PaymentPlan(header=batch.payment.encode(), tickets=count, ev_wei=batch.ev_wei)
