"""Build the labeling worklists from the raw data (read by path, never copied).

Writes, under OUT (default /tmp/work, outside the project):
  etf_indices.csv   one row per distinct tracked index of the listed ETFs, with up to 3 fund names
  families.csv      one row per off-exchange index-fund family (share classes A/C/E/I/Y grouped)

Usage: python scripts/build_label_worklist.py [--raw ../shared/data/raw] [--out /tmp/work]
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

INDEX_TYPES = ("指数型-股票", "指数型-海外股票", "指数型-其他", "指数型-固收")
SHARE_SUFFIX = re.compile(r"(?:[A-Za-z]|\(后端\)|（后端）|\(人民币\)|\(美元\)|\(美元现汇\)|\(美元现钞\)|人民币|美元现汇|美元现钞|美元)$")


def family_key(name: str) -> str:
    """Group share classes of one fund: drop the trailing class letter and currency tags."""
    key = str(name).strip()
    for _ in range(3):
        new = SHARE_SUFFIX.sub("", key).strip()
        if new == key:
            break
        key = new
    return key


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default="../shared/data/raw")
    ap.add_argument("--out", default="/tmp/work")
    a = ap.parse_args()
    raw, out = Path(a.raw), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    etf = pd.read_csv(raw / "tushare_etf_basic_2026/etf_basic_listed.csv", dtype=str).fillna("")
    g = (etf[etf.index_code != ""].groupby(["index_code", "index_name"])
         .agg(n_funds=("ts_code", "size"), fund_names=("csname", lambda s: " / ".join(s.head(3))),
              full_name=("cname", "first")).reset_index())
    g.to_csv(out / "etf_indices.csv", index=False)
    etf[etf.index_code == ""][["ts_code", "csname", "cname"]].to_csv(out / "etf_no_index.csv", index=False)

    em = pd.read_csv(raw / "eastmoney_fundcode_20251117/fundcode_search_20251117.csv", dtype=str).fillna("")
    em = em[em.fund_type.isin(INDEX_TYPES)].copy()
    em["family"] = em.fund_short_name.map(family_key)
    fam = (em.groupby("family").agg(head_code=("fund_code", "first"), head_name=("fund_short_name", "first"),
                                    fund_type=("fund_type", "first"), n_funds=("fund_code", "size"),
                                    codes=("fund_code", lambda s: ";".join(s))).reset_index())
    fam.to_csv(out / "families.csv", index=False)
    print(f"etf indices: {len(g)}  etf without index: {(etf.index_code == '').sum()}  "
          f"families: {len(fam)} ({len(em)} funds)")
    print(fam.fund_type.value_counts().to_string())


if __name__ == "__main__":
    main()
