"""Widen the E Fund labeled set (``data/labeled/efund/labels.csv``) with the heads only the jrj set had (issue 12):
off-exchange index-fund families, feeder funds and funds known by their benchmark.

Input: the worklist of those heads (``reads/families/worklist.csv``, built by
``scripts/build_efund_family_worklist.py``) and the labelers' reads of it against the E Fund guide
(``reads/families/guide.csv``: head_id, secondary, note, labeled_by). Which funds form each head, and their
identifying fields, come from the jrj set's group of the same name; never its label. One fund per head is the read
head (source hand: the fund the jrj set read, else the first), the others are propagated from it.

A head whose index subject the E Fund set already labeled under another group (an ETF's index code and the family of
the same index are one head, ``classifier.agreement.head_keys``) must carry that label: where the read differs, the
script stops and lists them, so the team settles each one (``reads/families/settled.csv``: head_id, secondary, why;
provenance source ``review``) before anything is written. One transaction; idempotent (codes already in the set are
skipped).

Usage: python scripts/add_efund_family_reads.py [--dry-run]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from classifier.agreement import head_keys
from classifier.labeled import LABEL_COLUMNS, Change, change_labels
from classifier.taxonomy import load_taxonomy

READS = Path("data/labeled/efund/reads/families")
LABELED_AT = "2026-11-30"
SETTLED_BY = "team (E Fund family reads)"


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jrj", default="data/labeled/labels.csv")
    ap.add_argument("--labels", default="data/labeled/efund/labels.csv")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    tax = load_taxonomy("taxonomy/efund2025.toml")
    work = read_csv(READS / "worklist.csv")
    guide = read_csv(READS / "guide.csv").set_index("head_id")
    settled_path = READS / "settled.csv"
    settled = read_csv(settled_path).set_index("head_id") if settled_path.exists() else pd.DataFrame()
    missing = sorted(set(work.head_id) - set(guide.index))
    if missing:
        raise SystemExit(f"{READS / 'guide.csv'}: no read for {len(missing)} head(s): {missing[:10]}")
    bad = sorted(set(guide.secondary) - set(tax.labels))
    if bad:
        raise SystemExit(f"{READS / 'guide.csv'}: not labels of {tax.version}: {bad}")
    jrj = read_csv(Path(a.jrj))

    def compute(labels: pd.DataFrame):
        new = jrj[jrj.group.isin(work.group) & ~jrj.fund_code.isin(labels.fund_code)].reset_index(drop=True)
        final = {}  # head_id -> (secondary, source, labeled_by, note)
        for w in work.itertuples():
            read = guide.loc[w.head_id]
            final[w.head_id] = (read.secondary, "hand", read.labeled_by, read.note)
            if w.head_id in settled.index:
                s = settled.loc[w.head_id]
                final[w.head_id] = (s.secondary, "review", SETTLED_BY, s.why)
        head_id_of = dict(zip(work.group, work.head_id))
        both = pd.concat([labels[LABEL_COLUMNS],
                          new[LABEL_COLUMNS].assign(secondary=[final[head_id_of[g]][0] for g in new.group])],
                         ignore_index=True)
        both["head"] = head_keys(both)
        # one index, one label: a new group takes the label the set gives its index, and new groups of one index agree
        conflicts = []
        for head, part in both.groupby("head"):
            seen = part.groupby("group").secondary.first()
            if seen.nunique() > 1:
                conflicts.append(f"{head}: " + ", ".join(f"{head_id_of.get(g, 'in the set:')} {g} {c}"
                                                          for g, c in seen.items()))
        if conflicts:
            raise SystemExit(f"{len(conflicts)} index(es) read with two labels; settle each new head in "
                             f"{settled_path}:\n  " + "\n  ".join(conflicts))
        rows = []
        for w in work.itertuples():
            funds = new[new.group == w.group]
            if funds.empty:
                continue
            secondary, source, by, note = final[w.head_id]
            hands = funds.index[funds.source.isin(["hand", "review", "report"])]
            head = funds.loc[hands[0] if len(hands) else funds.index[0], "fund_code"]
            for f in funds.itertuples():
                is_head = f.fund_code == head
                rows.append(dict(fund_code=f.fund_code, fund_name=f.fund_name, full_name=f.full_name,
                                 index_code=f.index_code, index_name=f.index_name, fund_type=f.fund_type,
                                 primary=tax.primary_of(secondary), secondary=secondary,
                                 source=source if is_head else "propagated", propagated_from="" if is_head else head,
                                 labeled_by=by if is_head else "add_efund_family_reads", labeled_at=LABELED_AT,
                                 taxonomy_version=tax.version, group=w.group,
                                 note=note if is_head else "same head"))
        out = pd.concat([labels, pd.DataFrame(rows, columns=LABEL_COLUMNS)], ignore_index=True)
        return Change(out), len(rows)

    n = change_labels(a.labels, compute, dry_run=a.dry_run)
    print(f"{'would add' if a.dry_run else 'added'} {n} funds from {len(work)} heads -> {a.labels}")


if __name__ == "__main__":
    main()
