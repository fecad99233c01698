"""The default reproduction image, built on this machine from Debian packages (no registry needed).

Recipe: a Debian bookworm ``minbase`` root filesystem made by ``debootstrap`` from the mirror named
in the machine's own apt configuration, with the tool set of PaperBench's reproducer (PAPERBENCH.md
section 1: build-essential, git, cmake, curl, wget, unzip, sudo, ATLAS/BLAS/LAPACK/OpenBLAS dev
files, gfortran, libsm6/libxext6/libxrender-dev, python3 with venv, dev and pip), plus a non-root
user ``repro`` (uid 1000) whose home and ``/workspace`` it owns (used by the ``locked`` profile; the
``paperbench`` profile runs as root). Debian bookworm has one Python (3.11) and no
``software-properties-common`` use (PPAs are Ubuntu's); ``runner/docker/Dockerfile.paperbench`` is
PaperBench's reproducer in substance (Ubuntu 24.04, Python 3.12 and 3.11) for runners that can pull.
The image's Pythons are named in the label ``org.reprobot.pythons`` (salvage uses it).
The root filesystem is tarred into a cache folder and ``docker import``-ed with USER, WORKDIR, ENV
and CMD set. The image carries a label with a content hash of the recipe, so a second build is a
fast no-op, and a changed recipe (or ``--force``) rebuilds from the cached tarball when it can.

Organizers with registry access can use ``runner/docker/Dockerfile.paperbench`` (or
``Dockerfile.cuda``: CUDA + PyTorch) instead and name it in ``runner.image``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from runner.errors import InfraError

log = logging.getLogger(__name__)

# A new name (not reprobot/repro:latest): images of the older, smaller recipe keep their own tag.
DEFAULT_IMAGE = "reprobot/repro-paperbench:bookworm"
RECIPE_LABEL = "org.reprobot.recipe-sha256"
PYTHONS_LABEL = "org.reprobot.pythons"  # "3.12 3.11": the Pythons of the image, the default first
APT_SOURCE_FILES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))

DEFAULT_PACKAGES = (
    "bash",
    "ca-certificates",
    "coreutils",  # timeout(1): the deadline inside the container
    "python3",
    "python3-pip",
    "python3-venv",
    "python3-dev",
    "git",
    "build-essential",
    "cmake",
    "procps",
    "curl",
    "wget",
    "xz-utils",
    "unzip",
    "sudo",
    "libatlas-base-dev",
    "libblas-dev",
    "liblapack-dev",
    "libopenblas-dev",
    "gfortran",
    "libsm6",
    "libxext6",
    "libxrender-dev",
)


@dataclass(frozen=True)
class ImageRecipe:
    suite: str = "bookworm"
    variant: str = "minbase"
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    user: str = "repro"
    uid: int = 1000
    workdir: str = "/workspace"
    pythons: tuple[str, ...] = ("3.11",)  # what the suite's python3 is; the default first
    version: int = 3  # bump when the build steps below change

    def digest(self) -> str:
        data = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(data).hexdigest()

    def changes(self) -> list[str]:
        """Dockerfile instructions applied on ``docker import``."""
        home = f"/home/{self.user}"
        return [
            f"USER {self.user}",
            f"WORKDIR {self.workdir}",
            f"ENV HOME={home}",
            "ENV PATH=/home/repro/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["/bin/bash"]',
            f"LABEL {RECIPE_LABEL}={self.digest()}",
            f'LABEL {PYTHONS_LABEL}="{" ".join(self.pythons)}"',
        ]


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    keyring: str | None = None


def parse_apt_sources(text: str, deb822: bool) -> list[AptSource]:
    """Entries of an apt sources file (deb822 ``.sources`` or one-line ``sources.list``)."""
    sources: list[AptSource] = []
    if deb822:
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split() or not fields.get("uris"):
                continue
            for uri in fields["uris"].split():
                sources.append(
                    AptSource(uri, tuple(fields.get("suites", "").split()), fields.get("signed-by"))
                )
        return sources
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        parts = line.split()[1:]
        keyring = None
        if parts and parts[0].startswith("["):
            options = []
            while parts:
                token = parts.pop(0)
                options.append(token)
                if token.endswith("]"):
                    break
            match = re.search(r"signed-by=([^\s\]]+)", " ".join(options))
            keyring = match.group(1) if match else None
        if len(parts) >= 2:
            sources.append(AptSource(parts[0], (parts[1],), keyring))
    return sources


def find_mirror(suite: str, files: Sequence[Path] = APT_SOURCE_FILES) -> AptSource:
    """The machine's own mirror for ``suite`` (never a hard-coded host)."""
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for source in parse_apt_sources(text, deb822=path.suffix == ".sources"):
            if suite in source.suites:
                return source
    names = ", ".join(str(p) for p in files)
    raise InfraError(f"no apt mirror for Debian '{suite}' found in {names}: cannot build the image offline")


class ImageClient(Protocol):
    """What image building needs from the engine (the Docker SDK client in production)."""

    def recipe_label(self, image: str) -> str | None: ...

    def import_tarball(self, tarball: Path, image: str, changes: Sequence[str]) -> str: ...


@dataclass
class BuildResult:
    image: str
    image_id: str
    built: bool  # False: an image with this recipe already existed
    tarball: Path | None = None
    steps: list[str] = field(default_factory=list)


Runner = Callable[[Sequence[str]], None]


def _run(cmd: Sequence[str]) -> None:
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(list(cmd), capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise InfraError(f"{cmd[0]} failed with exit {proc.returncode}: {' | '.join(tail)}")


def _make_rootfs_tarball(recipe: ImageRecipe, mirror: AptSource, tarball: Path, run: Runner) -> None:
    if shutil.which("debootstrap") is None:
        raise InfraError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise InfraError("building the image with debootstrap needs root")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reprobot-rootfs-", dir=tarball.parent) as tmp:
        root = Path(tmp) / "rootfs"
        try:
            _populate_rootfs(recipe, mirror, root, tarball, run)
        finally:
            _unmount_below(root)  # debootstrap mounts /proc and /sys; never rmtree through them


def _unmount_below(root: Path) -> None:
    prefix = str(root.resolve()) + "/"
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [m.split()[1] for m in mounts if len(m.split()) > 1 and m.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _populate_rootfs(recipe: ImageRecipe, mirror: AptSource, root: Path, tarball: Path, run: Runner) -> None:
    cmd = ["debootstrap", f"--variant={recipe.variant}", f"--include={','.join(recipe.packages)}"]
    if mirror.keyring:
        cmd.append(f"--keyring={mirror.keyring}")
    run([*cmd, recipe.suite, str(root), mirror.uri])
    home = f"/home/{recipe.user}"
    run(["chroot", str(root), "useradd", "-m", "-u", str(recipe.uid), "-U", "-s", "/bin/bash", recipe.user])
    run(["chroot", str(root), "install", "-d", "-o", recipe.user, "-g", recipe.user, recipe.workdir])
    # Let `pip install` work as in any research environment (no PEP 668 refusal).
    for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        target = root / junk
        if target.is_dir():
            for entry in target.iterdir():
                if entry.is_file():
                    entry.unlink()
    (root / home.lstrip("/") / ".cache").mkdir(exist_ok=True)
    os.chown(root / home.lstrip("/") / ".cache", recipe.uid, recipe.uid)
    partial = tarball.with_suffix(".partial")
    run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."])
    partial.replace(tarball)


def build_default_image(
    client: ImageClient,
    *,
    image: str = DEFAULT_IMAGE,
    cache_dir: Path,
    recipe: ImageRecipe | None = None,
    force: bool = False,
    apt_sources: Sequence[Path] = APT_SOURCE_FILES,
    run: Runner = _run,
) -> BuildResult:
    """Build (or find) the default image; idempotent and fast when it already exists."""
    recipe = recipe or ImageRecipe()
    digest = recipe.digest()
    if not force and client.recipe_label(image) == digest:
        return BuildResult(image=image, image_id="", built=False, steps=["image up to date"])
    steps: list[str] = []
    tarball = cache_dir / f"rootfs-{recipe.suite}-{digest[:16]}.tar"
    if force and tarball.exists():
        tarball.unlink()
    if not tarball.exists():
        mirror = find_mirror(recipe.suite, apt_sources)
        steps.append(f"debootstrap {recipe.suite} from {mirror.uri}")
        _make_rootfs_tarball(recipe, mirror, tarball, run)
    else:
        steps.append(f"reused cached root filesystem {tarball}")
    image_id = client.import_tarball(tarball, image, recipe.changes())
    steps.append(f"imported as {image}")
    return BuildResult(image=image, image_id=image_id, built=True, tarball=tarball, steps=steps)
