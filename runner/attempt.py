"""One attempt of a run: its filesystem, network and container, the run itself, and collection.

Order: the run's filesystem (``runner.runfs``) with the workspace copy on it; the network
(``runner.egress``); the container, created with its writable layer on that filesystem, given the
host's CA bundle (``runner.cabundle``); the proxy with the allow-list (which needs the image's apt
sources); the deadline written where the watchdog reads it; start, wait, kill at the timeout. Then
the egress audit, the disk's state (``disk_limit`` when the run reached it), collection within its
caps, and everything given back. What the submission's content causes after the container ran
(names, sizes, depth, a full disk) ends in a graded attempt with a note, never in an error.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import time
from pathlib import Path

from runner.cabundle import SYSTEM_STORE, TrustPlan, plan
from runner.collect import CollectResult, collect
from runner.egress import AttemptNetwork
from runner.egress_audit import egress_notes
from runner.engine import Container, ContainerSpec
from runner.errors import InfraError, SubmissionError
from runner.janitor import DEADLINE_LABEL, OWNER_LABEL, RUN_LABEL, give_back, owner_label
from runner.layout import CREATION_TIME, REPRODUCE_LOG
from runner.logcap import CappedLog, LogPump
from runner.metadata import DiskRecord
from runner.options import CONTAINER_HOME, CONTAINER_UID, ENTRY
from runner.run_record import Attempt, RunContext, collection_notes, collection_record, now_iso
from runner.runfs import RunFs
from runner.workspace import chown_tree, copy_in, diff, snapshot

GiB = 1024**3


def _container_user(ctx: RunContext, workspace: Path) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """(user, extra environment, scratch dirs) of the container, and the workspace made usable."""
    if ctx.profile.root:
        if os.geteuid() != 0 or ctx.userns_remap:
            _open_up(workspace)  # root inside may not be a host root: let it write the private copy
        return "0:0", {"HOME": "/root"}, ()
    if ctx.options.user is not None:
        return ctx.options.user, {}, ()
    if os.geteuid() == 0:
        chown_tree(workspace, CONTAINER_UID, CONTAINER_UID)
        return f"{CONTAINER_UID}:{CONTAINER_UID}", {}, (CONTAINER_HOME,)
    return f"{os.getuid()}:{os.getgid()}", {"HOME": "/tmp"}, ()


def _open_up(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o777)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.lstat(path).st_mode | 0o666)


def _log_ends(path: Path, n: int = 256 * 1024) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(n)
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(n, size - n))
            return head + fh.read(n)
    except OSError:
        return b""


def _disk_record(fs: RunFs) -> DiskRecord:
    usage = fs.usage()
    if usage is None:
        return DiskRecord(None, None)
    return DiskRecord(
        limit_bytes=fs.limit_bytes,
        inodes=usage.inodes,
        used_bytes=usage.used_bytes,
        used_inodes=usage.inodes - usage.free_inodes,
        full=usage.full,
    )


_IMAGE_FILES: dict[tuple[str, str], dict[str, bytes]] = {}  # (image digest, folder): an image never changes


def _image_files(ctx: RunContext, container: Container, folder: str, max_bytes: int) -> dict[str, bytes]:
    """Files of the image, read from a container that has not run yet (once per image and process)."""
    key = (ctx.digest or "", folder)
    if not ctx.digest or key not in _IMAGE_FILES:
        _IMAGE_FILES[key] = container.read_files(folder, max_bytes=max_bytes)
    return _IMAGE_FILES[key]


def _prepare_files(ctx: RunContext, container: Container, net: AttemptNetwork) -> tuple[str, ...]:
    """Give the container the host's CA bundle; returns the allow-list (policy only), which takes in
    the image's own apt sources."""
    from runner.allowlist import allow_list, image_apt_texts

    if ctx.options.network != "none" and ctx.ca_bundle is not None:
        store = _image_files(ctx, container, SYSTEM_STORE, 8 * 1024**2).get(SYSTEM_STORE)
        trust: TrustPlan = plan(ctx.ca_bundle, store)
        if trust.files:
            container.put_files(trust.files)
    if not net.policy:
        return ()
    apt = image_apt_texts(_image_files(ctx, container, "/etc/apt", 1024**2))
    return allow_list(
        defaults=ctx.options.egress_defaults, configured=ctx.options.egress_allow, image_apt=apt
    )


def _spec(
    ctx: RunContext, attempt: Attempt, fs: RunFs, workspace: Path, network: str, env: dict[str, str]
) -> ContainerSpec:
    options, profile = ctx.options, ctx.profile
    user, extra_env, scratch = _container_user(ctx, workspace)
    inner_deadline = max(1, math.ceil(options.timeout_s + options.deadline_grace_s))
    v = attempt.variation
    binds: tuple[tuple[str, str], ...] = ()
    if fs.limited and scratch:  # the locked profile's home: on the run's filesystem too
        binds = tuple((str(fs.root / f"scratch{i}"), target) for i, target in enumerate(scratch))
        for host, _target in binds:
            os.mkdir(host, 0o755)
            os.chown(host, CONTAINER_UID, CONTAINER_UID)
    return ContainerSpec(
        image=options.image,
        command=(
            "bash", "-c", ENTRY, "reprobot-entry", f"{inner_deadline}s", v.python or "",
            "1" if v.fresh_venv else "0", "1" if profile.clean_venvs else "0",
        ),
        workspace=str(workspace),
        workdir=profile.workdir,
        user=user,
        environment={**extra_env, **env, **dict(ctx.env)},
        memory_bytes=_memory(options.memory),
        cpus=ctx.cpus,
        pids_limit=options.pids_limit,
        network=network,
        tmpfs_size=options.tmpfs_size if profile.tmpfs else None,
        read_only_root=profile.read_only_root,
        cap_add=profile.cap_add,
        scratch_dirs=() if fs.limited else scratch,
        scratch_binds=binds,
        gpu=ctx.gpu_request,
        labels={
            RUN_LABEL: ctx.run_id,
            OWNER_LABEL: owner_label(),
            DEADLINE_LABEL: str(math.ceil(time.time() + options.timeout_s + options.deadline_margin_s + 30)),
        },
        log_max_bytes=max(options.log_cap_bytes * 2, 2 * 1024**2),
        layer_dir=str(fs.root / "layer") if fs.limited else None,
        runtime=options.runtime,
        seccomp_profile=ctx.sandbox.seccomp(),
        masked_paths=ctx.sandbox.masked_paths,
    )  # fmt: skip


def _memory(value: str) -> int:
    from runner.config import parse_size

    return parse_size(value)


def run_attempt(ctx: RunContext, attempt: Attempt, attempt_dir: Path, tmp: Path) -> Path:
    """One container run of reproduce.sh; returns the collected submission folder."""
    options, sandbox, state = ctx.options, ctx.sandbox, ctx.state
    attempt_dir.mkdir(parents=True, exist_ok=True)
    fs = sandbox.filesystems.create(
        tmp / f"fs-{attempt.number}", options.disk_limit_bytes, options.disk_inodes
    )
    if fs.image is not None:
        state.note("mounts", (str(fs.root), str(fs.image)))
    workspace = fs.root / "workspace"
    collected = attempt_dir / "submission"
    net = AttemptNetwork(
        ctx.engine, sandbox.firewall, sandbox.proxy, state, options.network,
        labels={RUN_LABEL: ctx.run_id, OWNER_LABEL: owner_label()},
    )  # fmt: skip
    try:
        try:
            copy_in(ctx.submission, workspace)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise SubmissionError(
                    f"the submission does not fit in the disk limit ({options.disk_limit})"
                ) from None
            raise
        os.chmod(workspace, 0o755)
        before = snapshot(workspace, options.collect_caps())
        log = CappedLog(attempt_dir / REPRODUCE_LOG, options.log_cap_bytes)
        try:
            _contain(ctx, attempt, attempt_dir, fs, workspace, net, log)
        finally:
            log.close()
            attempt.log_truncated = log.truncated
            attempt.egress = net.close()
        attempt.notes += egress_notes(attempt.egress, _log_ends(attempt_dir / REPRODUCE_LOG))
        if attempt.status == "completed":
            attempt.disk = _disk_record(fs)
            if attempt.disk.full:
                attempt.status = "disk_limit"
                size = (fs.limit_bytes or 0) / GiB
                attempt.notes += (
                    f"disk: the run reached its disk limit ({size:.1f} GiB, {fs.inodes} files; writable "
                    "layer and workspace together): the submission saw ENOSPC; graded with what it left",
                )
            _collect(ctx, attempt, workspace, collected, before)
    finally:
        _remove_workspace(ctx, workspace)
        sandbox.filesystems.release(fs)
        if fs.image is not None:
            state.forget("mounts", (str(fs.root), str(fs.image)))
    return collected


def _contain(
    ctx: RunContext, attempt: Attempt, attempt_dir: Path, fs: RunFs, workspace: Path,
    net: AttemptNetwork, log: CappedLog,
) -> None:  # fmt: skip
    options, state = ctx.options, ctx.state
    container: Container | None = None
    start = time.monotonic()
    try:
        network = net.open(ctx.run_id, attempt.number)
        env = net.environment()
        if options.network != "none" and ctx.ca_bundle is not None:
            from runner.cabundle import CONTAINER_ENV

            env.update({key: SYSTEM_STORE for key in CONTAINER_ENV})
        spec = _spec(ctx, attempt, fs, workspace, network, env)
        container = ctx.engine.create(spec)
        state.note("containers", container.id)
        allow = _prepare_files(ctx, container, net)
        net.start_proxy(allow, ctx.upstream)
        attempt.started_at = now_iso()
        attempt.creation_time = time.time()
        (attempt_dir / CREATION_TIME).write_text(f"{int(attempt.creation_time)}\n")
        state.set_deadline(time.time() + options.timeout_s + options.deadline_margin_s)
        start = time.monotonic()
        container.start()
        pump = LogPump(container.log_stream(), log)
        pump.start()
        if not container.wait(options.timeout_s):
            attempt.timed_out = True
            container.kill()
            container.wait(options.kill_grace_s)
        attempt.state = container.exit_state()
        pump.join(timeout=options.kill_grace_s)
    except InfraError as exc:
        attempt.status, attempt.error = "infra_error", str(exc)
    finally:
        attempt.duration_s = time.monotonic() - start
        attempt.finished_at = now_iso()
        if not attempt.started_at:
            attempt.started_at = attempt.finished_at
        if attempt.creation_time is None:  # never started: the layout still has its start time
            attempt.creation_time = time.time()
            (attempt_dir / CREATION_TIME).write_text(f"{int(attempt.creation_time)}\n")
        if container is not None:
            container.kill()
            container.remove()
            state.forget("containers", container.id)
        state.set_deadline(None)


def _collect(ctx: RunContext, attempt: Attempt, workspace: Path, collected: Path, before: dict) -> None:  # type: ignore[type-arg]
    if ctx.profile.root and (os.geteuid() != 0 or ctx.userns_remap):
        give_back(ctx.engine, ctx.options.image, workspace)  # root's files become readable, removable
    error: str | None = None
    try:
        result = collect(workspace, collected, ctx.options.collect_caps())
    except OSError as exc:  # the destination side (reprobot's own disk): graded with what was collected
        result, error = CollectResult(), f"{exc.strerror or exc}"
    attempt.changes = diff(before, result.after)
    attempt.skipped = tuple(result.skipped)
    attempt.collection = collection_record(result, error)
    attempt.notes += collection_notes(result, error)


def _remove_workspace(ctx: RunContext, workspace: Path) -> None:
    shutil.rmtree(workspace, ignore_errors=True)
    if workspace.exists():
        give_back(ctx.engine, ctx.options.image, workspace)
        shutil.rmtree(workspace, ignore_errors=True)
