"""Settings sections for publishing and fairness: ``leaderboard:`` and ``quotas:`` (docs/CONFIG.md).

They live here, beside ``bot.settings`` (which includes them), so the sections of the configuration
that concern what people see stay in one small module.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
