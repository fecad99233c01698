"""reprobot's seccomp profile: the engine's default profile minus what a reproduction does not need.

The base is Docker's own default profile (``runner/seccomp/docker-default.json``, unchanged, with
its provenance and licence in ``runner/seccomp/NOTICE``). reprobot removes from it:

- ``io_uring_setup``, ``io_uring_enter``, ``io_uring_register``: an asynchronous path around the
  system calls the rest of the profile filters (Docker 20.10 still allows it; later Dockers do not);
- ``ptrace``, ``process_vm_readv``, ``process_vm_writev``, ``kcmp``, ``pidfd_getfd``: reading or
  steering another process. A submission that stops the container's init or the deadline's
  ``timeout`` with ptrace could otherwise outlive its deadline inside the container (the deadline is
  enforced from outside too: ``runner.watchdog``).

They fail with EPERM, as everything the profile does not allow. ``seccomp: engine`` in the runner
settings uses the engine's default instead.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

BASE = Path(__file__).with_name("seccomp") / "docker-default.json"
DENIED: tuple[str, ...] = (
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
)
EPERM = 1


def derive(base: dict[str, Any], denied: tuple[str, ...] = DENIED) -> dict[str, Any]:
    """``base`` without any rule allowing a ``denied`` call, and an explicit EPERM rule for them."""
    profile = json.loads(json.dumps(base))  # a deep copy
    rules = []
    for rule in profile.get("syscalls", []):
        names = [n for n in rule.get("names", []) if n not in denied]
        if names:
            rules.append({**rule, "names": names})
        elif rule.get("action") != "SCMP_ACT_ALLOW":
            rules.append(rule)
    rules.append({"names": list(denied), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM, "args": []})
    profile["syscalls"] = rules
    return profile


@lru_cache(maxsize=1)
def reprobot_profile() -> str:
    """The profile as the engine takes it (JSON text)."""
    base = json.loads(BASE.read_text(encoding="utf-8"))
    return json.dumps(derive(base), separators=(",", ":"))


def allowed(profile: dict[str, Any], name: str) -> bool:
    """Whether some rule of ``profile`` allows ``name`` (unconditionally or under a condition)."""
    return any(
        name in r.get("names", []) and r.get("action") == "SCMP_ACT_ALLOW" for r in profile["syscalls"]
    )
