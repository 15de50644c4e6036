"""Orchestrator pricing (overrides, currencies, surge, redemption-gas surcharge, units billed)
and signed quotes (what a gateway accepts and why it refuses the rest)."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest
from eth_account import Account

from tollway.config import PriceOverride, PricingSettings
from tollway.payments.ledger import Ledger
from tollway.payments.pricing import PriceBook
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.price import WEI_PER_ETH, billed_units
from tollway.protocol.quote import Quote

ORCHESTRATOR = Account.from_key(b"\x01" * 32)
GATEWAY = Account.from_key(b"\x02" * 32)
OTHER_GATEWAY = Account.from_key(b"\x03" * 32)


def echo(price: int = 1_000, unit: str = "second", currency: str = "wei") -> ExternalCapability:
    return ExternalCapability.model_validate(
        {"name": "echo", "url": "http://w", "price_per_unit": price, "unit": unit,
         "currency": currency, "capacity": 10}
    )  # fmt: skip


def book(**settings: object) -> PriceBook:
    return PriceBook(PricingSettings.model_validate(settings))


def test_registered_price_without_adjustments() -> None:
    assert book().price_wei(echo(), GATEWAY.address, load=0.0) == 1_000


def test_gateway_override_exact_capability_beats_wildcard() -> None:
    prices = book(
        price_overrides=[
            PriceOverride(gateway=GATEWAY.address, capability="*", price_per_unit=700),
            PriceOverride(gateway=GATEWAY.address, capability="echo", price_per_unit=500),
            PriceOverride(gateway=OTHER_GATEWAY.address, price_per_unit=1, currency="eth"),
        ]
    )
    assert prices.price_wei(echo(), GATEWAY.address, 0.0) == 500
    assert prices.price_wei(echo(), OTHER_GATEWAY.address.lower(), 0.0) == WEI_PER_ETH
    assert prices.price_wei(echo(), None, 0.0) == 1_000  # no gateway: the registered price


def test_usd_price_converts_at_the_configured_rate() -> None:
    prices = book(usd_per_eth=2_000.0)
    # 1 USD at 2,000 USD/ETH is 0.0005 ETH.
    assert prices.price_wei(echo(1, currency="usd"), None, 0.0) == WEI_PER_ETH // 2_000


def test_surge_applies_at_and_above_the_load_threshold() -> None:
    prices = book(surge_multiplier=1.5, surge_load_threshold=0.8)
    assert prices.price_wei(echo(), None, load=0.79) == 1_000
    assert prices.price_wei(echo(), None, load=0.8) == 1_500
    assert prices.price_wei(echo(), None, load=1.0) == 1_500


def test_redemption_gas_surcharge_and_flooring() -> None:
    prices = book()
    # go-livepeer's autoAdjustPrice: price x (1 + txCost / faceValue), then floored.
    assert prices.price_wei(echo(1_000), None, 0.0, Fraction(1, 100)) == 1_010
    assert prices.price_wei(echo(999), None, 0.0, Fraction(1, 1_000)) == 999
    assert book(auto_adjust_price=False).price_wei(echo(), None, 0.0, Fraction(1, 2)) == 1_000


@pytest.mark.parametrize(
    ("unit", "seconds", "reported", "units"),
    [
        ("second", 0.2, None, 1),
        ("second", 2.01, None, 3),
        ("request", 42.0, "99", 1),
        ("frame", 1.0, "24", 24),
        ("frame", 1.0, None, 1),
        ("frame", 1.0, "-5", 1),
        ("frame", 1.0, "lots", 1),
        ("frame", 1.0, "9" * 30, 10**9),
    ],
)
def test_billed_units(unit: str, seconds: float, reported: str | None, units: int) -> None:
    assert billed_units(unit, seconds, reported) == units


# --- quotes -----------------------------------------------------------------------------------


def quote(**changes: object) -> Quote:
    fields: dict[str, object] = {
        "capability": "echo",
        "price_wei": 1_000,
        "unit": "second",
        "gateway": GATEWAY.address,
        "orchestrator": ORCHESTRATOR.address,
        "expires_at": int(time.time()) + 60,
    }
    return Quote.model_validate({**fields, **changes}).signed_by(ORCHESTRATOR.key)


def problem(q: Quote, **expected: object) -> str | None:
    checks: dict[str, object] = {
        "gateway": GATEWAY.address,
        "capability": "echo",
        "price_wei": 1_000,
        "now": time.time(),
        **expected,
    }
    return q.problem(**checks)  # type: ignore[arg-type]


def test_a_good_quote_passes() -> None:
    assert problem(quote()) is None


def test_quote_refusals_name_the_problem() -> None:
    assert "expired" in str(problem(quote(expires_at=int(time.time()) - 5)))
    assert "not this one" in str(problem(quote(), gateway=OTHER_GATEWAY.address))
    assert "capability" in str(problem(quote(), capability="llm"))
    assert "token's price is 2000" in str(problem(quote(), price_wei=2_000))


def test_a_quote_altered_or_signed_by_someone_else_is_refused() -> None:
    cheaper = quote().model_copy(update={"price_wei": 1})  # edited after signing
    assert "signed by" in str(problem(cheaper, price_wei=1))
    forged = Quote.model_validate(quote().model_dump()).signed_by(OTHER_GATEWAY.key)
    assert "signed by" in str(problem(forged))
    garbage = quote().model_copy(update={"signature": "0xzz"})
    assert "signature" in str(problem(garbage))


def test_the_orchestrator_honours_a_quote_until_it_expires(tmp_path: Path) -> None:
    """A quoted price survives a restart (it is in the ledger) and lapses at its expiry."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    now = time.time()
    ledger.save_quote(GATEWAY.address, "echo", 900, now + 60)
    ledger.close()
    reopened = Ledger(tmp_path / "ledger.sqlite")
    assert reopened.quoted_price(GATEWAY.address.lower(), "echo", now) == 900
    assert reopened.quoted_price(GATEWAY.address, "llm", now) is None
    assert reopened.quoted_price(GATEWAY.address, "echo", now + 61) is None
