"""The options of one reproduction (from ``RunnerSettings``, without repeating its defaults), the
container's entry script, and PaperBench's salvage variations."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

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
    kill_grace_s: float = 10.0  # how long to wait for the engine after a kill

    @classmethod
    def from_settings(cls, settings: RunnerSettings, **overrides: Any) -> ReproduceOptions:
        values = {f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["timeout_s"] = float(values["timeout_s"])
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
