"""Build data/labeled/efund/labels.csv (the second taxonomy's labeled set) from the labelers' reads of every tracked
index of the listed ETFs (data/labeled/efund/reads/etf_indices.csv): the first ETF of each index is the read head
(source hand), the other ETFs tracking it are propagated from it.

Usage: python scripts/build_efund_labels.py [--raw ../shared/data/raw]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from classifier.labeled import LABEL_COLUMNS, write_labels
from classifier.taxonomy import load_taxonomy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default="../shared/data/raw")
    ap.add_argument("--out", default="data/labeled/efund/labels.csv")
    a = ap.parse_args()
    tax = load_taxonomy("taxonomy/efund2025.toml")
    reads = pd.read_csv(Path(a.out).with_name("reads") / "etf_indices.csv", dtype=str, keep_default_na=False)
    read = {(r.index_code, r.index_name): r for r in reads.itertuples()}
    etf = pd.read_csv(Path(a.raw) / "tushare_etf_basic_2026/etf_basic_listed.csv", dtype=str, keep_default_na=False)
    rows = []
    for (icode, iname), g in etf[etf.index_code != ""].groupby(["index_code", "index_name"], sort=False):
        r = read[(icode, iname)]
        head = g.ts_code.iloc[0][:6]
        for f in g.itertuples():
            is_head = f.ts_code[:6] == head
            rows.append(dict(fund_code=f.ts_code[:6], fund_name=f.csname, full_name=f.cname, index_code=icode,
                             index_name=iname, fund_type="", primary=r.primary, secondary=r.secondary,
                             source="hand" if is_head else "propagated", propagated_from="" if is_head else head,
                             labeled_by=r.labeled_by if is_head else "build_efund_labels", labeled_at="2026-11-22",
                             taxonomy_version=tax.version, group=icode, note=r.note if is_head else "same index"))
    for f in etf[etf.index_code == ""].itertuples():
        rows.append(dict(fund_code=f.ts_code[:6], fund_name=f.csname, full_name=f.cname, index_code="", index_name="",
                         fund_type="", primary=tax.not_applicable, secondary=tax.not_applicable, source="hand",
                         propagated_from="", labeled_by="dev", labeled_at="2026-11-22", taxonomy_version=tax.version,
                         group=f"money:{f.ts_code[:6]}", note="货币: 全称为货币市场基金"))
    out = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    write_labels(out, a.out)
    print(f"{len(out)} funds, {out.group.nunique()} indices -> {a.out}")


if __name__ == "__main__":
    main()
