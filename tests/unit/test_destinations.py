"""Where a registered capability may point: never link-local, never the orchestrator's own
services; only loopback, the GPU workers' hosts and networks, and the operator's hosts."""

from __future__ import annotations

import pytest

from tollway.byoc.destinations import CapabilityDestinations
from tollway.errors import BadRequest, NoGpuWorker

OWN = ["http://127.0.0.1:8545", "http://127.0.0.1:8935", "https://rpc.example:443"]


def refused(destinations: CapabilityDestinations, url: str) -> str:
    with pytest.raises(BadRequest) as refusal:
        destinations.check(url)
    assert refusal.value.details["field"] == "url"
    return refusal.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[fe80::1]:8080/",
        "http://0.0.0.0:9000/",
        "http://224.0.0.1/",
    ],
)
def test_link_local_and_other_non_hosts_are_refused(url: str) -> None:
    assert "may not point at" in refused(CapabilityDestinations.of(OWN, []), url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8545",  # the chain RPC
        "http://localhost:8545/",  # the same port by another loopback name
        "http://127.0.0.2:8935/x",  # this API on another loopback address
        "https://rpc.example/",  # the fallback RPC, its port implied
    ],
)
def test_the_orchestrators_own_services_are_refused(url: str) -> None:
    assert "own services" in refused(CapabilityDestinations.of(OWN, []), url)


def test_by_default_only_loopback_and_the_gpu_workers_are_allowed() -> None:
    destinations = CapabilityDestinations.of(OWN, [])
    workers = ["192.168.7.20", "172.18.0.0/16", "gpu-3.lan"]
    for url in (
        "http://127.0.0.1:9000",
        "http://localhost:9000",
        "http://172.18.0.5:8000",
        "http://192.168.7.20:8000",
        "https://gpu-3.lan:7000",
    ):
        destinations.check(url, workers)
    for url in ("http://172.19.0.5:8000", "http://192.168.7.21:8000", "https://gpu-1.lan:7000"):
        assert "capability_hosts" in refused(destinations, url)
        with pytest.raises(BadRequest):
            destinations.check(url, workers)


def test_an_unknown_host_is_retried_until_every_gpu_worker_has_reported() -> None:
    """Just after a restart a GPU worker may not have reported yet: 503, tried again."""
    destinations = CapabilityDestinations.of(OWN, [])
    with pytest.raises(NoGpuWorker) as refusal:
        destinations.check("http://172.19.0.5:8000", [], settled=False)
    assert refusal.value.status_code == 503
    assert "not every GPU worker has reported" in refusal.value.message
    assert "own services" in refused(destinations, "http://127.0.0.1:8545")  # never retried


def test_a_star_allows_any_host_but_never_the_forbidden_ones() -> None:
    destinations = CapabilityDestinations.of(OWN, ["*"])
    for url in ("http://172.18.0.5:8000", "https://gpu-1.lan:7000", "http://[2001:db8::1]:80"):
        destinations.check(url)
    assert "may not point at" in refused(destinations, "http://169.254.169.254/")
    assert "own services" in refused(destinations, "https://rpc.example/")


def test_with_a_host_list_only_those_and_loopback_are_allowed() -> None:
    destinations = CapabilityDestinations.of(OWN, ["gpu-1.lan", "172.18.0.0/16", "10.0.0.7"])
    for url in (
        "http://127.0.0.1:9000",
        "http://localhost:9000",
        "http://GPU-1.lan:7000",
        "http://172.18.3.4:8000",
        "http://10.0.0.7:1",
    ):
        destinations.check(url)
    for url in ("http://gpu-2.lan:7000", "http://172.19.0.1:80", "http://10.0.0.8:1"):
        assert "capability_hosts" in refused(destinations, url)


def test_a_url_without_host_or_with_a_bad_port_is_refused() -> None:
    destinations = CapabilityDestinations.of(OWN, [])
    refused(destinations, "http:///x")
    refused(destinations, "http://127.0.0.1:99999/")
