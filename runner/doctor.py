"""``reprobot doctor``: is this machine ready to run reproductions? One line per check, with the fix.

Checks: the engine is reachable (and its version), the configured image is present (and built
from the current recipe when it is reprobot's own), user-namespace remapping, free disk where
images, runs and caches live, and GPUs: NVIDIA devices on the host, a way for the engine to hand
them over, and ``nvidia-smi`` answering inside a container. Each line is OK, WARN or FAIL; any
FAIL makes the command exit 3 (infrastructure).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.config import RunnerSettings
from runner.engine import ContainerEngine
from runner.errors import InfraError
from runner.gpu import HostGpus, detect_host, probe, resolve_request
from runner.image import DEFAULT_IMAGE, RECIPE_LABEL, ImageRecipe

Level = Literal["OK", "WARN", "FAIL"]
GiB = 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" -> {self.fix}" if self.fix and self.level != "OK" else ""
        return f"{self.level:<4} {self.name}: {self.detail}{fix}"


def _free(path: Path, disk_usage: Callable[[str], tuple[int, int, int]]) -> tuple[Path, int] | None:
    probe_path = path
    while not probe_path.exists() and probe_path != probe_path.parent:
        probe_path = probe_path.parent
    try:
        return probe_path, disk_usage(str(probe_path))[2]
    except OSError:
        return None


def diagnose(
    settings: RunnerSettings,
    engine_factory: Callable[[], ContainerEngine],
    *,
    disk_usage: Callable[[str], tuple[int, int, int]] = lambda p: tuple(shutil.disk_usage(p)),  # type: ignore[assignment,return-value]
    host_gpus: Callable[..., HostGpus] = detect_host,
    min_free_gib: float = 10.0,
) -> tuple[Check, ...]:
    checks: list[Check] = []
    try:
        engine = engine_factory()
        info = engine.info()
    except InfraError as exc:
        return (
            Check(
                "engine",
                "FAIL",
                str(exc),
                "start dockerd, or give this user access to its socket (DOCKER_HOST)",
            ),
        )
    checks.append(Check("engine", "OK", f"Docker {info.version}, {info.cpus} CPUs"))

    image_ok = True
    try:
        digest = engine.image_digest(settings.image)
        label = engine.image_labels(settings.image).get(RECIPE_LABEL)
        if settings.image == DEFAULT_IMAGE and label != ImageRecipe().digest():
            checks.append(
                Check("image", "WARN", f"{settings.image} is from an older recipe", "reprobot image build")
            )
        else:
            checks.append(Check("image", "OK", f"{settings.image} ({digest[:19]})"))
    except InfraError:
        image_ok = False
        checks.append(
            Check(
                "image",
                "FAIL",
                f"{settings.image} is not on this machine",
                "reprobot image build (or docker build -f runner/docker/Dockerfile.paperbench)",
            )
        )

    if info.userns_remap:
        checks.append(Check("userns", "OK", "user-namespace remapping is on: root in a run is not root here"))
    elif info.rootless:
        checks.append(Check("userns", "OK", "rootless engine: root in a run is this user here"))
    else:
        checks.append(
            Check(
                "userns",
                "WARN",
                f"no user-namespace remapping: root in a run ({settings.profile} profile) is uid 0 of this "
                "kernel, held by dropped capabilities, no-new-privileges and seccomp",
                'for defence in depth set "userns-remap": "default" in /etc/docker/daemon.json',
            )
        )

    places = [("temp", Path(tempfile.gettempdir())), ("cache", settings.cache_dir)]
    if info.docker_root:
        places.insert(0, ("engine storage", Path(info.docker_root)))
    for name, path in places:
        found = _free(path, disk_usage)
        if found is None:
            checks.append(Check(f"disk {name}", "WARN", f"cannot measure free space at {path}"))
            continue
        where, free = found
        level: Level = "OK" if free >= min_free_gib * GiB else ("WARN" if free >= GiB else "FAIL")
        checks.append(
            Check(f"disk {name}", level, f"{free / GiB:.1f} GiB free at {where}", "free disk space there")
        )

    host = host_gpus(info)
    if not host.devices_present:
        checks.append(Check("gpu", "OK", "no NVIDIA GPU on this host: runs get none"))
    elif not host.methods:
        checks.append(
            Check(
                "gpu",
                "FAIL",
                "this host has NVIDIA GPUs but the engine cannot hand them to a container",
                "install the NVIDIA Container Toolkit (nvidia-ctk runtime configure, or CDI specs)",
            )
        )
    elif not image_ok:
        checks.append(
            Check("gpu", "WARN", f"GPUs via {host.methods[0]}; not probed (no image)", "reprobot image build")
        )
    else:
        try:
            request = resolve_request(settings.gpus if settings.gpus != "none" else "all", host)
            assert request is not None
            seen = probe(engine, settings.image, request)
            names = ", ".join(d.name for d in seen.devices) or "none listed"
            checks.append(
                Check(
                    "gpu",
                    "OK",
                    f"a container sees {seen.count} GPU(s) via {request.method}: {names}; "
                    f"driver {seen.driver_version}, CUDA {seen.cuda_version}",
                )
            )
        except InfraError as exc:
            checks.append(Check("gpu", "FAIL", str(exc), "check the NVIDIA Container Toolkit and the driver"))
    return tuple(checks)


def failed(checks: tuple[Check, ...]) -> bool:
    return any(c.level == "FAIL" for c in checks)
