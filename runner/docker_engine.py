"""``ContainerEngine`` and ``ImageClient`` over the Docker SDK (the real engine)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.docker_container import DockerContainer
from runner.docker_layer import place_writable_layer
from runner.engine import (
    ContainerSpec,
    EngineInfo,
    GpuRequest,
    LabelledContainer,
    LabelledNetwork,
    NetworkInfo,
    NetworkSpec,
)
from runner.errors import InfraError
from runner.image import RECIPE_LABEL

# The engine's own masked paths (Docker 20.10+: oci/defaults.go). A container spec's masked_paths
# replace the engine's list, so reprobot sends this list and adds its own.
ENGINE_MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip

try:  # the SDK is a runtime dependency; keep the import error one clear line
    import docker
    import docker.errors
    from docker.types import DeviceRequest, LogConfig, Mount
except ImportError:  # pragma: no cover
    docker = None


def parse_gpus(spec: str) -> Any:
    """``all`` | ``N`` | ``device=0,1`` -> a Docker DeviceRequest for NVIDIA GPUs (Docker's --gpus)."""
    spec = spec.strip()
    caps = [["gpu"]]
    if spec == "all":
        return DeviceRequest(driver="nvidia", count=-1, capabilities=caps)
    if spec.isdigit() and int(spec) > 0:
        return DeviceRequest(driver="nvidia", count=int(spec), capabilities=caps)
    if spec.startswith("device="):
        ids = [d for d in spec.removeprefix("device=").split(",") if d]
        if ids:
            return DeviceRequest(driver="nvidia", device_ids=ids, capabilities=caps)
    raise InfraError(f"--gpus {spec!r}: expected 'all', a positive count, or 'device=ID[,ID...]'")


def gpu_create_args(request: GpuRequest) -> dict[str, Any]:
    """The create() arguments that hand the GPUs of ``request`` to a container, per method.

    hook: a DeviceRequest with driver "nvidia" (what ``docker run --gpus`` sends; the daemon runs
    nvidia-container-runtime-hook). runtime: the registered "nvidia" runtime, which reads
    NVIDIA_VISIBLE_DEVICES. cdi: a DeviceRequest with driver "cdi" and fully qualified device
    names (what ``docker run --device nvidia.com/gpu=all`` sends on engines with CDI).
    """
    spec = request.spec.strip()
    parse_gpus(spec)  # one validation for every method
    if request.method == "hook":
        return {"device_requests": [parse_gpus(spec)]}
    if spec == "all":
        ids = ["all"]
    elif spec.isdigit():
        ids = [str(i) for i in range(int(spec))]
    else:
        ids = [d for d in spec.removeprefix("device=").split(",") if d]
    if request.method == "cdi":
        return {
            "device_requests": [DeviceRequest(driver="cdi", device_ids=[f"nvidia.com/gpu={i}" for i in ids])]
        }
    return {
        "runtime": "nvidia",
        "environment": {
            "NVIDIA_VISIBLE_DEVICES": ",".join(ids),
            "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
        },
    }


class DockerEngine:
    """The Docker engine at ``base_url`` (default: the environment's DOCKER_HOST or the local socket)."""

    def __init__(self, base_url: str | None = None, timeout_s: int = 120) -> None:
        if docker is None:  # pragma: no cover
            raise InfraError("the 'docker' Python package is not installed")
        try:
            if base_url:
                self._client = docker.DockerClient(base_url=base_url, timeout=timeout_s)
            else:
                self._client = docker.from_env(timeout=timeout_s)
            self._client.ping()
        except Exception as exc:
            raise InfraError(f"cannot reach the Docker engine ({exc.__class__.__name__}: {exc})") from None

    # ContainerEngine
    def image_digest(self, image: str) -> str:
        try:
            return str(self._client.images.get(image).id)
        except docker.errors.ImageNotFound:
            raise InfraError(
                f"image {image!r} is not on this machine (build it with `reprobot image build`)"
            ) from None

    def image_labels(self, image: str) -> Mapping[str, str]:
        try:
            return dict(self._client.images.get(image).labels or {})
        except docker.errors.ImageNotFound:
            return {}

    def info(self) -> EngineInfo:
        try:
            data = self._client.info()
            version = str(self._client.version().get("Version") or data.get("ServerVersion") or "")
        except Exception as exc:
            raise InfraError(f"the Docker engine did not answer `info` ({exc})") from None
        return EngineInfo(
            version=version,
            runtimes=frozenset((data.get("Runtimes") or {}).keys()),
            security_options=tuple(str(o) for o in data.get("SecurityOptions") or ()),
            cpus=int(data.get("NCPU") or os.cpu_count() or 1),
            cdi_spec_dirs=tuple(str(d) for d in data.get("CDISpecDirs") or ()),
            docker_root=str(data.get("DockerRootDir") or ""),
            storage_driver=str(data.get("Driver") or ""),
            backing_filesystem=next(
                (str(v) for k, v in data.get("DriverStatus") or () if k == "Backing Filesystem"), ""
            ),
        )

    def runtimes(self) -> frozenset[str]:
        return self.info().runtimes

    def host_cpus(self) -> int:
        return self.info().cpus

    def create(self, spec: ContainerSpec) -> DockerContainer:
        half = max(spec.log_max_bytes // 2, 1024 * 1024)
        mounts = [Mount(target=d, source=None, type="volume") for d in spec.scratch_dirs]
        mounts += [Mount(target=target, source=host, type="bind") for host, target in spec.scratch_binds]
        if spec.workspace is not None:
            mounts.insert(0, Mount(target=spec.workdir, source=spec.workspace, type="bind", read_only=False))
        security = ["no-new-privileges:true"]
        if spec.seccomp_profile is not None:
            security.append(f"seccomp={spec.seccomp_profile}")
        host: dict[str, Any] = dict(
            init=True,  # docker-init reaps zombies; when reproduce.sh ends, everything ends
            network_mode=spec.network,
            cap_drop=["ALL"],
            cap_add=list(spec.cap_add) or None,
            security_opt=security,
            pids_limit=spec.pids_limit,
            mem_limit=spec.memory_bytes,
            memswap_limit=spec.memory_bytes,  # no swap: swap limit equals memory limit
            nano_cpus=int(spec.cpus * 1e9),
            read_only=spec.read_only_root,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={spec.tmpfs_size},mode=1777"} if spec.tmpfs_size else None,
            mounts=mounts,
            log_config=LogConfig(type="json-file", config={"max-size": str(half), "max-file": "2"}),
            ipc_mode="private",
            runtime=spec.runtime,
        )
        environment = dict(spec.environment)
        if spec.gpu is not None:
            extra = gpu_create_args(spec.gpu)
            environment.update(extra.pop("environment", {}))
            if "runtime" in extra and spec.runtime not in (None, extra["runtime"]):
                raise InfraError(f"runtime {spec.runtime!r} cannot hand over GPUs the 'runtime' way (nvidia)")
            host.update(extra)
        try:
            host_config = self._client.api.create_host_config(**host)
            if spec.masked_paths:
                host_config["MaskedPaths"] = [*ENGINE_MASKED_PATHS, *spec.masked_paths]
            created = self._client.api.create_container(
                spec.image,
                command=list(spec.command),
                working_dir=spec.workdir,
                user=spec.user,
                environment=environment,
                labels=dict(spec.labels),
                detach=True,
                stdin_open=False,
                tty=False,
                host_config=host_config,
            )
            container = self._client.containers.get(created["Id"])
        except docker.errors.ImageNotFound:
            raise InfraError(
                f"image {spec.image!r} is not on this machine (`reprobot image build`)"
            ) from None
        except docker.errors.APIError as exc:
            raise InfraError(f"the Docker engine refused the container: {exc.explanation or exc}") from None
        result = DockerContainer(self._client, container)
        try:
            if spec.layer_dir is not None:
                graph = container.attrs.get("GraphDriver") or {}
                result._layer_mount = place_writable_layer(graph, Path(spec.layer_dir))
        except BaseException:
            result.remove()
            raise
        return result

    def list_labelled(self, label: str) -> list[str]:
        return [str(c["Id"]) for c in self._client.api.containers(all=True, filters={"label": label})]

    def labelled_containers(self, label: str) -> list[LabelledContainer]:
        found = self._client.api.containers(all=True, filters={"label": label})  # one call, no inspect races
        return [
            LabelledContainer(
                str(c["Id"]),
                dict(c.get("Labels") or {}),
                c.get("State") in ("running", "restarting", "paused"),
            )
            for c in found
        ]

    def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        options = {
            "com.docker.network.bridge.name": spec.bridge,
            "com.docker.network.bridge.enable_icc": "false",  # no traffic between its containers
        }
        try:
            net = self._client.networks.create(
                spec.name, driver="bridge", internal=spec.internal, options=options,
                labels=dict(spec.labels), check_duplicate=True,
            )  # fmt: skip
            net.reload()
        except docker.errors.APIError as exc:
            detail = exc.explanation or exc
            raise InfraError(f"the Docker engine could not create network {spec.name}: {detail}") from None
        configs = (net.attrs.get("IPAM") or {}).get("Config") or []
        v4 = next((c for c in configs if ":" not in str(c.get("Subnet", ""))), None)
        if not v4 or not v4.get("Gateway"):
            self.remove_network(spec.name)
            raise InfraError(f"network {spec.name}: the engine gave it no IPv4 gateway")
        return NetworkInfo(spec.name, str(v4["Subnet"]), str(v4["Gateway"]).split("/")[0])

    def remove_network(self, name: str) -> None:
        try:
            net = self._client.networks.get(name)
        except docker.errors.NotFound:
            return
        try:
            net.reload()
            for cid in net.attrs.get("Containers") or {}:
                try:
                    net.disconnect(cid, force=True)
                except docker.errors.APIError:
                    pass
            net.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise InfraError(f"cannot remove network {name}: {exc.explanation or exc}") from None

    def labelled_networks(self, label: str) -> list[LabelledNetwork]:
        found = self._client.api.networks(filters={"label": label})
        return [LabelledNetwork(str(n.get("Name")), dict(n.get("Labels") or {})) for n in found]

    def kill_container(self, container_id: str) -> None:
        try:
            self._client.api.kill(container_id)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "is not running" not in str(exc):
                raise InfraError(f"cannot kill container {container_id[:12]}: {exc}") from None

    def remove_container(self, container_id: str) -> None:
        try:
            self._client.containers.get(container_id).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise InfraError(f"cannot remove container {container_id[:12]}: {exc}") from None

    # ImageClient
    def recipe_label(self, image: str) -> str | None:
        try:
            labels = self._client.images.get(image).labels or {}
        except docker.errors.ImageNotFound:
            return None
        value = labels.get(RECIPE_LABEL)
        return str(value) if value else None

    def import_tarball(self, tarball: Path, image: str, changes: Sequence[str]) -> str:
        repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        try:
            out = self._client.api.import_image_from_file(
                str(tarball), repository=repository, tag=tag or "latest", changes=list(changes)
            )
        except docker.errors.APIError as exc:
            raise InfraError(f"docker import failed: {exc.explanation or exc}") from None
        for line in str(out).splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if "error" in data:
                raise InfraError(f"docker import failed: {data['error']}")
        return self.image_digest(image)

    def remove_image(self, image: str) -> None:
        try:
            self._client.images.remove(image, force=True)
        except docker.errors.ImageNotFound:
            pass
