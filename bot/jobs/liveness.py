"""Worker liveness and disk health, as ``GET /healthz`` reports them.

A worker process rewrites ``<data_dir>/workers/<owner>.json`` every few seconds (its state, the
last error it backed off from, the jobs it finished); the webhook process reads those files, so
``/healthz`` tells whether any worker is alive without sharing memory with it. A worker whose beat
is older than ``stale_after_s`` is not alive (dead, hung, or unable to write: a full disk). Disk
trouble is free space under ``min_free_bytes`` where the queue and results live.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BEAT_S = 5.0
STALE_AFTER_S = 30.0


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    owner: str
    pid: int
    state: str  # serving | backing off | stopped
    beat_at: float
    jobs_done: int = 0
    error: str = ""

    def alive(self, now: float, stale_after_s: float = STALE_AFTER_S) -> bool:
        return self.state != "stopped" and now - self.beat_at <= stale_after_s

    def to_json(self, now: float) -> dict[str, Any]:
        return {**asdict(self), "age_s": round(now - self.beat_at, 1), "alive": self.alive(now)}


@dataclass(frozen=True, slots=True)
class DiskHealth:
    path: str
    free_bytes: int
    ok: bool
    error: str = ""


def workers_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "workers"


def write_beat(folder: Path, beat: WorkerBeat) -> None:
    """Atomically replace this worker's beat file (raises OSError on a full or broken disk)."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in beat.owner)
    tmp = folder / f".{safe}.tmp"
    tmp.write_text(json.dumps(asdict(beat)), encoding="utf-8")
    os.replace(tmp, folder / f"{safe}.json")


def read_beats(folder: Path) -> list[WorkerBeat]:
    beats = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            beats.append(
                WorkerBeat(
                    str(data["owner"]), int(data["pid"]), str(data["state"]), float(data["beat_at"]),
                    int(data.get("jobs_done", 0)), str(data.get("error", "")),
                )
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            continue  # half-written or foreign: not a beat
    return beats


def disk_health(path: Path, min_free_bytes: int) -> DiskHealth:
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as exc:
        return DiskHealth(str(path), 0, False, str(exc))
    ok = free >= min_free_bytes
    return DiskHealth(str(path), free, ok, "" if ok else f"only {free} bytes free (< {min_free_bytes})")


def now() -> float:
    return time.time()
