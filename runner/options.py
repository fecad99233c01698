"""The options of one reproduction (from ``RunnerSettings``, without repeating its defaults), the
container's entry script, and PaperBench's salvage variations."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from runner.collect import CollectCaps
from runner.config import RunnerSettings, parse_size
from runner.profiles import ProfileName, get_profile

CONTAINER_UID = 1000
CONTAINER_HOME = "/home/repro"
_DEFAULTS = RunnerSettings()

# The container's entry: PaperBench's command (rm -rf venv .venv; bash reproduce.sh) with the
# salvage variation applied first and the deadline enforced by timeout(1) inside the container.
ENTRY = r"""
deadline="$1"; py="$2"; venv="$3"; clean="$4"
if [ "$clean" = 1 ]; then rm -rf venv .venv; fi
if [ -n "$py" ]; then
  p="$(command -v "python$py")" || { echo "[reprobot: python$py is not in this image]"; exit 127; }
  d=/usr/local/bin
  if ! [ -w "$d" ]; then d=/tmp/.reprobot-bin; mkdir -p "$d"; export PATH="$d:$PATH"; fi
  ln -sf "$p" "$d/python3"; ln -sf "$p" "$d/python"
  echo "[reprobot: salvage: python3 is now $("$p" --version 2>&1)]"
fi
if [ "$venv" = 1 ]; then
  python3 -m venv venv && . venv/bin/activate || exit 126
  echo "[reprobot: salvage: fresh venv activated]"
fi
exec timeout -s KILL "$deadline" bash reproduce.sh
"""


@dataclass(frozen=True)
class ReproduceOptions:
    """The runner settings a run uses (defaults are RunnerSettings' own), plus run-only knobs."""

    profile: ProfileName = _DEFAULTS.profile
    image: str = _DEFAULTS.image
    timeout_s: float = float(_DEFAULTS.timeout_s)
    memory: str = _DEFAULTS.memory
    cpus: float = _DEFAULTS.cpus
    pids_limit: int = _DEFAULTS.pids_limit
    gpus: str = _DEFAULTS.gpus
    network: str = _DEFAULTS.network
    tmpfs_size: str = _DEFAULTS.tmpfs_size
    user: str | None = _DEFAULTS.user
    log_cap_bytes: int = _DEFAULTS.log_cap_bytes
    file_cap_bytes: int = _DEFAULTS.file_cap_bytes
    total_cap_bytes: int = _DEFAULTS.total_cap_bytes
    salvage: bool = _DEFAULTS.salvage
    salvage_under_s: float = _DEFAULTS.salvage_under_s
    deadline_grace_s: float = _DEFAULTS.deadline_grace_s
    egress_allow: tuple[str, ...] = _DEFAULTS.egress_allow  # the configuration's and the paper's hosts
    egress_defaults: bool = _DEFAULTS.egress_defaults
    ca_bundle: str = _DEFAULTS.ca_bundle
    upstream_proxy: str = _DEFAULTS.upstream_proxy
    disk_limit: str | None = _DEFAULTS.disk_limit
    disk_inodes: int = _DEFAULTS.disk_inodes
    runtime: str | None = _DEFAULTS.runtime
    seccomp: str = _DEFAULTS.seccomp
    collect_max_files: int = _DEFAULTS.collect_max_files
    collect_max_read_bytes: int = _DEFAULTS.collect_max_read_bytes
    collect_time_s: float = _DEFAULTS.collect_time_s
    scratch_dir: Path | None = _DEFAULTS.scratch_dir
    kill_grace_s: float = 10.0  # how long to wait for the engine after a kill
    deadline_margin_s: float = 5.0  # the watchdog kills this long after the timeout if reprobot did not

    @property
    def disk_limit_bytes(self) -> int | None:
        return parse_size(self.disk_limit) if self.disk_limit else None

    def collect_caps(self) -> CollectCaps:
        return CollectCaps(
            max_files=self.collect_max_files,
            file_cap=self.file_cap_bytes,
            total_cap=self.total_cap_bytes,
            read_cap=self.collect_max_read_bytes,
            time_s=self.collect_time_s,
        )

    @classmethod
    def from_settings(cls, settings: RunnerSettings, **overrides: Any) -> ReproduceOptions:
        values = {f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["timeout_s"] = float(values["timeout_s"])
        if isinstance(values.get("disk_limit"), str) and values["disk_limit"].strip().lower() == "none":
            values["disk_limit"] = None
        return cls(**values)

    def limits(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "timeout_s": self.timeout_s,
            "deadline_grace_s": self.deadline_grace_s,
            "memory": self.memory,
            "memory_bytes": parse_size(self.memory),
            "swap": False,
            "cpus": self.cpus,
            "pids": self.pids_limit,
            "network": self.network,
            "gpus": self.gpus,
            "tmpfs": self.tmpfs_size if get_profile(self.profile).tmpfs else None,
            "log_cap_bytes": self.log_cap_bytes,
            "file_cap_bytes": self.file_cap_bytes,
            "total_cap_bytes": self.total_cap_bytes,
            "disk_limit_bytes": self.disk_limit_bytes,
            "disk_inodes": self.disk_inodes if self.disk_limit else None,
            "collect_max_files": self.collect_max_files,
            "collect_max_read_bytes": self.collect_max_read_bytes,
            "collect_time_s": self.collect_time_s,
            "runtime": self.runtime,
            "seccomp": self.seccomp,
        }


@dataclass(frozen=True)
class Variation:
    """PaperBench's salvage variations: python3 switched to another version; a fresh venv."""

    python: str | None = None
    fresh_venv: bool = False

    @property
    def label(self) -> str:
        parts = [f"python{self.python}"] if self.python else []
        if self.fresh_venv:
            parts.append("fresh venv")
        return " + ".join(parts) or "as submitted"


def salvage_plan(pythons: tuple[str, ...]) -> tuple[Variation, ...]:
    """The retries after a short failed run: other Python (if any), fresh venv, both."""
    other = next((p for p in pythons[1:] if p != pythons[0]), None)
    if other is None:
        return (Variation(fresh_venv=True),)
    return (Variation(python=other), Variation(fresh_venv=True), Variation(python=other, fresh_venv=True))


# What a paper's config.yaml may set for its own runs, under ``runner:`` (and PaperBench-style
# ``reproduction_timeout_s`` at its top). egress_allow adds to the configuration's list.
PER_PAPER_KEYS = ("timeout_s", "memory", "cpus", "gpus", "network", "disk_limit", "egress_allow")


def paper_overrides(settings: RunnerSettings, config: Any) -> dict[str, Any]:
    """The ``ReproduceOptions.from_settings`` overrides a paper's config.yaml asks for.

    Raises ValueError naming the key for an unknown key or a bad value (the organizer's to fix).
    """
    if not isinstance(config, dict):
        return {}
    out: dict[str, Any] = {}
    timeout = config.get("reproduction_timeout_s")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        out["timeout_s"] = float(timeout)
    runner = config.get("runner")
    if runner is None:
        return out
    if not isinstance(runner, dict):
        raise ValueError("config.yaml runner: expected a mapping")
    unknown = sorted(set(runner) - set(PER_PAPER_KEYS))
    if unknown:
        raise ValueError(f"config.yaml runner: unknown key(s) {', '.join(unknown)}")
    values = {k: runner[k] for k in PER_PAPER_KEYS if k in runner}
    if "egress_allow" in values:
        extra = values["egress_allow"]
        values["egress_allow"] = [*settings.egress_allow, *(extra if isinstance(extra, list) else [extra])]
    checked = RunnerSettings(**{**settings.model_dump(), **values})  # validated as the configuration is
    out.update({k: getattr(checked, k) for k in values})
    if "disk_limit" in values and checked.disk_limit is None:
        out["disk_limit"] = "none"
    return out
