"""Invariant: `reprobot papers import` copies papers from a PaperBench data folder (rubric,
paper.md, addenda, blacklist, config, assets; never through symlinks; a Git LFS pointer is not a
paper) into the papers folder, and `reprobot papers` says which papers are gradable."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.cli import main
from tests.judge.fixtures import TOY_RUBRIC


def fake_paperbench(root: Path) -> Path:
    data = root / "paperbench-data"
    for pid, paper_md in (("with-paper", "# A paper\nIt works.\n"), ("lfs-only", None)):
        d = data / "papers" / pid
        (d / "assets").mkdir(parents=True)
        (d / "rubric.json").write_text(json.dumps(TOY_RUBRIC))
        (d / "addendum.md").write_text("Addendum.\n")
        (d / "judge.addendum.md").write_text("For judges.\n")
        (d / "blacklist.txt").write_text("https://github.com/original/repo\n")
        (d / "config.yaml").write_text(f"id: {pid}\ntitle: {pid} title\n")
        (d / "assets" / "fig1.png").write_bytes(b"\x89PNG")
        if paper_md is not None:
            (d / "paper.md").write_text(paper_md)
        else:
            (d / "paper.md").write_text(
                "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 9\n"
            )
    (root / "outside.txt").write_text("HOST FILE")
    (data / "papers" / "with-paper" / "assets" / "link.txt").symlink_to(root / "outside.txt")
    return data


def test_import_then_list(tmp_path: Path) -> None:
    data = fake_paperbench(tmp_path)
    rubrics, blacklists = tmp_path / "rubrics", tmp_path / "blacklists"
    config = tmp_path / "reprobot.yaml"
    config.write_text(
        yaml.safe_dump({"papers": {"rubrics_dir": str(rubrics), "blacklists_dir": str(blacklists)}})
    )
    env = {"REPROBOT_CONFIG": str(config)}
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "papers", "import", str(data)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 2 papers" in result.output and "Git LFS pointer" in result.output
    copied = rubrics / "with-paper"
    for name in (
        "rubric.json",
        "paper.md",
        "addendum.md",
        "judge.addendum.md",
        "blacklist.txt",
        "config.yaml",
    ):
        assert (copied / name).is_file(), name
    assert (copied / "assets" / "fig1.png").is_file() and not (copied / "assets" / "link.txt").exists()
    assert (blacklists / "with-paper.txt").read_text().startswith("https://github.com/original/repo")
    assert not (rubrics / "lfs-only" / "paper.md").exists()
    listing = runner.invoke(main, ["--config", str(config), "papers", "--json"], env=env)
    rows = {r["id"]: r for r in json.loads(listing.output)}
    assert rows["with-paper"]["gradable"] is True and rows["lfs-only"]["gradable"] is False
    text = runner.invoke(main, ["--config", str(config), "papers"], env=env).output
    assert "gradable yes" in text and "gradable no" in text


def test_import_of_one_id_and_of_an_unknown_one(tmp_path: Path) -> None:
    data = fake_paperbench(tmp_path)
    config = tmp_path / "reprobot.yaml"
    config.write_text(yaml.safe_dump({"papers": {"rubrics_dir": str(tmp_path / "r")}}))
    runner = CliRunner()
    ok = runner.invoke(main, ["--config", str(config), "papers", "import", str(data), "with-paper"])
    assert ok.exit_code == 0 and "imported 1 papers" in ok.output
    assert not (tmp_path / "r" / "lfs-only").exists()
    bad = runner.invoke(main, ["--config", str(config), "papers", "import", str(data), "nope"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output and "nope" in bad.output


def _import(tmp_path: Path, source: Path, *ids: str) -> tuple[int, str, str, Path]:
    rubrics = tmp_path / "imported"
    config = tmp_path / "reprobot.yaml"
    config.write_text(yaml.safe_dump({"papers": {"rubrics_dir": str(rubrics)}}))
    result = CliRunner().invoke(main, ["--config", str(config), "papers", "import", str(source), *ids])
    return result.exit_code, result.stdout, result.stderr, rubrics


def test_the_top_of_a_paperbench_checkout_is_found(tmp_path: Path) -> None:
    data = fake_paperbench(tmp_path)
    checkout = tmp_path / "preparedness"
    (checkout / "project" / "paperbench" / "data").mkdir(parents=True)
    data.rename(checkout / "project" / "paperbench" / "data" / "papers-parent")
    (checkout / "project" / "paperbench" / "data" / "papers-parent" / "papers").rename(
        checkout / "project" / "paperbench" / "data" / "papers"
    )
    code, out, err, rubrics = _import(tmp_path, checkout)
    assert code == 0, err
    assert "imported 2 papers from" in out and "project/paperbench/data/papers" in out
    assert (rubrics / "with-paper" / "rubric.json").is_file()


def test_a_folder_with_no_papers_says_where_to_point(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out, err, _ = _import(tmp_path, tmp_path / "empty")
    assert code == 1 and "no papers found" in err and "project/paperbench/data/papers" in err
    assert "imported 0" not in out


def test_a_bad_folder_is_refused_and_listed_without_stopping_the_others(tmp_path: Path) -> None:
    data = fake_paperbench(tmp_path)
    papers = data / "papers"
    (papers / "bad id!").mkdir()
    (papers / "bad id!" / "rubric.json").write_text(json.dumps(TOY_RUBRIC))
    (papers / "broken").mkdir()
    (papers / "broken" / "rubric.json").write_text("{not json")
    (papers / "linked").mkdir()
    (papers / "linked" / "rubric.json").symlink_to(papers / "with-paper" / "rubric.json")
    code, out, err, rubrics = _import(tmp_path, data)
    assert code == 1
    assert "imported 2 papers" in out and "refused 3" in out
    assert "refused bad id!:" in err and "refused broken:" in err
    assert "refused linked: rubric.json: a symbolic link" in err
    assert sorted(p.name for p in rubrics.iterdir() if not p.name.startswith(".")) == [
        "lfs-only",
        "with-paper",
    ]
    assert not any(p.name.startswith(".") for p in rubrics.iterdir())  # no staging left behind


def test_a_paper_is_imported_whole_or_not_at_all(tmp_path: Path) -> None:
    data = fake_paperbench(tmp_path)
    code, *_, rubrics = _import(tmp_path, data, "with-paper")
    assert code == 0
    before = (rubrics / "with-paper" / "paper.md").read_text()
    (data / "papers" / "with-paper" / "paper.md").write_text("# A new version\n")
    (data / "papers" / "with-paper" / "rubric.json").write_text("{broken")
    code, _, err, _ = _import(tmp_path, data, "with-paper")
    assert code == 1 and "refused with-paper" in err
    assert (rubrics / "with-paper" / "paper.md").read_text() == before  # the old import stays whole
