"""Worklist for widening the E Fund labeled set to the heads only the jrj set has (issue 12): the off-exchange
index-fund families, feeder funds and funds known by their benchmark that ``data/labeled/labels.csv`` reads and
``data/labeled/efund/labels.csv`` (built from the listed ETFs' indices) lacks.

One row per group of the jrj set none of whose funds is in the E Fund set; head ids F0001…, in group order;
identifying fields only, never a label (``classifier.agreement.worklist_rows``). The holdout's heads were withheld
from both sets before this was drawn (``scripts/withhold_holdout.py``), so no holdout fund appears here.

Usage: python scripts/build_efund_family_worklist.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from classifier.agreement import worklist_rows
from classifier.io import csv_text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jrj", default="data/labeled/labels.csv")
    ap.add_argument("--efund", default="data/labeled/efund/labels.csv")
    ap.add_argument("--out", default="data/labeled/efund/reads/families/worklist.csv")
    a = ap.parse_args()
    jrj = pd.read_csv(a.jrj, dtype=str, keep_default_na=False)
    efund = pd.read_csv(a.efund, dtype=str, keep_default_na=False)
    read_groups = set(jrj.group[jrj.fund_code.isin(efund.fund_code)])
    rows = worklist_rows(jrj[~jrj.group.isin(read_groups)], "F")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(csv_text(rows), encoding="utf-8")
    print(f"{len(rows)} heads, {rows.n_funds.sum()} funds -> {a.out}")


if __name__ == "__main__":
    main()
