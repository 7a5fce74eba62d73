"""The labeled set (data/labeled/labels.csv): schema, reading, atomic writing and the audit."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import project_path
from .errors import InputError
from .io import atomic_write_bytes
from .taxonomy import Taxonomy

LABEL_COLUMNS = ["fund_code", "fund_name", "full_name", "index_code", "index_name", "fund_type", "primary",
                 "secondary", "source", "propagated_from", "labeled_by", "labeled_at", "taxonomy_version", "group",
                 "note"]
SOURCES = {"report", "hand", "review", "propagated", "migrated"}
DEFAULT_LABELS = project_path("data/labeled/labels.csv")


def read_labels(path: str | Path = DEFAULT_LABELS) -> pd.DataFrame:
    p = Path(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read labeled set: {exc}") from exc
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{p}: labeled set lacks columns {missing}")
    return df


def write_labels(df: pd.DataFrame, path: str | Path = DEFAULT_LABELS) -> None:
    atomic_write_bytes(path, lambda t: df[LABEL_COLUMNS].to_csv(t, index=False, encoding="utf-8"))


@dataclass
class AuditReport:
    errors: list[str] = field(default_factory=list)
    counts: pd.DataFrame | None = None
    n_funds: int = 0
    n_groups: int = 0
    n_indices: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def audit(df: pd.DataFrame, tax: Taxonomy, report_counts: bool = True) -> AuditReport:
    """Check the labeled set: duplicate codes, labels outside the taxonomy, primary/secondary mismatch, missing
    provenance, and one index or one family carrying two labels (ignoring rows the report itself labeled)."""
    rep = AuditReport(n_funds=len(df), n_groups=df["group"].nunique())
    from .normalize import index_subject
    from .vocabulary import load_vocabulary

    vocab = load_vocabulary()
    names = df["index_name"].map(lambda s: index_subject(s, vocab) if s else "")
    rep.n_indices = int(names[names != ""].nunique())
    dup = df[df.fund_code.duplicated(keep=False)]
    for code, g in dup.groupby("fund_code"):
        rep.errors.append(f"duplicate fund_code {code} on rows {[int(i) + 2 for i in g.index]}")
    labels = set(tax.labels)
    for i, r in df.iterrows():
        line = int(i) + 2
        if r.secondary not in labels:
            rep.errors.append(f"row {line} ({r.fund_code}): secondary '{r.secondary}' is not in taxonomy {tax.version}")
            continue
        if r.primary != tax.primary_of(r.secondary):
            rep.errors.append(f"row {line} ({r.fund_code}): primary '{r.primary}' does not own '{r.secondary}'")
        if r.source not in SOURCES:
            rep.errors.append(f"row {line} ({r.fund_code}): source '{r.source}' not one of {sorted(SOURCES)}")
        if r.source == "propagated" and not r.propagated_from:
            rep.errors.append(f"row {line} ({r.fund_code}): propagated label without propagated_from")
        if not r.labeled_by or not r.labeled_at or not r.taxonomy_version:
            rep.errors.append(f"row {line} ({r.fund_code}): missing provenance (labeled_by/labeled_at/taxonomy_version)")
    non_report = df[df.source != "report"]
    for col, what in (("index_code", "index"), ("group", "family/index group")):
        keyed = non_report[non_report[col] != ""]
        n = keyed.groupby(col).secondary.nunique()
        for key in n[n > 1].index:
            seen = keyed[keyed[col] == key].secondary.value_counts().to_dict()
            rep.errors.append(f"{what} '{key}' carries {len(seen)} labels: {seen}")
    if report_counts:
        from .normalize import index_subject
        from .vocabulary import load_vocabulary

        vocab = load_vocabulary()
        key = df["index_name"].map(lambda s: index_subject(s, vocab) if s else "")
        df = df.assign(index_key=key.where(key != "", df["group"]))
        by_class = df.groupby("secondary").agg(funds=("fund_code", "size"), indices=("index_key", "nunique"))
        report = {c.secondary: c.report_count for c in tax.classes}
        by_class["report_indices"] = [report.get(s) for s in by_class.index]
        rep.counts = by_class
    return rep
