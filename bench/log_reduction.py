"""Log reduction time, adversarial against ordinary: is it linear in the log's size?

Two logs at 1, 2, 4 and 8 MiB, reduced as the judge reduces them (judge.logreduce, both styles):
- ordinary: a training log, tqdm progress lines with a validation line after each epoch;
- adversarial: distinct lines that share their first tokens and their length (each line its own
  template in the same Drain leaf: unbounded Drain compares every line with every earlier one).
For each size: the best of ``--repeat`` wall times, MiB/s, lines in and out, and the time relative
to 1 MiB (linear: about 1, 2, 4, 8). ``--drain3 N`` also times unbounded drain3 (what PaperBench
runs) on the first N, 2N, 4N adversarial lines, to show the quadratic growth this avoids.

    .venv/bin/python bench/log_reduction.py [--repeat 3] [--drain3 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.logreduce import reduce_log, sanitize  # noqa: E402

MIB = 1 << 20


def _word(n: int) -> str:
    out = ""
    n += 1
    while n:
        n, r = divmod(n, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[r]
    return out + "q"


def adversarial(size: int) -> str:
    lines, total, i = [], 0, 0
    while total < size:
        line = "loss curve at " + " ".join(_word(i * 9 + k) for k in range(9))
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines)


def ordinary(size: int) -> str:
    lines, total, i = [], 0, 0
    while total < size:
        step = i % 1000
        if step == 999:
            line = f"epoch {i // 1000}: val_loss 0.{i % 997:03d} val_acc 0.{i % 991:03d}"
        else:
            bar = "█" * (step // 50)
            rate = f"[00:{i % 60:02d}<00:10, {i % 97}.5it/s]"
            line = f"Epoch {i // 1000}: {step // 10:3d}%|{bar:<20}| {step}/1000 {rate}"
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines)


def timed(text: str, style: str, repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = reduce_log(text, style)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - t0)
    return best, result


def drain3_times(n: int) -> list[tuple[int, float]]:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    lines = adversarial(100 * MIB).splitlines()[: 4 * n] if n else []
    out = []
    for count in (n, 2 * n, 4 * n):
        miner = TemplateMiner(config=TemplateMinerConfig())
        t0 = time.perf_counter()
        for line in lines[:count]:
            miner.add_log_message(sanitize(line))
        out.append((count, time.perf_counter() - t0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1,2,4,8", help="MiB")
    parser.add_argument("--drain3", type=int, default=0, help="also time unbounded drain3 on N, 2N, 4N lines")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for kind, make in (("ordinary", ordinary), ("adversarial", adversarial)):
        base: dict[str, float] = {}
        for mib in (int(x) for x in args.sizes.split(",")):
            text = make(mib * MIB)
            for style in ("paperbench", "reprobot"):
                seconds, r = timed(text, style, args.repeat)
                base.setdefault(style, seconds)
                rows.append({
                    "log": kind, "mib": mib, "style": style, "seconds": round(seconds, 3),
                    "mib_per_s": round(mib / seconds, 2), "lines_in": r.lines_in, "lines_out": r.lines_out,
                    "vs_1mib": round(seconds / base[style], 2), "fallback": r.fallback,
                })  # fmt: skip
    reference = drain3_times(args.drain3) if args.drain3 > 0 else []
    if args.json:
        print(json.dumps({"reduce_log": rows, "drain3_unbounded": reference}, indent=2))
        return
    print(f"log reduction, best of {args.repeat} (judge.logreduce)")
    for row in rows:
        print(
            f"  {row['log']:<11} {row['mib']} MiB  {row['style']:<10} {row['seconds']:7.2f} s  "
            f"{row['mib_per_s']:6.2f} MiB/s  x{row['vs_1mib']:<5} "
            f"lines {row['lines_in']:>7} -> {row['lines_out']:>7}"
            + (f"  FALLBACK: {row['fallback']}" if row["fallback"] else "")
        )
    for count, seconds in reference:
        print(f"  drain3 unbounded, adversarial {count:>6} lines: {seconds:7.2f} s")


if __name__ == "__main__":
    main()
