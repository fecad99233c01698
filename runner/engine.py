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
    gpu: GpuRequest | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    log_max_bytes: int = 64 * 1024**2  # what the engine itself may keep on disk for the log


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
