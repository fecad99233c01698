"""Configuration, read once at start and passed down.

Sources, later wins: built-in defaults < the YAML file (``--config`` or ``REPROBOT_CONFIG``) <
environment variables for secrets only. Nothing reads ``os.environ`` at import time: call
``load_settings(environ=...)`` with the environment you mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.assets import asset_dir
from bot.config_tools import validation_errors, yaml_error
from bot.errors import ConfigError
from judge.config import JudgeSettings
from runner.config import RunnerSettings


# ``leaderboard:`` and ``quotas:``: what people see, and fairness (docs/CONFIG.md)
class LeaderboardSettings(BaseModel):
    """``leaderboard:`` — published after each graded job through the GitHub seam (or the forge)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    publish: bool = False  # commit the leaderboard after each graded job
    repository: str | None = None  # owner/repo to commit to; default: the graded job's repository
    branch: str = "gh-pages"  # a branch GitHub Pages serves, or any branch of the organizer's repo
    path: str = "leaderboard"  # folder in that branch: index.html, README.md, leaderboard.csv/.json
    url: str | None = None  # where readers find it (e.g. https://ORG.github.io/REPO/leaderboard/)
    include_dummy: bool = True  # dummy-judge runs are ranked apart and marked, never mixed in

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        v = v.strip("/")
        if not v or ".." in v.split("/"):
            raise ValueError("must be a relative folder without '..'")
        return v

    @field_validator("repository")
    @classmethod
    def _owner_repo(cls, v: str | None) -> str | None:
        if v is not None and (v.count("/") != 1 or not all(v.split("/"))):
            raise ValueError("must look like 'owner/repo'")
        return v


class QuotaSettings(BaseModel):
    """``quotas:`` — per-submitter limits on graded runs (infrastructure failures and reruns ordered
    by maintainers are not charged)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    graded_runs_per_paper_per_day: int | None = Field(default=None, ge=1)  # per submitter; none = unlimited
    exempt_users: tuple[str, ...] = ()  # never limited (e.g. the organizers' own accounts)


class PapersSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rubrics_dir: Path = Field(default_factory=lambda: asset_dir("rubrics"))
    blacklists_dir: Path = Field(default_factory=lambda: asset_dir("blacklists"))


class Secrets(BaseModel):
    """Secrets come from the environment only (never from the YAML file)."""

    model_config = ConfigDict(frozen=True)

    webhook_secret: SecretStr | None = None
    judge_api_key: SecretStr | None = None
    github_token: SecretStr | None = None
    github_app_private_key: SecretStr | None = None


class BotSettings(BaseModel):
    """``bot:`` — routing, grading policy, queue and worker (docs/CONFIG.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    branch_pattern: str = "paper/<paper-id>"  # base branch of a submission PR; <paper-id> is the paper
    # a graded check succeeds (the score is the result); with a number (0..1) it fails below it
    pass_threshold: float | None = Field(default=None, ge=0.0, le=1.0)  # none, or the check's failure line
    draft_prs: Literal["skip", "grade"] = "skip"
    label_gate: str | None = None  # when set, only PRs carrying this label are graded
    human_baseline_users: tuple[str, ...] = ()
    max_repo_size_mb: float = Field(default=1024.0, gt=0)  # head repository size reported by GitHub
    max_body_bytes: int = Field(default=25 * 1024 * 1024, gt=0)  # webhook payload cap (413 beyond)
    queue_path: Path | None = None  # default: <data_dir>/queue.sqlite3
    results_dir: Path | None = None  # default: <data_dir>/results
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    lease_s: float = Field(default=120.0, gt=0)  # a job whose worker stops heartbeating is resumed after
    max_attempts: int = Field(default=3, ge=1)  # infrastructure failures are retried up to this
    retry_backoff_s: float = Field(default=30.0, ge=0)  # first retry delay; doubles each attempt
    check_name: str = "reprobot"
    grader: str | None = None  # "module:callable" taking Settings -> Grader; default LocalGrader
    report_base_url: str | None = None  # where result folders' report.html are served, if anywhere
    public_url: str | None = None  # where `reprobot serve` is reachable; it serves /results/... read-only
    progress_every_s: float = Field(default=15.0, ge=0)  # check-run progress updates at most this often
    # a judge outage (429/5xx/400, connection errors, timeouts): leaves retried for this long, with
    # backoff from judge_retry_backoff_s (doubling, at most 120 s); still incomplete -> neutral
    judge_retry_s: float = Field(default=900.0, ge=0)
    judge_retry_backoff_s: float = Field(default=10.0, ge=0)
    min_free_disk_mb: float = Field(default=256.0, ge=0)  # /healthz reports disk trouble below this

    @field_validator("branch_pattern")
    @classmethod
    def _one_placeholder(cls, v: str) -> str:
        if v.count("<paper-id>") != 1:
            raise ValueError("must contain the placeholder <paper-id> exactly once")
        return v

    @field_validator("grader")
    @classmethod
    def _import_path(cls, v: str | None) -> str | None:
        if v is not None and (v.count(":") != 1 or not all(v.split(":"))):
            raise ValueError("must look like 'package.module:callable'")
        return v


class DispatchSettings(BaseModel):
    """``dispatch:`` — where reproduction runs: this machine, or GitHub Actions GPU runners."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["local", "actions"] = "local"
    workflow_repository: str | None = None  # owner/repo holding the organizer's reproduction workflow
    workflow_file: str = "reproduce.yml"
    workflow_ref: str = "main"  # the organizer's default branch; never taken from a PR
    artifact_name: str = "executed-submission"
    # "<app-slug>[bot]" (App) or the token's user; default github.bot_login, else any App's bot
    actor: str | None = None  # who dispatches: a completed run started by anyone else is ignored
    # a dispatched run that never reports back (runner lost, webhook lost) is dispatched again,
    # then shown neutral, after this long
    timeout_s: float = Field(default=8 * 3600.0, gt=0)

    @field_validator("workflow_repository")
    @classmethod
    def _owner_repo(cls, v: str | None) -> str | None:
        if v is not None and (v.count("/") != 1 or not all(v.split("/"))):
            raise ValueError("must look like 'owner/repo'")
        return v


class GitHubSettings(BaseModel):
    """``github:`` — how the worker reaches GitHub (credentials come from the environment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: int | None = None  # GitHub App id; with REPROBOT_GITHUB_APP_PRIVATE_KEY, App auth is used
    bot_login: str | None = None  # token auth: the token user's login (whose comments the bot may edit)
    api_base_url: str = "https://api.github.com"  # GitHub Enterprise: https://HOST/api/v3
    timeout_s: float = Field(default=30.0, gt=0)
    retries: int = Field(default=5, ge=0)
    backoff_s: float = Field(default=1.0, ge=0)  # 5xx retry backoff factor
    secondary_rate_wait_s: float = Field(default=60.0, ge=0)  # when a 403/429 carries no Retry-After
    # pacing recommended by GitHub against secondary rate limits (PyGithub applies it per client)
    seconds_between_requests: float = Field(default=0.25, ge=0)
    seconds_between_writes: float = Field(default=1.0, ge=0)


class ForgeSettings(BaseModel):
    """``forge:`` — the local git forge, the embedded default (no GitHub, no network)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path | None = None  # default: <data_dir>/forge.git
    repo_name: str = "local/forge"  # how forge jobs are named in the queue and the leaderboard
    # e.g. GL_USER (gitolite), REMOTE_USER (git-http-backend), or one an SSH forced command sets
    identity_env: str | None = None  # env var naming the pusher: quotas count per identity


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Path(".reprobot")
    papers: PapersSettings = Field(default_factory=PapersSettings)
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    forge: ForgeSettings = Field(default_factory=ForgeSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    leaderboard: LeaderboardSettings = Field(default_factory=LeaderboardSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_are_defaults(cls, data: Any) -> Any:
        """``papers:`` with every key commented out (as ``reprobot init`` writes it) is YAML null:
        the section at its defaults, so uncommenting any one key line by line stays valid."""
        if isinstance(data, dict):
            return {k: ({} if v is None and k in SECTIONS else v) for k, v in data.items()}
        return data


SECTIONS = frozenset(
    name for name, f in Settings.model_fields.items() if isinstance(f.default_factory, type)
)

SECRET_ENV: dict[str, tuple[str, ...]] = {
    "webhook_secret": ("REPROBOT_WEBHOOK_SECRET",),
    "judge_api_key": ("GRADER_OPENAI_API_KEY", "OPENAI_API_KEY"),
    "github_token": ("REPROBOT_GITHUB_TOKEN", "GITHUB_TOKEN"),
    "github_app_private_key": ("REPROBOT_GITHUB_APP_PRIVATE_KEY",),
}


def _secrets_from_env(environ: Mapping[str, str]) -> Secrets:
    values: dict[str, Any] = {}
    for key, names in SECRET_ENV.items():
        for name in names:
            if environ.get(name):
                values[key] = environ[name]
                break
    return Secrets(**values)


def _format_validation_error(exc: ValidationError, source: str, text: str = "") -> str:
    """The first problem, with its line and the nearest known key (``bot.config_tools``)."""
    return validation_errors(exc, source, text, Settings)[0]


# Every path a config file may hold, as (section or None for the top level, key): a relative one is
# relative to the file's folder, so every process started from any folder with the same file agrees.
CONFIG_PATHS: tuple[tuple[str | None, str], ...] = (
    (None, "data_dir"),
    ("papers", "rubrics_dir"),
    ("papers", "blacklists_dir"),
    ("bot", "queue_path"),
    ("bot", "results_dir"),
    ("forge", "path"),
    ("judge", "cache_path"),
)


def _resolve_relative_paths(data: dict[str, Any], base: Path) -> None:
    for section, key in CONFIG_PATHS:
        node = data if section is None else data.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), str):
            node[key] = str(base / Path(node[key]).expanduser())


def load_settings(config_path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = environ if environ is not None else {}
    if config_path is None and environ.get("REPROBOT_CONFIG"):
        config_path = Path(environ["REPROBOT_CONFIG"])
    data: dict[str, Any] = {}
    source, text = "defaults", ""
    if config_path is not None:
        source = str(config_path)
        try:
            text = config_path.read_text(encoding="utf-8")
            loaded = yaml.safe_load(text)
        except FileNotFoundError:
            raise ConfigError(f"{config_path}: no such configuration file") from None
        except yaml.YAMLError as exc:
            raise ConfigError(yaml_error(str(config_path), exc)) from None  # names line and column
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_path}: expected a mapping of keys at the top level")
        if "secrets" in loaded:
            raise ConfigError(f"{config_path}: key 'secrets': secrets come from the environment only")
        data = loaded
        # The default data_dir is relative to the file too: a file without the key keeps its queue
        # and results beside it, whatever folder a command is started from.
        data.setdefault("data_dir", str(Settings.model_fields["data_dir"].default))
        _resolve_relative_paths(data, config_path.resolve().parent)
    try:
        return Settings(**data, secrets=_secrets_from_env(environ))
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source, text)) from None


def dispatch_actor(settings: Settings) -> str | None:
    """The login expected to have started a dispatched reproduction run, when known."""
    return settings.dispatch.actor or settings.github.bot_login


def queue_path(settings: Settings) -> Path:
    return settings.bot.queue_path or settings.data_dir / "queue.sqlite3"


def results_dir(settings: Settings) -> Path:
    return settings.bot.results_dir or settings.data_dir / "results"


def forge_path(settings: Settings) -> Path:
    return settings.forge.path or (settings.data_dir / "forge.git")
