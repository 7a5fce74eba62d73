"""Add the funds of the ETF/LOF basics (tushare fund_basic) that the labeled set lacks, from the labelers' reads of
their benchmark indices (data/labeled/reads/benchmark_indices.csv). One fund per index is the read head (source
hand), the others sharing that benchmark index are propagated from it. Idempotent: codes already labeled are skipped.

These 431 funds were first used as a holdout (see the closing note of the labeled-set work) before being added.
Usage: python scripts/add_benchmark_reads.py [--raw ../shared/data/raw]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from classifier.labeled import LABEL_COLUMNS, read_labels, write_labels
from classifier.taxonomy import load_taxonomy

FILE = "tushare_fund_basic_E_2025/fund_basic_market_E.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default="../shared/data/raw")
    ap.add_argument("--labeled", default="data/labeled/labels.csv")
    a = ap.parse_args()
    tax = load_taxonomy()
    labels = read_labels(a.labeled)
    reads = pd.read_csv(Path(a.labeled).with_name("reads") / "benchmark_indices.csv", dtype=str, keep_default_na=False)
    fb = pd.read_csv(Path(a.raw) / FILE, dtype=str, keep_default_na=False)
    fb["code6"] = fb.ts_code.str[:6]
    fb = fb[~fb.code6.isin(labels.fund_code) & fb.invest_type.isin(["被动指数型", "增强指数型"])]
    fb = fb.drop_duplicates("code6").copy()  # one code listed twice (status change) is one fund
    fb["bench_index"] = fb.benchmark.str.split(r"收益率|\*|×|\+", regex=True).str[0].str.strip()
    read = {r.bench_index: r for r in reads.itertuples()}
    rows = []
    for bench, g in fb.groupby("bench_index", sort=False):
        r = read[bench]
        head = g.code6.iloc[0]
        for f in g.itertuples():
            is_head = f.code6 == head
            rows.append(dict(fund_code=f.code6, fund_name=f.name, full_name="", index_code="", index_name=bench,
                             fund_type=f.invest_type, primary=tax.primary_of(r.secondary), secondary=r.secondary,
                             source="hand" if is_head else "propagated", propagated_from="" if is_head else head,
                             labeled_by=r.labeled_by if is_head else "add_benchmark_reads", labeled_at="2026-11-22",
                             taxonomy_version=tax.version, group=f"bench:{bench}",
                             note=r.note if is_head else "same benchmark index"))
    out = pd.concat([labels, pd.DataFrame(rows, columns=LABEL_COLUMNS)], ignore_index=True)
    write_labels(out, a.labeled)
    print(f"added {len(rows)} funds ({len(read)} benchmark indices read); labeled set now {len(out)} funds")


if __name__ == "__main__":
    main()
