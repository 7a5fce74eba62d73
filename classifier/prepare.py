"""Normalize an input frame into the fields the rules and the model read (one job: raw cells → clean subjects).

The input frame is never modified; the prepared frame has one row per input row, same index, with:
code, name, full_name, index_code, index_name, benchmark, fund_type (raw text, '' when absent),
and the cleaned subjects index, benchmark, name (fund_subject of the short name), full_name, plus
asset_class, asset_reason, management_style, and name_problem (why the name is not a fund's name, '' when it is;
see :mod:`classifier.name_check`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import FIELDS
from .fundtype import classify_frame
from .name_check import name_problem
from .normalize import apply_unique, benchmark_subject, clean_column, fund_subject_column, index_subject
from .text import code6_column
from .vocabulary import Vocabulary, load_vocabulary

def _raw(frame: pd.DataFrame, colmap: dict[str, int], fields=FIELDS) -> pd.DataFrame:
    """The fields' raw text, '' when missing, cut at 4096 characters; columns of Python strings (dtype object: see
    :func:`classifier.normalize.apply_unique`)."""
    raw = {}
    for fld in fields:
        if fld in colmap:
            s = frame.iloc[:, colmap[fld]]
            values = s.tolist()
            if not set(map(type, values)) <= {str}:  # numbers, missing values: as text, the way pandas writes them
                values = s.where(s.notna(), "").astype(str).tolist()
            raw[fld] = pd.Series([v[:4096] for v in values], index=frame.index, dtype=object)
        else:
            raw[fld] = pd.Series("", index=frame.index, dtype=object)
    return pd.DataFrame(raw, index=frame.index)


def _identity(p: pd.DataFrame, c: dict[str, pd.Series], vocab: Vocabulary) -> None:
    p["code6"] = code6_column(p["code"])
    p["s_index"] = apply_unique(c["index_name"], lambda t: index_subject(t, vocab, cleaned=True))
    p["s_benchmark"] = apply_unique(c["benchmark"], lambda t: benchmark_subject(t, vocab, cleaned=True))


def identify(frame: pd.DataFrame, colmap: dict[str, int], vocab: Vocabulary | None = None) -> pd.DataFrame:
    """Only the columns that identify a fund and link it to others — code, code6, n_name, s_index, s_benchmark, as
    :func:`prepare` makes them: the light pass over a whole file that finds links and duplicate codes across chunks
    (:func:`classifier.linking.file_links`)."""
    vocab = vocab or load_vocabulary()
    p = _raw(frame, colmap, ("code", "name", "index_name", "benchmark"))
    c = {fld: clean_column(p[fld]) for fld in ("name", "index_name", "benchmark")}
    _identity(p, c, vocab)
    p["n_name"] = c["name"]
    return p[["code", "code6", "n_name", "s_index", "s_benchmark"]]


# the columns of :func:`prepare` that the index and family keys read (:mod:`classifier.index_key`: code_keys,
# subject_keys, name_keys; :func:`classifier.linking.family_keys`); the last three only for a row that gives no index
# code, index or benchmark (name_keys reads the index from its name)
KEY_FIELDS = ("index_code", "s_index", "s_benchmark", "n_name", "s_name", "s_full_name", "management_style")


def key_fields(frame: pd.DataFrame, colmap: dict[str, int], vocab: Vocabulary | None = None) -> pd.DataFrame:
    """:data:`KEY_FIELDS` of ``frame``, as :func:`prepare` makes them, for the keys of many rows (a labeled set's
    ~5,000, read by every review import): a row giving an index code, index or benchmark is read for its index and
    name alone (``s_name``, ``s_full_name`` and ``management_style`` '': the keys read them only where the row gives
    none of the three); a row giving none is prepared whole. ~4x cheaper than :func:`prepare` on the shipped labeled
    set, where all but a few dozen rows give their index. :func:`prepare` reads each row on its own, so a row's fields
    are those of ``prepare(frame)``."""
    vocab = vocab or load_vocabulary()
    p = _raw(frame, colmap, ("name", "index_code", "index_name", "benchmark"))
    c = {fld: clean_column(p[fld]) for fld in ("name", "index_code", "index_name", "benchmark")}
    out = pd.DataFrame({
        "index_code": c["index_code"],
        "s_index": apply_unique(c["index_name"], lambda t: index_subject(t, vocab, cleaned=True)),
        "s_benchmark": apply_unique(c["benchmark"], lambda t: benchmark_subject(t, vocab, cleaned=True)),
        "n_name": c["name"]}, index=frame.index)
    for col in KEY_FIELDS[4:]:
        out[col] = pd.Series("", index=frame.index, dtype=object)
    bare = (out["index_code"].to_numpy() == "") & (out["s_index"].to_numpy() == "") & (out["s_benchmark"].to_numpy()
                                                                                        == "")
    if bare.any():
        whole = prepare(frame[bare], colmap, vocab)
        for col in KEY_FIELDS[4:]:
            out.loc[bare, col] = whole[col].to_numpy(dtype=object)
    return out[list(KEY_FIELDS)]


def nothing_to_read(p: pd.DataFrame) -> np.ndarray:
    """Per prepared row, whether it gives nothing to read: no name, full name, index (code or name) nor benchmark (a
    row with a fund code alone). NumPy's comparison of the columns' Python strings (pandas' own costs ~0.6 ms more a
    column)."""
    return ((p["s_index"].to_numpy() == "") & (p["s_name"].to_numpy() == "") & (p["s_full_name"].to_numpy() == "")
            & (p["s_benchmark"].to_numpy() == "") & (p["index_code"].to_numpy() == ""))


def prepare(frame: pd.DataFrame, colmap: dict[str, int], vocab: Vocabulary | None = None,
            name_rows=None) -> pd.DataFrame:
    """``name_rows``: with None, every row's name subjects ``s_name`` and ``s_full_name`` are read; else a function of
    the prepared frame without them (every other column made, those two '') that gives, per row, whether they are
    read: the other rows keep '' (tagging reads them only on the rows :func:`classifier.score.name_rows` gives, and
    an out-of-scope fund's name subjects cost the fund list ~20 ms of its ~65 ms)."""
    vocab = vocab or load_vocabulary()
    p = _raw(frame, colmap)
    c = {fld: clean_column(p[fld]) for fld in ("name", "full_name", "index_code", "index_name", "benchmark")}
    _identity(p, c, vocab)
    p["index_code"] = c["index_code"]
    if name_rows is None:
        p["s_name"] = fund_subject_column(c["name"], vocab)
        p["s_full_name"] = fund_subject_column(c["full_name"], vocab)
    else:  # in their place among the columns, filled last
        p["s_name"] = p["s_full_name"] = pd.Series("", index=p.index, dtype=object)
    p["n_name"] = c["name"]
    # the benchmark's main index (not its cash or bond legs) also says what a fund holds: 信用债指数 → 债券
    # (one f-string per row: pandas' element-wise "+" of text columns makes a new column per operand)
    text = pd.Series([f"{a}|{b}|{i}|{m}" for a, b, i, m in zip(c["name"].tolist(), c["full_name"].tolist(),
                                                               p["s_index"].tolist(), p["s_benchmark"].tolist())],
                     index=p.index, dtype=object)
    # NumPy's comparison of the columns' Python strings (pandas' own costs ~0.6 ms more a column)
    has_index = pd.Series((p["index_code"].to_numpy() != "") | (p["s_index"].to_numpy() != ""), index=p.index)
    p = p.join(classify_frame(p["fund_type"], text, has_index, vocab))
    # a row with nothing but a name (and perhaps a code) is classified only if that name reads as a fund's name
    untyped = pd.Series([not t.strip() for t in p["fund_type"].tolist()], index=p.index, dtype=bool)
    name_only = ~has_index & (p["s_benchmark"].to_numpy() == "") & untyped
    p["name_problem"] = ""
    if name_only.any():  # read only where it decides: most files say what each fund is
        q = p[name_only]
        seen: dict[tuple[str, bool], str] = {}  # once per distinct (name, no code)
        problems = []
        for name, full_name, code in zip(q["name"].tolist(), q["full_name"].tolist(), q["code6"].tolist()):
            k = (name if name.strip() else full_name, code == "")
            if k not in seen:
                seen[k] = name_problem(k[0], vocab, k[1])
            problems.append(seen[k])
        p.loc[name_only, "name_problem"] = problems
    if name_rows is not None:
        rows = np.asarray(name_rows(p), dtype=bool)
        for col, fld in (("s_name", "name"), ("s_full_name", "full_name")):
            s = np.full(len(p), "", dtype=object)
            s[rows] = fund_subject_column(c[fld][rows], vocab).to_numpy(dtype=object)
            p[col] = pd.Series(s, index=p.index, dtype=object)
    return p


def subjects(p: pd.DataFrame) -> pd.DataFrame:
    """The view the rule layer reads."""
    return pd.DataFrame({"index": p["s_index"], "index_code": p["index_code"], "benchmark": p["s_benchmark"],
                         "name": p["s_name"], "full_name": p["s_full_name"], "asset_class": p["asset_class"]},
                        index=p.index)
