"""Judge cost benchmark: the reprobot protocol against the paperbench protocol *as reprobot runs it*.

Inputs (generated, deterministic: tests/judge/scenario.py): a 361-leaf rubric (spread over
PaperBench's real lca-on-the-line rubric), a ~100 KB paper.md, a 40-file executed submission
whose 4 MB reproduce.log hides one result line between 50,000 progress-bar lines. Both protocols
run for real through the official openai client against the local OpenAI-compatible stand-in
(real socket, spec-validated requests, OpenAI's prefix cache emulated with real o200k token
counts). Billed input = uncached + 0.5 x cached. Then the worst case for prompt size: an executed
submission of 30,000 empty files, graded by both protocols; the longest request is reported.

    .venv/bin/python bench/judge_cost.py [--latency 0.0] [--concurrency 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from judge.config import DEFAULT_PRICES, JudgeSettings  # noqa: E402
from judge.grader import JudgeOptions, judge_executed  # noqa: E402
from judge.llm import OpenAIBackend  # noqa: E402
from judge.papers import Paper  # noqa: E402
from judge.tokens import count_tokens  # noqa: E402
from tests.judge.scenario import make_many_files, make_scenario  # noqa: E402
from tests.standins.openai_server import OpenAIStandIn  # noqa: E402

CACHED_PRICE_RATIO = 0.5


def run(
    protocol: str, paper: Paper, executed: Path, out: Path, latency: float, concurrency: int
) -> dict[str, Any]:
    longest = [0]
    lock = threading.Lock()

    def observe(kind: str, leaf_ids: list[str], messages: list[tuple[str, str]]) -> None:
        n = sum(count_tokens(c) for _, c in messages)
        with lock:
            longest[0] = max(longest[0], n)

    with OpenAIStandIn(latency_s=latency, observe=observe) as srv:
        # the stand-in plays OpenAI: its list prices, PaperBench's parse model, o3-mini's window
        js = JudgeSettings(
            protocol=protocol, base_url=srv.base_url, concurrency=concurrency, timeout_s=120,
            prices=dict(DEFAULT_PRICES), parse_model="gpt-4o", context_window_tokens=200_000,
            context_margin=0.0,
        )  # fmt: skip
        t0 = time.monotonic()
        outcome = judge_executed(
            executed, paper, out, JudgeOptions(js), OpenAIBackend.from_settings(js, "sk-bench")
        )
        wall = time.monotonic() - t0
        assert not srv.validation_errors, srv.validation_errors[:3]
    s = outcome.summary
    billed = s.tokens.input - s.tokens.cached_input + CACHED_PRICE_RATIO * s.tokens.cached_input
    return {
        "protocol": protocol,
        "leaves": s.leaves,
        "coverage": s.coverage,
        "calls": s.calls,
        "input_tokens": s.tokens.input,
        "cached_input_tokens": s.tokens.cached_input,
        "billed_input_tokens": round(billed),
        "cost_usd_at_list_prices": s.cost_usd,
        "longest_request_tokens": longest[0],
        "wall_s": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=float, default=0.0, help="stand-in seconds per call")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--files", type=int, default=30_000, help="files of the worst-case submission")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="reprobot-bench-judge-") as tmp_s:
        tmp = Path(tmp_s)
        paper, executed = make_scenario(tmp)
        rows = [
            run(p, paper, executed, tmp / p, args.latency, args.concurrency)
            for p in ("paperbench", "reprobot")
        ]
        many = make_many_files(tmp, args.files)
        small_paper, _ = make_scenario(tmp / "small", leaves=12, log_lines=10)
        worst = [
            run(p, small_paper, many, tmp / f"many-{p}", args.latency, args.concurrency)
            for p in ("paperbench", "reprobot")
        ]
    ratio = rows[1]["billed_input_tokens"] / rows[0]["billed_input_tokens"]
    if args.json:
        print(json.dumps({"scenario": rows, "ratio": ratio, "many_files": worst}, indent=2))
        return
    print("scenario: 361 leaves, ~100 KB paper, 4 MB log (50,000 progress lines + 1 result line)")
    for r in rows:
        print(
            f"  {r['protocol']:<10} calls {r['calls']:>5}  input {r['input_tokens']:>11,}  cached "
            f"{r['cached_input_tokens']:>11,}  billed {r['billed_input_tokens']:>11,}  "
            f"${r['cost_usd_at_list_prices']:.2f}  longest request {r['longest_request_tokens']:,} tokens  "
            f"coverage {100 * r['coverage']:.0f}%  {r['wall_s']} s"
        )
    print(f"  reprobot bills {100 * ratio:.1f}% of the paperbench protocol's input")
    print(f"worst case: {args.files:,} empty files, 12 leaves")
    for r in worst:
        print(
            f"  {r['protocol']:<10} calls {r['calls']:>3}  input {r['input_tokens']:>9,}  "
            f"longest request {r['longest_request_tokens']:,} tokens"
        )


if __name__ == "__main__":
    main()
