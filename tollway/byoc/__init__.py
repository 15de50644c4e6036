"""The container world: the declaration file, placement on GPU workers, replicas and their
registry, Docker and Triton runtimes, GPU inventory, health, and the container contract
(CONTRACT.md) with its checker."""

__all__ = [
    "check",
    "declaration",
    "docker_runtime",
    "fleet",
    "gpus",
    "health",
    "placement",
    "registry",
    "replica",
    "runtime",
    "spec",
    "triton_host",
    "triton_runtime",
    "triton_wire",
]
