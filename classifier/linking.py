"""Link feeder funds (联接) to their ETF and share classes (A/C/E/I/Y) to their family, within one batch.

A share class and its siblings have the same family key (name without the class letter); a feeder's key, once 联接 is
removed, is its ETF's name. Keys are compared exactly first, then with RapidFuzz (``ratio`` ≥ 92) among ETFs of the
same batch, so that variant spellings (华夏中证机器人ETF发起式联接A ↔ 华夏中证机器人ETF) still link.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from .normalize import clean

FEEDER = "联接"
_CLASS = re.compile(r"(?<=[\u4e00-\u9fff)])[A-Z]$")
_NOISE = re.compile(r"\(LOF\)|LOF|\(QDII\)|QDII|发起式|发起|\(后端\)|后端|人民币|美元现汇|美元现钞|美元")
FUZZ_CUTOFF = 92.0


def family_key(name: str, cleaned: bool = False) -> str:
    t = _NOISE.sub("", name if cleaned else clean(name))
    for _ in range(2):
        t = _CLASS.sub("", t)
    return t


def link(p: pd.DataFrame) -> pd.DataFrame:
    """For each row: ``family`` (key), ``head`` (row position of the family's first member) and ``etf`` (row position
    of the ETF a feeder follows, or -1)."""
    # share classes of one fund track one index: two funds with the same short name but different indices
    # (structured funds such as 一带一A of two managers) are different families
    subject = (p["s_index"].where(p["s_index"] != "", p["s_benchmark"])).tolist()
    fam = [(k + ("#" + s if s else "")) if k else "" for k, s in
           zip((family_key(n, cleaned=True) for n in p["n_name"].tolist()), subject)]
    first: dict[str, int] = {}
    head = np.array([first.setdefault(k, i) if k else i for i, k in enumerate(fam)])
    is_etf = np.array([("ETF" in k.split("#")[0] and FEEDER not in k) for k in fam])
    etf_keys = {fam[i]: i for i in np.flatnonzero(is_etf)[::-1]}
    etf = np.full(len(fam), -1)
    feeders = [i for i, k in enumerate(fam) if FEEDER in k]
    unresolved = []
    for i in feeders:
        target = fam[i].replace(FEEDER, "")
        target = target if "ETF" in target else target + "ETF"
        j = etf_keys.get(target)
        if j is not None:
            etf[i] = j
        else:
            unresolved.append((i, target))
    if unresolved and etf_keys:
        choices = list(etf_keys)
        for i, target in unresolved:
            m = process.extractOne(target, choices, scorer=fuzz.ratio, score_cutoff=FUZZ_CUTOFF)
            if m is not None:
                etf[i] = etf_keys[m[0]]
    return pd.DataFrame({"family": fam, "head": head, "etf": etf}, index=p.index)
