"""Capabilities registered on an orchestrator, with capacity enforced at request time.

Registration JSON follows go-livepeer's ExternalCapability.
Unlike go-livepeer, a full capability refuses work (503), every slot is released on every
path, errors and timeouts included, and registrations survive an orchestrator restart.

A capability may have several replicas (tollway's `replica` field; a registration without one
replaces the name's unnamed replica, as in go-livepeer). Its capacity is theirs summed, and each
request takes a slot on the least-loaded replica. A replica found dead mid-request is
quarantined for `quarantine_seconds` (until it registers again), so new work avoids it while
its ContainerWorkflow notices and replaces it. A cold replica (cold-swap, not running) has no
slots: a request that finds none free calls `wake(name, replica)` for it and waits up to
`cold_wait_seconds` for it to register warm.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager

from tollway import metrics
from tollway.byoc.registrations import RegistrationStore
from tollway.errors import CapacityExhausted, UnknownCapability
from tollway.protocol.capability import ExternalCapability

__all__ = ["CapabilityRegistry", "Key"]

WAKE_AGAIN_SECONDS = 10.0


Key = tuple[str, str]
"""(capability name, replica)"""


class CapabilityRegistry:
    """Registrations, kept in `store` when one is given (in memory only otherwise)."""

    def __init__(
        self,
        store: RegistrationStore | None = None,
        quarantine_seconds: float = 15.0,
        wake: Callable[[str, str], None] | None = None,
        cold_wait_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._quarantine_seconds = quarantine_seconds
        self._wake = wake
        self._cold_wait_seconds = cold_wait_seconds
        self._woken: dict[Key, float] = {}
        self._replicas: dict[str, dict[str, ExternalCapability]] = {}
        self._in_flight: dict[Key, int] = {}
        self._quarantined_until: dict[Key, float] = {}
        self._last_used: dict[Key, float] = {}
        self._waiting: dict[str, int] = {}
        self._freed: dict[str, asyncio.Event] = {}
        for body in store.bodies() if store else []:
            capability = ExternalCapability.model_validate_json(body)
            self._replicas.setdefault(capability.name, {})[capability.replica] = capability

    # --- registration ---------------------------------------------------------------------

    def register(self, capability: ExternalCapability) -> None:
        key = (capability.name, capability.replica)
        if self._store:
            self._store.save(*key, capability.model_dump_json())
        self._replicas.setdefault(capability.name, {})[capability.replica] = capability
        self._quarantined_until.pop(key, None)
        self._woken.pop(key, None)  # parked again or running: the next miss may wake it
        self._last_used[key] = time.monotonic()
        self._changed(capability.name)

    def unregister(self, name: str) -> bool:
        """Forget `name` and all its replicas (go-livepeer's unregister)."""
        if self._store:
            self._store.forget(name)
        removed = self._replicas.pop(name, None) is not None
        self._changed(name)
        return removed

    def unregister_replica(self, name: str, replica: str) -> int:
        """Forget one replica, so no new work goes to it; returns the requests it still has in
        flight (they finish: draining)."""
        if self._store:
            self._store.save(name, replica, None)
        replicas = self._replicas.get(name, {})
        replicas.pop(replica, None)
        if not replicas:
            self._replicas.pop(name, None)
        self._changed(name)
        return self._in_flight.get((name, replica), 0)

    def quarantine(self, name: str, replica: str) -> None:
        """Send no new work to a replica that dropped a request, until it registers again or
        `quarantine_seconds` pass."""
        self._quarantined_until[(name, replica)] = time.monotonic() + self._quarantine_seconds
        self._changed(name)

    # --- reading --------------------------------------------------------------------------

    def get(self, name: str) -> ExternalCapability:
        """The capability as one: its first replica's registration with all replicas' capacity."""
        replicas = self._replicas.get(name)
        if not replicas:
            raise UnknownCapability(f"capability {name!r} is not registered here", capability=name)
        first = replicas[min(replicas)]
        if len(replicas) == 1:
            return first
        return first.model_copy(update={"capacity": sum(r.capacity for r in replicas.values())})

    def replicas(self, name: str) -> list[ExternalCapability]:
        return [r for _, r in sorted(self._replicas.get(name, {}).items())]

    def in_flight(self, name: str, replica: str = "") -> int:
        return self._in_flight.get((name, replica), 0)

    def idle_seconds(self, name: str, replica: str = "") -> float:
        """Seconds since the replica last finished a request (or registered); 0 while busy."""
        key = (name, replica)
        if self._in_flight.get(key, 0):
            return 0.0
        return time.monotonic() - self._last_used.get(key, time.monotonic())

    def load(self, name: str) -> float:
        """Share of the capability's capacity in use, 0 to 1."""
        replicas = self._replicas.get(name)
        if not replicas:
            return 0.0
        capacity = sum(r.capacity for r in replicas.values())
        busy = sum(self._in_flight.get((name, r), 0) for r in replicas)
        return min(1.0, busy / capacity)

    def available(self, name: str, avoid: Collection[str] = ()) -> int:
        """Free slots on replicas in service, leaving out those in `avoid`."""
        return sum(free for free, _ in self._free_replicas(name, avoid))

    def names(self) -> list[str]:
        return sorted(self._replicas)

    def _free_replicas(
        self, name: str, avoid: Collection[str] = ()
    ) -> list[tuple[int, ExternalCapability]]:
        now = time.monotonic()
        found = []
        for replica, capability in self._replicas.get(name, {}).items():
            key = (name, replica)
            if capability.cold or replica in avoid or self._quarantined_until.get(key, 0.0) > now:
                continue
            free = capability.capacity - self._in_flight.get(key, 0)
            if free > 0:
                found.append((free, capability))
        return found

    # --- slots ----------------------------------------------------------------------------

    @contextmanager
    def slot(self, name: str, avoid: Collection[str] = ()) -> Iterator[ExternalCapability]:
        """A slot on the replica with the most free share of its capacity, leaving out those in
        `avoid`; CapacityExhausted when none has one."""
        capability = self.get(name)
        free = self._free_replicas(name, avoid)
        if not free:
            raise CapacityExhausted(
                f"capability {name!r} is at capacity ({capability.capacity})", capability=name
            )
        replica = max(free, key=lambda f: (f[0] / f[1].capacity, f[1].replica == ""))[1]
        key = (name, replica.replica)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        self._changed(name)
        try:
            yield replica
        finally:
            self._in_flight[key] -= 1
            self._last_used[key] = time.monotonic()
            self._changed(name)
            freed = self._freed.get(name)
            if freed is not None:
                freed.set()

    @asynccontextmanager
    async def wait_slot(
        self, name: str, wait_seconds: float, max_waiting: int, avoid: Collection[str] = ()
    ) -> AsyncIterator[ExternalCapability]:
        """A slot as `slot` gives one, but when all are busy wait up to `wait_seconds` for one
        to free, in a queue of at most `max_waiting`; CapacityExhausted (503) after that."""
        capability = self.get(name)
        if self.available(name, avoid) > 0:
            with self.slot(name, avoid) as taken:
                yield taken
            return
        if self._wake_cold(name):
            wait_seconds = max(wait_seconds, self._cold_wait_seconds)
        waiting = self._waiting.get(name, 0)
        if waiting >= max_waiting:
            raise CapacityExhausted(
                f"capability {name!r} is at capacity ({capability.capacity}) and "
                f"{waiting} requests already wait for it",
                capability=name,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        self._waiting[name] = waiting + 1
        try:
            # Another request may take a freed slot before this one resumes: wait again then.
            while self.available(name, avoid) <= 0:
                try:
                    await asyncio.wait_for(
                        self._until_free(name, avoid), max(0.0, deadline - loop.time())
                    )
                except TimeoutError as exc:
                    raise CapacityExhausted(
                        f"capability {name!r} is at capacity ({capability.capacity}): no slot "
                        f"freed within {wait_seconds:g} s",
                        capability=name,
                    ) from exc
        finally:
            self._waiting[name] -= 1
        with self.slot(name, avoid) as taken:
            yield taken

    def _wake_cold(self, name: str) -> bool:
        """Ask each cold replica of `name` to start (at most once per WAKE_AGAIN_SECONDS);
        True when there is one to wait for."""
        cold = [r for r in self._replicas.get(name, {}).values() if r.cold]
        now = time.monotonic()
        for replica in cold:
            key = (name, replica.replica)
            asked = self._woken.get(key)
            if self._wake is not None and (asked is None or now - asked >= WAKE_AGAIN_SECONDS):
                self._woken[key] = now
                self._wake(name, replica.replica)
        return bool(cold) and self._wake is not None

    async def _until_free(self, name: str, avoid: Collection[str]) -> None:
        freed = self._freed.setdefault(name, asyncio.Event())
        while self.available(name, avoid) <= 0:
            self.get(name)  # unregistered while waiting: UnknownCapability
            freed.clear()
            await freed.wait()

    def _changed(self, name: str) -> None:
        """Publish the replicas' states and wake waiters (a registration may free a slot)."""
        now = time.monotonic()
        counts = {"idle": 0, "busy": 0, "quarantined": 0, "cold": 0}
        for replica, capability in self._replicas.get(name, {}).items():
            key = (name, replica)
            if capability.cold:
                counts["cold"] += 1
            elif self._quarantined_until.get(key, 0.0) > now:
                counts["quarantined"] += 1
            else:
                counts["busy" if self._in_flight.get(key, 0) else "idle"] += 1
        for state, count in counts.items():
            metrics.REPLICAS.labels(name, state).set(count)
        freed = self._freed.get(name)
        if freed is not None:
            freed.set()
