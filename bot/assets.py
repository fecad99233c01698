"""Where the bundled papers, blacklists and templates are: inside the installed package, or in a checkout.

A wheel carries them as ``bot/_assets/{rubrics,blacklists,templates}`` (setup.py); a source checkout
(an editable install, or the tests run from the repository) has them at the repository's top level.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

AssetDir = Literal["rubrics", "blacklists", "templates"]

_CHECKOUT = Path(__file__).resolve().parent.parent


@cache
def asset_dir(name: AssetDir) -> Path:
    bundled = Path(str(files("bot") / "_assets" / name))
    if bundled.is_dir():
        return bundled
    return _CHECKOUT / name
