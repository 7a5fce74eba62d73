"""The one commented configuration: ``classifier/defaults.toml``, overridable per call."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def project_path(rel: str) -> Path:
    """A project file (taxonomy/…, models/…, data/labeled/…, examples/…): from the checkout when running from one,
    else from the copy installed with the package (``pip install .`` ships them under ``classifier/_data``)."""
    here = _CHECKOUT / rel
    if here.exists() or not (_PACKAGE / "_data").exists():
        return here
    return _PACKAGE / "_data" / rel


PROJECT_ROOT = _CHECKOUT


@lru_cache(maxsize=1)
def defaults() -> dict:
    with open(Path(__file__).with_name("defaults.toml"), "rb") as f:
        return tomllib.load(f)


def raw_data_dir() -> Path:
    """The shared raw data folder: $FUNDCLASS_RAW, else the configured path relative to the project root."""
    import os

    env = os.environ.get("FUNDCLASS_RAW")
    return Path(env) if env else (Path.cwd() / defaults()["paths"]["raw_data"]).resolve()
