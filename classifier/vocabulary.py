"""The shared, taxonomy-independent words in ``taxonomy/common.toml``: normalization, managers, asset classes, what
is not a fund name. The one loader of that file: every module takes its words from :func:`load_vocabulary`."""
from __future__ import annotations

import csv
import hashlib
import io
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from .config import default_path, shipped_path
from .errors import TaxonomyError
from .text import clean  # words are matched against cleaned text, so they are cleaned once here

DEFAULT_COMMON = shipped_path("vocabulary")  # the shipped file; load_vocabulary reads the configured one
# Other names of one index, derived from the raw index and fund lists (scripts/build_index_synonyms.py; SOURCE.md beside
# it): part of the shared vocabulary, so its bytes are in the vocabulary's hash that a model records.
INDEX_SYNONYMS = Path(__file__).resolve().parent / "reference" / "index_synonyms.csv"


@dataclass(frozen=True)
class AssetClassDef:
    name: str
    fund_types: tuple[str, ...]
    names: tuple[str, ...]
    unless: tuple[str, ...]


@dataclass(frozen=True)
class NotANameWords:
    """``[not_a_name]``: what marks a cell as not a fund's name (see :mod:`classifier.name_check`)."""
    placeholders: frozenset[str]
    fund_words: tuple[str, ...]
    share_class: re.Pattern
    evidence: dict[str, str]


@dataclass(frozen=True)
class Vocabulary:
    strip_words: tuple[str, ...]
    index_strip_words: tuple[str, ...]
    index_abbreviations: tuple[tuple[str, str], ...]  # (abbreviation, the word it abbreviates), longest first
    index_tails: tuple[str, ...]  # what may follow an abbreviation: index_strip_words ending in 指数, without it ('' first)
    index_synonyms: dict[str, str]  # an index subject → the subject of the index's full name (INDEX_SYNONYMS)
    index_families: tuple[str, ...]  # [normalize] what an index's name begins with (中证, 上证 …), longest first
    share_class: re.Pattern
    currency_words: tuple[str, ...]  # [normalize] a share class's currency, longest first (see currency_tail_words)
    aliases: dict[str, str]
    managers: tuple[str, ...]
    manager_prefix: re.Pattern
    asset_classes: tuple[AssetClassDef, ...]
    enhanced: tuple[str, ...]
    passive_types: tuple[str, ...]
    passive_names: tuple[str, ...]
    not_a_name: NotANameWords
    declared_yields: tuple[str, ...]  # [asset_class_precedence]
    names_override: tuple[str, ...]
    default_asset_class: str
    benchmark_split: re.Pattern  # [benchmark]
    benchmark_index_words: tuple[str, ...]
    feeder: str  # [linking]
    etf: str
    family_noise: re.Pattern
    hong_kong_market: str  # [holdings]
    hong_kong: str
    other_industry: str
    star_prefixes: tuple[str, ...]
    chinext_prefixes: tuple[str, ...]
    bse_prefixes: tuple[str, ...]
    structure_words: tuple[str, ...]  # [model]
    type_words: re.Pattern  # [index_from_name]
    currency_tail: re.Pattern
    variant_words: tuple[str, ...]
    sha256: str

    @cached_property
    def strip_suffixes(self) -> dict[str, tuple[str, ...]]:
        """Per last character of a text, the strip words it may end with, longest first (ties in file order): those
        ending in that character, and an empty word (every text ends with one); under ``''``, the empty words alone,
        which is all a text whose last character ends no word (or an empty text) may end with."""
        words = sorted(self.strip_words, key=len, reverse=True)
        out = {w[-1]: () for w in words if w}
        for last in out:
            out[last] = tuple(w for w in words if not w or w.endswith(last))
        out[""] = tuple(w for w in words if not w)
        return out

    @cached_property
    def strip_any(self) -> re.Pattern:
        """One pattern that finds any of ``strip_words``: a text in which it finds none holds none of them."""
        return re.compile("|".join(re.escape(w) for w in self.strip_words))

    @cached_property
    def currency_tail_words(self) -> re.Pattern | None:
        """One or more of ``currency_words`` ending a text after one character or more (None without words): where it
        starts, the text without them ends."""
        if not self.currency_words:
            return None
        return re.compile("(?<=[\\s\\S])(?:" + "|".join(re.escape(w) for w in self.currency_words) + ")+$")

    @cached_property
    def alias_starts(self) -> frozenset[str]:
        """The first characters of the abbreviations ``aliases`` expands: a text beginning with none of them has
        none."""
        return frozenset(s[:1] for s in self.aliases)


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """The shared vocabulary at ``path`` (default: the configured ``[paths].vocabulary``: the workspace's copy when it
    has one, else the shipped one)."""
    if not path:
        from .workspace import data_path  # the workspace module sits beside this one, not below it

        path = data_path(default_path("vocabulary"))
    return _load(str(path))


@lru_cache(maxsize=4)
def _load(path: str) -> Vocabulary:
    p = Path(path)
    try:
        raw = p.read_bytes()
        d = tomllib.loads(raw.decode("utf-8"))
        n, ms = d["normalize"], d["management_style"]
        cl = lambda ws: tuple(clean(w) for w in ws)  # noqa: E731
        acs = tuple(AssetClassDef(a["name"], cl(a.get("fund_types", [])), cl(a.get("names", [])),
                                  cl(a.get("unless", []))) for a in d["asset_class"])
        by_len = lambda ws: tuple(sorted(ws, key=len, reverse=True))  # noqa: E731
        nn = d["not_a_name"]
        not_a_name = NotANameWords(frozenset(w.upper() for w in nn["placeholders"]),
                                   tuple(w.upper() for w in nn["fund_words"]), re.compile(nn["share_class"]),
                                   dict(nn["evidence"]))
        pr, bm, lk, hd, ifn = (d["asset_class_precedence"], d["benchmark"], d["linking"], d["holdings"],
                               d["index_from_name"])
        names = {a.name for a in acs}
        unknown = [c for c in (*pr["declared_yields"], *pr["names_override"], pr["default"]) if c not in names]
        if unknown:
            raise KeyError(f"[asset_class_precedence] names {unknown}, which no [[asset_class]] defines")
        alternation = lambda ws: "|".join(re.escape(w) for w in ws)  # noqa: E731  (in the file's order)
        # optional: a workspace's copy of the file from before the key came keeps loading (with no abbreviation)
        abbreviations = n.get("index_abbreviations", {})
        if not all(isinstance(v, str) and k for k, v in abbreviations.items()):
            raise KeyError("[normalize] index_abbreviations: each abbreviation must be a non-empty key with a text "
                           "value (the word it abbreviates, '' for none)")
        index_strip = by_len(n["index_strip_words"])
        # 上证综指全收益 abbreviates 上证综合全收益指数 as 创业板指 does 创业板指数: the words index_strip_words strips with
        # 指数 (全收益, 价格, 净收益) may follow the abbreviation, and go with it
        tails = ("", *(w[:-2] for w in index_strip if w.endswith("指数") and len(w) > 2))
        synonyms, synonyms_raw = _index_synonyms(INDEX_SYNONYMS)
        return Vocabulary(by_len(n["strip_words"]), index_strip,
                          tuple(sorted(abbreviations.items(), key=lambda kv: len(kv[0]), reverse=True)), tails,
                          synonyms,
                          # optional: a workspace's copy of the file from before the key came keeps loading
                          by_len(cl(n.get("index_families", []))),
                          re.compile(n["share_class"]),
                          # optional: a workspace's copy of the file from before the key came keeps loading
                          by_len(cl(n.get("currency_words", []))),
                          dict(n.get("aliases", {})), by_len(n["managers"]),
                          re.compile("|".join(re.escape(m) for m in by_len(n["managers"]))), acs, cl(ms["enhanced"]),
                          cl(ms["passive_types"]), cl(ms["passive_names"]), not_a_name,
                          tuple(pr["declared_yields"]), tuple(pr["names_override"]), pr["default"],
                          re.compile(bm["split"]), tuple(bm["index_words"]),
                          lk["feeder"], lk["etf"], re.compile(alternation(lk["family_noise"])),
                          hd["hong_kong_market"], hd["hong_kong"], hd["other"], tuple(hd["star_prefixes"]),
                          tuple(hd["chinext_prefixes"]), tuple(hd["bse_prefixes"]),
                          tuple(d["model"]["structure_words"]),
                          re.compile(f"({alternation(ifn['type_words'])})型"),
                          re.compile(f"({alternation(ifn['currency_tail'])})+$"), tuple(ifn["variant_words"]),
                          hashlib.sha256(raw + synonyms_raw).hexdigest())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, re.error) as exc:
        raise TaxonomyError(f"{p}: cannot load shared vocabulary: {exc!r}") from exc


def _index_synonyms(path: Path) -> tuple[dict[str, str], bytes]:
    """``subject`` → ``canonical`` of the synonym table, and the bytes that go into the vocabulary's hash (the table's,
    after a separator; none when there is no table, so the hash is then the common file's alone)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, b""
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    # a row whose subject is its canonical one names its index's code only (the index code key's pair, classifier.
    # index_key.reference_pairs): no other name
    out = {r["subject"]: r["canonical"] for r in rows if r["subject"] != r["canonical"]}
    if not rows or len({r["subject"] for r in rows}) != len(rows) or any(not r["subject"] for r in rows) \
            or any(not v or v in out for v in out.values()):
        raise KeyError(f"{path}: each row must give a subject once, and a canonical subject that is no other name's "
                       "subject")
    return out, b"\n# " + path.name.encode() + b"\n" + raw
