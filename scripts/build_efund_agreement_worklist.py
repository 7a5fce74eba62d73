"""Worklist for the agreement reads of the E Fund labeled set (issue 12): one row per group of
``data/labeled/efund/labels.csv`` (identifying fields only, never the label), head ids E0001…, in group order.

The blind holdout's heads were withheld from that set before this was drawn (``scripts/withhold_holdout.py``), so no
holdout fund appears here.

Usage: python scripts/build_efund_agreement_worklist.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from classifier.agreement import worklist_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default="data/labeled/efund/labels.csv")
    ap.add_argument("--out", default="data/labeled/efund/reads/agreement/worklist.csv")
    a = ap.parse_args()
    labels = pd.read_csv(a.labels, dtype=str, keep_default_na=False)
    rows = worklist_rows(labels, "E")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(a.out, index=False, encoding="utf-8", lineterminator="\n")
    print(f"{len(rows)} heads -> {a.out}")


if __name__ == "__main__":
    main()
