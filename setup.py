"""Packaging beyond what pyproject.toml can say: the bundled papers, blacklists and templates.

The repository keeps ``rubrics/``, ``blacklists/`` and ``templates/`` at its top level (DESIGN.md);
the wheel carries them inside the ``bot`` package as ``bot/_assets/<name>/`` so that a regular
``pip install .`` works from any folder (``bot.assets`` finds them through package resources).
"""

from pathlib import Path

from setuptools import find_packages, setup

ASSET_DIRS = ("rubrics", "blacklists", "templates")


def asset_packages() -> list[str]:
    """Every folder under an asset dir, as a data package (so setuptools copies it, quietly)."""
    out = []
    for name in ASSET_DIRS:
        for folder in sorted(p for p in [Path(name), *Path(name).rglob("*")] if p.is_dir()):
            out.append(".".join(("bot", "_assets", *folder.parts)))
    return out


setup(
    packages=[
        *find_packages(include=["judge", "judge.*", "runner", "runner.*", "bot", "bot.*"]),
        "runner.docker",
        "runner.seccomp",
        *asset_packages(),
    ],
    package_dir={f"bot._assets.{name}": name for name in ASSET_DIRS},
    package_data={
        **{pkg: ["*"] for pkg in asset_packages()},
        "runner.docker": ["*"],
        "runner.seccomp": ["*"],
    },
)
