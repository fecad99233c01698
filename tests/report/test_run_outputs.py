"""The run's own outputs in the report are hostile data, shown safely and bounded: only files the run
wrote (metadata's ``files_changed``), never through a symlink or outside ``submission/``; an image only
when its bytes are one (embedded as a ``data:`` URI of the type its bytes say, SVG only inside an
``<img>``), too large ones linked, not embedded; Markdown, CSV and flat JSON tables as escaped text
with bounded rows, columns and cells; and the page keeps its single script and strict policy."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

from evidence_fixtures import with_run_outputs, worked_example_result

from bot.report import load_context, write_html_report
from bot.report.outputs import MAX_IMAGE_BYTES, MAX_ROWS, markdown_tables, run_outputs
from bot.report.scripts import script_hash, script_text

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


def _folder(tmp_path: Path, files: dict[str, bytes], changed: list[str] | None = None) -> Path:
    folder = worked_example_result(tmp_path / "r", "weak")
    for rel, data in files.items():
        path = folder / "submission" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files_changed"] = [{"path": p, "change": "created", "size": 1} for p in (changed or list(files))]
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


def test_images_by_their_bytes_svg_only_as_an_image(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "out/curve.png": PNG_1PX,
            "out/fake.png": b"<html><script>alert(1)</script></html>",  # a name is not a type
            "out/fig.svg": SVG,
            "out/big.png": PNG_1PX + b"\0" * (MAX_IMAGE_BYTES + 10),
        },
    )
    out = run_outputs(load_context(folder))
    images = {i.path: i for i in out.images}
    assert set(images) == {"out/curve.png", "out/fig.svg", "out/big.png"}
    assert images["out/curve.png"].src == "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    assert (images["out/fig.svg"].src or "").startswith("data:image/svg+xml;base64,")
    assert images["out/big.png"].src is None and images["out/big.png"].href == "submission/out/big.png"
    assert [o.path for o in out.others] == ["out/fake.png"]
    html = write_html_report(folder).read_text()
    assert html.count("<script") == 1 and "alert(1)" not in html  # the SVG's script is base64 in an <img>
    assert len(re.findall(r'<img src="data:image/(png|svg\+xml);base64,', html)) == 2


def test_no_symlink_no_escape_no_cache_only_what_the_run_wrote(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("token,value\nghp_secret,1\n")
    files = {
        "results/ok.csv": b"a,b\n1,2\n",
        "results/old.csv": b"x\n1\n",
        "__pycache__/m.cpython-311.pyc": b"\0",  # caches and environments are not results (PaperBench's rule)
        ".venv/lib/plot.png": PNG_1PX,
    }
    folder = _folder(
        tmp_path, files, ["results/ok.csv", "__pycache__/m.cpython-311.pyc", ".venv/lib/plot.png"]
    )
    os.symlink(secret, folder / "submission" / "results" / "link.csv")
    os.symlink(tmp_path, folder / "submission" / "linkdir")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files_changed"] += [
        {"path": p, "change": "created", "size": 1}
        for p in ("results/link.csv", "linkdir/secret.csv", "../secret.csv", "/etc/passwd")
    ]
    (folder / "metadata.json").write_text(json.dumps(meta))
    out = run_outputs(load_context(folder))
    assert [t.path for t in out.tables] == ["results/ok.csv"]  # old.csv was not written by the run
    assert out.others == () and out.images == ()  # links and escapes are neither read nor listed
    html = write_html_report(folder).read_text()
    assert "ghp_secret" not in html and "link.csv" not in html and "passwd" not in html


def test_tables_bounded_and_escaped(tmp_path: Path) -> None:
    wide = ",".join(f"c{i}" for i in range(40)) + "\n" + ",".join("<b>x</b>" for _ in range(40)) + "\n"
    long_csv = "epoch,loss\n" + "".join(f"{i},{1 / (i + 1):.4f}\n" for i in range(300))
    md = "# Results\n\nsome text\n\n| model | acc |\n|---|---:|\n| <img src=x onerror=alert(1)> | 0.9 |\n"
    folder = _folder(
        tmp_path,
        {
            "r/wide.csv": wide.encode(),
            "r/long.csv": long_csv.encode(),
            "r/table.md": md.encode(),
            "r/m.json": b'{"acc": 0.9, "name": "mlp"}',
            "r/nested.json": b'{"a": {"b": 1}}',
        },
    )
    out = run_outputs(load_context(folder))
    tables = {t.path: t for t in out.tables}
    assert set(tables) == {"r/wide.csv", "r/long.csv", "r/table.md", "r/m.json"}
    assert len(tables["r/wide.csv"].header) == 20 and tables["r/wide.csv"].cut
    assert len(tables["r/long.csv"].rows) == MAX_ROWS and tables["r/long.csv"].more_rows == 300 - MAX_ROWS
    assert tables["r/m.json"].rows == (("acc", "0.9"), ("name", "mlp"))
    html = write_html_report(folder).read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>x</b>" not in html


def test_markdown_tables_with_escaped_pipes() -> None:
    [t] = markdown_tables("t.md", "| a | b \\| c |\n| --- | --- |\n| 1 | 2 |\n\nafter\n", False)
    assert t.header == ("a", "b | c") and t.rows == (("1", "2"),)


def test_the_worked_examples_figure_and_the_pages_policy(tmp_path: Path) -> None:
    folder = with_run_outputs(worked_example_result(tmp_path / "good", "good"))
    out = run_outputs(load_context(folder))
    assert [i.path for i in out.images] == ["results/loss_curve.png"] and out.images[0].mime == "image/png"
    html = write_html_report(folder).read_text()
    [csp] = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert f"script-src {script_hash('report')};" in csp and "script-src 'unsafe-inline'" not in csp
    [script] = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert script == script_text("report")  # the hash in the policy is the hash of what runs
    assert " on" + "click=" not in html and "javascript:" not in html
