"""Reader agreement per head of a labeled set: what independent careful readers chose for each index/family.

``agreement.csv`` sits beside ``labels.csv`` (built by ``scripts/build_agreement.py`` from blind reads). A *head* is
one tracked index: the labeled set's groups joined wherever two of them track the same index (an ETF's index-code
group and the off-exchange family group of the same index are one head). Training uses the reads as targets for the
confidence (the chance that an independent reader picks the tool's class) and the tagger uses them to keep a hand
label's doubt on a contested head.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .normalize import index_subject
from .vocabulary import load_vocabulary

AGREEMENT_FILE = "agreement.csv"
AGREEMENT_COLUMNS = ["head_id", "group", "index_code", "index_name", "n_funds", "label", "reads", "alts", "n_reads",
                     "agreement", "alt_secondary", "contested"]
PROVENANCE_COLUMNS = ["source", "labeled_by", "labeled_at", "taxonomy_version"]  # who read, when, against what


def head_keys(labels: pd.DataFrame) -> pd.Series:
    """One key per fund: its group, joined with every group that tracks the same index subject; each head is named
    after its alphabetically first group."""
    vocab = load_vocabulary()
    subject = labels["index_name"].map(lambda s: index_subject(s, vocab) if s else "")
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for g, s in zip(labels["group"], subject):
        if s:
            parent[find("g:" + g)] = find("s:" + s)
    root = {g: find("g:" + g) for g in labels["group"].unique()}
    first: dict[str, str] = {}
    for g in sorted(root):
        first.setdefault(root[g], g)
    return labels["group"].map(lambda g: first[root[g]])


def worklist_rows(labels: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """A readers' worklist: one row per group (head ids ``<prefix>0001``…, in group order) with identifying fields
    only, never the label: up to four fund names and two full names."""
    rows = []
    for i, (g, funds) in enumerate(labels.groupby("group", sort=True), 1):
        first = funds.iloc[0]
        rows.append({"head_id": f"{prefix}{i:04d}", "group": g, "n_funds": len(funds),
                     "index_code": first.index_code, "index_name": first.index_name,
                     "fund_types": ";".join(sorted(set(funds.fund_type) - {""})),
                     "fund_names": " / ".join(funds.fund_name.head(4)),
                     "full_names": " / ".join(funds.full_name.head(2))})
    return pd.DataFrame(rows)


def agreement_path(labels_path: str | Path) -> Path:
    return Path(labels_path).parent / AGREEMENT_FILE


def read_agreement(labels_path: str | Path) -> pd.DataFrame | None:
    """The agreement table beside a labeled set, indexed by head key; None when there is none."""
    path = agreement_path(labels_path)
    if not path.exists():
        return None
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in AGREEMENT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    if df["group"].duplicated().any():
        raise ValueError(f"{path}: head {df['group'][df['group'].duplicated()].iloc[0]!r} appears twice")
    return df.set_index("group")


def reads_per_fund(labels: pd.DataFrame, agreement: pd.DataFrame) -> list[list[str]]:
    """The readers' classes of each fund's head ([] where the head was not read).

    The table names each head by the group it was read under. A head is found by that group wherever the group now
    is: a fund added later (a review decision) whose group joins the head and sorts first renames the head
    (:func:`head_keys`), and its reads must not be lost with the old name. Where groups read apart have since joined
    one head, that head takes the reads of its alphabetically first read group."""
    keys = head_keys(labels)
    head_of = dict(zip(labels["group"], keys))
    reads: dict[str, list[str]] = {}
    for g, r in sorted(agreement["reads"].items()):
        if g in head_of:
            reads.setdefault(head_of[g], [x for x in r.split(";") if x])
    return [reads.get(k, []) for k in keys]
