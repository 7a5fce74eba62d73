"""Normalize an input frame into the fields the rules and the model read (one job: raw cells → clean subjects).

The input frame is never modified; the prepared frame has one row per input row, same index, with:
code, name, full_name, index_code, index_name, benchmark, fund_type (raw text, '' when absent),
and the cleaned subjects index, benchmark, name (fund_subject of the short name), full_name, plus
asset_class, asset_reason, management_style.
"""
from __future__ import annotations

import re

import pandas as pd

from .columns import FIELDS
from .fundtype import classify_frame
from .normalize import apply_unique, benchmark_subject, clean, fund_subject, index_subject
from .vocabulary import Vocabulary, load_vocabulary

_CODE6 = re.compile(r"(\d{6})")


def code6(code: str) -> str:
    """The 6-digit fund code inside 159995.SZ / SZ159995 / 159995 / ' 159995 ' ('' when there is none)."""
    m = _CODE6.search(clean(code))
    return m.group(1) if m else ""


def prepare(frame: pd.DataFrame, colmap: dict[str, int], vocab: Vocabulary | None = None) -> pd.DataFrame:
    vocab = vocab or load_vocabulary()
    raw = {}
    for fld in FIELDS:
        if fld in colmap:
            s = frame.iloc[:, colmap[fld]]
            raw[fld] = s.where(s.notna(), "").astype(str).str.slice(0, 4096)
        else:
            raw[fld] = pd.Series("", index=frame.index, dtype=object)
    p = pd.DataFrame(raw, index=frame.index)
    p["code6"] = apply_unique(p["code"], code6)
    p["index_code"] = apply_unique(p["index_code"], clean)
    p["s_index"] = apply_unique(p["index_name"], lambda t: index_subject(t, vocab))
    p["s_benchmark"] = apply_unique(p["benchmark"], lambda t: benchmark_subject(t, vocab))
    p["s_name"] = apply_unique(p["name"], lambda t: fund_subject(t, vocab))
    p["s_full_name"] = apply_unique(p["full_name"], lambda t: fund_subject(t, vocab))
    p["n_name"] = apply_unique(p["name"], clean)
    text = p["n_name"] + "|" + apply_unique(p["full_name"], clean) + "|" + p["s_index"]
    has_index = (p["index_code"] != "") | (p["s_index"] != "")
    p = p.join(classify_frame(p["fund_type"], text, has_index, vocab))
    return p


def subjects(p: pd.DataFrame) -> pd.DataFrame:
    """The view the rule layer reads."""
    return pd.DataFrame({"index": p["s_index"], "index_code": p["index_code"], "benchmark": p["s_benchmark"],
                         "name": p["s_name"], "full_name": p["s_full_name"]}, index=p.index)
