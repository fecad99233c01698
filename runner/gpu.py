"""NVIDIA GPUs for reproductions: which way the engine offers them, what a container saw.

``runner.gpus`` is ``auto`` (the default: every GPU when the host has NVIDIA GPUs and the engine a
way to hand them over, none on a host without GPUs), ``none``, ``all``, a count, or
``device=0,1``. The engine may offer GPUs three ways, all accepted: a registered ``nvidia``
runtime (``docker info`` Runtimes), the toolkit's ``nvidia-container-runtime-hook`` on the PATH
(what Docker's own ``--gpus`` needs), or CDI (``docker info`` CDISpecDirs holding an
``nvidia.com/gpu`` spec). A host with GPUs but no way to hand them over is an infrastructure
error, never a run without GPUs (the grade would be wrong through no fault of the submitter).

What the container saw is read from ``nvidia-smi -q -x`` run inside a container with the same
request (a short probe before the run) and recorded in ``metadata.json``.
"""

from __future__ import annotations

import glob
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runner.engine import ContainerEngine, ContainerSpec, EngineInfo, GpuMethod, GpuRequest
from runner.errors import InfraError

HOOK = "nvidia-container-runtime-hook"


@dataclass(frozen=True)
class GpuDevice:
    name: str
    memory_total_mib: int | None
    uuid: str | None = None


@dataclass(frozen=True)
class GpuSnapshot:
    """``nvidia-smi`` as a container saw it."""

    count: int
    devices: tuple[GpuDevice, ...]
    driver_version: str | None
    cuda_version: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "devices": [asdict(d) for d in self.devices],
        }


def _mib(text: str | None) -> int | None:
    if not text:
        return None
    value = text.strip().split()[0]
    try:
        return int(float(value))
    except ValueError:
        return None


def parse_nvidia_smi_xml(text: str) -> GpuSnapshot:
    """``nvidia-smi -q -x`` -> what it lists (model, frame-buffer memory, driver, CUDA, count)."""
    try:
        root = ET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)  # noqa: S314 - no DTD/entities fetched by ElementTree
    except ET.ParseError as exc:
        raise ValueError(f"unreadable nvidia-smi XML ({exc})") from None
    devices = tuple(
        GpuDevice(
            name=(gpu.findtext("product_name") or "").strip(),
            memory_total_mib=_mib(gpu.findtext("fb_memory_usage/total")),
            uuid=(gpu.findtext("uuid") or "").strip() or None,
        )
        for gpu in root.findall("gpu")
    )
    attached = root.findtext("attached_gpus")
    count = int(attached) if attached and attached.strip().isdigit() else len(devices)
    return GpuSnapshot(
        count=count,
        devices=devices,
        driver_version=(root.findtext("driver_version") or "").strip() or None,
        cuda_version=(root.findtext("cuda_version") or "").strip() or None,
    )


def parse_nvidia_smi_csv(text: str) -> tuple[GpuDevice, ...]:
    """``nvidia-smi --query-gpu=...,name,uuid,...,memory.total --format=csv`` (with its header)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ()
    header = [h.strip() for h in lines[0].split(",")]
    col = {h.split(" [")[0]: i for i, h in enumerate(header)}
    out = []
    for line in lines[1:]:
        cells = [c.strip() for c in line.split(",")]
        row = {key: cells[i] for key, i in col.items() if i < len(cells)}
        out.append(GpuDevice(row.get("name", ""), _mib(row.get("memory.total")), row.get("uuid")))
    return tuple(out)


@dataclass(frozen=True)
class HostGpus:
    """What this host offers: NVIDIA device nodes, and the ways the engine can hand them over."""

    devices_present: bool
    methods: tuple[GpuMethod, ...]  # best first

    @property
    def usable(self) -> bool:
        return self.devices_present and bool(self.methods)


def _cdi_has_nvidia(dirs: Sequence[str]) -> bool:
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.json")) + glob.glob(os.path.join(d, "*.yaml"))):
            try:
                if "nvidia.com/gpu" in Path(path).read_text(encoding="utf-8", errors="replace"):
                    return True
            except OSError:
                continue
    return False


def detect_host(
    info: EngineInfo,
    *,
    which: Callable[[str], str | None] = shutil.which,
    dev_glob: Callable[[str], list[str]] = glob.glob,
    cdi_has_nvidia: Callable[[Sequence[str]], bool] = _cdi_has_nvidia,
) -> HostGpus:
    methods: list[GpuMethod] = []
    if which(HOOK):
        methods.append("hook")
    if "nvidia" in info.runtimes:
        methods.append("runtime")
    if info.cdi_spec_dirs and cdi_has_nvidia(info.cdi_spec_dirs):
        methods.append("cdi")
    present = bool(dev_glob("/dev/nvidia[0-9]*")) or bool(which("nvidia-smi") and dev_glob("/dev/nvidiactl"))
    return HostGpus(devices_present=present, methods=tuple(methods))


def resolve_request(setting: str | None, host: HostGpus) -> GpuRequest | None:
    """``runner.gpus`` + the host -> the request to make (None: no GPUs), or InfraError."""
    value = (setting or "none").strip()
    if value in ("none", "", "0"):
        return None
    if value == "auto":
        if not host.devices_present:
            return None
        if not host.methods:
            raise InfraError(
                "this host has NVIDIA GPUs but the Docker engine cannot hand them to a container: "
                "install the NVIDIA Container Toolkit (nvidia-container-runtime-hook, the nvidia "
                "runtime or CDI specs), or set runner.gpus: none"
            )
        return GpuRequest("all", host.methods[0])
    if not host.methods:
        raise InfraError(
            f"--gpus {value} asked for GPUs, but this Docker engine offers none: no NVIDIA runtime, "
            f"no {HOOK} on the PATH, no CDI spec for nvidia.com/gpu; install the NVIDIA Container "
            "Toolkit on the host or run with --gpus none"
        )
    from runner.docker_engine import parse_gpus

    parse_gpus(value)  # validate the spec: one clear line for a typo
    return GpuRequest(value, host.methods[0])


def probe(
    engine: ContainerEngine, image: str, request: GpuRequest, *, timeout_s: float = 60.0
) -> GpuSnapshot:
    """Run ``nvidia-smi -q -x`` in a throw-away container with ``request``; what it saw."""
    spec = ContainerSpec(
        image=image,
        command=("nvidia-smi", "-q", "-x"),
        workspace=None,
        user="0:0",
        network="none",
        memory_bytes=256 * 1024**2,
        pids_limit=64,
        tmpfs_size=None,
        read_only_root=True,
        scratch_dirs=(),
        gpu=request,
        labels={"org.reprobot.probe": "gpu"},
        log_max_bytes=4 * 1024**2,
    )
    container = engine.create(spec)
    try:
        container.start()
        if not container.wait(timeout_s):
            raise InfraError("nvidia-smi in a container did not answer in time")
        output = b"".join(container.log_stream()).decode("utf-8", errors="replace")
        state = container.exit_state()
    finally:
        container.kill()
        container.remove()
    if state.exit_code != 0:
        tail = " | ".join(output.strip().splitlines()[-2:])
        raise InfraError(f"nvidia-smi failed in a container with GPUs (exit {state.exit_code}): {tail}")
    start = output.find("<?xml")
    try:
        return parse_nvidia_smi_xml(output[start:] if start >= 0 else output)
    except ValueError as exc:
        raise InfraError(f"nvidia-smi in a container: {exc}") from None
