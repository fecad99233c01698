"""The GitHub workflows are fit to run: actionlint (installed from PyPI with the test extras) finds
nothing, with the ``gpu`` runner label declared in .github/actionlint.yaml; every action is pinned
by a full commit SHA; the reproduction workflow takes exactly the inputs the bot sends (the
organizer's limits, the paper's overrides and the artifact name), validates each, installs reprobot
from the hashed lock file, and loads or builds the image once per runner host."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.errors import ConfigError
from bot.intake.actions import JobInfo
from bot.jobs.dispatch import limit_inputs, new_nonce, workflow_inputs
from bot.jobs.records import Job
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
REPRODUCE = ROOT / ".github" / "workflows" / "reproduce.yml"
ACTIONLINT = shutil.which("actionlint") or str(Path(sys.executable).with_name("actionlint"))


@pytest.mark.skipif(not Path(ACTIONLINT).exists(), reason="actionlint not installed (pip install '.[test]')")
def test_actionlint_is_clean() -> None:
    proc = subprocess.run(
        [ACTIONLINT, "-config-file", ".github/actionlint.yaml", *map(str, WORKFLOWS)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actions_pinned_by_commit_sha() -> None:
    uses = [u for wf in WORKFLOWS for u in re.findall(r"uses:\s*(\S+)", wf.read_text())]
    assert uses
    for ref in uses:
        if ref.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{ref} is not pinned by a commit SHA"


def test_gpu_label_declared_for_actionlint() -> None:
    config = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())
    assert "gpu" in config["self-hosted-runner"]["labels"]
    wf = yaml.safe_load(REPRODUCE.read_text())
    assert wf["jobs"]["reproduce"]["runs-on"] == ["self-hosted", "gpu"]


def _job(paper: str) -> Job:
    from bot.jobs.queue import row_to_job  # noqa: F401  (the record's shape comes from the queue)

    return Job(
        id=7, kind="grade", repo="org/bench", pr=3, head_sha="a" * 40, rubric_version="v", mode="full",
        paper=paper, installation_id=None, info=JobInfo(head_repo="fork/bench"), state="queued", stage="",
        attempts=0, next_attempt_at=0, lease_owner=None, lease_expires=0, generation=0, check_intent=False,
        check_run_id=None, check_completed=False, needs_close=False, comment_done=False, result_dir=None,
        reuse_from=None, outcome=None, external=None, dispatch=None, quota_key=None, quota="", quota_day=None,
        message="", delivery_id=None, created_at=0, updated_at=0,
    )  # fmt: skip


def _papers(tmp_path: Path, runner: object) -> Settings:
    folder = tmp_path / "rubrics" / "p1"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "rubrics" / "tiny-moons" / "rubric.json", folder / "rubric.json")
    (folder / "config.yaml").write_text(yaml.safe_dump({"id": "p1", "runner": runner}))
    return Settings(papers={"rubrics_dir": tmp_path / "rubrics", "blacklists_dir": tmp_path / "bl"},
                    runner={"memory": "32g"}, dispatch={"artifact_name": "exec-out"})  # fmt: skip


def test_the_workflow_takes_exactly_what_the_bot_sends(tmp_path: Path) -> None:
    settings = _papers(tmp_path, {"timeout_s": 600, "gpus": "2"})
    sent = {**workflow_inputs(_job("p1"), new_nonce()), **limit_inputs(settings, "p1")}
    assert sent["timeout"] == "600" and sent["gpus"] == "2"  # the paper's overrides
    assert sent["memory"] == "32g" and sent["artifact"] == "exec-out"  # the organizer's settings
    wf = yaml.safe_load(REPRODUCE.read_text())
    declared = wf[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads the key `on` as True
    assert set(declared) == set(sent) and len(declared) <= 10
    text = REPRODUCE.read_text()
    for name in sent:
        assert f"inputs.{name}" in text
    assert "name: ${{ inputs.artifact }}" in text
    assert "--require-hashes -r reprobot/requirements.lock" in text and "--no-deps ./reprobot" in text
    assert "docker load" in text and "docker save" in text and "flock" in text


def test_the_workflow_checks_the_job_label_and_echoes_it_with_its_nonce() -> None:
    """The run-name carries the whole ``job`` input (id, generation, the dispatch's nonce): the bot
    tells its own run by it; the validation step accepts exactly that shape."""
    wf = yaml.safe_load(REPRODUCE.read_text())
    assert wf["run-name"] == "reprobot job ${{ inputs.job }}"
    label = workflow_inputs(_job("p1"), new_nonce())["job"]
    [pattern] = re.findall(r'\[\[ "\$JOB" =~ (.+?) \]\] \|\|', REPRODUCE.read_text())
    bash_ere = pattern.replace("\\ ", " ")
    assert re.fullmatch(bash_ere.strip("^$"), label)
    assert not re.fullmatch(bash_ere.strip("^$"), "7 g0")  # no nonce, no run


def test_bad_per_paper_limits_are_the_organizers_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        limit_inputs(_papers(tmp_path / "a", {"timeot_s": 5}), "p1")
    with pytest.raises(ConfigError, match="network"):
        limit_inputs(_papers(tmp_path / "b", {"network": "host; rm -rf /"}), "p1")


def test_lock_file_pins_every_dependency_with_hashes() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    names = {m.lower() for m in re.findall(r"^([A-Za-z0-9_.-]+)==", lock, re.M)}
    for dep in ("click", "pyyaml", "jinja2", "pydantic", "flask", "pygithub", "openai", "docker", "waitress"):
        assert dep in names, dep
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock) if "==" in b]
    assert all("--hash=sha256:" in b for b in blocks)
