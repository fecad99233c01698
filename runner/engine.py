"""The container-engine seam: the few operations a reproduction needs, as a Protocol.

``runner.docker_engine.DockerEngine`` implements it with the Docker SDK. The spec below is the
complete description of the sandbox; an engine must apply every field or refuse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

GpuMethod = Literal["hook", "runtime", "cdi"]


@dataclass(frozen=True)
class GpuRequest:
    """How a container asks for NVIDIA GPUs: ``spec`` is ``all``, a count, or ``device=0,1``."""

    spec: str
    method: GpuMethod  # hook: Docker's --gpus (needs nvidia-container-runtime-hook); runtime: the
    # registered "nvidia" runtime with NVIDIA_VISIBLE_DEVICES; cdi: CDI device names nvidia.com/gpu=...


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: tuple[str, ...]
    workspace: str | None  # host path of the workspace copy bind-mounted at ``workdir`` (the only
    # host path a container ever sees); None: nothing of the host is mounted (probes)
    workdir: str = "/workspace"
    user: str = "1000:1000"
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_bytes: int = 2 * 1024**3
    cpus: float = 1.0
    pids_limit: int = 512
    network: str = "none"
    tmpfs_size: str | None = "1g"  # a tmpfs /tmp of this size; None: /tmp of the container's own layer
    read_only_root: bool = True
    cap_add: tuple[str, ...] = ()  # after dropping ALL
    scratch_dirs: tuple[str, ...] = ("/home/repro",)  # fresh anonymous volumes, removed with the container
    scratch_binds: tuple[tuple[str, str], ...] = ()  # (host folder, container path): scratch on the run's fs
    gpu: GpuRequest | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    log_max_bytes: int = 64 * 1024**2  # what the engine itself may keep on disk for the log
    layer_dir: str | None = None  # a host folder (on the run's size-limited filesystem) that must hold
    # the container's writable layer; None: wherever the engine keeps it
    runtime: str | None = None  # OCI runtime (runsc = gVisor); None: the engine's default
    seccomp_profile: str | None = None  # a seccomp profile (JSON); None: the engine's default
    masked_paths: tuple[str, ...] = ()  # hidden from the container, besides the engine's own list


@dataclass(frozen=True)
class NetworkSpec:
    """A run's own network: internal (no route out), no traffic between its containers."""

    name: str
    bridge: str  # the host's interface name (<= 15 characters)
    labels: Mapping[str, str] = field(default_factory=dict)
    internal: bool = True


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    subnet: str  # 172.18.0.0/16
    gateway: str  # the host's address on it


@dataclass(frozen=True)
class LabelledNetwork:
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ExitState:
    exit_code: int | None
    oom_killed: bool


@dataclass(frozen=True)
class EngineInfo:
    """What ``docker info`` says about the engine (the parts reprobot decides on)."""

    version: str
    runtimes: frozenset[str]
    security_options: tuple[str, ...]
    cpus: int
    cdi_spec_dirs: tuple[str, ...] = ()
    docker_root: str = ""
    storage_driver: str = ""  # overlay2, ...
    backing_filesystem: str = ""  # extfs, xfs, ...

    @property
    def userns_remap(self) -> bool:
        return any(o.startswith("name=userns") for o in self.security_options)

    @property
    def rootless(self) -> bool:
        return any(o.startswith("name=rootless") for o in self.security_options)


@dataclass(frozen=True)
class LabelledContainer:
    id: str
    labels: Mapping[str, str]
    running: bool


class Container(Protocol):
    id: str

    def start(self) -> None: ...

    def log_stream(self) -> Iterator[bytes]:
        """stdout+stderr as they come, until the container ends (never blocks the container)."""
        ...

    def wait(self, timeout_s: float) -> bool:
        """True when the container ended within ``timeout_s``."""
        ...

    def kill(self) -> None: ...

    def exit_state(self) -> ExitState: ...

    def put_files(self, files: Mapping[str, bytes]) -> None:
        """Write files (absolute path -> bytes, root-owned, 0644) into the container before it runs."""
        ...

    def read_files(self, folder: str, max_bytes: int = 1024**2) -> dict[str, bytes]:
        """Regular files under ``folder`` of the container's filesystem (path -> bytes), before it runs."""
        ...

    def remove(self) -> None:
        """Force-remove the container and its anonymous volumes; safe to call twice."""
        ...


class ContainerEngine(Protocol):
    def image_digest(self, image: str) -> str:
        """The image id (sha256:...); InfraError when the image is not on this machine."""
        ...

    def image_labels(self, image: str) -> Mapping[str, str]: ...

    def info(self) -> EngineInfo: ...

    def create(self, spec: ContainerSpec) -> Container: ...

    def list_labelled(self, label: str) -> list[str]:
        """Ids of containers (running or not) carrying ``label`` (``key`` or ``key=value``)."""
        ...

    def labelled_containers(self, label: str) -> list[LabelledContainer]: ...

    def remove_container(self, container_id: str) -> None: ...

    def kill_container(self, container_id: str) -> None:
        """SIGKILL a container's processes (it stays, stopped); nothing when it does not run."""
        ...

    def create_network(self, spec: NetworkSpec) -> NetworkInfo: ...

    def remove_network(self, name: str) -> None:
        """Remove a network (and disconnect what is left on it); safe to call twice."""
        ...

    def labelled_networks(self, label: str) -> list[LabelledNetwork]: ...
