"""The review loop: export the doubtful rows for people, import their decisions into the labeled set.

Export writes the rows that need review, most doubtful and most consequential first (a fund whose decision also
settles its share classes and feeders counts more), with evidence and alternatives and empty ``decision``,
``reviewer`` and ``comment`` columns; in XLSX the decision cell offers the taxonomy's labels as a drop-down.

Import validates every decision against the taxonomy and reports all bad rows at once; if any row is bad nothing is
written. Good decisions go into the labeled set with provenance (source=review, reviewer, date, taxonomy version); a
decision that changes an existing label moves the old one into ``history.csv`` instead of overwriting it silently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from .columns import detect_columns
from .errors import InputError
from .io import atomic_write_bytes, read_table, write_table
from .labeled import LABEL_COLUMNS, read_labels
from .prepare import code6
from .taxonomy import Taxonomy

ID_FIELDS = {"code": "fund_code", "name": "fund_name", "full_name": "full_name", "index_code": "index_code",
             "index_name": "index_name", "fund_type": "fund_type"}
REVIEW_COLUMNS = ["row", "fund_code", "fund_name", "full_name", "index_code", "index_name", "fund_type", "primary",
                  "secondary", "confidence", "alternatives", "evidence", "taxonomy_version", "group", "decision",
                  "reviewer", "comment"]
HISTORY_COLUMNS = ["fund_code", "old_primary", "old_secondary", "old_source", "old_labeled_by", "old_labeled_at",
                   "old_taxonomy_version", "new_secondary", "changed_by", "changed_at", "reason"]


def _truthy(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.lower().isin(["true", "1", "yes", "是"])


def review_frame(tagged: pd.DataFrame, include_all: bool = False) -> pd.DataFrame:
    """The rows to review, in priority order, with identifying fields, the tool's answer and empty decision columns."""
    missing = [c for c in ("secondary", "confidence", "needs_review", "evidence") if c not in tagged.columns]
    if missing:
        raise InputError(f"not a tagged file (missing {missing}); run `fundclass tag` on it first")
    colmap = detect_columns(list(tagged.columns))
    out = pd.DataFrame({"row": range(2, len(tagged) + 2)})
    for fld, col in ID_FIELDS.items():
        out[col] = tagged.iloc[:, colmap[fld]].astype(str).values if fld in colmap else ""
    for c in ("primary", "secondary", "confidence", "alternatives", "evidence", "taxonomy_version"):
        out[c] = tagged[c].astype(str).values if c in tagged.columns else ""
    out["group"] = ""
    if not include_all:
        out = out[_truthy(tagged["needs_review"]).values]
    conf = pd.to_numeric(out["confidence"], errors="coerce").fillna(0.0)
    linked = tagged["linked_fund"].astype(str) if "linked_fund" in tagged.columns else pd.Series([""] * len(tagged))
    followers = linked[linked != ""].value_counts()
    reach = out["fund_code"].map(lambda c: 1 + int(followers.get(c, 0)))
    out["priority"] = (1 - conf) * (1 + reach.map(math.log))
    out = out.sort_values(["priority", "row"], ascending=[False, True], kind="stable").drop(columns="priority")
    for c in ("decision", "reviewer", "comment"):
        out[c] = ""
    return out[REVIEW_COLUMNS].reset_index(drop=True)


def write_review(frame: pd.DataFrame, path: str | Path, labels: list[str]) -> None:
    """XLSX with a drop-down of ``labels`` on the decision column (Excel data validation), or CSV."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        write_table(frame, path)
        return

    def _write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="xlsxwriter",
                            engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False,
                                                       "strings_to_numbers": False}}) as xw:
            frame.to_excel(xw, index=False, sheet_name="review")
            book, ws = xw.book, xw.sheets["review"]
            lab = book.add_worksheet("labels")
            for i, v in enumerate(labels):
                lab.write_string(i, 0, v)
            lab.hide()
            col = REVIEW_COLUMNS.index("decision")
            ws.data_validation(1, col, max(len(frame), 1) + 1000, col, {
                "validate": "list", "source": f"=labels!$A$1:$A${len(labels)}",
                "input_title": "分类决定", "input_message": "从列表中选择二级分类",
                "error_title": "不在分类体系内", "error_message": "请选择分类体系中的标签"})
            ws.freeze_panes(1, 2)
            ws.autofilter(0, 0, len(frame), len(REVIEW_COLUMNS) - 1)
            widths = {"fund_name": 28, "index_name": 24, "alternatives": 40, "evidence": 60, "decision": 18,
                      "comment": 30}
            for i, c in enumerate(REVIEW_COLUMNS):
                ws.set_column(i, i, widths.get(c, 12))
    atomic_write_bytes(path, _write)


def export_review(tagged_path, out_path, tax: Taxonomy, include_all: bool = False) -> int:
    frame = review_frame(read_table(tagged_path).frame, include_all)
    write_review(frame, out_path, tax.labels)
    return len(frame)


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old, new
    confirmed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"added {len(self.added)}, changed {len(self.changed)}, confirmed {len(self.confirmed)}"]
        out += [f"  changed {c}: {o} → {n}" for c, o, n in self.changed]
        out += [f"  added {c}" for c in self.added[:50]]
        return out


def _read_decisions(path, tax: Taxonomy, reviewer: str | None) -> pd.DataFrame:
    f = read_table(path).frame
    if "decision" not in f.columns or "fund_code" not in f.columns:
        raise InputError(f"{path}: a review file needs 'fund_code' and 'decision' columns (export one with "
                         f"`fundclass review export`)")
    f = f.copy()
    f["line_no"] = range(2, len(f) + 2)
    f["decision"] = f["decision"].astype(str).str.strip().str.replace(" ", "", regex=False)
    decided = f[f["decision"] != ""].copy()
    if "reviewer" not in decided.columns:
        decided["reviewer"] = ""
    decided["reviewer"] = decided["reviewer"].astype(str).str.strip().replace("", reviewer or "")
    allowed = tax.labels
    errors = []
    for r in decided.itertuples():
        if r.decision not in allowed:
            errors.append(f"row {r.line_no} ({r.fund_code}): decision '{r.decision}' is not a label of {tax.version}; "
                          f"allowed: {', '.join(allowed)}")
        if not str(r.fund_code).strip():
            errors.append(f"row {r.line_no}: no fund_code")
        if not r.reviewer:
            errors.append(f"row {r.line_no} ({r.fund_code}): no reviewer (fill the reviewer column or pass --reviewer)")
        tv = getattr(r, "taxonomy_version", "")
        if tv and tv != tax.version:
            errors.append(f"row {r.line_no} ({r.fund_code}): exported for taxonomy {tv}, importing against {tax.version}")
    dup = decided["fund_code"][decided["fund_code"].duplicated(keep=False)]
    for code in sorted(set(dup)):
        vals = decided.loc[decided["fund_code"] == code, "decision"].unique()
        if len(vals) > 1:
            errors.append(f"fund {code}: conflicting decisions {list(vals)}")
    if errors:
        raise InputError(f"{path}: {len(errors)} bad row(s), nothing imported:\n  " + "\n  ".join(errors))
    return decided


def import_review(path, tax: Taxonomy, labels_path, reviewer: str | None = None, today: str | None = None,
                  dry_run: bool = False) -> ImportResult:
    decided = _read_decisions(path, tax, reviewer)
    today = today or date.today().isoformat()
    labels = read_labels(labels_path)
    pos = {c: i for i, c in enumerate(labels["fund_code"])}
    res = ImportResult()
    history, new_rows = [], []
    for r in decided.drop_duplicates("fund_code").itertuples():
        code = code6(str(r.fund_code)) or str(r.fund_code).strip()  # 159995.SZ and 159995 are one fund
        note = str(getattr(r, "comment", "") or "") or "review"
        new = {"primary": tax.primary_of(r.decision), "secondary": r.decision, "source": "review",
               "propagated_from": "", "labeled_by": r.reviewer, "labeled_at": today, "taxonomy_version": tax.version,
               "note": note}
        if code in pos:
            i = pos[code]
            old = labels.iloc[i]
            if old["secondary"] == r.decision and old["taxonomy_version"] == tax.version:
                res.confirmed.append(code)
                continue
            history.append({"fund_code": code, "old_primary": old["primary"], "old_secondary": old["secondary"],
                            "old_source": old["source"], "old_labeled_by": old["labeled_by"],
                            "old_labeled_at": old["labeled_at"], "old_taxonomy_version": old["taxonomy_version"],
                            "new_secondary": r.decision, "changed_by": r.reviewer, "changed_at": today,
                            "reason": note})
            for k, v in new.items():
                labels.iat[i, labels.columns.get_loc(k)] = v
            res.changed.append((code, old["secondary"], r.decision))
        else:
            row = {c: str(getattr(r, c, "") or "") for c in LABEL_COLUMNS}
            row.update(new, fund_code=code)
            # the same group keys as the rest of the set: ETF index code, else the index name, else the fund
            row["group"] = row["group"] or row["index_code"] or (f"idx:{row['index_name']}" if row["index_name"]
                                                                 else f"review:{code}")
            new_rows.append(row)
            res.added.append(code)
    if new_rows:
        labels = pd.concat([labels, pd.DataFrame(new_rows, columns=LABEL_COLUMNS)], ignore_index=True)
    if not dry_run:
        commit_labels(labels, labels_path, history)
    return res


def commit_labels(labels: pd.DataFrame, labels_path, history: list[dict]) -> None:
    """Write the labeled set and its history together: both are written to temporary files first and renamed one
    right after the other, so an error while writing leaves both untouched."""
    from .io import staged_write
    from .labeled import LABEL_COLUMNS

    labels_path = Path(labels_path)
    hist_path = labels_path.with_name("history.csv")
    writes = [(labels_path, lambda t: labels[LABEL_COLUMNS].to_csv(t, index=False, encoding="utf-8"))]
    if history:
        old = (pd.read_csv(hist_path, dtype=str, keep_default_na=False) if hist_path.exists()
               else pd.DataFrame(columns=HISTORY_COLUMNS))
        both = pd.concat([old, pd.DataFrame(history, columns=HISTORY_COLUMNS)], ignore_index=True)
        writes.append((hist_path, lambda t: both.to_csv(t, index=False, encoding="utf-8")))
    staged_write(writes)
