"""`ContainerRuntime` on the local Docker engine, hardened as ARCHITECTURE section 8 asks."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, BuildError, DockerException, NotFound
from docker.types import DeviceRequest

from tollway.byoc.spec import (
    TRICKLE_PORT_LABEL,
    BuildImageInput,
    ContainerInfo,
    ContainerSpec,
    StartedContainer,
)
from tollway.errors import ContainerSetupFailed, WorkerFailed

__all__ = [
    "INTERNAL_NETWORK",
    "LOG_TAIL_CHARS",
    "STOP_TIMEOUT_SECONDS",
    "DockerRuntime",
    "run_as_user",
]

MANAGED_LABEL = "tollway"
# Images built here carry MANAGED_LABEL too and pass it on to any container run from them, so
# only this label, set by `start`, marks a container as ours to list and stop.
CAPABILITY_LABEL = "tollway.capability"
PORT_LABEL = "tollway.port"
INTERNAL_NETWORK = "tollway-internal"
"""Where containers without egress live: an internal bridge (no route out) without
inter-container traffic; the host reaches each one at its address there."""
NON_ROOT_USER = "65534:65534"
CONTAINER_TMP = "/tmp"  # noqa: S108 - a private tmpfs inside the container, not the host's /tmp
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m"
STOP_TIMEOUT_SECONDS = 3
LOG_TAIL_CHARS = 2000


def _gpu_request(device_ids: list[str]) -> list[DeviceRequest] | None:
    """The NVIDIA runtime hook for exactly these GPUs, or nothing for a CPU container."""
    if not device_ids:
        return None
    return [DeviceRequest(driver="nvidia", device_ids=device_ids, capabilities=[["gpu"]])]


def run_as_user(image_user: str) -> str:
    """The image's USER, unless that is root or unset: then nobody, as no container runs as root."""
    user = image_user.strip()
    if user.split(":", 1)[0] in ("", "0", "root"):
        return NON_ROOT_USER
    return user


class DockerRuntime:
    def __init__(self, client: docker.DockerClient | None = None) -> None:
        if client is None:
            try:
                client = docker.from_env()
            except DockerException as exc:
                raise WorkerFailed(f"no Docker engine answers: {exc}") from exc
        self._client = client
        self._network_lock = threading.Lock()

    def build_image(self, request: BuildImageInput) -> str:
        context = Path(request.context_dir)
        if not (context / "Dockerfile").is_file():
            raise ContainerSetupFailed(f"no Dockerfile in {context}", context_dir=str(context))
        try:
            image, _ = self._client.images.build(
                path=str(context),
                tag=request.tag,
                buildargs={"BASE_IMAGE": request.base_image},
                labels={MANAGED_LABEL: "1"},
                rm=True,
                forcerm=True,
                pull=False,
            )
        except BuildError as exc:
            raise ContainerSetupFailed(
                f"building {request.tag} failed: {exc.msg}",
                tag=request.tag,
                log=_build_log_tail(exc.build_log),
            ) from exc
        except (DockerException, OSError) as exc:
            raise _docker_failure(f"building {request.tag}", exc) from exc
        return str(image.id)

    def start(self, spec: ContainerSpec) -> StartedContainer:
        """Start a hardened container. With network "bridge" it may reach out and its port is
        published on 127.0.0.1; with "none" it sits on INTERNAL_NETWORK, reachable from this
        host only, and can reach nothing (Docker publishes no port from an internal network)."""
        try:
            image = self._client.images.get(spec.image)
        except NotFound as exc:
            raise ContainerSetupFailed(f"no image {spec.image}", image=spec.image) from exc
        except (DockerException, OSError) as exc:
            raise _docker_failure(f"looking up {spec.image}", exc) from exc

        port_key = f"{spec.container_port}/tcp"
        name = f"tollway-{spec.capability}-{secrets.token_hex(4)}"
        memory = f"{spec.memory_mb}m"
        egress = spec.network == "bridge"
        network = spec.network if egress else self._internal_network()
        try:
            container = self._client.containers.create(
                spec.image,
                name=name,
                user=run_as_user(image.attrs.get("Config", {}).get("User") or ""),
                environment={"PORT": str(spec.container_port), **spec.env},
                labels={
                    **spec.labels,
                    MANAGED_LABEL: "1",
                    CAPABILITY_LABEL: spec.capability,
                    PORT_LABEL: str(spec.container_port),
                    **(
                        {TRICKLE_PORT_LABEL: str(spec.trickle_port)}
                        if spec.trickle_port is not None
                        else {}
                    ),
                },
                # docker-init as PID 1 forwards SIGTERM and reaps zombies: `stop` stays quick
                # even for a worker that installs no signal handler.
                init=True,
                read_only=True,
                tmpfs={CONTAINER_TMP: TMPFS_OPTIONS},
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                pids_limit=spec.pids_limit,
                mem_limit=memory,
                memswap_limit=memory,
                nano_cpus=round(spec.cpus * 1e9),
                network=network,
                ports={port_key: ("127.0.0.1", None)} if egress else None,
                device_requests=_gpu_request(spec.gpu_device_ids),
            )
        except (DockerException, OSError) as exc:
            raise _docker_failure(f"creating {name}", exc) from exc
        try:
            container.start()
            container.reload()
            info = _info(container)
            if info.url is None or info.host_port is None:
                raise WorkerFailed(
                    f"{name} is not reachable: no published port or address "
                    f"(status {container.status})",
                    container=name,
                    log=_text_tail(container.logs(tail=50)),
                )
        except BaseException as exc:
            self._remove_quietly(container)
            if isinstance(exc, (DockerException, OSError)):
                raise _docker_failure(f"starting {name}", exc) from exc
            raise
        return StartedContainer(
            container_id=str(container.id), name=name, url=info.url, host_port=info.host_port
        )

    def _internal_network(self) -> str:
        """The no-egress network, created on first use. Docker 20.10 does not keep network names
        unique when two creates race, so this worker creates it under a lock, and removes any
        unused duplicate a race between processes left behind (a name that matches two networks
        cannot be used)."""
        with self._network_lock:
            try:
                found = [
                    n
                    for n in self._client.networks.list(names=[INTERNAL_NETWORK])
                    if n.name == INTERNAL_NETWORK
                ]
                if not found:
                    self._client.networks.create(
                        INTERNAL_NETWORK,
                        driver="bridge",
                        internal=True,
                        check_duplicate=True,
                        labels={MANAGED_LABEL: "1"},
                        options={"com.docker.network.bridge.enable_icc": "false"},
                    )
                for extra in sorted(found, key=lambda n: str(n.attrs.get("Created", "")))[1:]:
                    with contextlib.suppress(APIError):  # in use: it stays, and so does the error
                        extra.remove()
            except APIError as exc:
                if exc.status_code != 409:  # created meanwhile by another worker
                    raise _docker_failure(f"creating network {INTERNAL_NETWORK}", exc) from exc
            except (DockerException, OSError) as exc:
                raise _docker_failure(f"looking up network {INTERNAL_NETWORK}", exc) from exc
        return INTERNAL_NETWORK

    def networks(self) -> list[str]:
        """CIDRs of the no-egress network (created if need be), where replicas without egress
        listen."""
        self._internal_network()
        try:
            network = self._client.networks.get(INTERNAL_NETWORK)
        except (DockerException, OSError) as exc:
            raise _docker_failure(f"looking up network {INTERNAL_NETWORK}", exc) from exc
        configs = (network.attrs.get("IPAM") or {}).get("Config") or []
        return [str(c["Subnet"]) for c in configs if c.get("Subnet")]

    def stop(self, container_id: str) -> None:
        try:
            container = self._client.containers.get(container_id)
            if CAPABILITY_LABEL not in container.labels:
                raise ContainerSetupFailed(f"{container_id} is not a tollway container")
            container.stop(timeout=STOP_TIMEOUT_SECONDS)
            container.remove(force=True, v=True)
        except NotFound:
            return
        except APIError as exc:
            if exc.status_code == 409 and "in progress" in str(exc.explanation):
                return
            raise _docker_failure(f"stopping {container_id}", exc) from exc
        except (DockerException, OSError) as exc:
            raise _docker_failure(f"stopping {container_id}", exc) from exc

    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        wanted = {**(labels or {}), MANAGED_LABEL: "1"}
        label_filter = [f"{key}={value}" for key, value in wanted.items()] + [CAPABILITY_LABEL]
        try:
            containers = self._client.containers.list(all=True, filters={"label": label_filter})
        except (DockerException, OSError) as exc:
            raise _docker_failure("listing containers", exc) from exc
        return [_info(container) for container in containers]

    def status(self, container_id: str) -> str | None:
        try:
            return str(self._client.containers.get(container_id).status)
        except NotFound:
            return None
        except (DockerException, OSError) as exc:
            raise _docker_failure(f"inspecting {container_id}", exc) from exc

    def logs(self, container_id: str, tail: int = 100) -> str:
        try:
            raw = self._client.containers.get(container_id).logs(
                stdout=True, stderr=True, tail=tail
            )
        except NotFound as exc:
            raise WorkerFailed(f"no container {container_id}") from exc
        except (DockerException, OSError) as exc:
            raise _docker_failure(f"reading logs of {container_id}", exc) from exc
        return bytes(raw).decode("utf-8", "replace")

    def _remove_quietly(self, container: Any) -> None:
        try:
            container.remove(force=True, v=True)
        except (DockerException, OSError):
            pass


def _info(container: Any) -> ContainerInfo:
    """Where the host reaches the container: its port published on 127.0.0.1, or else its
    address on INTERNAL_NETWORK (with `host_port` the container's own port)."""
    settings = container.attrs["NetworkSettings"]
    ports: dict[str, list[dict[str, str]] | None] = settings.get("Ports") or {}
    host_port = next((int(b["HostPort"]) for bs in ports.values() for b in bs or [] if b), None)
    url = f"http://127.0.0.1:{host_port}" if host_port else None
    internal = (settings.get("Networks") or {}).get(INTERNAL_NETWORK) or {}
    port_label = container.labels.get(PORT_LABEL, "")
    if url is None and internal.get("IPAddress") and port_label.isdigit():
        host_port = int(port_label)
        url = f"http://{internal['IPAddress']}:{host_port}"
    return ContainerInfo(
        container_id=str(container.id),
        name=str(container.name),
        status=str(container.status),
        labels=dict(container.labels),
        url=url,
        host_port=host_port,
        pid=int((container.attrs.get("State") or {}).get("Pid") or 0) or None,
    )


def _docker_failure(action: str, exc: Exception) -> WorkerFailed:
    """Client errors (bad reference, bad config) will fail again; the rest may not."""
    if isinstance(exc, APIError) and exc.is_client_error() and exc.status_code != 409:
        return ContainerSetupFailed(f"{action}: {exc.explanation or exc}")
    detail = exc.explanation if isinstance(exc, APIError) else exc
    return WorkerFailed(f"{action}: {detail}")


def _build_log_tail(build_log: Iterable[dict[str, Any]]) -> str:
    lines = [str(chunk.get("stream") or chunk.get("error") or "") for chunk in build_log]
    return "".join(lines)[-LOG_TAIL_CHARS:]


def _text_tail(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[-LOG_TAIL_CHARS:]
