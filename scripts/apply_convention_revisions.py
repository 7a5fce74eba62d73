"""Apply the team's convention revisions to the labeled set, in one transaction (issue 12).

``data/labeled/reads/agreement/revisions.csv`` lists index/family groups whose label the team revised after the
agreement reads: both independent readers (who saw the report, not GUIDE.md) chose the same other class, and the
team agreed the old convention was not what careful analysts read. Each revision names the revised convention
(R1…, see GUIDE.md). Every fund of the group takes the new label; ``history.csv`` keeps the old one.

Heads where both readers disagreed with the label but the team kept it (REITs are out of scope by the mission;
申万 in the name; 非周期 read as 周期) are not revised: they stay contested in ``agreement.csv``.

Usage: python scripts/apply_convention_revisions.py [--labels data/labeled/labels.csv] [--dry-run]
       python scripts/apply_convention_revisions.py --taxonomy taxonomy/efund2025.toml \
           --labels data/labeled/efund/labels.csv --revisions data/labeled/efund/reads/agreement/revisions.csv
"""
from __future__ import annotations

import argparse
import datetime as dt

import pandas as pd

from classifier.labeled import Change, change_labels
from classifier.taxonomy import load_taxonomy

BY = "team (agreement reads a+b)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default="data/labeled/labels.csv")
    ap.add_argument("--revisions", default="data/labeled/reads/agreement/revisions.csv")
    ap.add_argument("--taxonomy", default=None, help="taxonomy file (default: the default taxonomy)")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    tax = load_taxonomy(a.taxonomy)
    rev = pd.read_csv(a.revisions, dtype=str, keep_default_na=False)
    bad = sorted(set(rev.new_secondary) - set(tax.labels))
    if bad:
        raise SystemExit(f"{a.revisions}: not labels of {tax.version}: {bad}")
    today = dt.date.today().isoformat()

    def compute(labels: pd.DataFrame):
        missing = sorted(set(rev.group) - set(labels.group))
        if missing:
            raise SystemExit(f"{a.revisions}: groups not in {a.labels}: {missing}")
        out, history = labels.copy(), []
        for r in rev.itertuples():
            rows = out.index[(out.group == r.group) & (out.secondary != r.new_secondary)]
            for i in rows:
                old = out.loc[i]
                history.append({"fund_code": old.fund_code, "old_primary": old.primary,
                                "old_secondary": old.secondary, "old_source": old.source,
                                "old_labeled_by": old.labeled_by, "old_labeled_at": old.labeled_at,
                                "old_taxonomy_version": old.taxonomy_version, "new_secondary": r.new_secondary,
                                "changed_by": BY, "changed_at": today, "reason": f"{r.convention}: {r.reason}",
                                "old_note": old.note, "old_propagated_from": old.propagated_from})
            out.loc[rows, ["primary", "secondary", "labeled_by", "labeled_at", "note"]] = \
                [tax.primary_of(r.new_secondary), r.new_secondary, BY, today, f"{r.convention}: {r.reason}"]
        return Change(out, history), len(history)

    n = change_labels(a.labels, compute, dry_run=a.dry_run)
    print(f"{n} funds relabeled in {rev.group.nunique()} groups" + (" (dry run)" if a.dry_run else ""))


if __name__ == "__main__":
    main()
