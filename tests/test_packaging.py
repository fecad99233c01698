"""A regular (not editable) install carries everything reprobot needs: from any folder, the wheel's
reprobot lists the bundled papers, shows a rubric and renders reports from its own templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)]
    built = subprocess.run(pip, capture_output=True, text=True, cwd=out)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = out.glob("reprobot-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def _reprobot(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "\n".join(
        [
            "import sys",
            f"sys.path.insert(0, {str(site)!r})",
            "sys.argv[0] = 'reprobot'",
            "from bot.cli import run",
            "run()",
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )


@pytest.mark.slow
def test_the_wheel_carries_papers_blacklists_templates_and_dockerfiles(unpacked_wheel: Path) -> None:
    assets = unpacked_wheel / "bot" / "_assets"
    papers = sorted(p.name for p in (assets / "rubrics").iterdir() if (p / "rubric.json").is_file())
    assert len(papers) == len([p for p in (ROOT / "rubrics").iterdir() if (p / "rubric.json").is_file()])
    assert (assets / "rubrics" / "tiny-moons" / "paper.md").is_file()
    assert sorted(p.name for p in (assets / "blacklists").glob("*.txt")) == sorted(
        p.name for p in (ROOT / "blacklists").glob("*.txt")
    )
    assert {p.name for p in (assets / "templates").iterdir()} == {
        p.name for p in (ROOT / "templates").iterdir()
    }
    assert {p.name for p in (unpacked_wheel / "runner" / "docker").iterdir()} >= {
        p.name for p in (ROOT / "runner" / "docker").iterdir()
    }


@pytest.mark.slow
def test_the_installed_cli_works_from_an_empty_folder(unpacked_wheel: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    papers = _reprobot(unpacked_wheel, empty, "papers")
    assert papers.returncode == 0, papers.stderr
    assert str(unpacked_wheel) in papers.stdout.splitlines()[-1]  # found in the wheel, not the checkout
    assert "tiny-moons" in papers.stdout
    shown = _reprobot(unpacked_wheel, empty, "rubric", "show", "tiny-moons")
    assert shown.returncode == 0 and "29 leaves" in shown.stdout, shown.stderr
    assert "Traceback" not in papers.stderr + shown.stderr
