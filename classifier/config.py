"""The one commented configuration: ``classifier/defaults.toml``, overridable per call."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def defaults() -> dict:
    with open(Path(__file__).with_name("defaults.toml"), "rb") as f:
        return tomllib.load(f)


def raw_data_dir() -> Path:
    """The shared raw data folder: $FUNDCLASS_RAW, else the configured path relative to the project root."""
    import os

    env = os.environ.get("FUNDCLASS_RAW")
    return Path(env) if env else (PROJECT_ROOT / defaults()["paths"]["raw_data"]).resolve()
