"""``reprobot image build``, ``reprobot reproduce`` and ``reprobot blacklist check``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.common import app_settings, resolve_paper
from bot.errors import ConfigError
from runner.allowlist import normalise_entry
from runner.blacklist import AGENT_LOG, Policy, scan_submission
from runner.errors import SubmissionError
from runner.fetch import fetch_submission
from runner.janitor import temp_dir
from runner.layout import REPRODUCE_LOG
from runner.options import paper_overrides
from runner.reproduce import ReproduceOptions, reproduce


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` per line (blank lines and ``#`` comments skipped; no expansion, no quotes magic)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read env file ({exc.strerror})") from None
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


@click.group("image")
def image_group() -> None:
    """The reproduction image."""


@image_group.command("build")
@click.option("--image", default=None, help="Image name (default: runner.image of the settings).")
@click.option("--force", is_flag=True, help="Rebuild even when an image with this recipe exists.")
@click.pass_context
def image_build(ctx: click.Context, image: str | None, force: bool) -> None:
    """Build the default reproduction image from Debian packages (offline; idempotent)."""
    from runner.docker_engine import DockerEngine
    from runner.image import build_default_image

    settings = app_settings(ctx).runner
    name = image or settings.image
    engine = DockerEngine(timeout_s=1800)
    result = build_default_image(engine, image=name, cache_dir=settings.cache_dir / "images", force=force)
    for step in result.steps:
        click.echo(f"reprobot: {step}")
    click.echo(name if not result.built else f"{name} {result.image_id}")


@click.command("reproduce")
@click.argument("submission")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--profile",
    type=click.Choice(["paperbench", "locked"]),
    default=None,
    help="paperbench: root in a fresh container (default); locked: non-root, read-only root.",
)
@click.option("--timeout", "timeout_s", type=float, default=None, help="Wall-clock seconds, then kill.")
@click.option("--memory", default=None, help="Memory limit, e.g. 2g (no swap on top).")
@click.option("--cpus", type=float, default=None)
@click.option("--pids", "pids_limit", type=int, default=None, help="Maximum number of processes.")
@click.option("--gpus", default=None, help="auto, none, all, a count, or device=0,1 (default: runner.gpus).")
@click.option("--salvage/--no-salvage", default=None, help="Retry a quick failure (PaperBench's variations).")
@click.option(
    "--network",
    default=None,
    help="policy (its own network, egress through the audited allow-list proxy), none, bridge "
    "(unrestricted) or a named Docker network (not host). Default: runner.network.",
)
@click.option(
    "--disk", "disk_limit", default=None, help="Disk limit (writable layer + workspace), e.g. 20g, or none."
)
@click.option("--runtime", default=None, help="The engine's OCI runtime, e.g. runsc (gVisor).")
@click.option(
    "--egress-allow", "egress_allow", multiple=True, help="A host (or .domain) the run may also reach."
)
@click.option("--paper", "paper_ref", default=None, help="Apply this paper's runner limits (config.yaml).")
@click.option("--image", default=None)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="KEY=VALUE lines granted to the container (the only environment it gets).",
)
@click.pass_context
def reproduce_cmd(
    ctx: click.Context,
    submission: str,
    out_dir: Path,
    profile: str | None,
    timeout_s: float | None,
    memory: str | None,
    cpus: float | None,
    pids_limit: int | None,
    gpus: str | None,
    salvage: bool | None,
    network: str | None,
    disk_limit: str | None,
    runtime: str | None,
    egress_allow: tuple[str, ...],
    paper_ref: str | None,
    image: str | None,
    env_file: Path | None,
) -> None:
    """Run SUBMISSION's reproduce.sh in the sandbox; results in --out.

    SUBMISSION is a folder, a tarball, or a git URL with an optional @REF. The command succeeds
    whenever the run happened, whatever reproduce.sh returned: read metadata.json.
    """
    settings = app_settings(ctx).runner
    overrides: dict[str, object] = {}
    if paper_ref is not None:
        try:
            overrides = paper_overrides(settings, resolve_paper(ctx, paper_ref).config)
        except ValueError as exc:
            raise ConfigError(f"paper {paper_ref}: {exc}") from None
    if egress_allow:
        base = overrides.get("egress_allow", settings.egress_allow)
        try:
            hosts = (*base, *map(normalise_entry, egress_allow))  # type: ignore[misc]
        except ValueError as exc:
            raise ConfigError(f"--egress-allow: {exc}") from None
        overrides["egress_allow"] = hosts
    cli = dict(timeout_s=timeout_s, memory=memory, cpus=cpus, gpus=gpus, network=network)
    cli["disk_limit"] = disk_limit
    overrides.update({k: v for k, v in cli.items() if v is not None})
    options = ReproduceOptions.from_settings(
        settings,
        **overrides,  # type: ignore[arg-type]
        profile=profile,
        salvage=salvage,
        pids_limit=pids_limit,
        runtime=runtime,
        image=image,
    )
    env = parse_env_file(env_file) if env_file is not None else {}
    with temp_dir("fetch") as tmp:
        local = Path(submission)
        if local.is_dir():
            root, ref = local, str(local)
            if _tree_bytes(local) > settings.max_repo_bytes:
                raise SubmissionError(
                    f"{submission}: larger than the limit of {settings.max_repo_bytes} bytes"
                )
        else:
            fetched = fetch_submission(
                submission, Path(tmp) / "submission", max_bytes=settings.max_repo_bytes
            )
            root = fetched.root
            ref = f"{submission}#{fetched.commit}" if fetched.commit else submission
        meta = reproduce(root, out_dir, options, env=env, submission_ref=ref)
    if meta.status == "not_run":
        click.echo(f"not run: {meta.not_run_reason}")
        click.echo(str(out_dir))
        return
    click.echo(
        f"attempts={len(meta.attempts)} exit_code={meta.exit_code} timed_out={str(meta.timed_out).lower()} "
        f"oom_killed={str(meta.oom_killed).lower()} duration_s={meta.duration_s:.2f} "
        f"files_changed={len(meta.files_changed)} log_truncated={str(meta.log_truncated).lower()} "
        f"status={meta.status}"
    )
    for note in meta.notes:
        click.echo(f"note: {note}")
    if meta.egress is not None:
        click.echo(meta.egress.summary())
    click.echo(str(out_dir))


def _tree_bytes(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.lstat().st_size
        except OSError:
            pass
    return total


@click.group("blacklist")
def blacklist_group() -> None:
    """Blacklisted resources of a paper."""


@blacklist_group.command("check")
@click.option("--paper", "paper_ref", required=True, help="Paper id, or a PaperBench-layout folder.")
@click.argument("submission", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="reproduce.log to check with the monitor rule.",
)
@click.option("--agent-log", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option(
    "--policy",
    type=click.Choice(["report", "fail"]),
    default=None,
    help="fail: exit 1 on a reprobot-rule violation or a PaperBench monitor hit in the agent log "
    "(default: runner.blacklist_policy).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the blacklist.json report.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the blacklist.json report here.",
)
@click.pass_context
def blacklist_check(
    ctx: click.Context,
    paper_ref: str,
    submission: Path,
    log_file: Path | None,
    agent_log: Path | None,
    policy: str | None,
    as_json: bool,
    out_file: Path | None,
) -> None:
    """Find uses of the paper's blacklisted URLs in SUBMISSION (and in its logs)."""
    paper = resolve_paper(ctx, paper_ref)
    chosen: Policy = "fail" if (policy or app_settings(ctx).runner.blacklist_policy) == "fail" else "report"
    logs: dict[str, Path] = {}
    if log_file is not None:
        logs[REPRODUCE_LOG] = log_file
    if agent_log is not None:
        logs[AGENT_LOG] = agent_log
    report = scan_submission(submission, paper.blacklist, logs=logs)
    data = report.to_dict(chosen)
    if out_file is not None:
        out_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        for v in report.violations:
            where = v.file if v.source == "submission" else f"{v.source}:{v.file}"
            click.echo(f"[{v.rule}] {where}:{v.line}: {v.url}: {v.context}")
        state = (
            "blocked" if data["blocked"]
            else "score 0 (PaperBench's monitor)" if data["score_zero"]
            else "clean" if report.clean
            else "violations reported"
        )  # fmt: skip
        click.echo(
            f"{len(report.violations)} violation(s) of {len(paper.blacklist)} blacklisted URL(s) "
            f"in {report.files_scanned} file(s): {state}"
        )
    if data["blocked"] or data["score_zero"]:
        ctx.exit(1)


@click.command("doctor")
@click.pass_context
def doctor_cmd(ctx: click.Context) -> None:
    """Is this machine ready to run reproductions? One OK/WARN/FAIL line per check, with the fix.

    Exit 0 when nothing FAILs, 3 otherwise (infrastructure).
    """
    from runner.docker_engine import DockerEngine
    from runner.doctor import diagnose, failed
    from runner.doctor_sandbox import diagnose_sandbox

    settings = app_settings(ctx).runner
    checks = diagnose(settings, lambda: DockerEngine(timeout_s=60))
    for check in checks:
        click.echo(check.line())
    if checks[0].name == "engine" and checks[0].level != "FAIL":  # the sandbox's bounds on this host
        engine = DockerEngine(timeout_s=60)
        image_present = not any(c.name == "image" and c.level == "FAIL" for c in checks)
        more = diagnose_sandbox(settings, engine, engine.info(), image_present=image_present)
        for check in more:
            click.echo(check.line())
        checks = (*checks, *more)
    if failed(checks):
        ctx.exit(3)


@click.command("janitor")
@click.pass_context
def janitor_cmd(ctx: click.Context) -> None:
    """Remove what dead runs left: containers past their deadline, networks, proxies, mounts, folders."""
    from runner.janitor import sweep_at_start

    settings = app_settings(ctx).runner
    bases = (settings.scratch_dir,) if settings.scratch_dir is not None else ()
    result = sweep_at_start(settings.image, bases)
    if result is None:
        click.echo("reprobot: the Docker engine is not reachable; temp folders only", err=True)
        return
    click.echo(
        f"containers removed={len(result.containers_removed)} "
        f"networks removed={len(result.networks_removed)} "
        f"folders removed={len(result.folders_removed)} folders left={len(result.folders_left)}"
    )


@click.group("import")
def import_group() -> None:
    """Bring results of other graders into reprobot's layout."""


@import_group.command("paperbench")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def import_paperbench_cmd(ctx: click.Context, run: Path, out_dir: Path) -> None:
    """A PaperBench executed submission (archive or folder) -> reprobot's executed layout in --out.

    Then `reprobot judge OUT --paper ID` grades it with reprobot's judge.
    """
    from runner.paperbench_import import import_paperbench

    settings = app_settings(ctx).runner
    meta = import_paperbench(
        run, out_dir, file_cap_bytes=settings.file_cap_bytes, total_cap_bytes=settings.total_cap_bytes
    )
    click.echo(f"touched={len(meta.files_changed)} skipped={len(meta.skipped_files)} exit_code=unknown")
    click.echo(str(out_dir))


COMMANDS: list[click.Command] = [
    image_group, reproduce_cmd, blacklist_group, doctor_cmd, import_group, janitor_cmd
]  # fmt: skip
