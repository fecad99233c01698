"""The files the judge writes into its output folder: the one place their names are defined
(bot/results.py composes them with the runner's and the bot's own files)."""

from __future__ import annotations

GRADE = "grade.json"  # the graded tree (PaperBench-compatible)
JUDGE_SUMMARY = "judge_summary.json"  # judge.summary.GradeSummary
JUDGE_CALLS = "judge_calls.jsonl"  # one line per model call, secrets scrubbed
