"""``ContainerEngine`` and ``ImageClient`` over the Docker SDK (the real engine)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.engine import ContainerSpec, EngineInfo, ExitState, GpuRequest, LabelledContainer
from runner.errors import InfraError
from runner.image import RECIPE_LABEL

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


class DockerContainer:
    def __init__(self, client: Any, container: Any) -> None:
        self._client = client
        self._c = container
        self.id: str = container.id

    def start(self) -> None:
        try:
            self._c.start()
        except docker.errors.APIError as exc:
            detail = exc.explanation or exc
            raise InfraError(f"the Docker engine could not start the container: {detail}") from None

    def log_stream(self) -> Iterator[bytes]:
        # The json-file driver writes the log to disk whatever we do, so a slow reader never
        # blocks the container; follow=True reads from the beginning, so nothing is lost.
        yield from self._c.logs(stream=True, follow=True, stdout=True, stderr=True)

    def wait(self, timeout_s: float) -> bool:
        try:
            self._c.wait(timeout=max(timeout_s, 0.01))
            return True
        except Exception as exc:  # requests' ReadTimeout/ConnectionError on timeout
            if "timed out" in str(exc).lower() or exc.__class__.__name__ in (
                "ReadTimeout",
                "ConnectionError",
            ):
                return False
            raise

    def kill(self) -> None:
        try:
            self._c.kill()
        except docker.errors.APIError:
            pass  # already stopped

    def exit_state(self) -> ExitState:
        self._c.reload()
        state = self._c.attrs.get("State", {})
        running = state.get("Running", False)
        code = None if running else state.get("ExitCode")
        return ExitState(exit_code=code, oom_killed=bool(state.get("OOMKilled")))

    def remove(self) -> None:
        try:
            self._c.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise


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
        )

    def runtimes(self) -> frozenset[str]:
        return self.info().runtimes

    def host_cpus(self) -> int:
        return self.info().cpus

    def create(self, spec: ContainerSpec) -> DockerContainer:
        half = max(spec.log_max_bytes // 2, 1024 * 1024)
        mounts = [Mount(target=d, source=None, type="volume") for d in spec.scratch_dirs]
        if spec.workspace is not None:
            mounts.insert(0, Mount(target=spec.workdir, source=spec.workspace, type="bind", read_only=False))
        kwargs: dict[str, Any] = dict(
            image=spec.image,
            command=list(spec.command),
            working_dir=spec.workdir,
            user=spec.user,
            environment=dict(spec.environment),
            labels=dict(spec.labels),
            detach=True,
            init=True,  # docker-init reaps zombies; when reproduce.sh ends, everything ends
            network_mode=spec.network,
            cap_drop=["ALL"],
            cap_add=list(spec.cap_add) or None,
            security_opt=["no-new-privileges:true"],  # and the engine's default seccomp profile
            pids_limit=spec.pids_limit,
            mem_limit=spec.memory_bytes,
            memswap_limit=spec.memory_bytes,  # no swap: swap limit equals memory limit
            nano_cpus=int(spec.cpus * 1e9),
            read_only=spec.read_only_root,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={spec.tmpfs_size},mode=1777"} if spec.tmpfs_size else None,
            mounts=mounts,
            log_config=LogConfig(type="json-file", config={"max-size": str(half), "max-file": "2"}),
            ipc_mode="private",
            stdin_open=False,
            tty=False,
        )
        if spec.gpu is not None:
            extra = gpu_create_args(spec.gpu)
            kwargs["environment"] = {**kwargs["environment"], **extra.pop("environment", {})}
            kwargs.update(extra)
        try:
            container = self._client.containers.create(**kwargs)
        except docker.errors.ImageNotFound:
            raise InfraError(
                f"image {spec.image!r} is not on this machine (`reprobot image build`)"
            ) from None
        except docker.errors.APIError as exc:
            raise InfraError(f"the Docker engine refused the container: {exc.explanation or exc}") from None
        return DockerContainer(self._client, container)

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
