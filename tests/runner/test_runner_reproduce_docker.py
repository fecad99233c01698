"""Reproduction in the real Docker engine is contained and survives hostile submissions.

Invariants, under the default ``paperbench`` profile (root inside a fresh writable container)
unless a test names ``locked``: capabilities are only the package-manager set (locked: none),
no-new-privileges, pids, memory (no swap) and CPU limits, a writable workspace copy, no docker
socket, no host path, no host environment (host secrets never reach the container or the output);
the exit status is preserved exactly; timeouts kill; no container outlives a run (also when
reprobot is interrupted); collection never follows a symlink and applies its caps; the original
submission is never modified. The locked profile keeps its non-root read-only sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.errors import InfraError, SubmissionError
from runner.janitor import OWNER_LABEL, owner_label
from runner.reproduce import RUN_LABEL, ReproduceOptions, reproduce

pytestmark = pytest.mark.docker

SECRET_OPENAI = "sk-test-openai-SECRET-0123456789"
SECRET_GITHUB = "ghp_testGITHUBsecret0123456789"


def make_submission(root: Path, script: str, files: dict[str, bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reproduce.sh").write_text("set -u\n" + script)
    for name, data in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def opts(image: str, **kw: object) -> ReproduceOptions:
    base: dict[str, object] = dict(
        image=image,
        timeout_s=20,
        memory="256m",
        cpus=1.0,
        pids_limit=128,
        network="none",
        tmpfs_size="64m",
        kill_grace_s=10,
        salvage=False,
        gpus="auto",
    )
    base.update(kw)
    return ReproduceOptions(**base)  # type: ignore[arg-type]


def labelled(engine: object, pid: int | None = None) -> list[str]:
    """The run containers of this test process, or of process ``pid`` (the dockerd may be shared)."""
    owner = owner_label() if pid is None else f"{socket.gethostname()}:{pid}"
    found = engine.labelled_containers(RUN_LABEL)  # type: ignore[attr-defined]
    return [c.id for c in found if c.labels.get(OWNER_LABEL) == owner]


def test_locked_profile_limits_user_and_filesystem(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    script = r"""
echo "uid=$(id -u) gid=$(id -g)"
grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status
echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo n/a)"
echo "pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
cg=/sys/fs/cgroup/cpu
echo "cpu=$(cat $cg/cpu.cfs_quota_us 2>/dev/null)/$(cat $cg/cpu.cfs_period_us 2>/dev/null)"
touch /etc/owned 2>/dev/null && echo "root-writable" || echo "root-readonly"
touch /tmp/t && echo "tmp-writable"
grep ' /tmp ' /proc/mounts | cut -d' ' -f3
touch /workspace/w && echo "workspace-writable"
touch "$HOME/h" && echo "home-writable"
ls -la /var/run/docker.sock /run/docker.sock 2>&1 | grep -c 'No such file'
echo "nets=$(ls /sys/class/net | tr '\n' ' ')"
mount | grep -c -E '^/dev/.* on /(etc|home|root|work|var/lib)' || true
sudo -n true 2>/dev/null && echo "sudo-works" || echo "no-sudo"
"""
    sub = make_submission(tmp_path / "sub", script)
    meta = reproduce(sub, tmp_path / "out", opts(repro_image, profile="locked"), engine=docker_engine)  # type: ignore[arg-type]
    log = (tmp_path / "out" / "reproduce.log").read_text()
    assert meta.exit_code == 0, log
    assert meta.profile == "locked"
    assert "uid=1000 gid=1000" in log
    assert "CapEff:\t0000000000000000" in log and "CapBnd:\t0000000000000000" in log
    assert "NoNewPrivs:\t1" in log
    assert f"mem={256 * 1024**2}" in log
    assert "memsw=n/a" in log or f"memsw={256 * 1024**2}" in log
    assert "pids=128" in log
    assert "cpu=100000/100000" in log
    assert "root-readonly" in log and "tmp-writable" in log and "\ntmpfs\n" in log
    assert "workspace-writable" in log and "home-writable" in log
    assert "\n2\n" in log  # both docker socket paths absent
    assert "nets=lo " in log  # --network none: loopback only
    assert "no-sudo" in log
    assert meta.limits["memory_bytes"] == 256 * 1024**2 and meta.limits["swap"] is False
    assert meta.image_digest and meta.image_digest.startswith("sha256:")
    assert labelled(docker_engine) == []


def test_exit_status_is_preserved_and_changes_are_recorded(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    sub = make_submission(
        tmp_path / "sub",
        "echo new > results.txt\necho changed > data.txt\nrm gone.txt\n"
        "mkdir -p out && echo x > out/r.csv\nexit 42\n",
        {"data.txt": b"old\n", "gone.txt": b"bye\n", "same.txt": b"same\n"},
    )
    before = {p.name: p.read_bytes() for p in sub.iterdir()}
    out = tmp_path / "out"
    meta = reproduce(sub, out, opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    assert meta.exit_code == 42 and not meta.timed_out and meta.status == "completed"
    changes = {c.path: c.change for c in meta.files_changed}
    assert changes == {
        "results.txt": "created",
        "data.txt": "modified",
        "gone.txt": "deleted",
        "out/r.csv": "created",
    }
    assert meta.changed_paths == {"results.txt", "data.txt", "out/r.csv"}
    assert (out / "submission" / "results.txt").read_text() == "new\n"
    assert (out / "submission" / "same.txt").read_text() == "same\n"
    assert not (out / "submission" / "gone.txt").exists()
    assert {p.name: p.read_bytes() for p in sub.iterdir()} == before  # the original is untouched
    data = json.loads((out / "metadata.json").read_text())
    assert data["exit_code"] == 42 and data["files_changed"]

    sub2 = make_submission(tmp_path / "sub2", "kill -9 $$\n")
    meta2 = reproduce(sub2, tmp_path / "out2", opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    assert meta2.exit_code == 137 and not meta2.oom_killed


def test_host_secrets_never_reach_the_container(
    tmp_path: Path, repro_image: str, docker_engine: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_OPENAI)
    monkeypatch.setenv("GITHUB_TOKEN", SECRET_GITHUB)
    script = r"""
env
env > env.txt
cat /proc/1/environ | tr '\0' '\n' > proc1.txt
for f in /proc/[0-9]*/environ; do tr '\0' '\n' < "$f"; done 2>/dev/null
cat /proc/1/cmdline | tr '\0' ' '; echo
find / -xdev \( -name 'rubric.json' -o -name '*.rubric*' -o -name 'judge*' \) 2>/dev/null | head
ls /work /root 2>&1 | head -3
"""
    sub = make_submission(tmp_path / "sub", script)
    meta = reproduce(
        sub,
        tmp_path / "out",
        opts(repro_image),
        engine=docker_engine,  # type: ignore[arg-type]
        env={"HF_TOKEN": "granted-resource"},
    )
    assert meta.exit_code == 0
    everything = b""
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            everything += path.read_bytes()
    assert SECRET_OPENAI.encode() not in everything and SECRET_GITHUB.encode() not in everything
    assert b"OPENAI_API_KEY" not in everything and b"GITHUB_TOKEN" not in everything
    assert b"HF_TOKEN=granted-resource" in (tmp_path / "out" / "submission" / "env.txt").read_bytes()
    log = (tmp_path / "out" / "reproduce.log").read_text()
    assert "rubric.json" not in log
    assert "cannot access '/work'" in log  # the host's project folders do not exist in there


def test_fork_bomb_is_contained(tmp_path: Path, repro_image: str, docker_engine: object) -> None:
    sub = make_submission(tmp_path / "sub", "bomb() { bomb | bomb & }; bomb\nsleep 2\necho survived\n")
    start = time.monotonic()
    meta = reproduce(
        sub, tmp_path / "out", opts(repro_image, timeout_s=6, pids_limit=64), engine=docker_engine
    )  # type: ignore[arg-type]
    assert time.monotonic() - start < 30
    assert meta.status == "completed"
    assert labelled(docker_engine) == []


def test_endless_output_is_capped_head_and_tail(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    sub = make_submission(tmp_path / "sub", "echo FIRST-LINE\nyes 'spam spam spam'\n")
    cap = 64 * 1024
    meta = reproduce(
        sub, tmp_path / "out", opts(repro_image, timeout_s=3, log_cap_bytes=cap), engine=docker_engine
    )  # type: ignore[arg-type]
    data = (tmp_path / "out" / "reproduce.log").read_bytes()
    assert meta.timed_out and meta.log_truncated
    assert len(data) <= cap + 200
    assert data.startswith(b"FIRST-LINE\n")
    assert b"[reprobot: " in data and b"bytes of output cut here" in data
    marker = data.index(b"bytes of output cut here")
    assert b"spam spam spam\n" in data[-200:] and len(data) - marker > cap // 4  # the tail is kept
    # (the kill at the deadline may cut the very last line anywhere: no claim on its last bytes)


def test_memory_hog_is_oom_killed(tmp_path: Path, repro_image: str, docker_engine: object) -> None:
    sub = make_submission(
        tmp_path / "sub", "python3 -c 'x = bytearray(512 * 1024 * 1024); print(len(x))'\necho rc=$?\n"
    )
    meta = reproduce(sub, tmp_path / "out", opts(repro_image, memory="64m"), engine=docker_engine)  # type: ignore[arg-type]
    log = (tmp_path / "out" / "reproduce.log").read_text()
    assert meta.oom_killed, log
    assert "rc=137" in log or meta.exit_code == 137


def test_timeout_kills_and_background_processes_do_not_outlive(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    sub = make_submission(tmp_path / "sub", "sleep 300\n")
    start = time.monotonic()
    meta = reproduce(sub, tmp_path / "out", opts(repro_image, timeout_s=2), engine=docker_engine)  # type: ignore[arg-type]
    assert meta.timed_out and time.monotonic() - start < 20
    assert meta.exit_code is not None and meta.exit_code != 0

    sub2 = make_submission(
        tmp_path / "sub2",
        "(sleep 4; echo late > late.txt) &\n"
        "nohup setsid sleep 1000 >/dev/null 2>&1 &\necho started\nexit 0\n",
    )
    start = time.monotonic()
    meta2 = reproduce(sub2, tmp_path / "out2", opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    assert meta2.exit_code == 0 and not meta2.timed_out
    assert time.monotonic() - start < 4
    assert not (tmp_path / "out2" / "submission" / "late.txt").exists()
    assert labelled(docker_engine) == []


def test_symlinks_fifos_and_odd_names_are_not_followed(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    odd = os.fsdecode(b"caf\xe9-\xff.bin")
    sub = make_submission(
        tmp_path / "sub",
        "ln -s /etc/passwd x\nln -s / r\nmkfifo fifo\necho data > real.txt\n"
        "printf 'changed\\377' >> caf*.bin\nhead -c 4096 /dev/urandom > big.bin\n"
        "truncate -s 1T huge.bin\nexit 0\n",
        {odd: b"\x00\x01\x02binary"},
    )
    (sub / "hostlink").symlink_to("/etc/shadow")
    out = tmp_path / "out"
    meta = reproduce(sub, out, opts(repro_image, file_cap_bytes=1024), engine=docker_engine)  # type: ignore[arg-type]
    collected = out / "submission"
    names = set(os.listdir(collected))
    assert {"x", "r", "fifo", "hostlink"}.isdisjoint(names)
    assert "real.txt" in names and odd in names and "big.bin" not in names
    skipped = " ".join(meta.skipped_files)
    assert "x (symlink)" in skipped and "r (symlink)" in skipped and "fifo" in skipped
    assert "big.bin (over the per-file cap" in skipped and "huge.bin (over the per-file cap" in skipped
    changes = {c.path: c.change for c in meta.files_changed}
    assert changes[odd] == "modified" and changes["real.txt"] == "created"
    json.loads((out / "metadata.json").read_text())  # odd names still give valid JSON
    for path in collected.rglob("*"):
        assert not path.is_symlink()
        if path.is_file():
            assert b"root:x:0:0" not in path.read_bytes()


def test_refusals_before_any_container(tmp_path: Path, repro_image: str, docker_engine: object) -> None:
    link = tmp_path / "link"
    link.mkdir()
    (link / "reproduce.sh").symlink_to("/etc/passwd")
    with pytest.raises(SubmissionError, match="regular file"):
        reproduce(link, tmp_path / "out", opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    sub = make_submission(tmp_path / "sub", "nvidia-smi\n")
    with pytest.raises(InfraError, match="offers none"):
        reproduce(sub, tmp_path / "out2", opts(repro_image, gpus="all"), engine=docker_engine)  # type: ignore[arg-type]
    with pytest.raises(InfraError, match="reprobot image build"):
        reproduce(sub, tmp_path / "out3", opts("reprobot/missing:nope"), engine=docker_engine)  # type: ignore[arg-type]
    assert labelled(docker_engine) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupting_reprobot_removes_the_container(
    tmp_path: Path, repro_image: str, docker_engine: object, sig: signal.Signals
) -> None:
    sub = make_submission(tmp_path / "sub", "echo running\nsleep 120\n")
    cmd = [
        sys.executable,
        "-m",
        "bot.cli",
        "reproduce",
        str(sub),
        "--out",
        str(tmp_path / "out"),
        "--network",
        "none",
        "--memory",
        "128m",
        "--timeout",
        "100",
        "--image",
        repro_image,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not labelled(docker_engine, proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert labelled(docker_engine, proc.pid), "the container never started"
    time.sleep(0.5)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert labelled(docker_engine, proc.pid) == []
