"""``python -m bot.cli``."""

from bot.cli import run

run()
