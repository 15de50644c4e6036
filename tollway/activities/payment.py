"""Pay: sign a batch of PM tickets when credit with the orchestrator is short (reference 1.9)."""

from __future__ import annotations

from temporalio import activity

from tollway import metrics
from tollway.errors import TollwayError, to_application_error
from tollway.models import PaymentInput, PaymentPlan
from tollway.payments.sender import TicketSender, tickets_needed
from tollway.payments.wire import Price, TicketParams


class PaymentActivities:
    def __init__(self, sender: TicketSender) -> None:
        self._sender = sender

    @activity.defn(name="create_payment")
    async def create_payment(self, request: PaymentInput) -> PaymentPlan:
        candidate = request.candidate
        try:
            params = TicketParams.from_json(candidate.ticket_params)
        except TollwayError as exc:
            raise to_application_error(exc) from exc
        price = Price(
            price_per_unit=candidate.price_per_unit, pixels_per_unit=candidate.pixels_per_unit
        )
        count = tickets_needed(price, request.timeout_seconds, candidate.balance_wei, params)
        if count == 0:
            return PaymentPlan(header=None, tickets=0, ev_wei=0)
        batch = self._sender.batch(params, price, count)
        metrics.TICKETS_SENT.inc(count)
        metrics.TICKET_EV_SENT.inc(batch.ev_wei)
        return PaymentPlan(header=batch.payment.encode(), tickets=count, ev_wei=batch.ev_wei)
