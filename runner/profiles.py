"""The two sandboxes ``reproduce.sh`` can run in: ``paperbench`` (the default) and ``locked``.

``paperbench`` is PaperBench's reproduction contract (PAPERBENCH.md section 1): ``reproduce.sh`` runs
as root in a fresh container with its own writable filesystem, thrown away with the container,
from the submission folder, after ``venv`` and ``.venv`` are removed. Root inside, nobody outside:

- capabilities: ALL dropped, then only those package managers use are added back:
  CHOWN, DAC_OVERRIDE, FOWNER, FSETID (dpkg unpacking and chowning files), SETUID, SETGID (apt's
  ``_apt`` download sandbox, ``sudo``, ``su``), KILL (root signalling processes of other users it
  started). Docker's defaults NET_RAW, MKNOD, NET_BIND_SERVICE, SYS_CHROOT, SETPCAP, SETFCAP and
  AUDIT_WRITE are not granted (nothing in an ``apt-get install``/``pip install`` needs them; packages
  whose postinst sets file capabilities fall back to setuid); no SYS_*, no NET_ADMIN, ever.
- no-new-privileges, reprobot's seccomp profile (``runner.seccomp``: the engine's default minus
  io_uring and ptrace), the host's ``/proc`` entries masked (``runner.sandbox``), pids/memory (no
  swap)/CPU limits, no host environment, no docker socket; disk, files, time and network bounded
  outside (``runner.runfs``, ``runner.collect``, ``runner.watchdog``, ``runner.egress``);
- no host path but the workspace: a copy of the submission in a private (0700) temporary folder,
  bind-mounted at ``/submission``. Files root creates there never block cleanup: when reprobot does
  not run as root (or the engine remaps user namespaces), a short container of the same image makes
  the workspace the caller's again (``chmod -R a+rwX,ug-s``, which also strips set-id bits) before
  collection and removal; a temp folder left by a killed run is cleaned the same way at the next
  start of ``worker``/``grade`` (``runner.janitor``). Collection copies regular files only, never
  following a link, as the user reprobot runs as.
- user-namespace remapping, when the engine has it (``docker info``), maps that root to an
  unprivileged host uid; reprobot records whether it was on in ``metadata.json``.

``locked`` is the hardened sandbox of earlier versions: a non-root user (uid 1000) with no
capabilities, a read-only root filesystem, a tmpfs ``/tmp`` and the workspace copy bind-mounted.
``apt-get install`` cannot work there; scripts that only need Python and pip do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProfileName = Literal["paperbench", "locked"]
PROFILES: tuple[ProfileName, ...] = ("paperbench", "locked")

PACKAGE_MANAGER_CAPS: tuple[str, ...] = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "SETUID",
    "SETGID",
    "KILL",
)
NEVER_GRANTED: frozenset[str] = frozenset(
    {"NET_RAW", "MKNOD", "NET_ADMIN", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "SYS_BOOT",
     "SYS_TIME", "SYS_CHROOT", "AUDIT_WRITE", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "DAC_READ_SEARCH"}
)  # fmt: skip


@dataclass(frozen=True)
class Profile:
    name: ProfileName
    root: bool  # reproduce.sh runs as root inside
    read_only_root: bool
    cap_add: tuple[str, ...]
    workdir: str  # where the submission sits inside the container
    tmpfs: bool  # a tmpfs /tmp (needed on a read-only root)
    clean_venvs: bool  # rm -rf venv .venv before the run (PaperBench's command)

    def __post_init__(self) -> None:
        assert not (set(self.cap_add) & NEVER_GRANTED), "a profile must never grant these"


PAPERBENCH = Profile(
    name="paperbench",
    root=True,
    read_only_root=False,
    cap_add=PACKAGE_MANAGER_CAPS,
    workdir="/submission",
    tmpfs=False,
    clean_venvs=True,
)

LOCKED = Profile(
    name="locked",
    root=False,
    read_only_root=True,
    cap_add=(),
    workdir="/workspace",
    tmpfs=True,
    clean_venvs=False,
)


def get_profile(name: str) -> Profile:
    if name == "paperbench":
        return PAPERBENCH
    if name == "locked":
        return LOCKED
    from runner.errors import InfraError

    raise InfraError(f"profile {name!r}: expected one of {', '.join(PROFILES)}")
