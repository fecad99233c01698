"""The executed-submission folder the runner writes (docs/FORMATS.md): the one place its file names
are defined. Readers in judge/ and bot/ name these files through here (bot/results.py composes them
with the judge's and the bot's own files)."""

from __future__ import annotations

REPRODUCE_LOG = "reproduce.log"  # the run's combined output (PaperBench's name)
CREATION_TIME = "reproduce.log.creation_time"  # epoch seconds at the run's start (PaperBench's name)
RUN_METADATA = "metadata.json"  # runner.metadata.RunMetadata
EXECUTED_DIR = "submission"  # the submission folder after the run
ATTEMPTS_DIR = "attempts"  # attempts/<n>/ of the salvage retries, each with its own log and metadata
