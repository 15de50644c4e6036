"""Capability registration JSON and capacity slots."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tollway.byoc.registry import CapabilityRegistry
from tollway.errors import BadRequest, CapacityExhausted, UnknownCapability
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.price import WEI_PER_ETH


def capability(**changes: Any) -> ExternalCapability:
    data: dict[str, Any] = {"name": "echo", "url": "http://worker:9000", "capacity": 2, **changes}
    return ExternalCapability.model_validate(data)


# --- registration JSON ------------------------------------------------------------------------


def test_parses_go_livepeer_registration_json() -> None:
    body = json.dumps(
        {
            "name": "text-reverser",
            "description": "reverses text",
            "url": "http://reverser:8000",
            "capacity": 4,
            "price_per_unit": 1500,
            "price_scaling": 1000,
            "currency": "wei",
            "token": "worker-secret",
        }
    )
    cap = ExternalCapability.model_validate_json(body)
    assert cap.name == "text-reverser"
    assert cap.description == "reverses text"
    assert cap.url == "http://reverser:8000"
    assert cap.capacity == 4
    assert cap.price_per_unit == 1500
    assert cap.price_scaling == 1000
    assert cap.currency == "wei"
    assert cap.token == "worker-secret"
    assert cap.price_wei_per_second == 1  # 1.5 floored


def test_optional_fields_default() -> None:
    cap = ExternalCapability.model_validate_json('{"name": "echo", "url": "http://w"}')
    assert cap.capacity == 1
    assert cap.price_per_unit == 0
    assert cap.price_scaling == 1
    assert cap.currency == ""
    assert cap.token == ""
    assert cap.price_wei_per_second == 0


def test_price_scaling_zero_is_coerced_to_one() -> None:
    cap = capability(price_per_unit=7, price_scaling=0)
    assert cap.price_scaling == 1
    assert cap.price_wei_per_second == 7


@pytest.mark.parametrize(
    ("price_per_unit", "price_scaling", "currency", "expected"),
    [
        (1_000, 1, "", 1_000),
        (1_000, 1, "wei", 1_000),
        (1_000, 1, "WEI", 1_000),
        (999, 1_000, "wei", 0),  # sub-1-wei/s prices become 0
        (1_999, 1_000, "wei", 1),
        (1, 1, "eth", WEI_PER_ETH),
        (1, 1_000_000_000, "ETH", 10**9),
        (1, 3, "eth", WEI_PER_ETH // 3),
        (2, 3, "eth", 2 * WEI_PER_ETH // 3),
    ],
)
def test_price_wei_per_second_floors(
    price_per_unit: int, price_scaling: int, currency: str, expected: int
) -> None:
    cap = capability(price_per_unit=price_per_unit, price_scaling=price_scaling, currency=currency)
    assert cap.price_wei_per_second == expected


def test_usd_prices_convert_at_the_operators_rate() -> None:
    cap = capability(price_per_unit=3, price_scaling=1_000, currency="USD")  # $0.003 per unit
    assert cap.price_wei(usd_per_eth=3_000.0) == WEI_PER_ETH // 1_000_000
    with pytest.raises(BadRequest, match="usd_per_eth") as info:
        cap.price_wei()
    assert info.value.details["field"] == "currency"


@pytest.mark.parametrize("currency", ["EUR", "gwei", "btc"])
def test_unsupported_currency_is_a_validation_error(currency: str) -> None:
    with pytest.raises(ValidationError) as info:
        capability(price_per_unit=1, currency=currency)
    assert any(error["loc"] == ("currency",) for error in info.value.errors())


@pytest.mark.parametrize(
    "changes",
    [
        {"name": ""},
        {"name": "x" * 129},
        {"url": ""},
        {"capacity": 0},
        {"capacity": -1},
        {"price_per_unit": -1},
        {"price_scaling": -1},
        {"capacity": "many"},
    ],
)
def test_invalid_registrations_are_validation_errors(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        capability(**changes)


# --- registry and slots -----------------------------------------------------------------------


def test_register_get_names() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(name="b"))
    registry.register(capability(name="a"))
    assert registry.names() == ["a", "b"]
    assert registry.get("a").name == "a"
    assert registry.available("a") == 2


def test_unknown_capability() -> None:
    registry = CapabilityRegistry()
    with pytest.raises(UnknownCapability) as info:
        registry.get("missing")
    assert info.value.details["capability"] == "missing"
    assert info.value.status_code == 503
    with pytest.raises(UnknownCapability), registry.slot("missing"):
        pytest.fail("a slot of an unknown capability must not be entered")
    assert registry.available("missing") == 0


def test_slot_enforces_capacity() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=2))
    with registry.slot("echo") as first:
        assert first.name == "echo"
        assert registry.available("echo") == 1
        with registry.slot("echo"):
            assert registry.available("echo") == 0
            with pytest.raises(CapacityExhausted) as info, registry.slot("echo"):
                pytest.fail("a third slot must not be entered")
            assert "2" in info.value.message
            assert info.value.details["capability"] == "echo"
            assert info.value.status_code == 503
            assert registry.available("echo") == 0
        assert registry.available("echo") == 1
    assert registry.available("echo") == 2


def test_slot_is_released_on_exceptions() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    for _ in range(3):
        with pytest.raises(RuntimeError), registry.slot("echo"):
            assert registry.available("echo") == 0
            raise RuntimeError("worker failed")
        assert registry.available("echo") == 1


def test_refused_slot_does_not_leak() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    with registry.slot("echo"):
        for _ in range(5):
            with pytest.raises(CapacityExhausted), registry.slot("echo"):
                pass
    assert registry.available("echo") == 1


async def test_slot_is_released_when_a_task_is_cancelled_mid_way() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    entered = asyncio.Event()

    async def job() -> None:
        with registry.slot("echo"):
            entered.set()
            await asyncio.sleep(3_600)

    task = asyncio.create_task(job())
    await asyncio.wait_for(entered.wait(), timeout=5)
    assert registry.available("echo") == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert registry.available("echo") == 1


async def test_slot_is_released_on_timeout() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))

    async def job() -> None:
        with registry.slot("echo"):
            await asyncio.sleep(3_600)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(job(), timeout=0.05)
    assert registry.available("echo") == 1


async def test_concurrent_tasks_never_exceed_capacity() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=3))
    running = 0
    peak = 0
    refused = 0

    async def job() -> None:
        nonlocal running, peak, refused
        try:
            with registry.slot("echo"):
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.01)
                running -= 1
        except CapacityExhausted:
            refused += 1

    await asyncio.gather(*(job() for _ in range(10)))
    assert peak == 3
    assert refused == 7
    assert registry.available("echo") == 3


def test_unregister() -> None:
    registry = CapabilityRegistry()
    registry.register(capability())
    assert registry.unregister("echo") is True
    assert registry.unregister("echo") is False
    assert registry.names() == []
    assert registry.available("echo") == 0
    with pytest.raises(UnknownCapability):
        registry.get("echo")


def test_unregister_while_busy_then_release() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    with registry.slot("echo"):
        registry.unregister("echo")
    registry.register(capability(capacity=1))
    assert registry.available("echo") == 1


def test_reregistering_replaces_the_record_but_keeps_in_flight_count() -> None:
    """Unlike go-livepeer, re-registration does not reset load (no transient over-admission)."""
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1, price_per_unit=5))
    with registry.slot("echo"):
        registry.register(capability(capacity=1, price_per_unit=9, url="http://new:1"))
        assert registry.get("echo").price_wei_per_second == 9
        assert registry.get("echo").url == "http://new:1"
        assert registry.available("echo") == 0
        with pytest.raises(CapacityExhausted), registry.slot("echo"):
            pass
    assert registry.available("echo") == 1


def test_registrations_survive_a_restart(tmp_path: Path) -> None:
    from tollway.byoc.registrations import RegistrationStore

    store = RegistrationStore(tmp_path / "registry.db")
    first = CapabilityRegistry(store)
    first.register(ExternalCapability(name="a", url="http://127.0.0.1:1", capacity=2))
    first.register(ExternalCapability(name="b", url="http://127.0.0.1:2", price_per_unit=7))
    first.unregister("a")
    store.close()

    restarted = CapabilityRegistry(RegistrationStore(tmp_path / "registry.db"))
    assert restarted.names() == ["b"]
    assert restarted.get("b").price_wei_per_second == 7
    assert restarted.available("b") == 1


# --- the wait queue ---------------------------------------------------------------------------


async def test_a_waiting_request_gets_the_slot_when_one_frees() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))

    async def hold(seconds: float) -> None:
        async with registry.wait_slot("echo", wait_seconds=5, max_waiting=4):
            await asyncio.sleep(seconds)

    holder = asyncio.create_task(hold(0.2))
    await asyncio.sleep(0.01)
    started = asyncio.get_running_loop().time()
    async with registry.wait_slot("echo", wait_seconds=5, max_waiting=4):
        waited = asyncio.get_running_loop().time() - started
        assert registry.available("echo") == 0
    await holder
    assert 0.1 < waited < 1.0
    assert registry.available("echo") == 1


async def test_no_slot_within_the_wait_is_a_503_and_leaks_nothing() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    with registry.slot("echo"):
        with pytest.raises(CapacityExhausted, match=r"no slot freed within 0.1 s"):
            async with registry.wait_slot("echo", wait_seconds=0.1, max_waiting=4):
                pytest.fail("entered a slot that never freed")
    assert registry.available("echo") == 1
    async with registry.wait_slot("echo", wait_seconds=0.1, max_waiting=0):
        pass  # a free slot needs no queue


async def test_a_full_queue_refuses_at_once() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    with registry.slot("echo"):
        waiter = asyncio.create_task(
            registry.wait_slot("echo", wait_seconds=5, max_waiting=1).__aenter__()
        )
        await asyncio.sleep(0.01)
        with pytest.raises(CapacityExhausted, match="1 requests already wait"):
            async with registry.wait_slot("echo", wait_seconds=5, max_waiting=1):
                pytest.fail("the queue was full")
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with registry.wait_slot("echo", wait_seconds=0.1, max_waiting=1):
        pass  # the cancelled waiter left the queue


async def test_unregistering_wakes_the_waiters_with_unknown_capability() -> None:
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    with registry.slot("echo"):

        async def wait() -> None:
            async with registry.wait_slot("echo", wait_seconds=5, max_waiting=4):
                pytest.fail("the capability is gone")

        waiter = asyncio.create_task(wait())
        await asyncio.sleep(0.01)
        registry.unregister("echo")
        with pytest.raises(UnknownCapability):
            await asyncio.wait_for(waiter, 1)


# --- replicas ---------------------------------------------------------------------------------


def two_replicas(registry: CapabilityRegistry, capacity: int = 2) -> None:
    registry.register(capability(replica="r0", url="http://127.0.0.1:1", capacity=capacity))
    registry.register(capability(replica="r1", url="http://127.0.0.1:2", capacity=capacity))


def test_replicas_share_one_name_and_sum_their_capacity() -> None:
    registry = CapabilityRegistry()
    two_replicas(registry, capacity=3)
    assert registry.names() == ["echo"]
    assert registry.get("echo").capacity == 6
    assert registry.available("echo") == 6
    assert [r.replica for r in registry.replicas("echo")] == ["r0", "r1"]


def test_each_slot_goes_to_the_least_loaded_replica() -> None:
    registry = CapabilityRegistry()
    two_replicas(registry)
    with ExitStack() as stack:
        urls = [stack.enter_context(registry.slot("echo")).url for _ in range(4)]
        assert sorted(urls) == ["http://127.0.0.1:1"] * 2 + ["http://127.0.0.1:2"] * 2
        assert registry.in_flight("echo", "r0") == registry.in_flight("echo", "r1") == 2
        assert registry.load("echo") == 1.0
        with pytest.raises(CapacityExhausted), registry.slot("echo"):
            pass
    assert registry.available("echo") == 4


def test_a_slot_can_leave_out_replicas() -> None:
    registry = CapabilityRegistry()
    two_replicas(registry)
    with registry.slot("echo", avoid=["r0"]) as taken, registry.slot("echo", avoid=["r0"]) as too:
        assert taken.replica == too.replica == "r1"
        assert registry.available("echo", avoid=["r0"]) == 0
        with pytest.raises(CapacityExhausted), registry.slot("echo", avoid=["r0"]):
            pass


def test_unregistering_one_replica_drains_it_and_keeps_the_others() -> None:
    registry = CapabilityRegistry()
    two_replicas(registry)
    with registry.slot("echo", avoid=["r1"]):
        assert registry.unregister_replica("echo", "r0") == 1  # still in flight
        assert [r.replica for r in registry.replicas("echo")] == ["r1"]
        assert registry.available("echo") == 2
        assert registry.in_flight("echo", "r0") == 1
    assert registry.in_flight("echo", "r0") == 0
    assert registry.unregister_replica("echo", "r0") == 0
    assert registry.unregister_replica("echo", "r1") == 0
    assert registry.names() == []


def test_unregistering_the_name_removes_every_replica(tmp_path: Path) -> None:
    from tollway.byoc.registrations import RegistrationStore

    store = RegistrationStore(tmp_path / "registry.db")
    registry = CapabilityRegistry(store)
    two_replicas(registry)
    registry.register(capability(name="other"))
    registry.unregister("echo")
    assert registry.names() == ["other"]
    assert CapabilityRegistry(store).names() == ["other"]


def test_replicas_survive_a_restart(tmp_path: Path) -> None:
    from tollway.byoc.registrations import RegistrationStore

    store = RegistrationStore(tmp_path / "registry.db")
    first = CapabilityRegistry(store)
    two_replicas(first)
    first.register(capability(replica="r2", url="http://127.0.0.1:3"))
    first.unregister_replica("echo", "r1")
    restarted = CapabilityRegistry(store)
    assert [r.replica for r in restarted.replicas("echo")] == ["r0", "r2"]
    assert restarted.get("echo").capacity == 4


def test_a_quarantined_replica_gets_no_work_until_it_registers_again() -> None:
    registry = CapabilityRegistry(quarantine_seconds=60)
    two_replicas(registry)
    registry.quarantine("echo", "r0")
    assert registry.available("echo") == 2
    with registry.slot("echo") as first, registry.slot("echo") as second:
        assert first.replica == second.replica == "r1"
    registry.register(capability(replica="r0", url="http://127.0.0.1:9", capacity=2))
    assert registry.available("echo") == 4


def test_quarantine_ends_by_itself() -> None:
    registry = CapabilityRegistry(quarantine_seconds=0.05)
    two_replicas(registry)
    registry.quarantine("echo", "r0")
    assert registry.available("echo") == 2
    time.sleep(0.06)
    assert registry.available("echo") == 4


def test_idle_seconds_count_from_the_last_request() -> None:
    registry = CapabilityRegistry()
    two_replicas(registry)
    with registry.slot("echo", avoid=["r1"]):
        assert registry.idle_seconds("echo", "r0") == 0.0
    time.sleep(0.02)
    assert registry.idle_seconds("echo", "r0") >= 0.02


@pytest.mark.parametrize("replica", ["a\x1fb", "x" * 129, "new\nline"])
def test_replica_names_are_checked(replica: str) -> None:
    with pytest.raises(ValidationError):
        capability(replica=replica)


async def test_a_waiter_avoiding_a_replica_is_woken_by_another() -> None:
    registry = CapabilityRegistry()
    two_replicas(registry, capacity=1)

    async def hold(avoid: list[str]) -> None:
        async with registry.wait_slot("echo", 5, 4, avoid):
            await asyncio.sleep(0.1)

    holder = asyncio.create_task(hold(["r0"]))
    await asyncio.sleep(0.01)
    async with registry.wait_slot("echo", 5, 4, avoid=["r0"]) as taken:
        assert taken.replica == "r1"
    await holder


async def test_a_waiter_that_loses_a_freed_slot_waits_on() -> None:
    """Two waiters woken by one freed slot: the one that loses the race keeps waiting, it
    does not get a 503 while its wait lasts."""
    registry = CapabilityRegistry()
    registry.register(capability(capacity=1))
    outcomes: list[str] = []

    async def request(hold: float) -> None:
        async with registry.wait_slot("echo", wait_seconds=5, max_waiting=4):
            outcomes.append("served")
            await asyncio.sleep(hold)

    first = asyncio.create_task(request(0.1))
    await asyncio.sleep(0.01)
    await asyncio.gather(first, request(0.05), request(0.05))
    assert outcomes == ["served"] * 3
    assert registry.available("echo") == 1


async def test_a_request_wakes_a_cold_replica_and_waits_for_it() -> None:
    woken: list[tuple[str, str]] = []
    registry = CapabilityRegistry(wake=lambda n, r: woken.append((n, r)), cold_wait_seconds=5)
    registry.register(capability(replica="r0", url="", cold=True))
    assert registry.names() == ["echo"]
    assert registry.available("echo") == 0

    async def start_later() -> None:
        await asyncio.sleep(0.1)
        registry.register(capability(replica="r0", url="http://127.0.0.1:7"))

    starter = asyncio.create_task(start_later())
    async with registry.wait_slot("echo", wait_seconds=0.01, max_waiting=4) as taken:
        assert taken.url == "http://127.0.0.1:7"
    await starter
    assert woken == [("echo", "r0")]


def test_only_a_cold_replica_may_register_without_a_url() -> None:
    with pytest.raises(ValidationError, match="url is required"):
        capability(url="")
    assert capability(url="", cold=True).cold


async def test_a_replica_parked_again_is_woken_again_at_once() -> None:
    woken: list[str] = []
    registry = CapabilityRegistry(wake=lambda n, r: woken.append(r), cold_wait_seconds=0.05)
    registry.register(capability(replica="r0", url="", cold=True))
    for _ in range(2):
        with pytest.raises(CapacityExhausted):
            async with registry.wait_slot("echo", wait_seconds=0.01, max_waiting=4):
                pass
        registry.register(capability(replica="r0", url="http://127.0.0.1:7"))  # woke
        registry.register(capability(replica="r0", url="", cold=True))  # idle: parked
    assert woken == ["r0", "r0"]


def test_protocol_is_http_unless_registered_as_triton(tmp_path: Path) -> None:
    from tollway.byoc.registrations import RegistrationStore

    lone = ExternalCapability(name="a", url="http://127.0.0.1:1")
    assert lone.protocol == "http"  # go-livepeer's registrations carry no protocol
    triton = ExternalCapability(name="t", url="http://127.0.0.1:2", protocol="triton")
    path = tmp_path / "registry.db"
    registry = CapabilityRegistry(RegistrationStore(path))
    registry.register(triton)
    assert CapabilityRegistry(RegistrationStore(path)).get("t").protocol == "triton"
    with pytest.raises(ValidationError, match="protocol"):
        ExternalCapability.model_validate(
            {"name": "g", "url": "http://127.0.0.1:3", "protocol": "grpc"}
        )


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://host/x", "http://", "no-scheme"]
)
def test_a_capability_url_is_http_or_https_with_a_host(url: str) -> None:
    with pytest.raises(ValidationError, match="http or https URL"):
        ExternalCapability(name="x", url=url)
    assert ExternalCapability(name="x", url="https://gpu-1.lan:8000/base").url.startswith("https")
