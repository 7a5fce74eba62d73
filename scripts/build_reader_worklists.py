"""Draw the blind holdout and write the worklists for independent readers (issue 12).

Reads only ``data/labeled/labels.csv`` (identifying fields and groups, never the labels) and writes:

  data/holdout/worklist.csv            the holdout: HOLDOUT_HEADS index/family groups drawn at random (seed fixed),
                                       at most FUNDS_PER_HEAD funds of each, identifying fields only
  data/labeled/reads/agreement/worklist.csv
                                       every other group of the labeled set, one row per group with up to four of
                                       its funds' names, for the agreement reads

A worklist carries no label, so a reader sees only what a user's file would show. The draw is made once, before any
change it judges; re-running the script with the same labeled set reproduces it byte for byte.

Usage: python scripts/build_reader_worklists.py [--labels data/labeled/labels.csv]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from classifier.agreement import head_keys, worklist_rows

SEED = 20261130
HOLDOUT_HEADS = 160
FUNDS_PER_HEAD = 4
ID_COLUMNS = ["fund_code", "fund_name", "full_name", "index_code", "index_name", "fund_type"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default="data/labeled/labels.csv")
    ap.add_argument("--holdout", default="data/holdout/worklist.csv")
    ap.add_argument("--agreement", default="data/labeled/reads/agreement/worklist.csv")
    a = ap.parse_args()
    labels = pd.read_csv(a.labels, dtype=str, keep_default_na=False)
    labels["group"] = head_keys(labels)
    rng = np.random.default_rng(SEED)
    groups = np.array(sorted(labels["group"].unique()))
    drawn = set(rng.choice(groups, size=HOLDOUT_HEADS, replace=False))
    head_id = {g: f"H{i:03d}" for i, g in enumerate(sorted(drawn), 1)}

    rows = []
    for g in sorted(drawn):
        funds = labels[labels["group"] == g]
        take = np.sort(rng.choice(len(funds), size=min(FUNDS_PER_HEAD, len(funds)), replace=False))
        part = funds.iloc[take][ID_COLUMNS].copy()
        part.insert(0, "head_id", head_id[g])
        rows.append(part)
    holdout = pd.concat(rows, ignore_index=True)
    Path(a.holdout).parent.mkdir(parents=True, exist_ok=True)
    holdout.to_csv(a.holdout, index=False, encoding="utf-8", lineterminator="\n")

    rest = labels[~labels["group"].isin(drawn)]
    agg = worklist_rows(rest, "A")
    Path(a.agreement).parent.mkdir(parents=True, exist_ok=True)
    agg.to_csv(a.agreement, index=False, encoding="utf-8", lineterminator="\n")
    print(f"holdout: {len(holdout)} funds on {holdout.head_id.nunique()} heads -> {a.holdout}")
    print(f"agreement worklist: {len(agg)} heads -> {a.agreement}")


if __name__ == "__main__":
    main()
