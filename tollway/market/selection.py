"""Whom to ask for a job: filter the market, score what is left, draw an order at random.

Filters, each refusal recorded with its reason: the capability must be offered (or the
orchestrator's offer unknown: it may be a plain go-livepeer node, whose token will tell), the
URL must pass the job's include/exclude lists, its circuit breaker must be closed, its version
at least the configured minimum, and its advertised price within the job's cap. Suspended
orchestrators (breaker open) are used only when nobody else is left, as go-livepeer does, so a
lone orchestrator that just recovered is not refused for its whole cool-down.

Score, in [0, 1]: success² x (the policy's weighted mean of price, latency and stake), where
- price:   cheapest advertised price in the same unit / this price (unknown: 0.5);
- latency: lowest observed job latency / this one's EWMA (never measured: 0.8, so newcomers
  get tried);
- stake:   this stake / the largest stake (no stake known anywhere: 1 for all);
- success: the EWMA success rate of real jobs. It multiplies, so that an orchestrator failing
  half its jobs keeps about a quarter of its score whatever its price.
The order is a weighted random draw without replacement (Efraimidis-Spirakis: key = u^(1/w))
with w = score^sharpness, so better orchestrators come first more often but work does not pile
onto a single one.

Each drawn orchestrator is a `Contender` (what the market view says of it); the discovery
activity then fetches its job token, and one whose token passes `token_refusal` and
`filter_tokens` (free capacity, the price it actually charges within the cap) becomes a
`Candidate`, the only form the job's later steps see.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from tollway.config import SelectionPolicy
from tollway.market.store import SUCCESS_PRIOR, MarketView
from tollway.protocol.info import version_tuple
from tollway.protocol.price import Price
from tollway.protocol.token import JobToken
from tollway.schemas.jobs import Attempt

__all__ = [
    "POLICIES",
    "Candidate",
    "Contender",
    "Policy",
    "Selection",
    "SelectionRequest",
    "TokenRefusal",
    "candidate_from_token",
    "cap_problem",
    "filter_tokens",
    "price_per_unit",
    "select",
    "token_refusal",
]


class Candidate(BaseModel):
    """One orchestrator's job token, decoded."""

    url: str
    address: str
    price_per_unit: int
    pixels_per_unit: int = 1
    capacity: int
    queues: bool = False
    """It offers the capability and queues a request briefly when at capacity (a tollway
    orchestrator: its token carries a quote), so capacity 0 makes it a last resort, not a no."""
    balance_wei: int
    ticket_params: dict[str, Any] | None
    """Canonical JSON of the params (None from a free orchestrator)."""
    unit: str = "second"
    """What the price buys, from the orchestrator's signed quote (second without one)."""
    score: float = 0.0
    """Its selection score when it was drawn (`select`)."""

    @property
    def price(self) -> Price:
        return Price(price_per_unit=self.price_per_unit, pixels_per_unit=self.pixels_per_unit)


UNKNOWN_PRICE_SCORE = 0.5
UNKNOWN_LATENCY_SCORE = 0.8
MAX_LISTED_REFUSALS = 20


@dataclass(frozen=True)
class Policy:
    name: str
    price: float
    latency: float
    stake: float
    sharpness: float = 3.0


POLICIES: dict[SelectionPolicy, Policy] = {
    "cheapest": Policy("cheapest", price=0.8, latency=0.1, stake=0.1),
    "fastest": Policy("fastest", price=0.1, latency=0.8, stake=0.1),
    "balanced": Policy("balanced", price=0.45, latency=0.4, stake=0.15),
}


@dataclass(frozen=True)
class SelectionRequest:
    capability: str
    policy: Policy
    price_caps: Mapping[str, int] = field(default_factory=dict)
    """Wei per unit, by unit; a unit without a cap is not capped."""
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    min_version: str | None = None
    fanout: int = 4


@dataclass(slots=True)
class Contender:
    url: str
    price_wei: int | None
    latency_ms: float | None
    success: float
    stake: int
    unit: str = "second"
    score: float = 0.0


@dataclass(frozen=True)
class Selection:
    ranked: list[Contender]
    """Up to `fanout` contenders, best draw first."""
    refused: list[Attempt]
    eligible: int
    suspended_only: bool = False
    """Nobody but suspended orchestrators was left, so `ranked` holds those."""
    not_offering: int = 0
    """Known orchestrators that do not offer the capability (not attempts: never asked)."""


def select(
    view: MarketView, request: SelectionRequest, rng: random.Random, now: float
) -> Selection:
    contenders, suspended, refused, not_offering = _eligible(view, request, now)
    suspended_only = not contenders and bool(suspended)
    if suspended_only:
        contenders = suspended
    scored = _score(contenders, request.policy)
    sharpness = request.policy.sharpness
    keyed = [
        (rng.random() ** (1.0 / max(c.score, 1e-6) ** sharpness), i) for i, c in enumerate(scored)
    ]
    ranked = [scored[i] for _, i in heapq.nlargest(request.fanout, keyed)]
    if suspended_only:  # they are asked anyway: what they answer now is the attempt
        asked = {c.url for c in ranked}
        refused = [a for a in refused if a.orchestrator not in asked]
    return Selection(ranked, refused, len(scored), suspended_only, not_offering)


def _eligible(
    view: MarketView, request: SelectionRequest, now: float
) -> tuple[list[Contender], list[Contender], list[Attempt], int]:
    """(contenders, suspended contenders, refusals, how many do not offer the capability)"""
    contenders: list[Contender] = []
    suspended: list[Contender] = []
    refused: list[Attempt] = []
    not_offering = 0
    minimum = version_tuple(request.min_version) if request.min_version else None
    capability = request.capability

    def refuse(url: str, reason: str, transient: bool = False) -> None:
        if len(refused) < MAX_LISTED_REFUSALS:
            refused.append(
                Attempt(orchestrator=url, stage="select", reason=reason, transient=transient)
            )

    for known in view.orchestrators:
        url = known.url
        if (request.include and url not in request.include) or url in request.exclude:
            continue
        info = known.info
        price: int | None = None
        unit = "second"
        if info is not None:
            offer = info.offer(capability)
            if offer is None:
                not_offering += 1
                continue
            price, unit = offer.price_wei, offer.unit
            cap = request.price_caps.get(unit)
            if cap is not None and price > cap:  # the cheap test first: it runs for everyone
                refuse(url, cap_problem(price, unit, request.price_caps) or "")
                continue
        if minimum is not None and (info is None or version_tuple(info.version) < minimum):
            found = info.version if info else "unknown"
            refuse(url, f"version {found} below the minimum {request.min_version}")
            continue
        performance = view.performance.get((url, capability))
        contender = Contender(
            url=url,
            price_wei=price,
            latency_ms=performance.latency_ms if performance else None,
            success=performance.success if performance else SUCCESS_PRIOR,
            stake=known.stake or 0,
            unit=unit,
        )
        breaker = view.breakers.get(url)
        if breaker is not None and breaker.is_open(now):
            refuse(
                url,
                f"suspended for {breaker.open_until - now:.0f} s more after "
                f"{breaker.consecutive_failures} failure(s): {breaker.last_reason}",
                transient=price is not None,  # it offers the capability: worth waiting for
            )
            suspended.append(contender)
        else:
            contenders.append(contender)
    return contenders, suspended, refused, not_offering


def _score(contenders: list[Contender], policy: Policy) -> list[Contender]:
    cheapest: dict[str, int] = {}  # prices compare only within a unit
    for c in contenders:
        if c.price_wei is not None and c.price_wei < cheapest.get(c.unit, c.price_wei + 1):
            cheapest[c.unit] = c.price_wei
    latencies = [c.latency_ms for c in contenders if c.latency_ms]
    fastest = min(latencies) if latencies else 0.0
    top_stake = max((c.stake for c in contenders), default=0)
    total_weight = policy.price + policy.latency + policy.stake
    for c in contenders:
        price = (
            UNKNOWN_PRICE_SCORE
            if c.price_wei is None
            else (cheapest[c.unit] + 1) / (c.price_wei + 1)
        )
        latency = fastest / c.latency_ms if c.latency_ms else UNKNOWN_LATENCY_SCORE
        stake = c.stake / top_stake if top_stake else 1.0
        mean = (
            policy.price * price + policy.latency * latency + policy.stake * stake
        ) / total_weight
        c.score = round(c.success * c.success * mean, 6)
    return contenders


def cap_problem(price: int | Fraction, unit: str, price_caps: Mapping[str, int]) -> str | None:
    """Why `price` (wei per `unit`) is above the job's cap for that unit, or None."""
    cap = price_caps.get(unit)
    if cap is None or price <= cap:
        return None
    shown = "s" if unit == "second" else unit
    return f"price {_wei(price)} wei/{shown} above the job's cap {cap}"


def price_per_unit(candidate: Candidate) -> Fraction:
    """The wei per unit its token charges, exactly (pixelsPerUnit 0 read as 1)."""
    return Fraction(candidate.price_per_unit, candidate.pixels_per_unit or 1)


def _wei(value: int | Fraction) -> str:
    """Exact for whole wei, else two decimals, with integer arithmetic only (no float overflow)."""
    if value.denominator == 1:
        return str(value.numerator)
    hundredths = value.numerator * 100 // value.denominator
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def filter_tokens(
    candidates: list[Candidate], price_caps: Mapping[str, int]
) -> tuple[list[Candidate], list[Attempt]]:
    """The candidates whose tokens show free capacity and a price charged within the cap (the
    market's advertised price may be stale), in the order given, then those at capacity that
    queue (tried last)."""
    chosen: list[Candidate] = []
    refused: list[Attempt] = []
    for candidate in candidates:
        if candidate.capacity <= 0 and not candidate.queues:
            reason = "capability not offered or at capacity (available_capacity 0)"
        else:
            problem = cap_problem(price_per_unit(candidate), candidate.unit, price_caps)
            if problem is None:
                chosen.append(candidate)
                continue
            reason = problem
        refused.append(Attempt(orchestrator=candidate.url, stage="select", reason=reason))
    chosen.sort(key=lambda c: c.capacity <= 0)  # stable: the given order within each group
    return chosen, refused


def candidate_from_token(url: str, token: JobToken, score: float) -> Candidate:
    """The orchestrator at `url` as its job token describes it, with its draw's score."""
    params = token.ticket_params
    return Candidate(
        url=url,
        address=params.recipient if params else "",
        price_per_unit=token.price.price_per_unit,
        pixels_per_unit=token.price.pixels_per_unit,
        capacity=token.available_capacity,
        queues=token.quote is not None,
        balance_wei=token.balance,
        ticket_params=params.to_json() if params else None,
        unit=token.quote.unit if token.quote else "second",
        score=score,
    )


@dataclass(frozen=True)
class TokenRefusal:
    kind: str
    """For metrics: no_quote, quote_expired or bad_quote."""
    reason: str


def token_refusal(
    token: JobToken, *, gateway: str, capability: str, require_quotes: bool, now: float
) -> TokenRefusal | None:
    """Why this gateway must not buy from a token, or None: its signed quote, when it has one,
    must be this gateway's, unexpired, for this price and signed by the orchestrator whose
    tickets it would buy; `require_quotes` refuses a priced token without one."""
    quote = token.quote
    if quote is None:
        if require_quotes and token.price.price_per_unit > 0:
            return TokenRefusal("no_quote", "no signed price quote")
        return None
    if quote.expires_at <= now:
        return TokenRefusal("quote_expired", f"quote expired {now - quote.expires_at:.0f} s ago")
    problem = quote.problem(
        gateway=gateway,
        capability=capability,
        price_wei=token.price.price_per_unit // token.price.pixels_per_unit,
        now=now,
    )
    address = token.ticket_params.recipient if token.ticket_params else ""
    if problem is None and address.lower() not in ("", quote.orchestrator.lower()):
        problem = f"quote is from {quote.orchestrator}, the ticket params from {address}"
    return None if problem is None else TokenRefusal("bad_quote", problem)
