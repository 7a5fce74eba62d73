"""The one commented configuration: ``classifier/defaults.toml``, with an optional user file laid over it.

``fundclass --config FILE`` (or ``$FUNDCLASS_CONFIG``) names a TOML file with defaults.toml's sections and keys; each
key it sets replaces the default. The workspace's own file of that form, ``fundclass.toml`` in its folder, is read
without being named, between the two (``taxonomy migrate`` records there, in ``[taxonomies]``, the taxonomy file its
labeled set was migrated to); the ``--config`` file wins over it. A section or key defaults.toml does not have, or a value of another type, is an
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
WORKSPACE_CONFIG = "fundclass.toml"  # the workspace's configuration file, in the workspace folder, read unnamed
# sections whose keys are free (not defaults.toml's) and of one type: [taxonomies] taxonomy id = its file
_FREE_SECTIONS = {"taxonomies": str}
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


def read_overlay(path: str | Path) -> dict:
    """The TOML file at ``path`` as read (not checked); an unreadable one is refused, naming it."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{p}: cannot read configuration file: {exc}") from exc


def overlay(base: dict, path: str | Path) -> dict:
    """``base`` with the keys of the TOML file at ``path`` replacing its own; unknown sections or keys and values of
    another type are refused, naming the file and the key."""
    p = Path(path)
    user = read_overlay(p)
    out = copy.deepcopy(base)
    for section, keys in user.items():
        if section not in base or not isinstance(keys, dict):
            raise InputError(f"{p}: unknown configuration section [{section}]; sections are "
                             f"{', '.join(f'[{s}]' for s in base)} (see {DEFAULTS_FILE})")
        if section in _FREE_SECTIONS:
            for key, value in keys.items():
                if not isinstance(value, _FREE_SECTIONS[section]):
                    raise InputError(f"{p}: configuration key {section}.{key} = {value!r} should be a "
                                     f"{_FREE_SECTIONS[section].__name__} (see {DEFAULTS_FILE})")
                out[section][key] = value
            continue
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
    """Lay the TOML file at ``path`` over defaults.toml (and the workspace's file) from now on (None: ``$FUNDCLASS_CONFIG`` if set, else none).
    The file is read, and checked, on the next :func:`defaults`."""
    global _user_config
    _user_config = str(path) if path else None
    _configured.cache_clear()


def config_file() -> str | None:
    """The user configuration file in use, if any."""
    return _user_config or os.environ.get(ENV_CONFIG) or None


def workspace_config() -> Path:
    """The workspace's configuration file (``fundclass.toml`` in the workspace folder), whether or not it exists."""
    from .workspace import user_path  # the workspace module sits beside this one, not below it

    return user_path(WORKSPACE_CONFIG)


def _workspace_key() -> tuple | None:
    """The workspace's configuration file as a cache key (its path and its stat: a migration rewrites it), or None
    when the workspace has none."""
    p = workspace_config()
    try:
        st = p.stat()
    except OSError:
        return None
    return str(p), st.st_mtime_ns, st.st_size, st.st_ino


def defaults() -> dict:
    """The configuration in use: defaults.toml, overlaid by the workspace's file (:func:`workspace_config`) and then
    by the user file (:func:`config_file`) when there are (read and checked once per file and content;
    ``$FUNDCLASS_CONFIG`` and the workspace are looked at on every call)."""
    return _configured(_workspace_key(), config_file())


@lru_cache(maxsize=8)
def _configured(workspace: tuple | None, path: str | None) -> dict:
    out = overlay(shipped_defaults(), workspace[0]) if workspace else shipped_defaults()
    return overlay(out, path) if path else out


def taxonomy_files() -> dict[str, tuple[str, str]]:
    """``[taxonomies]`` of the configuration in use: per taxonomy id, the file of its current version and the
    configuration file that names it (the ``--config`` file's wins over the workspace's)."""
    files = defaults()["taxonomies"]
    if not files:
        return {}
    user = config_file()
    mine = read_overlay(user).get("taxonomies", {}) if user else {}
    return {tid: (f, user if tid in mine else str(workspace_config())) for tid, f in files.items()}


def taxonomy_configured_by_user() -> bool:
    """Whether the ``--config`` file (``$FUNDCLASS_CONFIG``) sets ``[paths].taxonomy`` itself: then that file is the
    taxonomy in use, not the one ``[taxonomies]`` names for its id."""
    user = config_file()
    return bool(user) and "taxonomy" in (read_overlay(user).get("paths") or {})


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


_RECORD_HEAD = """# The workspace's configuration (the form of classifier/defaults.toml; read by every command run in this workspace;
# a --config file wins over it). [taxonomies]: `fundclass taxonomy migrate` records the taxonomy file it migrated the
# labeled set to, by taxonomy id; commands given no --taxonomy use it. Delete a line to undo it.
"""


def with_taxonomy_file(text: str, tid: str, value: str, where: str | Path) -> str:
    """``text`` (the workspace's configuration file, '' when there is none) with ``[taxonomies] tid = value``, every
    other line kept as it is. Refused, naming the file and the line to write by hand, when the file's form does not
    allow it (a ``taxonomies = {…}`` table, say)."""
    import json
    import re

    key = tid if re.fullmatch(r"[A-Za-z0-9_-]+", tid) else json.dumps(tid, ensure_ascii=False)
    nl = "\r\n" if "\r\n" in text else "\n"
    line = f"{key} = {json.dumps(value, ensure_ascii=False)}{nl}"
    lines = text.splitlines(keepends=True)
    head = next((i for i, s in enumerate(lines) if re.fullmatch(r"\s*\[\s*taxonomies\s*\]\s*(#.*)?", s.rstrip("\r\n"))),
                None)
    if head is None:
        body = text if not text or text.endswith("\n") else text + nl
        out = (body + nl if body.strip() else _RECORD_HEAD.replace("\n", nl)) + f"[taxonomies]{nl}" + line
    else:
        end = next((j for j in range(head + 1, len(lines)) if re.match(r"\s*\[", lines[j])), len(lines))
        same = re.compile(r"\s*(" + "|".join(re.escape(k) for k in (tid, f'"{tid}"', f"'{tid}'")) + r")\s*=")
        at = next((j for j in range(head + 1, end) if same.match(lines[j])), None)
        if at is None:
            lines.insert(head + 1, line)
        else:
            lines[at] = line
        out = "".join(lines)
    try:
        before, after = tomllib.loads(text), tomllib.loads(out)
    except tomllib.TOMLDecodeError:
        after = None
    if after is not None:
        before.setdefault("taxonomies", {})[tid] = value
    if after is None or after != before:
        raise InputError(f"{where}: cannot add the line {line.strip()} under [taxonomies] to this file as it is "
                         f"written; add it by hand (or pass --taxonomy to every command); nothing migrated")
    return out


def taxonomy_record(tid: str, path: str | Path) -> tuple[Path, str]:
    """The workspace's configuration file and its text with ``[taxonomies] tid`` naming the taxonomy file at ``path``
    (relative to the workspace when inside it), as ``taxonomy migrate`` records the file it migrated the set to."""
    from .workspace import check_writable, root

    f = workspace_config()
    check_writable(f)
    try:
        text = f.read_text(encoding="utf-8") if f.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{f}: cannot read the workspace's configuration file: {exc}; nothing migrated") from exc
    p = Path(path).resolve()
    try:
        value = p.relative_to(root().resolve()).as_posix()
    except ValueError:
        value = str(p)
    return f, with_taxonomy_file(text, tid, value, f)


def recorded_line(text: str, tid: str) -> str:
    """The line of ``[taxonomies]`` for ``tid`` in the configuration ``text``, as TOML writes it."""
    import json

    return f"{tid} = {json.dumps(tomllib.loads(text)['taxonomies'][tid], ensure_ascii=False)}"
