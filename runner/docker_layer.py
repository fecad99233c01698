"""A container's writable layer kept on a host folder of reprobot's choosing (overlay2 engines).

Docker's overlay2 driver keeps a container's writable layer in ``<data-root>/overlay2/<id>/``
(``diff`` = the overlay's upper directory, ``work`` = its work directory, ``link`` and ``lower``
naming the image layers). Between ``create`` and ``start`` nothing is mounted there, so reprobot
copies those few entries into a folder of the run's own size- and inode-limited filesystem
(``runner.runfs``) and bind-mounts that folder over the layer's: from then on everything the
container writes to its root filesystem lands on the run's filesystem, where the limit holds
(upper and work directories on one mount, as overlayfs requires). The engine itself sees nothing
unusual: it mounts, unmounts and removes the layer as always (removal unmounts a bind left behind).
The folder names come from the engine's own answer (``GraphDriver`` of ``docker inspect``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.errors import InfraError


def _layer_folder(graph_driver: Mapping[str, Any]) -> Path:
    if graph_driver.get("Name") != "overlay2":
        raise InfraError(
            f"a disk limit needs the overlay2 storage driver (the engine uses {graph_driver.get('Name')!r}); "
            "set runner.disk_limit: none, or switch the engine to overlay2"
        )
    data = graph_driver.get("Data") or {}
    upper, work = Path(str(data.get("UpperDir") or "")), Path(str(data.get("WorkDir") or ""))
    if upper.name != "diff" or work.name != "work" or upper.parent != work.parent or not upper.is_absolute():
        raise InfraError(f"unexpected overlay2 layout from the engine: {upper} / {work}")
    return upper.parent


def _same_owner_and_mode(src: Path, dest: Path) -> None:
    st = os.lstat(src)
    os.chown(dest, st.st_uid, st.st_gid, follow_symlinks=False)
    os.chmod(dest, st.st_mode & 0o7777)


def place_writable_layer(graph_driver: Mapping[str, Any], layer_dir: Path) -> Path:
    """Move a created container's (empty) writable layer onto ``layer_dir``; returns the mount point."""
    engine_dir = _layer_folder(graph_driver)
    if os.geteuid() != 0:
        raise InfraError("a disk limit needs reprobot to run as root (it mounts the run's filesystem)")
    layer_dir.mkdir(parents=True, exist_ok=False)
    for name in ("link", "lower"):
        if (engine_dir / name).is_file():
            shutil.copy2(engine_dir / name, layer_dir / name)
            _same_owner_and_mode(engine_dir / name, layer_dir / name)
    for name in ("diff", "work"):
        (layer_dir / name).mkdir()
        _same_owner_and_mode(engine_dir / name, layer_dir / name)
    # what the engine already put into the layer at create time (mount points of the run's volumes)
    copy = subprocess.run(
        ["cp", "-a", f"{engine_dir / 'diff'}/.", str(layer_dir / "diff")], capture_output=True
    )
    if copy.returncode != 0:
        raise InfraError(f"cannot copy the container's layer: {copy.stderr.decode(errors='replace')[:200]}")
    _same_owner_and_mode(engine_dir, layer_dir)
    mount = subprocess.run(["mount", "--bind", str(layer_dir), str(engine_dir)], capture_output=True)
    if mount.returncode != 0:
        raise InfraError(f"cannot mount the run's filesystem over the layer: {mount.stderr.decode()[:200]}")
    return engine_dir


def release_writable_layer(engine_dir: Path) -> None:
    """Undo ``place_writable_layer`` (lazily when the engine still holds the overlay)."""
    if _is_mount_point(engine_dir):
        done = subprocess.run(["umount", str(engine_dir)], capture_output=True)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(engine_dir)], capture_output=True)


def _is_mount_point(path: Path) -> bool:
    target = str(path)
    try:
        with open("/proc/self/mountinfo") as fh:
            return any(line.split()[4] == target for line in fh if len(line.split()) > 4)
    except OSError:
        return False
