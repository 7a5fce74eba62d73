"""The report's own tables from a tagged universe (issue 11): ``fundclass summary TAGGED -o summary.xlsx``.

Three tables and a chart, from any file ``fundclass tag`` wrote:

``indices``
    one row per tracked index, the shape of the report's appendix: the index (code and name, and where they were
    read: ``index_from``), its class (the class most of its funds carry; the others in ``other_classes``), the lowest
    confidence among its funds, how many need review, the number of funds and their codes, and the representative
    fund: the largest when the file has a size column, else the first ETF, else the first fund.
``classes``
    per class of the taxonomy: indices, funds with a tracked index, funds without one (counted apart), next to the
    count the taxonomy file records from 表3 (``report_count``) and the difference; then 不适用 and unclassified rows.
``primaries``
    the same per primary class, with each primary's share of the indices beside the report's.

The chart is 图3's view: indices per secondary class, grouped and coloured by primary, beside 表3's counts; as PNG
(matplotlib, drawn with the CJK font shipped in ``classifier/fonts`` so that Chinese renders on machines without any
CJK font) and as a self-contained HTML/SVG page whose bars name their indices on hover (the font's needed glyphs are
embedded, so it renders the same anywhere).

Which index a fund tracks is read, in order, from: its index code column; its index name column (an index name that
rows with a code also carry takes that code); the fund it follows (``linked_fund``: a feeder joins its ETF, a share
class its first class); and, for index funds only (被动指数, 指数增强), its benchmark's main index, else the index its
name states (华夏沪深300ETF联接A → 沪深300). A fund with none of these (an actively managed fund) has no tracked index.
An index is one entry under any of its names: each subject is read as index keys name it (上证指数 and 科创50 as
上证综合指数 and 上证科创板50成份指数: :func:`classifier.normalize.index_key_subject`; 创业板综指 as 创业板综合).
"""
from __future__ import annotations

import base64
import html
import io as _io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .fundtype import ENHANCED, PASSIVE
from .index_key import code_keys
from .io import atomic_write_bytes, check_not_input, is_folder_output, output_files, write_sheets
from .normalize import apply_unique, index_key_subject, index_subject
from .text import clean, code6_column
from .prepare import prepare
from .tagged import TaggedRun, read_tagged
from .taxonomy import Taxonomy, load_taxonomy, taxonomy_hint
from .vocabulary import Vocabulary, load_vocabulary

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "FundclassSansSC-Regular.otf"
FONT_FAMILY = "Fundclass Sans SC"
UNCLASSIFIED = "(未分类)"
TOTAL = "合计(分类体系内)"
SHEETS = ("indices", "classes", "primaries")
SUMMARY_REQUIRED = ("primary", "secondary", "confidence", "needs_review")
# a size column (fund size / AUM), matched on the cleaned, lower-cased header; else any header containing 规模
SIZE_ALIASES = ("fund_size", "size", "aum", "net_asset", "total_asset", "基金规模", "基金规模合计", "最新规模", "资产规模",
                "规模", "基金资产净值", "资产净值", "净资产")
_UNITS = {"万亿": 1e12, "亿": 1e8, "万": 1e4}
_NUMBER = re.compile(r"^([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(万亿|亿|万)?(?:元|RMB|CNY)?$")
_EMPTY_PARENS = re.compile(r"\(\s*[-—]*\s*\)")
_CLASS_AFTER_DIGIT = re.compile(r"(?<=\d)[A-EHIY]$")
MAX_PREFIX = 4  # leading characters (a manager the vocabulary does not know: 人保, 泓德, 东方红) dropped the same way
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]
REPORT_GREY = "#c7c7c7"
INDEX_COLUMNS = ["no", "class_no", "primary", "secondary", "index_code", "index_name", "index_from",
                 "representative_code", "representative_name", "representative_by", "size", "n_funds", "fund_codes",
                 "min_confidence", "n_review", "other_classes"]


# ---------------------------------------------------------------------------------------------------- reading


def parse_size(text: str) -> float:
    """A fund size as people write it, in its own unit: 286.01, 1,234.5, 12.3亿, 3000万元 (NaN when not a number).

    >>> [parse_size(t) for t in ("286.01", "1,234.5", "12.3亿", "3000万元", "", "n/a")]
    [286.01, 1234.5, 1230000000.0, 30000000.0, nan, nan]
    """
    t = clean(str(text)).replace(",", "")
    m = _NUMBER.match(t)
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNITS.get(m.group(2) or "", 1.0)


def size_column(columns: list) -> int | None:
    """Position of the fund-size column, if the file has one (an alias, else the first header containing 规模).

    >>> size_column(["基金代码", "基金简称", "基金规模合计(亿元)"]), size_column(["fund_code", "AUM"]), size_column(["x"])
    (2, 1, None)
    """
    keys = [clean(str(c)).lower() for c in columns]
    for alias in SIZE_ALIASES:
        if alias in keys:
            return keys.index(alias)
    return next((i for i, k in enumerate(keys) if "规模" in k), None)


def name_index_subject(s_name: str, vocab: Vocabulary) -> str:
    """The index an index fund's name states, from its cleaned subject (see :func:`classifier.normalize.fund_subject`):
    index words, enhancement words, currency tails and a share letter after a digit removed.

    >>> v = load_vocabulary()
    >>> [name_index_subject(s, v) for s in ("中证500指数增强", "沪深300A", "纳斯达克100指数人民币", "标普500(-)", "中证A500",
    ...                                   "中证高端制造指数增强型", "创业板综指增强")]
    ['中证500', '沪深300', '纳斯达克100', '标普500', '中证A500', '中证高端制造', '创业板综合']
    """
    t = index_subject(vocab.type_words.sub(r"\1", s_name), vocab, cleaned=True)
    t = _EMPTY_PARENS.sub("", t)
    for w in sorted(vocab.enhanced, key=len, reverse=True):
        t = t.replace(w, "")
    t = vocab.currency_tail.sub("", t)
    t = _CLASS_AFTER_DIGIT.sub("", t) if re.search(r"[\u4e00-\u9fff]", t) else t
    # an abbreviation the removed words ended (创业板综指增强 → 创业板综指) read as the index's full name: 创业板综合
    return index_subject(t, vocab, cleaned=True)


def _known_subject(subject: str, known: set[str], variant_words: tuple[str, ...] | None = None) -> str:
    """``subject`` itself when known, else the known index it names once a variant word (end; common.toml
    [index_from_name]: 沪深300量化增强 tracks 沪深300) or up to MAX_PREFIX leading characters are dropped, else
    ``subject``. Variant words are dropped only where what is left is an index the file already knows.

    >>> _known_subject("人保沪深300量化", {"沪深300"}), _known_subject("中证全指证券公司", {"中证全指"})
    ('沪深300', '中证全指证券公司')
    """
    if subject in known:
        return subject
    variant_words = load_vocabulary().variant_words if variant_words is None else variant_words
    stems = [subject] + [subject[: -len(w)] for w in variant_words if subject.endswith(w) and len(subject) > len(w)]
    for stem in stems:
        for k in range(0, MAX_PREFIX + 1):
            rest = stem[k:]
            if len(rest) < 3:
                break
            if rest in known:
                return rest
    return subject


def tracked_indices(run: TaggedRun, vocab: Vocabulary | None = None) -> pd.DataFrame:
    """For every row of a tagged run: ``key`` of its tracked index ('' when none), ``index_from`` (which field told)
    and the ``subject`` read (the index's name where no name column gave one). See the module docstring."""
    vocab = vocab or load_vocabulary()
    frame = run.frame
    p = prepare(frame, run.colmap, vocab)
    style = run.column("management_style") if "management_style" in frame.columns else p["management_style"]
    tracks = style.str.strip().isin([PASSIVE, ENHANCED]).to_numpy()
    ck = code_keys(p).to_numpy(dtype=object)
    # each subject as the index keys name it (classifier/reference/index_synonyms.csv): an index's other name
    # (上证指数, 科创50) and its full name (上证综合指数, 上证科创板50成份指数) are one index, as for review decisions
    s_index = apply_unique(p["s_index"], lambda t: index_key_subject(t, vocab)).to_numpy(dtype=object)
    s_bench = apply_unique(p["s_benchmark"], lambda t: index_key_subject(t, vocab)).to_numpy(dtype=object)
    s_name = apply_unique(p["s_name"], lambda t: index_key_subject(name_index_subject(t, vocab), vocab)) \
        .to_numpy(dtype=object)
    # a subject that rows with an index code carry (by their index name, else their name) takes that code
    to_code: dict[str, str] = {}
    for subjects in (s_index, np.where(tracks, s_name, "")):
        seen: dict[str, set] = {}
        for c, s in zip(ck, subjects):
            if c and s:
                seen.setdefault(s, set()).add(c)
        for s, codes in seen.items():
            if len(codes) == 1:
                to_code.setdefault(s, next(iter(codes)))
    n = len(frame)
    key = np.array([""] * n, dtype=object)
    source = np.array([""] * n, dtype=object)
    subject = np.array([""] * n, dtype=object)

    def put(mask, keys, src, subj):
        m = mask & (key == "")
        key[m], source[m], subject[m] = keys[m], src, subj[m]

    put(ck != "", ck, "index_code", s_index)
    put(s_index != "", np.array([to_code.get(s, "idx:" + s) for s in s_index], dtype=object), "index_name", s_index)
    linked = code6_column(run.column("linked_fund")).to_numpy(dtype=object)
    if linked.any():
        at: dict[str, int] = {}
        for i, c in enumerate(run.code):
            if c and key[i]:
                at.setdefault(c, i)
        via = np.array([at.get(lk, -1) if lk else -1 for lk in linked])
        ok = via >= 0
        keys = np.array([key[j] if j >= 0 else "" for j in via], dtype=object)
        subj = np.array([subject[j] if j >= 0 else "" for j in via], dtype=object)
        put(ok & (keys != ""), keys, "linked_fund", subj)
    put(tracks & (s_bench != ""), np.array([to_code.get(s, "idx:" + s) for s in s_bench], dtype=object),
        "benchmark", s_bench)
    # an index a name states is matched to one the file knows (by a code, an index name or an ETF's name) after
    # dropping variant words and an unknown manager's name: 人保沪深300 and 沪深300量化 track 沪深300
    etf = np.array([(vocab.etf in n.upper() and vocab.feeder not in n) for n in run.name], dtype=bool)
    known = set(to_code) | set(s_index[s_index != ""]) | set(s_name[tracks & etf & (s_name != "")])
    canon = {s: _known_subject(s, known, vocab.variant_words) for s in set(s_name[tracks & (s_name != "")])}
    s_name = np.array([canon.get(s, s) for s in s_name], dtype=object)
    put(tracks & (s_name != ""), np.array([to_code.get(s, "idx:" + s) for s in s_name], dtype=object),
        "fund_name", s_name)
    # a feeder or share class that names its index only by its own name joins the fund it follows
    if linked.any():
        head = {c: i for i, c in reversed(list(enumerate(run.code))) if c and key[i]}
        for i, lk in enumerate(linked):
            j = head.get(lk, -1) if lk else -1
            if j >= 0 and j != i and source[i] in ("benchmark", "fund_name"):
                key[i], source[i], subject[i] = key[j], "linked_fund", subject[j]
    return pd.DataFrame({"key": key, "index_from": source, "subject": subject}, index=frame.index)


def with_index_list(run: TaggedRun, path) -> TaggedRun:
    """Fill the tracked index of funds that have none in ``run`` from another table (an ETF list with fund code,
    index code and index name columns, e.g. Wind/Choice/Tushare exports), matched by six-digit fund code.

    Raises
    ------
    InputError
        when the table has no fund-code column or neither an index-code nor an index-name column.
    """
    from .columns import ALIASES, _key as _column_key
    from .io import read_table

    t = read_table(path).frame
    keys = [_column_key(c) for c in t.columns]
    cm = {}
    for fld in ("code", "index_code", "index_name"):
        for alias in ALIASES[fld]:
            if _column_key(alias) in keys and keys.index(_column_key(alias)) not in cm.values():
                cm[fld] = keys.index(_column_key(alias))
                break
    if "code" not in cm or not ({"index_code", "index_name"} & set(cm)):
        raise InputError(f"{path}: --indices needs a fund-code column and an index code or index name column "
                         f"(e.g. 基金代码, 跟踪指数代码, 跟踪指数名称); columns are {list(t.columns)[:12]}")
    code = code6_column(t.iloc[:, cm["code"]])
    frame = run.frame.copy()
    colmap = dict(run.colmap)
    for fld in ("index_code", "index_name"):
        if fld not in cm:
            continue
        lookup = dict(zip(code[code != ""], t.iloc[:, cm[fld]].astype(str).str.strip()[code != ""]))
        found = run.code.map(lookup).fillna("")
        if fld in colmap:
            col = frame.columns[colmap[fld]]
            mine = frame.iloc[:, colmap[fld]].astype(str).str.strip()
            frame.iloc[:, colmap[fld]] = mine.where(mine != "", found)
        else:
            col = fld if fld not in frame.columns else f"{fld}_from_list"
            frame[col] = found.values
            colmap[fld] = len(frame.columns) - 1
    return TaggedRun(run.path, frame, colmap, run.code, run.name, run.confidence, run.needs_review, run.line,
                     run.warnings)


# ---------------------------------------------------------------------------------------------------- tables


@dataclass
class Summary:
    """What ``summary`` computed: the three tables, and what a person reads on the terminal."""

    indices: pd.DataFrame
    classes: pd.DataFrame
    primaries: pd.DataFrame
    taxonomy: Taxonomy
    source: str
    n_funds: int
    n_without_index: int
    has_size: bool
    taxonomy_versions: list[str] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def in_scope(self) -> pd.DataFrame:
        return self.classes[self.classes["secondary"].isin(self.taxonomy.secondaries)]

    def lines(self) -> list[str]:
        n_idx = len(self.indices)
        out = [f"{self.source}: {self.n_funds} funds; {self.n_funds - self.n_without_index} track one of {n_idx} "
               f"indices; {self.n_without_index} have no tracked index (counted apart)",
               f"taxonomy {', '.join(self.taxonomy_versions) or self.taxonomy.version}; "
               f"model {', '.join(self.model_versions) or '?'}"]
        has_report = self.classes["report_count"].notna().any()
        names = [f"{p} / {s}" if s in self.taxonomy.secondaries else (s or p)
                 for p, s in zip(self.classes["primary"], self.classes["secondary"])]
        width = max(_width(n) for n in names) + 2
        out.append("indices per class" + (" (this run | 表3 | difference)" if has_report else "") + ":")
        for label, r in zip(names, self.classes.itertuples()):
            row = f"  {_pad(label, width)}{r.indices:>5}"
            if has_report and not pd.isna(r.report_count):
                row += f" | {int(r.report_count):>4} | {int(r.difference):+5d}"
            out.append(row + f"   ({r.funds} funds, {r.funds_without_index} without index)")
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (a CJK character takes two)."""
    return sum(2 if ord(c) > 0x2E7F else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 1)


def _class_order(tax: Taxonomy) -> dict[str, int]:
    order = {s: i for i, s in enumerate(tax.secondaries)}
    order[tax.not_applicable] = len(order)
    order[""] = len(order) + 1
    return order


def _representative(rows: np.ndarray, size: np.ndarray | None, names: np.ndarray) -> tuple[int, str]:
    if size is not None:
        s = size[rows]
        if np.isfinite(s).any():
            return int(rows[int(np.nanargmax(s))]), "size"
    v = load_vocabulary()
    for i in rows:
        n = names[i].upper()
        if v.etf in n and v.feeder not in n:
            return int(i), "first ETF"
    return int(rows[0]), "first fund"


def summarize(run: TaggedRun, tax: Taxonomy, vocab: Vocabulary | None = None) -> Summary:
    """The ``indices``, ``classes`` and ``primaries`` tables of a tagged run (see the module docstring)."""
    warnings = []
    sec = run.column("secondary").str.strip()
    versions = run.versions("taxonomy_version")
    if versions and tax.version not in versions:
        raise InputError(f"{run.path}: tagged with taxonomy {', '.join(versions)}, not {tax.version}; "
                         f"pass {taxonomy_hint(versions)}")
    if len(versions) > 1:
        warnings.append(f"{run.path}: rows tagged with several taxonomies ({', '.join(versions)})")
    unknown = sorted(set(sec) - set(tax.labels) - {""})
    if unknown:
        raise InputError(f"{run.path}: column 'secondary' holds labels that are not classes of {tax.version}: "
                         f"{', '.join(unknown[:10])}; pass the taxonomy the file was tagged with (--taxonomy)")
    keys = tracked_indices(run, vocab)
    pos = size_column([c for c in run.frame.columns])
    size = None
    if pos is not None:
        size = run.frame.iloc[:, pos].astype(str).map(parse_size).to_numpy(dtype=float)
        if not np.isfinite(size).any():
            warnings.append(f"{run.path}: size column '{run.frame.columns[pos]}' holds no numbers; representative = "
                            f"first ETF")
            size = None
    names = run.name.to_numpy(dtype=object)
    codes = run.code.where(run.code != "", run.name).to_numpy(dtype=object)
    conf = run.confidence.to_numpy(dtype=float)
    review = run.needs_review.to_numpy(dtype=bool)
    sec_a = sec.to_numpy(dtype=object)
    raw_code, raw_name = run.field("index_code").to_numpy(dtype=object), run.field("index_name").to_numpy(dtype=object)
    order = _class_order(tax)
    rank = {"index_code": 0, "index_name": 1, "linked_fund": 2, "benchmark": 3, "fund_name": 4}
    rows = []
    key_a, from_a, subj_a = (keys[c].to_numpy(dtype=object) for c in ("key", "index_from", "subject"))
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(key_a):
        if k:
            groups.setdefault(k, []).append(i)
    for k, members in groups.items():
        m = np.array(members)
        rep, rep_by = _representative(m, size, names)
        counts = pd.Series(sec_a[m]).value_counts()
        top = counts.max()
        tied = [s for s in counts.index if counts[s] == top]
        cls = sec_a[rep] if sec_a[rep] in tied else min(tied, key=lambda s: order.get(s, 99))
        others = ";".join(f"{s or UNCLASSIFIED}:{n}" for s, n in counts.items() if s != cls)
        icode = next((c for c in raw_code[m] if c), "")
        iname = next((c for c in raw_name[m] if c), "") or next((s for s in subj_a[m] if s), k.split(":", 1)[1])
        # how the index itself was read (a follower joining through linked_fund says nothing about it)
        best = min((from_a[i] for i in m), key=lambda f: (f == "linked_fund", rank.get(f, 9)))
        c = conf[m]
        rows.append({
            "primary": tax.primary_of(cls) if cls else "", "secondary": cls, "index_code": icode, "index_name": iname,
            "index_from": best, "representative_code": codes[rep], "representative_name": names[rep],
            "representative_by": rep_by, "size": float(size[rep]) if size is not None else np.nan,
            "n_funds": len(m), "fund_codes": ";".join(dict.fromkeys(codes[m])),
            "min_confidence": float(np.nanmin(c)) if np.isfinite(c).any() else np.nan,
            "n_review": int(review[m].sum()), "other_classes": others})
    indices = pd.DataFrame(rows, columns=[c for c in INDEX_COLUMNS if c not in ("no", "class_no")])
    if len(indices):
        indices["_o"] = indices["secondary"].map(lambda s: order.get(s, 99))
        sort_by, asc = (["_o", "size", "n_funds", "index_name"], [True, False, False, True]) if size is not None \
            else (["_o", "n_funds", "index_name"], [True, False, True])
        indices = indices.sort_values(sort_by, ascending=asc, kind="stable", na_position="last").drop(columns="_o")
    indices = indices.reset_index(drop=True)
    indices.insert(0, "class_no", indices.groupby("secondary").cumcount() + 1 if len(indices) else [])
    indices.insert(0, "no", np.arange(1, len(indices) + 1))
    if size is None:
        indices = indices.drop(columns="size")
    has_index = key_a != ""
    classes = _classes_table(tax, indices, sec_a, has_index)
    n_without = int((~has_index).sum())
    return Summary(indices, classes, _primaries_table(tax, classes), tax, run.path, len(run.frame), n_without,
                   size is not None, versions, run.versions("model_version"), warnings + list(run.warnings))


def _classes_table(tax: Taxonomy, indices: pd.DataFrame, sec: np.ndarray, has_index: np.ndarray) -> pd.DataFrame:
    idx_counts = indices["secondary"].value_counts() if len(indices) else pd.Series(dtype=int)
    funds_idx = pd.Series(sec[has_index], dtype=object).value_counts()
    funds_no = pd.Series(sec[~has_index], dtype=object).value_counts()

    def row(prim, s, rc):
        i, a, b = int(idx_counts.get(s, 0)), int(funds_idx.get(s, 0)), int(funds_no.get(s, 0))
        return {"primary": prim, "secondary": s or UNCLASSIFIED, "indices": i, "report_count": rc,
                "index_funds": a, "funds_without_index": b, "funds": a + b}

    body = pd.DataFrame([row(c.primary, c.secondary, c.report_count) for c in tax.classes])
    body["report_count"] = pd.array(body["report_count"], dtype="Int64")
    total_idx = int(body["indices"].sum())
    total_rep = body["report_count"].sum() if body["report_count"].notna().any() else pd.NA
    body["share"] = (body["indices"] / total_idx).round(4) if total_idx else np.nan
    body["report_share"] = (body["report_count"].astype("Float64") / total_rep).round(4) \
        if total_rep is not pd.NA else np.nan
    total = {"primary": TOTAL, "secondary": "", "indices": total_idx, "report_count": total_rep,
             "index_funds": int(body["index_funds"].sum()), "funds_without_index": int(body["funds_without_index"].sum()),
             "funds": int(body["funds"].sum()), "share": 1.0 if total_idx else np.nan,
             "report_share": 1.0 if total_rep is not pd.NA else np.nan}
    outside = [row(tax.not_applicable, tax.not_applicable, None)] + ([row("", "", None)] if (sec == "").any() else [])
    t = pd.concat([body, pd.DataFrame([total]), pd.DataFrame(outside)], ignore_index=True)
    t["report_count"] = pd.array(t["report_count"], dtype="Int64")
    t["difference"] = t["indices"] - t["report_count"]
    t["share"] = pd.array(t["share"], dtype="Float64")
    t["report_share"] = pd.array(t["report_share"], dtype="Float64")
    return t[["primary", "secondary", "indices", "report_count", "difference", "share", "report_share",
              "index_funds", "funds_without_index", "funds"]]


def _primaries_table(tax: Taxonomy, classes: pd.DataFrame) -> pd.DataFrame:
    c = classes[classes["secondary"].isin(tax.secondaries)]
    g = c.groupby("primary", sort=False).agg(
        indices=("indices", "sum"), report_count=("report_count", lambda s: s.sum() if s.notna().any() else pd.NA),
        index_funds=("index_funds", "sum"), funds_without_index=("funds_without_index", "sum"), funds=("funds", "sum"))
    g = g.reindex(tax.primaries).reset_index()
    g["report_count"] = pd.array(g["report_count"], dtype="Int64")
    g["difference"] = g["indices"] - g["report_count"]
    tot, rep = g["indices"].sum(), g["report_count"].sum()
    g["share"] = (g["indices"] / tot).round(4) if tot else np.nan
    g["report_share"] = (g["report_count"].astype("Float64") / rep).round(4) if rep else pd.NA
    return g[["primary", "indices", "report_count", "difference", "share", "report_share", "index_funds",
              "funds_without_index", "funds"]]


# ---------------------------------------------------------------------------------------------------- the chart


def cjk_font() -> str:
    """Register the CJK font shipped with the package with matplotlib (once) and return its family name.

    The font is a subset of Noto Sans CJK SC (SIL OFL 1.1; see ``classifier/fonts/OFL.txt`` and
    ``scripts/build_cjk_font.py``): GB 2312 and the taxonomy files' characters. Nothing is read from the system.
    """
    from matplotlib import font_manager

    if not FONT_PATH.exists():
        raise InputError(f"{FONT_PATH}: the chart font is missing from the installation; reinstall fund-classifier")
    if not any(f.fname == str(FONT_PATH) for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(FONT_PATH))
    return FONT_FAMILY


def missing_glyphs(texts) -> list[str]:
    """The characters of ``texts`` the shipped font has no glyph for (they would render as boxes).

    >>> missing_glyphs(["科技成长主题ETF", "(申万)行业ETF", "表3"])
    []
    """
    from matplotlib.ft2font import FT2Font

    cmap = FT2Font(str(FONT_PATH)).get_charmap()
    return sorted({ch for t in texts for ch in str(t) if not ch.isspace() and ord(ch) not in cmap})


@dataclass
class ChartRow:
    primary: str
    secondary: str
    indices: int
    report_count: int | None
    funds: int
    examples: list[str]


def _chart_rows(summary: Summary) -> list[ChartRow]:
    ex = summary.indices.sort_values(["n_funds"], ascending=False, kind="stable") if len(summary.indices) else None
    rows = []
    for r in summary.in_scope.itertuples():
        names = [] if ex is None else ex.loc[ex["secondary"] == r.secondary, "index_name"].head(12).tolist()
        rows.append(ChartRow(r.primary, r.secondary, int(r.indices),
                             None if pd.isna(r.report_count) else int(r.report_count), int(r.index_funds), names))
    return rows


def _titles(summary: Summary) -> tuple[str, str]:
    tot = int(summary.in_scope["indices"].sum())
    rep = summary.in_scope["report_count"]
    title = f"各二级分类的跟踪指数数量:本次 {tot} 个"
    if rep.notna().any():
        title += f",表3 {int(rep.sum())} 个"
    sub = f"{Path(summary.source).name} · {', '.join(summary.taxonomy_versions) or summary.taxonomy.version}"
    if summary.model_versions:
        sub += f" · 模型 {', '.join(summary.model_versions)}"
    return title, sub


def chart_png(summary: Summary, path: str | Path) -> list[str]:
    """Draw 图3's view (indices per secondary class, grouped by primary, beside 表3) as PNG; returns the characters
    the font lacks (none for the shipped taxonomies)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = _chart_rows(summary)
    title, sub = _titles(summary)
    family = cjk_font()
    prim_colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(summary.taxonomy.primaries)}
    has_report = any(r.report_count is not None for r in rows)
    y, ys, last = 0.0, [], None
    for r in rows:
        if last is not None and r.primary != last:
            y += 0.6
        ys.append(y)
        y += 1.0
        last = r.primary
    ys = np.array(ys)
    labels = [r.secondary for r in rows] + [r.primary for r in rows] + [title, sub, "表3", "本次"]
    lacking = missing_glyphs(labels)
    with matplotlib.rc_context({"font.family": [family, "DejaVu Sans"], "axes.unicode_minus": False,
                                "svg.fonttype": "none"}):
        fig = Figure(figsize=(9, 1.8 + 0.42 * (ys[-1] + 1 if len(ys) else 1)), dpi=150, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        h = 0.38 if has_report else 0.7
        now = [r.indices for r in rows]
        ax.barh(ys - (h / 2 if has_report else 0), now, height=h, color=[prim_colour[r.primary] for r in rows])
        if has_report:
            ax.barh(ys + h / 2, [r.report_count or 0 for r in rows], height=h, color=REPORT_GREY)
        top = max(now + ([r.report_count or 0 for r in rows] if has_report else []) + [1])
        for yy, r in zip(ys, rows):
            ax.text(r.indices + top * 0.01, yy - (h / 2 if has_report else 0), str(r.indices), va="center",
                    fontsize=7)
            if has_report and r.report_count is not None:
                ax.text(r.report_count + top * 0.01, yy + h / 2, str(r.report_count), va="center", fontsize=7,
                        color="#666666")
        ax.set_yticks(ys, [r.secondary for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.12)
        ax.set_xlabel("跟踪指数数量", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        handles = [Patch(color=prim_colour[p], label=p) for p in summary.taxonomy.primaries]
        if has_report:
            handles.append(Patch(color=REPORT_GREY, label="表3"))
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3), fontsize=7, frameon=False)
        fig.suptitle(title, x=0.02, ha="left", fontsize=11)
        ax.set_title(sub, loc="left", fontsize=7, color="#666666")
        buf = _io.BytesIO()
        fig.savefig(buf, format="png")
    data = buf.getvalue()
    atomic_write_bytes(path, lambda t: Path(t).write_bytes(data))
    return lacking


def embedded_font_css(text: str) -> str:
    """An ``@font-face`` rule embedding the shipped font, cut to the characters of ``text`` (a few kB, WOFF)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    # the shipped font's own date and bounding boxes are kept: the page is the same bytes on every run (a new
    # timestamp would change it each second), and no glyph outline is re-measured
    font = TTFont(str(FONT_PATH), recalcBBoxes=False, recalcTimestamp=False)
    opts = subset.Options()
    opts.flavor = "woff"
    opts.layout_features = []
    opts.notdef_outline = True
    s = subset.Subsetter(opts)
    s.populate(text="".join(sorted(set(text))) + " 0123456789")
    s.subset(font)
    buf = _io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"@font-face{{font-family:'{FONT_FAMILY}';src:url(data:font/woff;base64,{data}) format('woff');}}")


def chart_html(summary: Summary, path: str | Path) -> None:
    """The chart as one self-contained HTML page (inline SVG, the needed glyphs embedded): hovering a bar names the
    class, its counts beside 表3 and its largest indices; the classes table follows."""
    rows = _chart_rows(summary)
    title, sub = _titles(summary)
    prim_colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(summary.taxonomy.primaries)}
    has_report = any(r.report_count is not None for r in rows)
    top = max([r.indices for r in rows] + [r.report_count or 0 for r in rows] + [1])
    left, width, row_h, gap = 190, 560, 30, 14
    e = html.escape
    parts, y, last = [], 40, None
    for r in rows:
        if r.primary != last:
            if last is not None:
                y += gap
            parts.append(f'<text x="4" y="{y + 12}" class="prim" fill="{prim_colour[r.primary]}">{e(r.primary)}</text>')
            y += 18
            last = r.primary
        diff = "" if r.report_count is None else f",表3 {r.report_count} 个(差 {r.indices - r.report_count:+d})"
        tip = (f"{r.secondary}({r.primary})\n本次 {r.indices} 个指数,{r.funds} 只基金{diff}"
               + (f"\n指数(基金数最多的): {'、'.join(r.examples)}" if r.examples else ""))
        h = row_h * (0.45 if has_report else 0.8)
        wn = width * r.indices / top
        parts.append(f'<g class="row"><title>{e(tip)}</title>'
                     f'<text x="{left - 8}" y="{y + row_h / 2 + 4}" text-anchor="end">{e(r.secondary)}</text>'
                     f'<rect x="{left}" y="{y + 2}" width="{wn:.1f}" height="{h:.1f}" fill="{prim_colour[r.primary]}"/>'
                     f'<text x="{left + wn + 4:.1f}" y="{y + 2 + h - 3:.1f}" class="n">{r.indices}</text>')
        if has_report and r.report_count is not None:
            wr = width * r.report_count / top
            parts.append(f'<rect x="{left}" y="{y + 3 + h:.1f}" width="{wr:.1f}" height="{h:.1f}" '
                         f'fill="{REPORT_GREY}"/><text x="{left + wr + 4:.1f}" y="{y + 3 + 2 * h - 3:.1f}" '
                         f'class="n grey">{r.report_count}</text>')
        parts.append("</g>")
        y += row_h
    legend = "".join(f'<span><i style="background:{c}"></i>{e(p)}</span>' for p, c in prim_colour.items())
    if has_report:
        legend += f'<span><i style="background:{REPORT_GREY}"></i>表3</span>'
    shown = summary.classes.astype(object).where(summary.classes.notna(), "")
    for c in ("share", "report_share"):
        shown[c] = [f"{v:.1%}" if v != "" else "" for v in shown[c]]
    table = shown.to_html(index=False, border=0)
    body = (f'<h1>{e(title)}</h1><p class="sub">{e(sub)}</p><div class="legend">{legend}</div>'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" height="{y + 10}" '
            f'role="img" aria-label="{e(title)}">{"".join(parts)}</svg>'
            f'<p class="sub">悬停在条形上可查看该分类的指数。灰色条为报告表3的数量。</p>{table}')
    css = ("body{font-family:'%s',sans-serif;margin:24px;color:#222}h1{font-size:18px;margin:0}"
           ".sub{color:#666;font-size:12px}svg text{font-size:12px;fill:#222}svg .prim{font-size:13px}"
           "svg .n{font-size:11px}svg .grey{fill:#777}.row:hover rect{opacity:.75}"
           ".legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;"
           "margin-right:4px}table{border-collapse:collapse;font-size:12px;margin-top:12px}"
           "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
           "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}" % FONT_FAMILY)
    page_text = re.sub(r"<[^>]+>", "", body)
    doc = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{e(title)}</title>'
           f"<style>{embedded_font_css(html.unescape(page_text))}{css}</style></head><body>{body}</body></html>")
    atomic_write_bytes(path, lambda t: Path(t).write_text(doc, encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------- files


def _chart_paths(out: Path) -> tuple[Path, Path]:
    if is_folder_output(out):
        return out / "chart.png", out / "chart.html"
    return out.with_suffix(".png"), out.with_suffix(".html")


def write_summary(summary: Summary, out_path: str | Path) -> list[Path]:
    """Write the tables (``.xlsx`` sheets, ``.md`` sections or a folder of CSVs) and the chart beside them
    (``<name>.png``/``<name>.html``, or ``chart.png``/``chart.html`` in the folder)."""
    out = Path(out_path)
    if not is_folder_output(out) and out.suffix.lower() not in (".xlsx", ".xlsm", ".md"):
        raise InputError(f"{out}: unsupported summary output '{out.suffix}'; use .xlsx, .md, or a folder for one CSV "
                         f"per table (e.g. -o {out.with_suffix('')}/)")
    png, page = _chart_paths(out)
    if is_folder_output(out):
        out.mkdir(parents=True, exist_ok=True)
    lacking = chart_png(summary, png)
    if lacking:
        summary.warnings.append(f"chart: the shipped font has no glyph for {''.join(lacking)}; those characters show "
                                f"as boxes")
    chart_html(summary, page)
    sheets = dict(zip(SHEETS, (summary.indices, summary.classes, summary.primaries)))
    title, sub = _titles(summary)
    notes = [sub, f"{summary.n_funds} funds, {len(summary.indices)} tracked indices, "
                  f"{summary.n_without_index} funds without a tracked index (counted apart)"]
    written, cut = write_sheets(sheets, out, images={"chart": png}, title=title, notes=notes)
    summary.warnings += cut
    summary.written = written + [png, page]
    return summary.written


def summary_file(tagged_path, out_path, taxonomy_path=None, index_list=None) -> Summary:
    """``fundclass summary``: read a tagged file (its tracked indices completed from ``index_list`` if given),
    compute the tables, write them and the chart."""
    out = Path(out_path)
    for target in output_files(out, SHEETS) + list(_chart_paths(out)):
        check_not_input(target, tagged_path)
    run = read_tagged(tagged_path, SUMMARY_REQUIRED)
    if index_list:
        run = with_index_list(run, index_list)
    summary = summarize(run, load_taxonomy(taxonomy_path))
    write_summary(summary, out)
    return summary
