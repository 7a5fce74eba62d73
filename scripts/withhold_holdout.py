"""Take the blind holdout's heads out of the labeled sets, so no model is trained or tuned on them (issue 12).

Every fund of a holdout head (all funds tracking the same index, not only the ones drawn into the worklist) moves
from ``data/labeled/labels.csv`` and ``data/labeled/efund/labels.csv`` to ``data/holdout/team_labels*.csv``, where
the team's convention labels stay for comparison with the blind readers. Each labeled set is changed in one
transaction. Then ``data/holdout/SHA256SUMS`` records the hash of every holdout file; a test checks them, and
``read_labels`` (which training uses) refuses any file under ``data/holdout``.

Usage: python scripts/withhold_holdout.py
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from classifier.agreement import head_keys
from classifier.io import csv_text
from classifier.labeled import Change, change_labels

HOLDOUT = Path("data/holdout")
SETS = {"labels.csv": Path("data/labeled/labels.csv"), "efund": Path("data/labeled/efund/labels.csv")}


def main() -> None:
    worklist = pd.read_csv(HOLDOUT / "worklist.csv", dtype=str)
    main_set = pd.read_csv(SETS["labels.csv"], dtype=str, keep_default_na=False)
    heads = head_keys(main_set)
    held_heads = set(heads[main_set.fund_code.isin(worklist.fund_code)])
    held_codes = set(main_set.fund_code[heads.isin(held_heads)])
    for name, path in SETS.items():
        out = HOLDOUT / ("team_labels.csv" if name == "labels.csv" else f"team_labels_{name}.csv")

        def compute(labels: pd.DataFrame, out=out):
            held = labels.fund_code.isin(held_codes)
            out.write_text(csv_text(labels[held]), encoding="utf-8")
            return Change(labels[~held].reset_index(drop=True)), int(held.sum())

        print(f"{path}: {change_labels(path, compute)} funds withheld -> {out}")
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(HOLDOUT)}"
            for p in sorted(HOLDOUT.rglob("*.csv"))]
    (HOLDOUT / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    print(f"{len(sums)} holdout files hashed -> {HOLDOUT / 'SHA256SUMS'}")


if __name__ == "__main__":
    main()
