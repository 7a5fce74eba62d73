"""The shared, taxonomy-independent words in ``taxonomy/common.toml``: normalization, managers, asset classes."""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .config import project_path
from .errors import TaxonomyError

DEFAULT_COMMON = project_path("taxonomy/common.toml")


@dataclass(frozen=True)
class AssetClassDef:
    name: str
    fund_types: tuple[str, ...]
    names: tuple[str, ...]
    unless: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    strip_words: tuple[str, ...]
    index_strip_words: tuple[str, ...]
    share_class: re.Pattern
    aliases: dict[str, str]
    managers: tuple[str, ...]
    manager_prefix: re.Pattern
    asset_classes: tuple[AssetClassDef, ...]
    enhanced: tuple[str, ...]
    passive_types: tuple[str, ...]
    passive_names: tuple[str, ...]
    sha256: str


@lru_cache(maxsize=4)
def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    p = Path(path) if path else DEFAULT_COMMON
    try:
        raw = p.read_bytes()
        d = tomllib.loads(raw.decode("utf-8"))
        n, ms = d["normalize"], d["management_style"]
        from .normalize import clean  # words are matched against cleaned text, so they are cleaned once here

        cl = lambda ws: tuple(clean(w) for w in ws)  # noqa: E731
        acs = tuple(AssetClassDef(a["name"], cl(a.get("fund_types", [])), cl(a.get("names", [])),
                                  cl(a.get("unless", []))) for a in d["asset_class"])
        by_len = lambda ws: tuple(sorted(ws, key=len, reverse=True))  # noqa: E731
        return Vocabulary(by_len(n["strip_words"]), by_len(n["index_strip_words"]), re.compile(n["share_class"]),
                          dict(n.get("aliases", {})), by_len(n["managers"]),
                          re.compile("|".join(re.escape(m) for m in by_len(n["managers"]))), acs, cl(ms["enhanced"]),
                          cl(ms["passive_types"]), cl(ms["passive_names"]), hashlib.sha256(raw).hexdigest())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, re.error) as exc:
        raise TaxonomyError(f"{p}: cannot load shared vocabulary: {exc!r}") from exc
