"""Log reduction before any budget cut, as PaperBench's reduce_log does, then head and tail.

``reduce_log`` mines line templates with drain3 over lines whose timestamps, dates, times, IP
addresses, long hex ids, numbers in progress bars and percentages are masked; a run of consecutive
lines of one template becomes its first line plus ``(repeated N times)``. A training log of 50,000
progress-bar lines with one result line among them comes out a few lines long, with the result
line intact. ``fit_log`` then keeps the head and the tail within a token budget (PaperBench keeps
the head only). Carriage returns (progress bars redrawn in place) count as line breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from judge.tokens import count_tokens, head_tail_tokens

_MASKS: tuple[tuple[str, str], ...] = (
    # ISO and common timestamps / dates / times
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "TIMESTAMP"),
    (r"\d{4}[-/]\d{2}[-/]\d{2}", "DATE"),
    (r"\d{1,2}/\d{1,2}/\d{2,4}", "DATE"),
    (r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?", "TIME"),
    (r"(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?", "IP"),
    (r"\b(?:0x)?[0-9a-fA-F]{12,}\b", "HEX"),
    # progress bars: tqdm's "45%|████      | 450/1000 [00:10<00:12, 44.1it/s]" and friends
    (r"\d+(?:\.\d+)?%\|[^|]*\|", "BAR"),
    (r"\[[=#>\-\.\s*]{3,}\]", "BAR"),
    (r"\d+(?:\.\d+)?\s*(?:it/s|s/it|B/s|kB/s|MB/s|GB/s|ex/s|steps/s)", "RATE"),
    (r"\d+/\d+", "FRAC"),
    (r"\d+(?:\.\d+)?%", "PCT"),
)
MAX_LINE_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class ReducedLog:
    text: str
    lines_in: int
    lines_out: int


def _miner() -> object:
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.masking_instructions = [MaskingInstruction(p, m) for p, m in _MASKS]
    config.drain_sim_th = 0.4
    config.drain_depth = 4
    config.parametrize_numeric_tokens = True
    return TemplateMiner(config=config)


_NUM = re.compile(r"\d+(?:\.\d+)?")


def reduce_log(text: str) -> ReducedLog:
    """Collapse runs of lines of one template (drain3) into the first line plus a count."""
    if not text:
        return ReducedLog("", 0, 0)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    miner = _miner()
    out: list[str] = []
    run_first: str | None = None
    run_id: object = None
    run_len = 0
    key_cache: dict[str, object] = {}

    def flush() -> None:
        if run_first is None:
            return
        out.append(run_first if run_len == 1 else f"{run_first} (repeated {run_len} times)")

    for line in lines:
        line = line[:MAX_LINE_CHARS]
        if not line.strip():
            cluster: object = ("blank",)
        else:
            # lines differing only in numbers are one template: skip drain3 for the repeats
            shape = _NUM.sub("0", line)
            cluster = key_cache.get(shape)
            if cluster is None:
                result = miner.add_log_message(line)  # type: ignore[attr-defined]
                cluster = result["cluster_id"]
                if len(key_cache) < 100_000:
                    key_cache[shape] = cluster
        if cluster == run_id and run_first is not None:
            run_len += 1
            continue
        flush()
        run_first, run_id, run_len = line, cluster, 1
    flush()
    return ReducedLog("\n".join(out) + "\n", len(lines), len(out))


CUT_MARKER = "\n[... {n} tokens of the log cut from the middle to fit the budget ...]\n"


def fit_log(text: str, budget_tokens: int) -> str:
    """The reduced log within ``budget_tokens``: head and tail kept."""
    reduced = reduce_log(text).text
    if count_tokens(reduced) <= budget_tokens:
        return reduced
    return head_tail_tokens(reduced, budget_tokens, CUT_MARKER)
