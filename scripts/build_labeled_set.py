"""Assemble data/labeled/labels.csv (one row per fund) from the labelers' reads.

Inputs (project files): data/labeled/reads/etf_indices.csv (one read per tracked index of the listed ETFs),
data/labeled/reads/families.csv (one read per off-exchange index-fund family), data/labeled/report_examples.csv.
Identifying fields come from the raw lists, read by path (--raw). Provenance per row:
  report      the fund is an example in the report (appendix/图3): the report's label
  hand        the fund is the head of its index or family and its label was read
  propagated  the label was carried along an identity link (same index code, share class of a family), from
              `propagated_from`
This is the initial assembly; afterwards labels.csv is the source of truth and changes come through
`fundclass review import` (which keeps a history). Usage: python scripts/build_labeled_set.py [--raw DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from classifier.labeled import LABEL_COLUMNS, write_labels  # noqa: E402
from classifier.taxonomy import load_taxonomy  # noqa: E402

LABELED_AT = "2026-11-22"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default="../shared/data/raw")
    ap.add_argument("--labeled", default="data/labeled")
    a = ap.parse_args()
    raw, lab = Path(a.raw), Path(a.labeled)
    tax = load_taxonomy()
    reads_e = pd.read_csv(lab / "reads/etf_indices.csv", dtype=str).fillna("")
    reads_f = pd.read_csv(lab / "reads/families.csv", dtype=str).fillna("")
    report = pd.read_csv(lab / "report_examples.csv", dtype=str).fillna("")
    etf = pd.read_csv(raw / "tushare_etf_basic_2026/etf_basic_listed.csv", dtype=str).fillna("")
    em = pd.read_csv(raw / "eastmoney_fundcode_20251117/fundcode_search_20251117.csv", dtype=str).fillna("")
    em_type = dict(zip(em.fund_code, em.fund_type))
    report_by_code = {r.fund_code: r for r in report.itertuples()}

    rows = []

    def add(code, name, full, icode, iname, ftype, sec, source, by, note, frm="", group=""):
        rows.append(dict(fund_code=code, fund_name=name, full_name=full, index_code=icode, index_name=iname,
                         fund_type=ftype, primary=tax.primary_of(sec), secondary=sec, source=source,
                         propagated_from=frm, labeled_by=by, labeled_at=LABELED_AT, taxonomy_version=tax.version,
                         group=group, note=note))

    # ETFs: one read per index; the report's example (if any) or the first-listed ETF is the head.
    etf["code6"] = etf.ts_code.str[:6]
    read_of = {(r.index_code, r.index_name): r for r in reads_e.itertuples()}
    for (icode, iname), grp in etf[etf.index_code != ""].groupby(["index_code", "index_name"], sort=False):
        rd = read_of[(icode, iname)]
        rep = next((report_by_code[c] for c in grp.code6 if c in report_by_code), None)
        head = rep.fund_code if rep is not None else grp.code6.iloc[0]
        for f in grp.itertuples():
            ftype = em_type.get(f.code6, "")
            if rep is not None and f.code6 == head:
                add(f.code6, f.csname, f.cname, icode, iname, ftype, rep.secondary, "report", "金融街证券",
                    f"report {rep.where}; labeler read: {rd.secondary}", group=icode)
            elif f.code6 == head:
                add(f.code6, f.csname, f.cname, icode, iname, ftype, rd.secondary, "hand", rd.labeled_by, rd.note,
                    group=icode)
            else:
                sec = rep.secondary if rep is not None else rd.secondary
                add(f.code6, f.csname, f.cname, icode, iname, ftype, sec, "propagated", "build_labeled_set",
                    "same tracked index", frm=head, group=icode)
    for f in etf[etf.index_code == ""].itertuples():  # read by hand: all are money-market share classes
        add(f.code6, f.csname, f.cname, "", "", em_type.get(f.code6, ""), tax.not_applicable, "hand", "dev",
            "货币: 全称为货币市场基金", group=f"money:{f.code6}")

    # Off-exchange families: the head was read, the share classes are propagated.
    em_name = dict(zip(em.fund_code, em.fund_short_name))
    from build_label_worklist import family_key  # noqa: E402  (same grouping as the worklist)
    em_idx = em[em.fund_type.str.startswith("指数型")].copy()
    em_idx["family"] = em_idx.fund_short_name.map(family_key)
    members = em_idx.groupby("family").fund_code.apply(list).to_dict()
    etf_codes = set(etf.code6)
    for r in reads_f.itertuples():
        group = "idx:" + (r.index_name_read or r.family)
        rep = report_by_code.get(r.head_code)
        for code in members.get(r.family, [r.head_code]):
            if code in etf_codes:
                continue
            if rep is not None and code == r.head_code:
                add(code, em_name.get(code, ""), "", rep.index_code, r.index_name_read, em_type.get(code, ""),
                    rep.secondary, "report", "金融街证券", f"report {rep.where}; labeler read: {r.secondary}",
                    group=group)
            elif code == r.head_code:
                add(code, em_name.get(code, ""), "", "", r.index_name_read, em_type.get(code, ""), r.secondary,
                    "hand", r.labeled_by, r.note, group=group)
            else:
                add(code, em_name.get(code, ""), "", "", r.index_name_read, em_type.get(code, ""),
                    rep.secondary if rep is not None else r.secondary, "propagated", "build_labeled_set",
                    "share class of the same family", frm=r.head_code, group=group)

    out = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    dup = out.fund_code.duplicated(keep="first")
    if dup.any():
        print(f"dropping {dup.sum()} duplicate codes (kept first): {out.fund_code[dup].tolist()[:10]}")
        out = out[~dup]
    write_labels(out, lab / "labels.csv")
    print(f"{len(out)} funds labeled -> {lab / 'labels.csv'}")
    print(out.source.value_counts().to_string())


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
