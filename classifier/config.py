"""The one commented configuration: ``classifier/defaults.toml``, with an optional user file laid over it.

``fundclass --config FILE`` (or ``$FUNDCLASS_CONFIG``) names a TOML file with defaults.toml's sections and keys; each
key it sets replaces the default. A section or key defaults.toml does not have, or a value of another type, is an
error naming the file and the key. Default paths live here only (``[paths]``): every module asks :func:`default_path`.
"""
from __future__ import annotations

import copy
import os
import tomllib
from functools import lru_cache
from pathlib import Path

from .errors import InputError

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
DEFAULTS_FILE = _PACKAGE / "defaults.toml"
ENV_CONFIG = "FUNDCLASS_CONFIG"
_user_config: str | None = None  # set by use_config (the CLI's --config); else $FUNDCLASS_CONFIG is read


def project_path(rel: str) -> Path:
    """A project file (taxonomy/…, models/…, data/labeled/…, examples/…): from the checkout when running from one,
    else from the copy installed with the package (``pip install .`` ships them under ``classifier/_data``)."""
    here = _CHECKOUT / rel
    if here.exists() or not (_PACKAGE / "_data").exists():
        return here
    return _PACKAGE / "_data" / rel


PROJECT_ROOT = _CHECKOUT


@lru_cache(maxsize=1)
def shipped_defaults() -> dict:
    """defaults.toml as shipped, without any user file."""
    with open(DEFAULTS_FILE, "rb") as f:
        return tomllib.load(f)


def _same_type(default, value) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def overlay(base: dict, path: str | Path) -> dict:
    """``base`` with the keys of the TOML file at ``path`` replacing its own; unknown sections or keys and values of
    another type are refused, naming the file and the key."""
    p = Path(path)
    try:
        user = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{p}: cannot read configuration file: {exc}") from exc
    out = copy.deepcopy(base)
    for section, keys in user.items():
        if section not in base or not isinstance(keys, dict):
            raise InputError(f"{p}: unknown configuration section [{section}]; sections are "
                             f"{', '.join(f'[{s}]' for s in base)} (see {DEFAULTS_FILE})")
        for key, value in keys.items():
            if key not in base[section]:
                raise InputError(f"{p}: unknown configuration key {section}.{key}; [{section}] has "
                                 f"{', '.join(base[section])} (see {DEFAULTS_FILE})")
            if not _same_type(base[section][key], value):
                raise InputError(f"{p}: configuration key {section}.{key} = {value!r} should be a "
                                 f"{type(base[section][key]).__name__}, like its default {base[section][key]!r}")
            out[section][key] = value
    return out


def use_config(path: str | Path | None) -> None:
    """Lay the TOML file at ``path`` over defaults.toml from now on (None: ``$FUNDCLASS_CONFIG`` if set, else none).
    The file is read, and checked, on the next :func:`defaults`."""
    global _user_config
    _user_config = str(path) if path else None
    _configured.cache_clear()


def config_file() -> str | None:
    """The user configuration file in use, if any."""
    return _user_config or os.environ.get(ENV_CONFIG) or None


def defaults() -> dict:
    """The configuration in use: defaults.toml, overlaid by the user file (:func:`config_file`) when there is one
    (read and checked once per file; ``$FUNDCLASS_CONFIG`` is looked at on every call)."""
    return _configured(config_file())


@lru_cache(maxsize=4)
def _configured(path: str | None) -> dict:
    return overlay(shipped_defaults(), path) if path else shipped_defaults()


def default_path(key: str) -> str:
    """A default path of ``[paths]`` (relative to the workspace or the project), as configured."""
    return defaults()["paths"][key]


def shipped_path(key: str) -> Path:
    """The file or folder ``[paths].key`` names as shipped with the tool (not the user's configuration)."""
    return project_path(shipped_defaults()["paths"][key])


def raw_data_dir() -> Path:
    """The shared raw data folder: $FUNDCLASS_RAW, else the configured path relative to the current folder."""
    env = os.environ.get("FUNDCLASS_RAW")
    return Path(env) if env else (Path.cwd() / default_path("raw_data")).resolve()
