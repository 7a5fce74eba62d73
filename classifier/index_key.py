"""One key per tracked index, shared by review decisions (a decision on one fund settles its index) and by the
review sheet (rows of one index side by side).

A prepared row (see :mod:`classifier.prepare`) yields up to two keys: ``code:<index code without exchange suffix>``
and ``idx:<index subject>`` (the index name with structure words stripped); rows without an index fall back to
``bench:<benchmark subject>``. A batch row matches a decision by code first, then by subject, so a feeder that names
only its index (上证红利) finds the decision made on the ETF that carries the code (000015.SH).
"""
from __future__ import annotations

import pandas as pd

from .normalize import apply_unique


def _code_key(index_code: str) -> str:
    code = index_code.upper().split(".")[0].strip()
    return "code:" + code if code else ""


def code_keys(p: pd.DataFrame) -> pd.Series:
    """``code:<index code without exchange suffix>`` per row ('' without a code); worked out once per distinct code."""
    return apply_unique(p["index_code"], _code_key)


def subject_keys(p: pd.DataFrame) -> pd.Series:
    idx = ("idx:" + p["s_index"]).where(p["s_index"] != "", "")
    bench = ("bench:" + p["s_benchmark"]).where(p["s_benchmark"] != "", "")
    return idx.where(idx != "", bench)


def display_key(p: pd.DataFrame) -> pd.Series:
    """The one key a person reads: the index code when there is one, else the index (or benchmark) subject."""
    c, s = code_keys(p), subject_keys(p)
    return c.where(c != "", s)
