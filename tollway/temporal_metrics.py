"""The Temporal SDK's own metrics (`temporal_*`: task latencies, slots, polls, failures) in the
process's Prometheus registry, beside tollway's: the SDK's core writes each update to a buffer,
which a thread drains every second into series that every `/metrics` answer includes. So a
worker's one metrics port serves both, and no second exporter port is opened."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import REGISTRY, Metric
from prometheus_client.registry import Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

__all__ = ["TemporalMetrics", "use_temporal_metrics"]

BUFFER_SIZE = 10_000
DRAIN_SECONDS = 1.0
BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Labels = tuple[tuple[str, str], ...]

_installed: TemporalMetrics | None = None
_install_lock = threading.Lock()


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_SECONDS))
    count: int = 0
    total: float = 0.0


@dataclass
class _Series:
    kind: int
    description: str
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, _Histogram] = field(default_factory=dict)


class TemporalMetrics(Collector):
    """Series built from the SDK's buffered updates: counters summed, gauges last, histograms
    (durations in seconds) bucketed."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self._buffer = buffer
        self._series: dict[str, _Series] = {}
        self._lock = threading.Lock()

    def drain(self) -> int:
        """Take the buffer's updates in; how many."""
        with self._lock:
            updates = self._buffer.retrieve_updates()
            for update in updates:
                metric = update.metric
                series = self._series.get(metric.name)
                if series is None:
                    series = _Series(metric.kind, metric.description or metric.name)
                    self._series[metric.name] = series
                labels = tuple(sorted((k, str(v)) for k, v in update.attributes.items()))
                if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                    series.values[labels] = series.values.get(labels, 0.0) + update.value
                elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                    series.values[labels] = float(update.value)
                else:
                    histogram = series.histograms.setdefault(labels, _Histogram())
                    value = float(update.value)
                    index = bisect.bisect_left(BUCKETS_SECONDS, value)
                    if index < len(BUCKETS_SECONDS):
                        histogram.buckets[index] += 1
                    histogram.count += 1
                    histogram.total += value
        return len(updates)

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            for name, series in sorted(self._series.items()):
                yield _family(name, series)


def _family(name: str, series: _Series) -> Metric:
    if series.kind == BUFFERED_METRIC_KIND_COUNTER:
        family = Metric(name, series.description, "counter")
        for labels, value in series.values.items():
            family.add_sample(name + "_total", dict(labels), value)
        return family
    if series.kind == BUFFERED_METRIC_KIND_GAUGE:
        family = Metric(name, series.description, "gauge")
        for labels, value in series.values.items():
            family.add_sample(name, dict(labels), value)
        return family
    family = Metric(name, series.description, "histogram")
    for labels, histogram in series.histograms.items():
        below = 0
        for bound, count in zip(BUCKETS_SECONDS, histogram.buckets, strict=True):
            below += count
            family.add_sample(name + "_bucket", {**dict(labels), "le": str(bound)}, below)
        family.add_sample(name + "_bucket", {**dict(labels), "le": "+Inf"}, histogram.count)
        family.add_sample(name + "_count", dict(labels), histogram.count)
        family.add_sample(name + "_sum", dict(labels), histogram.total)
    return family


def use_temporal_metrics() -> TemporalMetrics:
    """Make the process's Temporal runtime buffer its metrics into the Prometheus registry
    (once; before the first client connects, which fixes the runtime it uses)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            return _installed
        buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
        Runtime.set_default(
            Runtime(telemetry=TelemetryConfig(metrics=buffer)), error_if_already_set=False
        )
        metrics = TemporalMetrics(buffer)
        REGISTRY.register(metrics)
        threading.Thread(target=_drain_forever, args=(metrics,), daemon=True).start()
        _installed = metrics
        return metrics


def _drain_forever(metrics: TemporalMetrics) -> None:
    stop = threading.Event()
    while not stop.wait(DRAIN_SECONDS):
        metrics.drain()
