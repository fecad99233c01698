"""The organizer's limits for one reproduction on a GPU runner, as ``workflow_dispatch`` inputs.

The bot's ``runner:`` settings give the defaults; a paper's ``config.yaml`` may override them for
that paper under ``runner:`` (``timeout_s``, ``memory``, ``cpus``, ``gpus``, ``network``). The
workflow (``.github/workflows/reproduce.yml``) validates each input again and passes it to
``reprobot reproduce``; the artifact's name is ``dispatch.artifact_name``, so the worker finds what
the runner uploaded. A bad per-paper value is an organizer's error, reported before dispatching.
"""

from __future__ import annotations

import re
from typing import Any

from bot.errors import ConfigError
from bot.settings import Settings
from judge.errors import PaperNotFound
from judge.papers import PaperRegistry

PER_PAPER_KEYS = ("timeout_s", "memory", "cpus", "gpus", "network")
RUNNER_READS = ("disk_limit", "egress_allow")  # read by `reprobot reproduce --paper` on the runner itself
CHECKS = {
    "timeout": re.compile(r"^[1-9][0-9]{0,7}$"),
    "memory": re.compile(r"^[1-9][0-9]*[kmgt]?$", re.I),
    "cpus": re.compile(r"^[0-9]+(\.[0-9]+)?$"),
    "gpus": re.compile(r"^(|auto|none|all|[0-9]+|device=[0-9]+(,[0-9]+)*)$"),
    "network": re.compile(r"^(policy|none|bridge)$"),
    "artifact": re.compile(r"^[A-Za-z0-9._-]{1,100}$"),
}


def paper_runner_overrides(settings: Settings, paper_id: str | None) -> dict[str, Any]:
    if not paper_id:
        return {}
    registry = PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)
    try:
        config = registry.get(paper_id).config
    except PaperNotFound:
        return {}
    runner = config.get("runner") if isinstance(config, dict) else None
    if not isinstance(runner, dict):
        return {}
    unknown = sorted(set(runner) - set(PER_PAPER_KEYS) - set(RUNNER_READS))
    if unknown:
        raise ConfigError(f"paper {paper_id}: config.yaml runner: unknown key(s) {', '.join(unknown)}")
    return {k: runner[k] for k in PER_PAPER_KEYS if k in runner}


def limit_inputs(settings: Settings, paper_id: str | None) -> dict[str, str]:
    """timeout, memory, cpus, gpus, network, artifact: the runner defaults and the paper's overrides."""
    r = settings.runner.model_dump()
    r.update(paper_runner_overrides(settings, paper_id))
    inputs = {
        "timeout": str(int(r["timeout_s"])),
        "memory": str(r["memory"]),
        "cpus": f"{float(r['cpus']):g}",
        "gpus": "" if r["gpus"] is None else str(r["gpus"]),
        "network": str(r["network"]),
        "artifact": settings.dispatch.artifact_name,
    }
    for key, value in inputs.items():
        if not CHECKS[key].match(value):
            raise ConfigError(f"paper {paper_id}: runner limit {key}={value!r} is refused by reproduce.yml")
    return inputs
