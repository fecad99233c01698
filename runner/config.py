"""Runner settings (the ``runner:`` section of reprobot's YAML configuration), with their defaults.

Profile: ``paperbench`` (the default) runs ``reproduce.sh`` as PaperBench promised its
participants, root in a fresh container; ``locked`` is the non-root read-only sandbox (see
``runner.profiles``). Timeout: 24 h, PaperBench's canonical command; a paper may set its own in
its ``config.yaml`` (``reproduction_timeout_s``) and a run with ``--timeout``.

Network (``network``): ``policy`` (the default) gives each run its own Docker network, with no
route out, no other container, no host service and no private or link-local address; its only way
out is reprobot's allow-listing proxy (``runner.egress``), which audits every destination. The
allow-list is the package indexes this host's own tools name (pip's index, the apt sources), PyTorch's
wheel index, Hugging Face and GitHub (``egress_defaults``), plus ``egress_allow`` here and a paper's
own. ``none`` cuts the network; ``bridge`` (Docker's default bridge, unrestricted) and a named Docker
network stay available as explicit choices; ``host`` is refused.

Disk (``disk_limit``, ``disk_inodes``): the writable layer and the workspace of a run live together
on a filesystem of that size and inode count (``runner.runfs``); past it the submission sees ENOSPC.
``None`` runs without a limit (``doctor`` says whether this host can enforce one).

Collection (``collect_*``): file count, bytes read, bytes copied and time are all capped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runner.errors import SubmissionError
from runner.image import DEFAULT_IMAGE
from runner.profiles import ProfileName

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str | int) -> int:
    """``"512m"``, ``"2g"``, ``"1.5GiB"`` or a byte count -> bytes (binary units, like Docker)."""
    if isinstance(value, int):
        if value <= 0:
            raise SubmissionError(f"size {value}: must be positive")
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise SubmissionError(f"size {value!r}: expected a number with an optional k/m/g/t unit")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise SubmissionError(f"size {value!r}: must be positive")
    return size


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "reprobot"


class RunnerSettings(BaseModel):
    """Limits and policies of the reproduction sandbox; every one can be overridden per run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: ProfileName = "paperbench"  # paperbench: root in a fresh container; locked: non-root, read-only
    image: str = DEFAULT_IMAGE  # built by `reprobot image build`, or runner/docker/Dockerfile.paperbench
    timeout_s: int = Field(default=24 * 3600, gt=0)  # wall clock for reproduce.sh, then kill
    salvage: bool = True  # retry a failed run that ended in under salvage_under_s (PaperBench's variations)
    salvage_under_s: float = Field(default=600.0, ge=0)
    deadline_grace_s: float = Field(default=60.0, ge=0)  # the in-container deadline: timeout + this
    memory: str = "16g"  # no swap on top (memory+swap limit = memory limit)
    cpus: float = Field(default=4.0, gt=0)
    pids_limit: int = Field(default=4096, gt=0)  # a fork bomb stops here
    network: str = "policy"  # policy | none | bridge (unrestricted) | a named Docker network; see above
    egress_allow: tuple[str, ...] = ()  # hosts (files.example.org) or .domains a run may also reach
    egress_defaults: bool = True  # the default allow-list (package indexes, PyTorch, Hugging Face, GitHub)
    ca_bundle: str = "auto"  # auto: this host's trust store; none; or a PEM file given to every run
    upstream_proxy: str = "auto"  # auto: https_proxy of reprobot's environment; none; or http://host:port
    disk_limit: str | None = "50g"  # writable layer + workspace together; none: no limit (needs root)
    disk_inodes: int = Field(default=2_000_000, gt=0)  # files and folders a run may create
    runtime: str | None = None  # the engine's OCI runtime: None = its default (runc); runsc = gVisor
    seccomp: Literal["reprobot", "engine"] = "reprobot"  # reprobot: the engine's, less io_uring, ptrace
    gpus: str = "auto"  # auto (all when the host has NVIDIA GPUs), none, all, N or device=0,1
    tmpfs_size: str = "4g"  # /tmp inside the container (counts against memory)
    user: str | None = None  # locked profile: None = uid 1000 when reprobot runs as root, else the caller's
    max_repo_bytes: int = Field(default=2 * 1024**3, gt=0)  # fetch refuses bigger submissions
    log_cap_bytes: int = Field(default=16 * 1024**2, gt=0)  # reproduce.log keeps head + tail
    file_cap_bytes: int = Field(default=10 * 1024**2, gt=0)  # PaperBench skips files over 10 MB
    total_cap_bytes: int = Field(default=1024**3, gt=0)  # all collected files together (bytes copied)
    collect_max_files: int = Field(default=100_000, gt=0)  # files past it are counted and listed, not read
    collect_max_read_bytes: int = Field(default=4 * 1024**3, gt=0)  # hashing and copying together
    collect_time_s: float = Field(default=600.0, gt=0)  # collection stops here, with what it has
    scratch_dir: Path | None = None  # where run filesystems and workspaces live (None: the temp folder)
    blacklist_policy: Literal["report", "fail"] = "report"
    cache_dir: Path = Field(default_factory=_default_cache_dir)  # debootstrap root filesystem cache

    @field_validator("network")
    @classmethod
    def _no_host_network(cls, value: str) -> str:
        if value == "host" or value.startswith("container:"):
            raise ValueError("the host's (or another container's) network namespace is not allowed")
        return value

    @field_validator("memory", "tmpfs_size")
    @classmethod
    def _size(cls, value: str) -> str:
        try:
            parse_size(value)
        except SubmissionError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("disk_limit", mode="before")
    @classmethod
    def _disk(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off", "")):
            return None
        try:
            parse_size(value if isinstance(value, int | str) else str(value))
        except SubmissionError as exc:
            raise ValueError(str(exc)) from None
        return str(value)

    @field_validator("egress_allow", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        from runner.allowlist import normalise_entry

        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError("expected a list of host names (files.example.org) or domains (.example.org)")
        return tuple(normalise_entry(str(v)) for v in value)
