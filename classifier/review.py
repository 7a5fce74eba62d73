"""The review loop: export the doubtful rows for people, import their decisions into the labeled set.

Export writes the rows that need review grouped by what a decision settles (``group``, ``group_size``, and
``settles``: the rows of the file, in review or not, that a decision on the row settles at the next tag of the file,
as the import writes it into the labeled set and tagging reads it: :mod:`classifier.reach`; rows whose decisions
settle a row in common are one group, and so are the rows of one index or share-class family, whatever an earlier
decision there leaves them settling), most doubtful and most consequential groups first (a group's doubt weighs
more the more funds of the file its decision settles; within a group, the row that settles the most, then the fund
others follow), with
evidence and alternatives and empty ``decision``, ``reviewer`` and ``comment`` columns; in XLSX the decision cell
offers the taxonomy's labels as a drop-down.

Import validates every decision against the taxonomy and reports all bad rows at once; if any row is bad nothing is
written. Good decisions go into the labeled set with provenance (source=review, reviewer, date, taxonomy version); a
decision that changes an existing label moves the old one into ``history.csv`` instead of overwriting it silently.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import detect_columns
from .config import defaults
from .index_key import code_keys, display_key, index_aliases, name_keys, subject_keys
from .prepare import key_fields, prepare
from .errors import InputError
from .decide import settling_keys
from .fundtype import ACTIVE
from .io import (SheetChooser, atomic_write_bytes, check_not_input, date_texts, excel_writer, fit_excel_sheets,
                 hidden_rows, merged_ranges, read_output, write_table)
from .linking import ReviewedFamilies, family_keys
from .labeled import (HISTORY_COLUMNS, ID_COLUMNS, LABEL_COLUMNS, MIGRATION_BY, SOURCES, Change, carried_sources,
                      change_labels, labels_version, latest_migration_queued, migrated_from, migrated_note,
                      migration_pending, read_history, read_labels, _folded)
from .reach import decision_reach
from .taxonomy import Taxonomy, file_of_version, load_taxonomy, taxonomy_hint
from .text import blank_rows, clean, code6_column, counted, number_column
from .vocabulary import load_vocabulary

ID_FIELDS = {"code": "fund_code", "name": "fund_name", "full_name": "full_name", "index_code": "index_code",
             "index_name": "index_name", "fund_type": "fund_type"}
# what a reviewer reads and types, left to right: the fund, the tool's answer and its runners-up, the decision cells,
# why (evidence), then the context; import reads the columns by name, so sheets of the earlier order still import
REVIEW_COLUMNS = ["fund_code", "fund_name", "secondary", "confidence", "alternatives", "decision", "reviewer", "comment",
                  "evidence", "review_decision", "group", "group_size", "settles", "index_code", "index_name",
                  "full_name", "fund_type", "primary", "taxonomy_version", "row"]
# review_decision: the tagged file's column of that name (the code of the fund whose review decision settles the row,
# '' none), which says which rows show a decision; written only when the tagged file has it (see _tool_confidence)
FLAG = "review_decision"
FROZEN_COLUMNS = 2  # fund_code and fund_name stay in view while scrolling right
REQUIRED = ("fund_code", "decision", "taxonomy_version")
# every column of a sheet that import reads (a fund new to the labeled set takes its LABEL_COLUMNS): each must appear once
READ_COLUMNS = tuple(dict.fromkeys(REQUIRED + ("reviewer", "comment", "secondary", "primary", "confidence", FLAG)
                                   + tuple(LABEL_COLUMNS)))
# the output columns of `fundclass tag` a review frame is made of; an exported file needs taxonomy_version too (it goes
# to the sheet, where import checks it)
LABELS_SHEET = "labels"  # the review workbook's hidden sheet listing the classes of the decision drop-down
FRAME_REQUIRED = ("secondary", "confidence", "needs_review", "evidence")
TAGGED_REQUIRED = FRAME_REQUIRED + ("taxonomy_version",)
# a fund code as people write it: 159915, 159915.SZ, SZ159915, 159915.OF — six digits and an optional exchange tag
_FUND_CODE = re.compile(r"^(?:(?:SH|SZ|BJ|OF)\.?)?(\d{6})(?:\.(?:SH|SZ|BJ|OF|SS|CSI))?$", re.IGNORECASE)


def _truthy(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.lower().isin(["true", "1", "yes", "是"])


def _require_columns(tagged: pd.DataFrame, columns, source: str) -> None:
    missing = [c for c in columns if c not in tagged.columns]
    if missing:
        raise InputError(f"{source}: not a tagged file (missing column(s) {missing}); run `fundclass tag` on it "
                         f"first (if the columns were deleted from a tagged file, tag its input again)")


def active_without_holdings(tagged: pd.DataFrame, codes: pd.Series | None = None) -> pd.Series:
    """Rows of a tagged file in review that are actively managed funds it gives no holdings of (no
    ``holding_industry``): holdings may settle one (seed 004); its name alone says little. Also a row with nothing to
    read but its fund code (blank ``management_style``; ``codes``: the rows' six-digit codes, '' none), which holdings
    found by its code may settle too, as `fundclass tag` counts them. False everywhere when the file lacks those
    columns."""
    if not {"needs_review", "management_style", "holding_industry"} <= set(tagged.columns):
        return pd.Series(False, index=tagged.index)
    no_holdings = tagged["holding_industry"].fillna("").astype(str).str.strip().isin(("", "nan"))
    style = tagged["management_style"].fillna("").astype(str).str.strip().replace("nan", "")
    active = style == ACTIVE
    if codes is not None:
        active |= (style == "").to_numpy() & (codes != "").to_numpy()
    return _truthy(tagged["needs_review"]) & active & no_holdings


def review_frame(tagged: pd.DataFrame, include_all: bool = False, source: str = "tagged file",
                 tax: Taxonomy | None = None, labels_path: str | Path | None = "") -> pd.DataFrame:
    """The rows to review, in priority order, with identifying fields, the tool's answer and empty decision columns.
    ``source``: the file's name, for errors. ``tax``: the file's taxonomy (default: the configuration's);
    ``labels_path``: the labeled set the decisions go to and the next tag reads, which says what a decision settles
    (``""``: the workspace's set of ``tax``, else the shipped one, as `fundclass tag` reads it; None: none)."""
    _require_columns(tagged, FRAME_REQUIRED, source)
    colmap = detect_columns(list(tagged.columns))
    out = pd.DataFrame({"row": range(2, len(tagged) + 2)})
    for fld, col in ID_FIELDS.items():
        out[col] = tagged.iloc[:, colmap[fld]].astype(str).values if fld in colmap else ""
    for c in ("primary", "secondary", "confidence", "alternatives", "evidence", "taxonomy_version"):
        out[c] = tagged[c].astype(str).values if c in tagged.columns else ""
    flagged = FLAG in tagged.columns  # a file tagged before the column existed: the sheet has none (see _tool_confidence)
    if flagged:
        out[FLAG] = tagged[FLAG].fillna("").astype(str).str.strip().values
    p = prepare(tagged.reset_index(drop=True), colmap)
    linked = tagged["linked_fund"].astype(str).replace("nan", "") if "linked_fund" in tagged.columns \
        else pd.Series([""] * len(tagged))
    six = code6_column(linked)  # the fund followed, read as the codes are (4432 from a sheet Excel saved: 004432)
    linked = six.where(six != "", linked)
    # six digits, as linked_fund holds them (the file's own codes may carry an exchange tag: 159915.SZ)
    code = code6_column(out["fund_code"])
    code = code.where(code != "", out["fund_code"])
    # a code a spreadsheet cut to 1–5 digits (a batch Excel kept as numbers: 4433) is written as the fund's six-digit
    # code, which import reads; a code with its exchange (159915.SZ) is written as the file gives it
    short = out["fund_code"].str.fullmatch(r"\s*[0-9]{1,5}(?:\.0+)?\s*").fillna(False).to_numpy(dtype=bool)
    out.loc[short, "fund_code"] = code[short]
    # the name a group goes by: the index a person reads (else the fund followed, else the fund)
    family = linked.where(linked != "", code.values)
    key = display_key(p)
    named = key.where(key != "", family.values).to_numpy(dtype=object)
    # actively managed funds the run had no holdings of come after the rest: holdings may settle them (seed 004)
    out["later"] = active_without_holdings(tagged, code6_column(out["fund_code"]).set_axis(tagged.index)).to_numpy()
    # a row of the input with no cell filled (a blank line, a row Excel keeps because it was formatted or cleared)
    # is no fund: it goes to review with no class, but there is nothing to decide there (import needs a code)
    from .pipeline import OUTPUT_COLUMNS

    given = tagged.iloc[:, [j for j, c in enumerate(tagged.columns) if c not in OUTPUT_COLUMNS]]
    blank = blank_rows(given).to_numpy(dtype=bool)
    shown = np.flatnonzero((np.ones(len(out), dtype=bool) if include_all else _truthy(tagged["needs_review"]).to_numpy())
                           & ~blank)
    # what a decision on each row settles at the next tag of this file: as the import writes it into the labeled set
    # and tagging then reads it (classifier.reach); a row not a fund's name is settled by its own code's decision only
    tax = tax or load_taxonomy()
    if labels_path == "":
        from .pipeline import taxonomy_default
        from .workspace import data_path

        labels_path = data_path(taxonomy_default("labeled", tax))
        labels_path = labels_path if labels_path.exists() else None
    labels = read_labels(labels_path) if labels_path else None
    no_class = out["secondary"].str.strip().isin(("", "nan")).to_numpy()
    problem = (p["name_problem"] != "").to_numpy() & (no_class | (p["name_problem"] != "fund_words").to_numpy())
    ids = out.loc[shown, list(ID_FIELDS.values())].copy()
    ids["index_code"] = ids["index_code"].map(sheet_index_code)
    on: list[set] = []  # per shown row, the index keys and family its decision is on
    reach = decision_reach(p, linked.tolist(), problem, shown, ids.replace("nan", ""), labels, tax, on)
    # rows whose decisions settle a row in common (one of them, or another fund of the file) are one group: two
    # classes there would dispute it; named after the row whose decision settles the most (a share class or feeder
    # joins the fund it follows, the funds of an index come together however the file names it)
    parent = {}

    def root(r: int) -> int:
        parent.setdefault(r, r)
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    # one index or family is one group, also when an earlier decision there leaves each row's decision settling its
    # own fund alone: two decisions on it agree (the later settles nothing more) or dispute it, never stand apart
    first_on: dict[str, int] = {}
    for r, hit, keys in zip(shown, reach, on):
        for i in list(hit) + [first_on.setdefault(k, int(r)) for k in sorted(keys)]:
            a, b = root(int(r)), root(int(i))
            if a != b:
                parent[max(a, b)] = min(a, b)
    settles = pd.Series([len(h) for h in reach], index=shown)
    members: dict[int, list[int]] = {}
    for r in shown:
        members.setdefault(root(int(r)), []).append(int(r))
    group, taken = {}, set()
    for top, rs in members.items():
        lead = min(rs, key=lambda r: (-settles[r], r))
        name = str(named[lead]) or f"row {lead + 2}"  # a row without a code nor index: its row of the sheet
        name = name if name not in taken else f"{name} ({code[lead] or f'row {lead + 2}'})"
        taken.add(name)
        for r in rs:
            group[r] = name
    out = out.iloc[shown].copy()
    out["group"] = [group[int(r)] for r in shown]
    out["_settles"] = settles.to_numpy()
    out["group_size"] = out.groupby("group")["row"].transform("size").astype(str)
    out["settles"] = out["_settles"].astype(str)  # the file's funds a decision on this row settles
    conf = number_column(out["confidence"]).fillna(0.0)  # 67.76% as a file Excel saved gives it: 0.6776
    followers = linked[linked != ""].value_counts()
    follow = np.array([1 + int(followers.get(c, 0)) for c in code[out.index]], dtype=float)
    out["priority"] = (1 - conf.to_numpy(dtype=float)) * (1 + np.log(follow))
    # the groups whose decision is likeliest to change the most funds first; within a group, the row whose decision
    # settles the most, then its most doubtful row (and the fund others follow)
    doubt = pd.Series(1 - conf.to_numpy(dtype=float), index=out.index)
    out["group_priority"] = doubt.groupby(out["group"]).transform("max") * (
        1 + np.log(out.groupby("group")["_settles"].transform("max").clip(lower=1).astype(float)))
    out["later"] = out.groupby("group")["later"].transform("all")
    out = out.sort_values(["later", "group_priority", "group", "_settles", "priority", "row"],
                          ascending=[True, False, True, False, False, True], kind="stable")
    for c in ("decision", "reviewer", "comment"):
        out[c] = ""
    frame = out[[c for c in REVIEW_COLUMNS if c != FLAG or flagged]].reset_index(drop=True)
    frame.attrs["without_holdings"] = int(out["later"].sum())  # rows of it that come last (see above)
    frame.attrs["blank_rows"] = (np.flatnonzero(blank) + 2).tolist()  # the file's rows left out, as the sheet numbers them
    return frame


def write_review(frame: pd.DataFrame, path: str | Path, labels: list[str], raw_csv: bool = False) -> list[str]:
    """XLSX with a drop-down of ``labels`` on the decision column (Excel data validation), or CSV (formulas
    neutralised unless ``raw_csv``, see :func:`classifier.io.write_table`). Returns warnings for the user (XLSX cells
    over Excel's limit cut, see :func:`classifier.io.fit_excel_sheets`)."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        return write_table(frame, path, raw_csv=raw_csv)
    sheets, notes = fit_excel_sheets({"review": frame}, path)
    frame = sheets["review"].copy()
    for c in ("confidence", "group_size", "settles"):  # numbers, so that Excel filters and sorts them as numbers
        if c in frame.columns:
            num = pd.to_numeric(frame[c], errors="coerce")
            frame[c] = num.astype(object).where(num.notna(), frame[c])

    def _write(tmp: Path) -> None:
        with excel_writer(tmp) as xw:
            frame.to_excel(xw, index=False, sheet_name="review")
            book, ws = xw.book, xw.sheets["review"]
            lab = book.add_worksheet(LABELS_SHEET)
            for i, v in enumerate(labels):
                lab.write_string(i, 0, v)
            lab.hide()
            columns = list(frame.columns)
            col = columns.index("decision")
            ws.data_validation(1, col, max(len(frame), 1) + 1000, col, {
                "validate": "list", "source": f"={LABELS_SHEET}!$A$1:$A${len(labels)}",
                "input_title": "分类决定", "input_message": "从列表中选择二级分类"
                + "".join(f";{w}: 收回该基金的复核决定" for w in labels if w in withdraw_words()),
                "error_title": "不在分类体系内", "error_message": "请选择分类体系中的标签"})
            ws.freeze_panes(1, FROZEN_COLUMNS)
            ws.autofilter(0, 0, len(frame), len(columns) - 1)
            widths = {"fund_name": 28, "index_name": 24, "alternatives": 40, "evidence": 60, "decision": 18,
                      "comment": 30}
            for i, c in enumerate(columns):
                ws.set_column(i, i, widths.get(c, 12))
    atomic_write_bytes(path, _write)
    return notes


def export_review(tagged_path, out_path, tax: Taxonomy, include_all: bool = False,
                  raw_csv: bool = False, sheet: str | None = None,
                  labels_path: str | Path | None = "") -> tuple[int, list[str], int]:
    """Write the review sheet of a tagged file; returns the rows written, warnings for the user, and how many of the
    rows are actively managed funds without holdings (written last). ``labels_path``: the labeled set whose reading
    says what a decision settles (see :func:`review_frame`)."""
    check_not_input(out_path, tagged_path)
    table = read_output(tagged_path, sheet)
    tagged = table.frame
    _require_columns(tagged, TAGGED_REQUIRED, str(tagged_path))
    # the drop-down offers tax's labels and import checks the sheet's version: both must be the file's taxonomy
    versions = sorted(set(tagged["taxonomy_version"].astype(str).str.strip()))
    if versions and versions != [tax.version]:
        found = ", ".join(v or "none" for v in versions)
        raise InputError(f"{tagged_path}: tagged with taxonomy {found}, exporting for {tax.version}: the sheet's "
                         f"drop-down would offer {tax.version}'s labels and no import could take it back; pass "
                         f"{taxonomy_hint([v for v in versions if v])}, nothing written")
    if labels_path and not Path(labels_path).exists():
        raise InputError(f"{labels_path}: no labeled set here; pass the labeled set the decisions will go to (or "
                         f"none: the workspace's, else the shipped one), nothing written")
    since = _migrated_since(tax.version, labels_path)  # a sheet of this version: no import could take it back
    if since:
        raise InputError(f"{tagged_path}: tagged with taxonomy {tax.version}; {since}, nothing written")
    if labels_path:  # another taxonomy's set (E Fund's while tagging with jrj): the import would refuse the sheet
        versions = sorted(set(read_labels(labels_path)["taxonomy_version"]) - {""})
        if versions and versions != [tax.version]:
            raise InputError(f"{labels_path}: this labeled set holds labels of taxonomy {', '.join(versions)}, not "
                             f"{tax.version}, the taxonomy {tagged_path} was tagged with and the sheet is for: no "
                             f"import could put the sheet's decisions into it, and it says nothing of what they "
                             f"settle; pass --labeled a labeled set of {tax.version} (or no --labeled: the "
                             f"workspace's, else the shipped one), or export a file tagged with "
                             f"{taxonomy_hint(versions)}, nothing written")
    frame = review_frame(tagged, include_all, str(tagged_path), tax, labels_path)
    choices = tax.labels + [w for w in withdraw_words() if w not in tax.labels]  # the classes, then 撤销
    # how the tagged file was read (a header below title lines, hidden sheets skipped, mixed encodings), then the sheet
    notes = table.warnings + write_review(frame, out_path, choices, raw_csv)
    blank = frame.attrs["blank_rows"]
    if blank:
        notes.append(f"{tagged_path}: {counted(len(blank), 'blank row')} left out (no cell filled, no fund to decide): "
                     f"{'row' if len(blank) == 1 else 'rows'} {', '.join(map(str, blank[:10]))}{' …' if len(blank) > 10 else ''}")
    return len(frame), notes, frame.attrs["without_holdings"]


def withdraw_words() -> tuple[str, ...]:
    """The words a reviewer writes in ``decision`` to take back a fund's review decision (defaults.toml ``[review]
    withdraw``)."""
    return tuple(w for w in (str(x).strip() for x in defaults()["review"]["withdraw"]) if w)


def parse_fund_code(text: str) -> str | None:
    """The six-digit code of a fund code as people write it, or None when the cell is not a fund code.

    A leading ``'`` (a code kept as text: '001234) and full-width digits are the code's.

    >>> [parse_fund_code(c) for c in ("159915", "159915.SZ", " sh510300 ", "1", "ABCDEF", "1.59915E+05", "'001234",
    ...                               "００１２３４")]
    ['159915', '159915', '510300', None, None, None, '001234', '001234']
    """
    m = _FUND_CODE.match(unicodedata.normalize("NFKC", str(text)).strip().lstrip("'").replace(" ", ""))
    return m.group(1) if m else None


def sheet_index_code(text: str) -> str:
    """A review sheet's ``index_code`` cell as the index's code: 1–5 digits alone are a six-digit code whose leading
    zeros a spreadsheet dropped (000300 saved from Excel as CSV comes back as 300); every other cell (with letters or
    an exchange suffix, or six digits) is read as it is.

    >>> [sheet_index_code(c) for c in ("300", "15", " 300 ", "000300", "000015.SH", "H30533", "930743.CSI", "")]
    ['000300', '000015', '000300', '000300', '000015.SH', 'H30533', '930743.CSI', '']
    """
    bare = str(text).strip()
    return bare.zfill(6) if re.fullmatch(r"[0-9]{1,5}", bare) else text


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old, new
    confirmed: list[str] = field(default_factory=list)
    split_groups: list[tuple[str, dict]] = field(default_factory=list)  # sheet group → {decision: [codes]}, 2+ classes
    followed: list[tuple[str, str, str, str]] = field(default_factory=list)  # code, old, new, the decided fund
    pending: list[str] = field(default_factory=list)  # funds a migration queued for review, still out of the set
    disputes: list[tuple[str, str, str]] = field(default_factory=list)  # code, decision, the earlier decisions it meets
    commented: list[str] = field(default_factory=list)  # funds of the rows with a comment but no decision (not imported)
    withdrawn: list[tuple[str, str, str]] = field(default_factory=list)  # code, the decision taken back, what became of it
    restored: list[tuple[str, str, str, str]] = field(default_factory=list)  # code, old, restored, the withdrawn fund
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # code, its label, why it keeps the withdrawn one's
    undecided: list[str] = field(default_factory=list)  # withdrawals of funds that hold no review decision
    # confirmed funds whose row has a comment that is not the decision's note: a confirmation changes nothing, so
    # the comment is kept nowhere, which the import says
    unnoted: list[str] = field(default_factory=list)
    # of those, the funds whose decision on their index or family settles them: the decision to withdraw instead
    settled_by: dict[str, tuple[str, ...]] = field(default_factory=dict)
    padded: list[str] = field(default_factory=list)  # codes of a sheet saved with numbers for codes, read as six digits
    requeued: list[tuple[str, str, str]] = field(default_factory=list)  # code, label, the withdrawn fund: back in a queue
    # code, old, new, the decided fund: a share class or feeder the decision on its family relabeled, where the
    # decision did not relabel its index (disputed)
    family: list[tuple[str, str, str, str]] = field(default_factory=list)
    # code, old, restored, the decided fund: a row that fund's decision relabeled, back to its earlier label as another
    # decision on its index disputes it
    undone: list[tuple[str, str, str, str]] = field(default_factory=list)
    # code, the fund the sheet's row shows (name, index code), the labeled set's fund of that code: a decision written
    # into the set's row of a fund the sheet names otherwise (a typed or stale code), which the import warns of
    mismatched: list[tuple[str, str, str]] = field(default_factory=list)

    # how the sheet was read: warnings (a header below title lines, hidden sheets skipped, mixed encodings) and the
    # sheet taken among several holding data (io.SheetChooser)
    read: list[str] = field(default_factory=list)
    dry_run: bool = False  # checked only (review import --dry-run): nothing was written, the lines say what would be

    def lines(self) -> list[str]:
        """The report of the import, one line each; of a dry run, in the conditional (``would add``), ending with a
        line that says nothing was written."""
        dry = self.dry_run

        def did(done: str, would: str) -> str:  # the verb of a line: what was done, or what a real run would do
            return would if dry else done

        # a fund a withdrawal restored that its index's remaining decision then relabeled is one move, on one line:
        # from the withdrawn decision's class to the remaining decision's (code, class, new class, withdrawn, remaining)
        again_to = {c: (n, h) for c, _, n, h in self.followed}
        again = [(c, o, *again_to[c], h) for c, o, _, h in self.restored if c in again_to]
        twice = {a[0] for a in again} | {c for c, _, _ in self.withdrawn if c in again_to}
        followed = [f for f in self.followed if f[0] not in twice]
        restored = [r for r in self.restored if r[0] not in twice]
        # a fund relabeled with a decision this sheet did not make: the one left to settle its index once this sheet
        # withdrew another (of the other class, or the index's earliest)
        sheet = set(self.added) | {c for c, *_ in self.changed} | set(self.confirmed)
        own = [f for f in followed if f[3] in sheet]
        left = [f for f in followed if f[3] not in sheet]
        out = [(f"would add {len(self.added)}, change {len(self.changed)}, confirm {len(self.confirmed)}" if dry else
                f"added {len(self.added)}, changed {len(self.changed)}, confirmed {len(self.confirmed)}")
               + (f"; {counted(len(own), 'more fund')} of the decided funds' indices "
                  f"{did('relabeled', 'would be relabeled')} with them" if own else "")
               + (f"; {counted(len(self.family), 'share class or feeder', 'share classes or feeders')} of the "
                  f"decided funds "
                  f"{did('relabeled', 'would be relabeled')} with them" if self.family else "")
               + (f"; {did('withdrew', 'would withdraw')} {len(self.withdrawn)} decision(s)"
                  + (f", {counted(len(restored), 'fund')} relabeled with them {did('went', 'would go')} back to their "
                     f"earlier labels" if restored else "")
                  + (f", {counted(len(again), 'fund')} relabeled with them {did('took', 'would take')} the decision left on "
                     f"their index" if again else "")
                  + (f", {counted(len(left), 'fund')} of their indices {did('relabeled', 'would be relabeled')} with the "
                     f"decision left to settle each ({_first(sorted({h for *_, h in left}))})" if left else "")
                  if self.withdrawn else "")
               + (f"; {counted(len(self.undone), 'fund')} relabeled with a decision now disputed on their index "
                  f"{did('went', 'would go')} back to their earlier labels" if self.undone else "")]
        out += [f"  {did('withdrew', 'would withdraw')} {c}: {d}; "
                + (what if not dry else _conditional(what))
                + (f", then {did('relabeled', 'would be relabeled')} {again_to[c][0]} with {again_to[c][1]}'s "
                   f"decision (same index)" if c in again_to else "") for c, d, what in self.withdrawn]
        out += [f"  {did('restored', 'would restore')} {c}: {o} → {n} (relabeled with {h}'s withdrawn decision)"
                if o != n else
                f"  {did('restored', 'would restore')} {c}: {o}, its earlier label, with its earlier provenance "
                f"(relabeled with {h}'s withdrawn decision)" for c, o, n, h in restored]
        out += [f"  {did('relabeled', 'would relabel')} {c}: {o} → {n} (relabeled with {w}'s withdrawn decision; now "
                f"with {h}'s, same index)" if o != n else
                f"  {did('kept', 'would keep')} {c}: {o} (relabeled with {w}'s withdrawn decision; now with {h}'s, "
                f"same index)" for c, o, n, h, w in again]
        out += [f"  {did('restored', 'would restore')} {c}: {o} → {n} (relabeled with {h}'s decision, which another "
                f"decision on its index disputes: it goes to review at the next tag)" for c, o, n, h in self.undone]
        out += [f"  {did('back', 'would go back')} to the migration's review queue {c}: {lab} (its group's decision "
                f"there, {h}'s, withdrawn)" for c, lab, h in self.requeued]
        out += [f"warning: {c} {did('keeps', 'would keep')} {lab}: {why}" for c, lab, why in self.kept]
        if self.undecided:
            out.append(f"warning: {counted(len(self.undecided), 'fund', verbs=('holds', 'hold'))} no review decision "
                       f"to withdraw (nothing done): "
                       f"{_first(self.undecided)}")
            gone = {c for c, *_ in self.withdrawn}  # a settling decision this sheet withdraws too: nothing to say
            by = [(c, d) for c in self.undecided
                  if (d := tuple(x for x in self.settled_by.get(c, ()) if x not in gone))]
            out += [f"  {c} is settled by the review decision of {', '.join(d)} on its index or share-class family: "
                    f"write 撤销 on {'that' if len(d) == 1 else 'each'} fund's row to take "
                    f"{'it' if len(d) == 1 else 'them'} back" for c, d in by]
        if self.mismatched:
            out.append(f"warning: {counted(len(self.mismatched), 'row', verbs=('decides', 'decide'))} a fund the "
                       f"labeled set holds under another name or index, and the decision "
                       f"{did('was', 'would be')} written into the set's fund (and reaches its index): "
                       + "; ".join(f"{c} (sheet: {sheet}; labeled set: {held})" for c, sheet, held
                                   in self.mismatched[:20])
                       + ("; …" if len(self.mismatched) > 20 else "")
                       + ": check the fund codes (a typed or stale code decides another fund); to undo, write 撤销 "
                       "on the row and import it")
        if self.padded:
            out.append(f"warning: the sheet's fund_code column was saved as numbers (Excel drops leading zeros): "
                       f"{counted(len(self.padded), 'code')} read as six digits: {_first(self.padded)}")
        if self.unnoted:
            out.append(f"warning: {counted(len(self.unnoted), 'row', verbs=('confirms', 'confirm'))} a review decision the labeled set holds already, "
                       f"with a comment that {did('was', 'would be')} written nowhere: {_first(self.unnoted)} (a "
                       f"confirmation changes nothing: the decision keeps its first reviewer, date and note; keep the "
                       f"comment elsewhere)")
        if self.commented:
            one = len(self.commented) == 1
            out.append(f"warning: {counted(len(self.commented), 'row', verbs=('has', 'have'))} a comment but no "
                       f"decision and {'was' if one else 'were'} not imported: {_first(self.commented)}; write "
                       f"{'its decision' if one else 'their decisions'} in the `decision` column and import the sheet "
                       f"again")
        out += [f"warning: group {g} was given {len(d)} classes ("
                + "; ".join(f"{c}: {', '.join(codes)}" for c, codes in d.items())
                + "): the decisions dispute the tracked index or share-class family the group's funds share: "
                + _DISPUTED for g, d in self.split_groups]
        if self.pending:
            out.append(f"warning: {len(self.pending)} funds the taxonomy migration took out of the labeled set are "
                       f"still undecided and stay out of it (not learned from, not settled) until their decisions are "
                       f"imported: {_first(self.pending)}; decide "
                       f"them in the migration's review queue and import it again")
        out += [f"warning: fund {c} ({d}) shares its tracked index or share-class family with a review decision of "
                f"another class ({e}): " + _DISPUTED for c, d, e in self.disputes]
        out += [f"  {did('changed', 'would change')} {c}: {o} → {n}" for c, o, n in self.changed]
        out += [f"  {did('relabeled', 'would relabel')} {c}: {o} → {n} (same index as {h}"
                + ("" if h in sheet else f": its decision, left by the withdrawal, settles the index alone") + ")"
                for c, o, n, h in followed[:50]]
        out += [f"  {did('relabeled', 'would relabel')} {c}: {o} → {n} (share class or feeder of {h}: tagging "
                f"settles it by its family's decision)" for c, o, n, h in self.family]
        out += [f"  {did('added', 'would add')} {c}" for c in self.added[:50]]
        for what, rows in ((did("relabeled", "to relabel"), followed), (did("added", "to add"), self.added)):
            if len(rows) > 50:
                out.append(f"  … and {len(rows) - 50} more {what}")
        out += self.read  # how the sheet was read, and which sheet of a workbook with several
        if dry:
            out.append("dry run: nothing was written (import without --dry-run to make these changes)")
        return out


def _conditional(what: str) -> str:
    """What became of a withdrawn decision's fund (:attr:`ImportResult.withdrawn`), as a dry run says it would."""
    return (f"would be {what}" if what.startswith("removed") else f"would go {what}" if what.startswith("back")
            else f"would be: {what}")


# what two decisions of different classes on one index or family do (classifier.decide.override: a row no decision
# settles, on a disputed index or family, goes to review whatever its confidence; _follow_in_group: the labeled set's
# rows of a disputed index move with no decision)
_DISPUTED = ("each decision settles only its own fund and, unless their family is the one disputed, its share classes "
             "and feeders; at the next `fundclass tag` every other fund of that index or family goes to review, also "
             "one the tool accepted without review, its evidence naming both decisions (复核决定不一致), and the "
             "labeled set holds their labels from before the decisions (history.csv) until the dispute ends")


def _first(codes: list[str], n: int = 20) -> str:
    """The first ``n`` of ``codes``, comma-separated, with ' …' when there are more."""
    return ", ".join(codes[:n]) + (" …" if len(codes) > n else "")


# how `review import` tells the review sheet among a workbook's sheets holding data (a user's notes sheet beside it):
# the only one whose header holds the columns the import needs, typed as the import reads them (:func:`_folded`)
REVIEW_SHEET = SheetChooser(f"the review sheet's columns {', '.join(REQUIRED)}",
                            lambda row: {_folded(c) for c in REQUIRED} <= {_folded(c) for c in row},
                            own_hidden=(LABELS_SHEET,))


def _typed_over_answer(undecided: pd.DataFrame, tax: Taxonomy) -> list[str]:
    """The rows without a decision whose ``secondary`` (the tool's answer, not read on import) a reviewer overwrote
    with a class: export writes ``primary`` as the answer's primary class (blank beside a blank answer), so a label
    of ``tax`` beside another ``primary`` is an edit, a decision that would otherwise be dropped without a word."""
    if not {"secondary", "primary", "taxonomy_version"} <= set(undecided.columns):
        return []
    out = []
    label_of = {_folded(lab): lab for lab in tax.labels}  # typed as a decision is (策略主题etf, （申万）行业ETF)
    for r in undecided.itertuples():
        sec, pri = str(r.secondary).strip(), str(r.primary).strip()
        lab = label_of.get(_folded(sec))
        if lab is not None and tax.primary_of(lab) != pri and str(r.taxonomy_version).strip() == tax.version:
            out.append(f"row {r.line_no} ({str(r.fund_code).strip() or 'no code'}): `secondary` was changed to "
                       f"'{sec}', but the tool's answer is not read on import; write your decision in the `decision` "
                       f"column (and put back the answer, or leave it)")
    return out


def _migrated_since(version: str, labels_path) -> str | None:
    """What to say of a sheet of taxonomy ``version`` when the labeled set at ``labels_path`` was migrated from that
    version since (its history's migration rows): its decisions can no longer be imported, and which file tags the
    funds again for a new sheet; None when the set was not migrated from it."""
    try:
        if not labels_path or version not in migrated_from(labels_path):
            return None
    except (OSError, InputError):
        return None
    now = labels_version(labels_path)
    if now == version:  # migrated back to it since
        return None
    found = file_of_version([now]) if now else None
    return (f"the labeled set was migrated from {version} to {now or 'another version'} since: a sheet "
            f"of {version} can no longer be imported; tag the funds again"
            + (f" with --taxonomy {found}" if found else f" with the taxonomy file of {now}") + " and export a new "
            f"sheet (`fundclass review export`), then decide there")


def _read_decisions(path, tax: Taxonomy, reviewer: str | None, sheet: str | None = None,
                    labels_path=None) -> tuple[pd.DataFrame, list[str], list[str], pd.DataFrame, list[str]]:
    """The decided rows of a review sheet, each with its normalized code, the fund codes of the rows with a
    comment but no decision (a reviewer's question, not imported: the import names them), and the undecided rows with
    their codes (a migration queue's rows a decision on their group settles, :func:`_queued_in_group`); every problem
    is reported at once."""
    # a CSV's cells without the ' that export put before formula-like text; of a workbook with other sheets holding
    # data (a user's notes sheet), the only one whose header holds the columns the import needs, said in ``notes``
    table = read_output(path, sheet, REVIEW_SHEET)
    # a header as a spreadsheet user leaves it, with a space after it, a capital or a full-width letter ("decision ",
    # "Reviewer", "ｃｏｍｍｅｎｔ"), is the sheet's column: else the import refused a sheet it shows (missing 'decision'),
    # or read no reviewer nor comment from it
    typed = [str(c) for c in table.frame.columns]
    known = {_folded(c): c for c in dict.fromkeys(REVIEW_COLUMNS + list(READ_COLUMNS))}
    f = table.frame.set_axis([known.get(_folded(c), c) for c in typed], axis=1)
    cols = list(f.columns)
    # a comment or reviewer typed as 12/1 that Excel turned into a date: its date text, not "2026-12-01 00:00:00"
    for c in ("comment", "reviewer"):
        if cols.count(c) == 1:
            for r, text in date_texts(table, cols.index(c)).items():
                f.iat[r, cols.index(c)] = text
    # a decision, reviewer or comment cell merged down a block of rows (to decide the block at once) shows its value
    # on each row, and decides each: its other cells hold nothing, which read alone left those rows undecided
    for r0, c0, r1, c1 in merged_ranges(table):
        if r1 > r0 and c0 < len(cols) and cols[c0] in ("decision", "reviewer", "comment") and cols.count(cols[c0]) == 1:
            for r in range(r0 + 1, min(r1, len(f) - 1) + 1):
                if not str(f.iat[r, c0]).strip():
                    f.iat[r, c0] = f.iat[r0, c0]
    errors = [f"column '{c}' appears {cols.count(c)} times"
              + (f" ({', '.join(repr(t) for t, k in zip(typed, cols) if k == c)})"
                 if len({t for t, k in zip(typed, cols) if k == c}) > 1 else "") + "; keep one"
              for c in READ_COLUMNS if cols.count(c) > 1]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        errors.append(f"missing column(s) {missing}; put back the column(s) of the exported sheet (its columns are "
                      f"{', '.join(REVIEW_COLUMNS)}), or export the sheet again with `fundclass review export`")
    if errors:
        raise InputError(f"{path}: " + "; ".join(errors) + ", nothing imported")
    f = f.copy()
    f["line_no"] = range(table.header_row + 2, table.header_row + len(f) + 2)  # the sheet's rows, title lines included
    # a label as typed rather than picked: an IME's full-width （）, ＥＴＦ or space, lower case; each is the label
    labels = {_folded(label): label for label in tax.labels}
    withdraw = withdraw_words()
    labels.update({_folded(w): w for w in withdraw})
    f["decision"] = [labels.get(_folded(d), d) for d in f["decision"].astype(str).str.strip().str.replace(" ", "")]
    decided = f[f["decision"] != ""].copy()
    if len(f) and decided.empty:  # an empty sheet (nothing needed review) is no mistake; rows without decisions are
        raise InputError(f"{path}: no decisions found: the `decision` column is empty in {'its' if len(f) == 1 else 'all'} {counted(len(f), 'row')}; write "
                         f"each decision (a label of {tax.version}) in the `decision` column, not in `secondary` "
                         f"(the tool's answer, not read on import), nothing imported")
    if "reviewer" not in decided.columns:
        decided["reviewer"] = ""
    decided["reviewer"] = decided["reviewer"].astype(str).str.strip().replace("", reviewer or "")
    decided["code"] = [parse_fund_code(c) for c in decided["fund_code"]]
    # a sheet saved from Excel with its fund_code column as numbers lost every code's leading zeros (017040 → 17040):
    # then no code of the column is six digits beginning with 0, and its codes of 1–5 digits are read as six digits,
    # as tagging and the labeled set read them; beside a 0-led code, a short code was typed short and is refused
    raw = f["fund_code"].astype(str).str.strip()
    padded: list[str] = []
    excel_numbers = bool(raw.str.fullmatch(r"\d{1,5}").any() and not raw.str.fullmatch(r"0\d{5}").any())
    if excel_numbers:
        short = decided["fund_code"].astype(str).str.strip().str.fullmatch(r"\d{1,5}").to_numpy(dtype=bool)
        decided.loc[short, "code"] = decided.loc[short, "fund_code"].astype(str).str.strip().str.zfill(6)
        padded = decided.loc[short, "code"].tolist()
    if "index_code" in decided.columns:  # 000300, not the 300 of a sheet saved from Excel as CSV
        decided["index_code"] = decided["index_code"].astype(str).map(sheet_index_code)
    # a sheet exported for another taxonomy (E Fund's, imported without --taxonomy): one problem, not two per row
    versions = set(decided["taxonomy_version"].astype(str).str.strip())
    if len(versions) == 1 and not versions & {"", tax.version}:
        (v,) = versions
        head = (f"{path}: exported for taxonomy '{v}' (column taxonomy_version, {'its' if len(decided) == 1 else 'all'} {counted(len(decided), 'decided row')}), "
                f"importing against {tax.version}: ")
        # a sheet exported before the set's migration (passing its file would be refused by the set), else a sheet of
        # another taxonomy or version, which its file imports
        raise InputError(head + (_migrated_since(v, labels_path) or f"pass {taxonomy_hint([v], 'exported')}")
                         + ", nothing imported")
    allowed = tax.labels
    primaries = {_folded(p): p for p in tax.primaries}
    for r in decided.itertuples():
        where = f"row {r.line_no} ({str(r.fund_code).strip() or 'no code'})"
        if not isinstance(r.code, str):
            cell = str(r.fund_code).strip()
            hint = (" (Excel turned the code into a number: format the column as text and type it again)"
                    if re.fullmatch(r"[\d.]+E\+?\d+", cell, re.IGNORECASE) else
                    f" (Excel drops a code's leading zeros, but other codes of the column kept theirs: did you mean "
                    f"{cell.zfill(6)}? Format the column as text and type it again)" if re.fullmatch(r"\d{1,5}", cell)
                    else "")
            if not cell:  # a fund the tagged file gave by its name alone
                name = str(getattr(r, "fund_name", "") or "").strip()
                errors.append(f"{where}: no fund code in column fund_code{f' for {name}' if name else ''}: a decision "
                              f"is remembered by the fund's code; type its code (six digits) there, or clear the "
                              f"decision")
            else:
                errors.append(f"{where}: '{r.fund_code}' is not a fund code (six digits, optionally .SH/.SZ/.OF)"
                              f"{hint}")
        if r.decision in allowed or r.decision in withdraw:
            pass
        elif _folded(r.decision) in primaries:
            primary = primaries[_folded(r.decision)]
            errors.append(f"{where}: '{r.decision}' is a primary class; the decision is one of its secondary classes: "
                          + ", ".join(c.secondary for c in tax.classes if c.primary == primary))
        else:
            errors.append(f"{where}: decision '{r.decision}' is not a label of {tax.version}; "
                          f"allowed: {', '.join(allowed)}"
                          + (f" (or {' / '.join(withdraw)} to withdraw the fund's review decision)" if withdraw else ""))
        if not r.reviewer:
            errors.append(f"{where}: no reviewer (fill the reviewer column or pass --reviewer)")
        tv = str(r.taxonomy_version).strip()
        if not tv:  # a row inserted by hand, or a cell cleared: the sheet's other rows say which version it is of
            errors.append(f"{where}: its taxonomy_version cell is empty; fill in {tax.version} (the version this "
                          f"import is against; a row added by hand takes the exported rows' version)")
        elif tv != tax.version:
            errors.append(f"{where}: exported for taxonomy '{tv}', importing against {tax.version}")
    errors += _typed_over_answer(f[f["decision"] == ""], tax)
    ok = decided[pd.Series([isinstance(c, str) for c in decided["code"]], index=decided.index, dtype=bool)]
    for code, g in ok.groupby("code", sort=True):
        if g["decision"].nunique() > 1:
            rows = ", ".join(f"row {n}: {d}" for n, d in zip(g["line_no"], g["decision"]))
            errors.append(f"fund {code}: conflicting decisions ({rows})")
    if errors:
        raise InputError(f"{path}: {len(errors)} problem(s), nothing imported:\n  " + "\n  ".join(errors))
    undecided = f[f["decision"] == ""]
    commented = (undecided[undecided["comment"].astype(str).str.strip() != ""]
                 if "comment" in undecided.columns else undecided.iloc[:0])
    # a sheet saved with its codes as numbers names them as six digits, as its decided rows are read
    noted = [parse_fund_code(c) or (str(c).strip().zfill(6) if excel_numbers and re.fullmatch(r"\d{1,5}", str(c).strip())
                                    else str(c).strip()) or f"row {n}"
             for c, n in zip(commented["fund_code"], commented["line_no"])]
    rest = undecided.assign(code=[parse_fund_code(c) for c in undecided["fund_code"]])
    if excel_numbers:
        short = rest["fund_code"].astype(str).str.strip().str.fullmatch(r"\d{1,5}").to_numpy(dtype=bool)
        rest.loc[short, "code"] = rest.loc[short, "fund_code"].astype(str).str.strip().str.zfill(6)
    if "index_code" in rest.columns:
        rest["index_code"] = rest["index_code"].astype(str).map(sheet_index_code)
    # a decision in a row the sheet hides (a filter: Excel and WPS paste and fill into the rows it hides too) is
    # imported as the others, and named: the reviewer may never have seen it
    hidden = decided[decided.index.isin(hidden_rows(table))]
    unseen = ([f"warning: {counted(len(hidden), 'decided row')} {'is' if len(hidden) == 1 else 'are'} hidden in the "
               f"sheet (a filter, or rows hidden by hand; a class pasted or filled down a filtered column fills the "
               f"rows it hides too) and {'counts' if len(hidden) == 1 else 'count'} as the others: "
               + ", ".join(f"row {n} ({str(c).strip()}): {d}" for n, c, d in
                           zip(hidden["line_no"][:20], hidden["fund_code"][:20], hidden["decision"][:20]))
               + (f" and {len(hidden) - 20} more" if len(hidden) > 20 else "")
               + f"; clear the filter to check {'it' if len(hidden) == 1 else 'them'}"]
              if len(hidden) else [])
    return (decided.drop_duplicates("code"), noted, padded, rest[rest["code"].notna()].drop_duplicates("code"),
            [f"warning: {w}" for w in table.warnings] + ([table.chosen] if table.chosen else []) + unseen)


def _id_rows(decided: pd.DataFrame) -> pd.DataFrame:
    """The identifying columns (:data:`ID_COLUMNS`) of the decided rows, '' where the sheet has none, with the
    normalized code."""
    return pd.DataFrame({c: (decided[c].astype(str).str.strip().to_numpy() if c in decided.columns else "")
                         for c in ID_COLUMNS}).assign(fund_code=decided["code"].to_numpy())


_PREPARED_IDS: list = []  # the last (vocabulary, identifying fields, their prepare, its row of each field tuple)


def _prepared_ids(labels: pd.DataFrame) -> pd.DataFrame:
    """The fields the index and family keys read (:func:`classifier.prepare.key_fields`: those of
    :func:`classifier.prepare.prepare`) of the labeled set's identifying fields (:data:`ID_COLUMNS`), read-only.
    An import reads them three to five times (:func:`_subject_groups`, :func:`_index_groups`,
    :func:`_family_decisions`, once more per withdrawal), and its decisions change labels, not those fields: the last
    one prepared is given again while the fields and the vocabulary are the same (~16 ms a time on 450 rows, ~70 ms
    on the shipped set's 5,000); after rows were added or removed (a fund new to the set, a withdrawal that takes one
    out), only the rows not prepared before are (:func:`_prepared_rows`)."""
    ids = labels[ID_COLUMNS].reset_index(drop=True)
    vocab = load_vocabulary()
    if _PREPARED_IDS and _PREPARED_IDS[0] is vocab and _PREPARED_IDS[1].equals(ids):
        return _PREPARED_IDS[2]
    p = _prepared_rows(ids, vocab)
    _PREPARED_IDS[:] = [vocab, ids, p, None]
    return p


def _prepared_rows(ids: pd.DataFrame, vocab) -> pd.DataFrame:
    """:func:`classifier.prepare.key_fields` of ``ids`` (the :data:`ID_COLUMNS` of some rows, in that order, text),
    its rows the labeled set's last prepared (:func:`_prepared_ids`) holds taken from there: it reads each row on its
    own, so a row of the same fields is prepared the same."""
    ids = ids[ID_COLUMNS]
    if not (_PREPARED_IDS and _PREPARED_IDS[0] is vocab):
        return key_fields(ids, detect_columns(ID_COLUMNS), vocab)
    seen = _PREPARED_IDS[3]
    if seen is None:
        seen = _PREPARED_IDS[3] = {k: i for i, k in enumerate(_row_tuples(_PREPARED_IDS[1]))}
    at = [seen.get(k, -1) for k in _row_tuples(ids)]
    known = [i for i, a in enumerate(at) if a >= 0]
    if not known:
        return key_fields(ids, detect_columns(ID_COLUMNS), vocab)
    fresh = [i for i, a in enumerate(at) if a < 0]
    p = _PREPARED_IDS[2].iloc[[at[i] for i in known]].set_axis(ids.index[known])
    if fresh:
        p = pd.concat([p, key_fields(ids.iloc[fresh], detect_columns(ID_COLUMNS), vocab)]).reindex(ids.index)
    return p


def _row_tuples(frame: pd.DataFrame):
    """The rows of ``frame`` as tuples of its cells, as ``itertuples(index=False, name=None)`` gives them, read a column
    at a time (itertuples reads the text columns cell by cell, ~7x slower on the labeled set)."""
    return zip(*(frame[c].tolist() for c in frame.columns))


_KEYS: dict = {}  # the keys (index_key, linking) of the last prepared identifying fields, by what reads them


def _keys(p: pd.DataFrame, fn):
    """``fn(p)`` (a key function of the prepared rows ``p``: :func:`classifier.index_key.subject_keys`, …), read once
    per prepared labeled set (:func:`_prepared_ids`): the callers read the keys, never change them."""
    if _KEYS.get(None) is not p:
        _KEYS.clear()
        _KEYS[None] = p
    if fn not in _KEYS:
        _KEYS[fn] = fn(p)
    return _KEYS[fn]


_ALIASES: list = []  # the last (index codes, index names, their aliases) of _aliases


def _aliases(labels: pd.DataFrame) -> dict[str, str]:
    """:func:`classifier.index_key.index_aliases` of the labeled set's index codes and names, read once while they are
    the same (an import reads them two to four times; a decision changes neither)."""
    code, name = labels["index_code"].reset_index(drop=True), labels["index_name"].reset_index(drop=True)
    if _ALIASES and _ALIASES[0].equals(code) and _ALIASES[1].equals(name) and _ALIASES[3] is load_vocabulary():
        return _ALIASES[2]
    _ALIASES[:] = [code, name, index_aliases(code, name), load_vocabulary()]
    return _ALIASES[2]






def _subject_groups(labels: pd.DataFrame) -> dict[str, str]:
    """The labeled set's group of each index subject (``idx:中证A500`` → ``000510.SH``): of the rows whose index name
    gives it, else of the index funds whose name gives it (:func:`classifier.index_key.name_keys`)."""
    p = _prepared_ids(labels)
    out: dict[str, str] = {}
    groups = labels["group"].tolist()
    for keys in (_keys(p, subject_keys), _keys(p, name_keys)):
        for key, g in zip(keys, groups):
            if key and g:
                out.setdefault(key, g)
    return out


def _index_disputes(labels: pd.DataFrame, decided: pd.DataFrame,
                    tax: Taxonomy) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, ...]]]:
    """The decisions that meet a review decision of another class on the same tracked index or share-class family
    (the keys tagging settles by, :func:`classifier.decide.settling_keys`): an earlier one, or, on a sheet without
    `group` (whose split groups are said apart), another row of the sheet. From the next tag on, neither settles that
    index or family, and its other funds go to review. Also, per decided fund whose index or family earlier decisions
    settled with one class other than the fund's decision (so tagging gave the fund that class at confidence 1), the
    codes of those earlier decisions. A fund that holds a review decision of its own is settled by it, not by its index
    or family: none of those for it; nor a dispute warning when its decision is the one it holds (a sheet imported
    again: nothing changes, no dispute starts)."""
    reviewed = (labels["source"] == "review") & (labels["taxonomy_version"] == tax.version)
    own = dict(zip(labels.loc[reviewed, "fund_code"], labels.loc[reviewed, "secondary"]))
    earlier = labels[reviewed & ~labels["fund_code"].isin(set(decided["code"]))].reset_index(drop=True)
    if decided.empty or (earlier.empty and "group" in decided.columns):
        return [], {}
    # the decided funds as the set will hold them (and tagging read them): a fund the set holds keeps its row's
    # identifying fields there, whatever the sheet gives (a fund list: names alone); a new one takes the sheet's
    ids = _id_rows(decided)
    held = labels.drop_duplicates("fund_code").set_index("fund_code")
    # (a lookup per decided fund: Series.isin of Arrow text converts each of the set's ~5,000 codes to a scalar first)
    known = np.array([c in held.index for c in ids["fund_code"].tolist()], dtype=bool)
    if known.any():
        ids.loc[known, ID_COLUMNS[1:]] = held.loc[ids.loc[known, "fund_code"], ID_COLUMNS[1:]].fillna("").astype(
            str).to_numpy()
    rows = pd.concat([earlier[ID_COLUMNS], ids], ignore_index=True).fillna("")
    codes = rows["fund_code"].tolist()
    classes = earlier["secondary"].tolist() + decided["decision"].tolist()
    # the key fields of these rows alone (those the last prepared labeled set holds taken from it): a sheet whose
    # decisions relabel nothing (a decision confirmed, a dispute) never reads the whole set's
    keys = settling_keys(_prepared_rows(rows, load_vocabulary()), codes, classes, _aliases(labels))
    meets: dict[str, set] = {}  # code → codes of another class it shares a disputed index or family with
    groups = list(keys.disputes.values()) + [tuple(c for _, c in m) for m in keys.families.disputed.values()]
    for group in groups:
        for c in group:
            meets.setdefault(c, set()).update(group)
    cls, on_sheet = dict(zip(codes, classes)), set(decided["code"])
    who = {c: f"{b}, {a}" for c, b, a in zip(earlier["fund_code"], earlier["labeled_by"], earlier["labeled_at"])}
    out, settled_by = [], {}
    for r in decided.itertuples():
        if own.get(r.code) == r.decision:  # the decision the fund holds, repeated: no change, no dispute starts
            continue
        other = sorted(c for c in meets.get(r.code, ()) if cls[c] != r.decision
                       and (c not in on_sheet or "group" not in decided.columns))
        if other:
            out.append((r.code, r.decision, "; ".join(
                f"{c} {cls[c]} ({who[c]})" if c in who else f"{c} {cls[c]} (this sheet)" for c in other)))
        before = sorted(c for c in meets.get(r.code, ()) if c in who)
        if before and len({cls[c] for c in before}) == 1 and cls[before[0]] != r.decision and r.code not in own:
            settled_by[r.code] = tuple(before)
    return out, settled_by


def _check_labeled_set(labels: pd.DataFrame, labels_path, tax: Taxonomy) -> None:
    versions = sorted(set(labels["taxonomy_version"].tolist()) - {""})
    if versions and versions != [tax.version]:
        since = _migrated_since(tax.version, labels_path)  # a sheet of the version the set was migrated from
        raise InputError(f"{labels_path}: this labeled set holds labels of taxonomy {', '.join(versions)}, not "
                         f"{tax.version}; " + (since or "pass the matching --taxonomy or --labeled")
                         + ", nothing imported")


def _other_fund(r, old: dict, old_key: str) -> tuple[str, str] | None:
    """(the fund row ``r`` of a sheet shows, the labeled set's fund ``old`` of the same code) when they are not one
    fund: both give an index code and the codes differ, or both give a name and the names differ (cleaned: width,
    script, spaces, case) while their index codes do not agree; None otherwise (a column the sheet lacks or a blank
    cell says nothing)."""
    name = clean(str(getattr(r, "fund_name", "") or ""))
    held = clean(str(old.get("fund_name", "") or ""))
    key = str(getattr(r, "index_key", "") or "")
    index_differs = bool(key and old_key and key != old_key)
    if not index_differs and (not name or not held or name == held or (key and key == old_key)):
        return None
    def shown(fund_name, index_code) -> str:
        return ", ".join(x for x in (str(fund_name).strip(), str(index_code).strip()) if x)

    return (shown(getattr(r, "fund_name", ""), getattr(r, "index_code", "")),
            shown(old.get("fund_name", ""), old.get("index_code", "")))


def _shown_confidence(r) -> float | None:
    """The number row ``r``'s ``confidence`` cell shows, None when it shows none (blank, text, no such column): a
    column formatted as a percentage in Excel and saved as CSV holds the cell as it shows it, 61.00% (0.61)."""
    conf = number_column(pd.Series([unicodedata.normalize("NFKC", str(getattr(r, "confidence", "") or ""))])).iat[0]
    return None if np.isnan(conf) else float(conf)


def _tool_confidence(r) -> float | None:
    """The confidence of the tool's own answer row ``r`` of a sheet shows, None when it shows none or a review
    decision. A sheet with a ``review_decision`` column says which: a row whose cell is empty shows the tool's answer,
    also at confidence 1 (an out-of-scope fund, 不适用, is tagged at 1 too, so on a sheet exported before a decision
    of 不适用 the number alone would show that decision). On a sheet without it (exported before it existed, or the
    column deleted), a fund a review decision settles is tagged at confidence 1, so a lower one is the tool's own
    answer, whatever class it names."""
    conf = _shown_confidence(r)
    if conf is None:
        return None
    flag = getattr(r, FLAG, None)
    if flag is not None:
        return None if str(flag).strip() not in ("", "nan") else conf
    return conf if conf < 1 else None


def _unseen_decision(r, old: dict, tax: Taxonomy, shows_answer: bool, withdraw: bool = False,
                     deleted: tuple = ()) -> str:
    """Why row ``r`` may not replace the review decision ``old`` ('' when it may): a sheet that shows the tool's
    answer (``secondary``) shows a fund's review decision once it was made (at confidence 1), so a sheet showing
    another answer, or the same class as the tool's own answer (below 1: a reviewer confirmed the tool on another copy
    of the sheet), was exported before that decision (or from another labeled set), and importing it would revert a
    later decision. ``withdraw``: ``r`` takes the fund's decision back (a withdraw word), which would take back that
    later decision. ``deleted``: which of ``secondary`` and ``confidence`` were deleted from an exported sheet, which
    then cannot tell a decision it showed from one made after it."""
    if not shows_answer or old["source"] != "review" or old["taxonomy_version"] != tax.version \
            or old["secondary"] == r.decision:
        return ""
    shown = str(getattr(r, "secondary", "") or "").strip()
    conf = _tool_confidence(r)
    hidden = list(deleted) if "secondary" in deleted else [c for c in deleted if shown == old["secondary"]]
    # a confidence cell that shows no number (cleared, #VALUE!) hides it as a deleted column does
    blank = hasattr(r, "confidence") and shown == old["secondary"] and _shown_confidence(r) is None
    if hidden or blank:
        what, fix = ((f"column(s) {', '.join(hidden)} were deleted from this review sheet", "the column(s)") if hidden
                     else (f"its confidence cell shows no number ('{str(r.confidence).strip()}')", "its number"))
        return (f"row {r.line_no} ({r.code}): the labeled set holds a review decision, {old['secondary']} "
                f"({old['labeled_by']}, {old['labeled_at']}), and {what}, so it cannot show whether that decision "
                f"was made before the sheet was exported or after (a later decision it never showed would be "
                + ("withdrawn" if withdraw else f"replaced with {r.decision}") + f"): put {fix} back (copy "
                f"{'them' if hidden else 'it'} from the exported sheet), or pass --overrule-fund {r.code} to "
                + ("withdraw" if withdraw else "replace") + " the decision (--overrule: on every row)")
    if shown == old["secondary"] == tax.not_applicable and conf is None and not hasattr(r, FLAG):
        # a sheet without review_decision shows a decision by its confidence of 1 alone, which is also the tool's own
        # for a fund out of the taxonomy's scope: this row cannot show whether the decision was made before it
        return (f"row {r.line_no} ({r.code}): the labeled set holds a review decision, {old['secondary']} "
                f"({old['labeled_by']}, {old['labeled_at']}), and this sheet has no `{FLAG}` column, so its "
                f"{shown} at confidence 1 (the tool's own answer for a fund out of the taxonomy's scope, as a "
                f"decision's) cannot show whether that decision was made before the sheet was exported or after (a "
                f"later decision it never showed would be " + ("withdrawn" if withdraw else f"replaced with "
                                                                f"{r.decision}")
                + f"): export a new sheet from a fresh `fundclass tag` (it has the column), or pass --overrule-fund "
                f"{r.code} to " + ("withdraw" if withdraw else "replace") + " the decision (--overrule: on every row)")
    if shown == old["secondary"] and conf is None:
        return ""
    answer = (shown or "none") + (f", the tool's own at confidence {conf:g}" if shown == old["secondary"] else "")
    return (f"row {r.line_no} ({r.code}): the labeled set holds a later review decision, {old['secondary']} "
            f"({old['labeled_by']}, {old['labeled_at']}), that this sheet did not show (its answer: {answer}): "
            f"it was exported before that decision, and importing it would "
            + (f"withdraw that later decision ({r.decision})" if withdraw else f"replace it with {r.decision}")
            + f"; export a new sheet from a fresh `fundclass tag` to review the fund again, or pass --overrule-fund "
            f"{r.code} to " + ("withdraw" if withdraw else "replace")
            + " the later decision (--overrule: on every row)")


def _ended_reviews(h: pd.DataFrame) -> dict[str, pd.Series]:
    """Per fund code, the latest history.csv row that ended one of its review decisions (a withdrawal, or a later
    decision in its place; a migration's rows left out), for :func:`_withdrawn_before`."""
    if h.empty:
        return {}
    h = h.reindex(columns=list(dict.fromkeys(list(h.columns) + HISTORY_COLUMNS)), fill_value="")
    h = h.fillna("").astype(str)
    ended = h[(h["old_source"] == "review") & (h["changed_by"] != MIGRATION_BY)]
    return {code: row for code, row in ended.groupby("fund_code", sort=False).tail(1).set_index("fund_code").iterrows()}


def _withdrawn_before(r, ended: dict[str, pd.Series], held: dict | None, tax: Taxonomy) -> str:
    """Why decision row ``r`` may not be imported ('' when it may): it repeats a review decision on its fund that was
    withdrawn later (``ended``: :func:`_ended_reviews`, the last review decision of the fund ended without another
    review decision in its place, and the fund holds none since; ``held``: the fund's row in the labeled set, None when
    the set does not hold it), of the same class. A sheet shows the tool's answer below 1 both before the decision and
    after its withdrawal, so it cannot tell whether it was exported before the withdrawal: importing it would undo
    the withdrawal."""
    if held is not None and held["source"] == "review" or r.code not in ended:
        return ""
    w = ended[r.code]  # the latest review decision on the fund, taken back: nothing of review stands since
    if w["old_secondary"] != r.decision or w["old_taxonomy_version"] != tax.version:
        return ""
    return (f"row {r.line_no} ({r.code}): {r.decision} repeats a review decision on this fund, {w['old_secondary']} "
            f"({w['old_labeled_by']}, {w['old_labeled_at']}), that was withdrawn later ({w['changed_by']}, "
            f"{w['changed_at']}; history.csv), with no decision on the fund since; this sheet cannot show whether it "
            f"was exported before that withdrawal, and importing it would undo it: to decide {r.decision} again, "
            f"export a new sheet from a fresh `fundclass tag`, decide there and import it with --overrule-fund "
            f"{r.code}; else clear the row's decision to import the sheet's other rows")


def _history_row(old: dict, decision: str, reviewer: str, today: str, reason: str) -> dict:
    """The history.csv row of a labeled row ``old`` (its values before the change) given ``decision``."""
    return {"fund_code": old["fund_code"], "old_primary": old["primary"], "old_secondary": old["secondary"],
            "old_source": old["source"], "old_labeled_by": old["labeled_by"], "old_labeled_at": old["labeled_at"],
            "old_taxonomy_version": old["taxonomy_version"], "new_secondary": decision, "changed_by": reviewer,
            "changed_at": today, "reason": reason, "old_note": old["note"], "old_propagated_from": old["propagated_from"]}


def _index_groups(labels: pd.DataFrame) -> dict[str, set]:
    """Each group of the labeled set with the groups that are the same tracked index to tagging: the set may hold one
    index in two groups (its ETFs under the index code, 930651.CSI; feeders known by the index name alone,
    idx:中证计算机主题), which an index code and name the set pairs one to one join (:func:`classifier.index_key.
    index_aliases`), as they join the batches' funds a decision settles."""
    p = _prepared_ids(labels)
    aliases = _aliases(labels)
    subject = _keys(p, subject_keys)
    subject = subject.where(subject.str.startswith("idx:"), _keys(p, name_keys))
    code = _keys(p, code_keys)
    index = code.where(code != "", subject.map(lambda k: aliases.get(k, k)))
    of_index: dict[str, set] = {}
    for key, g in zip(index, labels["group"].tolist()):
        if key and g:
            of_index.setdefault(key, set()).add(g)
    out: dict[str, set] = {}
    for gs in of_index.values():
        for g in gs:
            out.setdefault(g, {g}).update(gs)
    return out


def _follow_in_group(labels: pd.DataFrame, applied: dict, on_sheet: set, tax: Taxonomy, today: str, history: list,
                     res: ImportResult, queued: np.ndarray | None = None, h: pd.DataFrame | None = None,
                     withdrawn: dict | None = None) -> None:
    """The hand and propagated rows of a decided fund's group (its index or family in the labeled set, with the groups
    of the same index, :func:`_index_groups`) take the decision, as tagging applies it to the whole index: a decision
    on any fund of a group, not only on the one whose label the others copy; so do the rows a taxonomy migration moved
    to a renamed or merged class (``migrated``) from a hand or propagated label (``h``, history.csv, says which:
    :func:`classifier.labeled.carried_sources`). ``labels`` is changed in place, each old label goes to ``history``.
    ``withdrawn`` (group → the withdrawn fund and who withdrew it, :func:`_withdraw`): groups whose decision was
    taken back, which the index's remaining decisions settle afresh, as tagging does: one class left, its earliest
    decision relabels the rows as if it were the only one (its reviewer and date: withdrawing it restores them too).
    A group whose review decisions (this sheet's and earlier ones) name two classes is a dispute: no row of it takes
    a decision but a decided fund's share classes and feeders (:func:`_family_decisions`), which take its decision, as
    tagging settles them by their family before their index; the rows a disputing decision relabeled go back to their
    labels before it (history.csv; tagging sends them to review, settled by neither); the dispute resolved (a
    withdrawal, an agreeing decision), the remaining class relabels them again. Funds the sheet decides itself,
    review rows and the report's own examples (migrated or not) never move,
    but for the rows of ``queued`` (a mask: rows a taxonomy migration queued, put back by
    :func:`_queued_in_group` with the label of the class it split or removed), which all move."""
    queued = np.zeros(len(labels), dtype=bool) if queued is None else queued
    withdrawn = {g: w for g, w in (withdrawn or {}).items() if g}
    groups = labels["group"].to_numpy()
    group_of = dict(zip(labels["fund_code"].tolist(), groups))
    first: dict[str, str] = {}  # group → the first decided fund of it on the sheet
    for code in applied:
        if group_of[code]:
            first.setdefault(group_of[code], code)
    todo = list(first) + [g for g in withdrawn if g not in first]
    same = _index_groups(labels) if todo else {}
    # the set's own labels as they were given (a hand or propagated label a migration renamed is still one; a migrated
    # row history.csv holds no origin of is a label of the set too), not the report's
    movable = carried_sources(labels, h).isin(("hand", "propagated", "migrated")).to_numpy() if todo else None
    not_decided = ~labels["fund_code"].isin(on_sheet).to_numpy()
    reach = np.zeros(len(labels), dtype=bool)  # the rows of the indices settled afresh
    done: set = set()
    for g in todo:
        if g in done:  # a group of an index whose other group's decision moved it
            continue
        index = same.get(g, {g})
        done |= index
        reach |= (in_group := np.isin(groups, list(index)))
        decisions = in_group & (labels["source"] == "review").to_numpy()
        reviewed = set(labels.loc[decisions, "secondary"])
        code = next((c for x, c in first.items() if x in index), "")
        who, among = applied[code][1] if code else withdrawn[g][1], in_group & not_decided & ~queued & ~decisions
        # a label a decision no longer standing made (a withdrawal put a row back to it, its fund's or a share
        # class's, an earlier decision's, since withdrawn too) goes back further, as no decision gives it; on a
        # disputed index, so does one a disputing decision made; until no row moves (each step goes back in history)
        standing = set(labels.loc[decisions & (labels["taxonomy_version"] == tax.version).to_numpy(), "fund_code"])
        disputed = "; ".join(f"{c} {labels['secondary'].iat[k]}" for k, c in zip(
            np.flatnonzero(decisions), labels["fund_code"].to_numpy()[decisions]) if c in standing)
        for _ in range((0 if h is None else len(h)) + len(history) + 1):
            n = len(history)
            gone = set(labels.loc[among & labels["source"].isin(("propagated", "migrated")).to_numpy(),
                                  "propagated_from"]) - standing - {""}
            hh = _with_history(h, history) if gone or len(reviewed) > 1 else None
            deciders = [(c, st) for c in sorted(gone) if (st := _decision_stamps(labels, hh, c, tax))]
            if deciders:  # (a label copied from a fund never decided is the set's own)
                _undo(labels, deciders, among, tax, today, history, res, h, who)
            if len(reviewed) > 1:
                _undo(labels, [(c, _decision_stamps(labels, hh, c, tax)) for c in sorted(standing)], among, tax,
                      today, history, res, h, who, disputed=disputed)
            if len(history) == n:
                break
        if len(reviewed) > 1:
            continue
        if not reviewed:  # its last decision withdrawn: nothing settles the index
            continue
        decision = reviewed.pop()
        if code:
            reviewer, at = applied[code][1], today
            reason = f"same index as {code}: {applied[code][2]}"
        else:  # settled by the remaining decision(s) alone (one of another class withdrawn): the one tagging names
            k = min(np.flatnonzero(decisions), key=lambda k: (labels["labeled_at"].iat[k], k))
            code, reviewer, at = labels["fund_code"].iat[k], labels["labeled_by"].iat[k], labels["labeled_at"].iat[k]
            reason = (f"same index as {code}: its review decision settles the index alone, {withdrawn[g][0]}'s "
                      f"withdrawn ({withdrawn[g][1]}, {today})")
        move = in_group & (movable & (labels["secondary"] != decision).to_numpy() | queued) & not_decided
        writes = _RowWrites(labels)
        for j in np.flatnonzero(move):
            fo = _propagate(writes, j, decision, code, reviewer, at, reason, tax, history)
            res.followed.append((fo["fund_code"], fo["secondary"], decision, code))
        writes.flush()
    # a share class or feeder follows its family's reviewed fund, as tagging settles it by its family before its index
    # (classifier.decide.override): also on a disputed index, whose other rows the loop above leaves or puts back
    # (the decisions of this sheet, and, on an index settled afresh, the standing ones: their reviewers and dates)
    if applied or reach.any():
        movable = carried_sources(labels, h).isin(("hand", "propagated", "migrated")).to_numpy() \
            if movable is None else movable
        pos = {c: k for k, c in enumerate(labels["fund_code"].tolist())}
        writes = _RowWrites(labels)  # each row once, read before it is written
        for j, code in enumerate(_family_decisions(labels, tax)):
            if code in applied:
                (decision, reviewer, note), at = applied[code], today
                reason = f"share class or feeder of {code}: {note}"
            elif code and reach[j]:
                decision, reviewer, at = (labels[c].iat[pos[code]] for c in ("secondary", "labeled_by", "labeled_at"))
                reason = f"share class or feeder of {code}: its family's review decision settles it"
            else:
                continue
            if not movable[j] or labels["secondary"].iat[j] == decision or labels["fund_code"].iat[j] in on_sheet:
                continue
            fo = _propagate(writes, j, decision, code, reviewer, at, reason, tax, history)
            res.family.append((fo["fund_code"], fo["secondary"], decision, code))
        writes.flush()


def _propagate(writes: "_RowWrites", j: int, decision: str, code: str, reviewer: str, at: str, reason: str,
               tax: Taxonomy, history: list) -> dict:
    """Relabel row ``j`` of the labeled set ``writes`` changes with ``code``'s decision, propagated from it by
    ``reviewer`` on ``at``; its old label goes to ``history`` with ``reason``. Returns the row as it was."""
    fo = writes.row(j)
    history.append(_history_row(fo, decision, reviewer, at, reason))
    writes.set(j, {"primary": tax.primary_of(decision), "secondary": decision, "source": "propagated",
                   "propagated_from": code, "labeled_by": reviewer, "labeled_at": at,
                   "taxonomy_version": tax.version, "note": _FROM_DECISION.format(code)})
    return fo


class _RowWrites:
    """Changes to rows of ``labels`` (in place), each row read before it is written and written at most once: the
    rows are read from the columns' values taken once, and :meth:`flush` writes them with one assignment per column,
    not one per cell (~0.1 ms each: a decision that relabels a large index and its feeders changes thousands)."""

    def __init__(self, labels: pd.DataFrame):
        self.labels, self.values, self.writes = labels, None, {}

    def row(self, j: int) -> dict:
        """Row ``j`` as :meth:`set` leaves it (its values before :meth:`flush` writes them)."""
        if self.values is None:
            self.values = [(c, self.labels[c].to_numpy()) for c in self.labels.columns]
        out = {c: v[j] for c, v in self.values}
        out.update(self.writes.get(int(j), {}))
        return out

    def written(self) -> dict[int, dict]:
        """The rows :meth:`set` changed, as they are now (a plan of :func:`_propagated_from`)."""
        return {j: self.row(j) for j in self.writes}

    def set(self, j: int, values: dict) -> None:
        self.writes[int(j)] = values

    def flush(self) -> None:
        columns: dict[str, tuple[list, list]] = {}
        for j, values in self.writes.items():
            for c, v in values.items():
                rows, vals = columns.setdefault(c, ([], []))
                rows.append(j)
                vals.append(v)
        for c, (rows, vals) in columns.items():
            self.labels.iloc[rows, self.labels.columns.get_loc(c)] = vals
        self.values, self.writes = None, {}


def _with_history(h: pd.DataFrame | None, history: list) -> pd.DataFrame:
    """history.csv ``h`` with the rows this change wrote so far (``history``), as text, every column there."""
    frames = [x for x in (h, pd.DataFrame(history, columns=HISTORY_COLUMNS) if history else None) if x is not None]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=HISTORY_COLUMNS)
    return out.reindex(columns=list(dict.fromkeys(list(out.columns) + HISTORY_COLUMNS))).fillna("").astype(str)


def _undo(labels: pd.DataFrame, deciders: list[tuple[str, set]], among: np.ndarray, tax: Taxonomy, today: str,
          history: list, res: ImportResult, h: pd.DataFrame | None, reviewer: str, disputed: str = "") -> None:
    """The rows of ``among`` (a mask of ``labels``) whose labels a review decision of ``deciders`` made (fund code,
    the reviewers and dates of its decisions; :func:`_followers`) go back to their labels before it (history.csv
    ``h``, with this change's rows): the decisions of an index they dispute (``disputed``: them, named, as tagging
    sends the rows to review, settled by none; not a share class or feeder its family's decision settles,
    :func:`_family_decisions`, which tagging settles by it), or decisions withdrawn (a row a withdrawal put back to a
    label an earlier decision made, taken back too). ``labels`` is changed in place, each old label goes to
    ``history`` (changed by ``reviewer``); a row whose earlier label history.csv does not hold keeps its label, and
    the report names it."""
    hh = _with_history(h, history)
    fam = _family_decisions(labels, tax) if disputed else [""] * len(labels)
    codes = labels["fund_code"].to_numpy()
    for code, stamps in deciders:
        relabeled = _made_by(code, stamps)
        # each row read as the rows restored before it left it, written once this decision's rows are all read
        writes = _RowWrites(labels)
        for j in _followers(labels, hh, code, relabeled, tax, among):
            if fam[j]:  # a share class or feeder: tagging settles it by its family's decision
                continue
            fo = writes.row(j)
            made, lost = [], []
            old = _before_decision(hh, codes[j], fo, lambda st: relabeled(st, made), tax, why=lost)
            if old is not None and not old["propagated_from"] and (old["source"] == "propagated" or (
                    old["source"] == "migrated" and carried_sources(pd.DataFrame([{**old, "fund_code": codes[j]}]),
                                                                    hh).iat[0] == "propagated")):
                old["propagated_from"] = _propagated_from(labels, {**writes.written(), j: old}, j, hh)
                if not old["propagated_from"] and old["source"] == "propagated":
                    old, lost = None, ["the fund whose label it copied before cannot be told"]
            what = (f"{code}'s review decision, which another decision on its index disputes ({disputed})"
                    if disputed else f"{code}'s withdrawn review decision")
            if old is None:
                res.kept.append((codes[j], fo["secondary"], f"relabeled with {what}, it keeps that label: "
                                 f"{lost[0] if lost else 'history.csv holds no earlier label of it'}; label it by "
                                 f"hand or review it"))
                continue
            history.append(_history_row(fo, old["secondary"], reviewer, today,
                                        f"{code}'s review decision disputed on its index ({disputed})" if disputed
                                        else f"{code}'s review decision withdrawn"))
            writes.set(j, old)
            (res.undone if disputed else res.restored).append((codes[j], fo["secondary"], old["secondary"], code))
        writes.flush()


def _decision_stamps(labels: pd.DataFrame, h: pd.DataFrame, code: str, tax: Taxonomy) -> set:
    """The reviewers and dates of fund ``code``'s review decisions: its standing one, those it replaced and those
    withdrawn (every one history.csv ``h`` holds), whose labels on other rows it may have left."""
    hi = _history(h)
    mine = hi.mine(code)
    mine = mine[hi.col("old_source")[mine] == "review"]
    stamps = set(zip(hi.col("old_labeled_by")[mine], hi.col("old_labeled_at")[mine]))
    at = np.flatnonzero(labels["fund_code"].to_numpy() == code)
    if len(at) and labels["source"].iat[at[0]] == "review":
        _before_decision(h, code, labels.iloc[at[0]].to_dict(), lambda st: st["source"] == "review", tax, stamps)
    return stamps


def _family_decisions(labels: pd.DataFrame, tax: Taxonomy) -> list[str]:
    """Per row of the labeled set, the code of the review decision (of ``tax``) of its share-class family that tagging
    settles it by (:class:`classifier.linking.ReviewedFamilies`, from the rows' own identifying fields: a reviewed
    share class of the same fund, else the reviewed ETF a feeder follows, the order of :func:`classifier.decide.
    override`; none in a family whose decisions disagree), '' when none."""
    fam = _keys(_prepared_ids(labels), family_keys)
    rev = np.flatnonzero(((labels["source"] == "review") & (labels["taxonomy_version"] == tax.version)).to_numpy())
    same_fund, etf = ReviewedFamilies([fam[i] for i in rev], labels["fund_code"].iloc[rev].tolist(),
                                      labels["secondary"].iloc[rev].tolist(),
                                      labels["labeled_at"].iloc[rev].astype(str).tolist()).find(fam)
    # a reviewed share class of the same fund first, then the reviewed ETF a feeder follows, as tagging tries them
    return [c if c != code else "" for c, code in zip((a or b for a, b in zip(same_fund, etf)),
                                                      labels["fund_code"].tolist())]


def _queued_in_group(labels: pd.DataFrame, applied: dict, decided: pd.DataFrame, undecided: pd.DataFrame,
                     labels_path) -> pd.DataFrame:
    """``labels`` and, after it, the undecided rows of a taxonomy migration's review queue (funds the migration took
    out of the labeled set, :func:`classifier.labeled.migration_pending`) of a sheet group one of whose rows was
    decided (``applied``), or of another group of the same index (:func:`_index_groups`, of the set with the queued
    rows: the set may keep an index's ETFs under its code and its feeders under its name, and the queue groups them as
    one index), each with the label the migration took out (history.csv), the sheet's identifying columns and the
    decided fund's group in the set (a row of the index's other group: its own, the sheet's), for
    :func:`_follow_in_group` to relabel with the decision, as a decision relabels its index's rows in the set: one
    decision on an index of the queue settles it. Not the rows of an earlier review decision (decided one by one: a
    person's decision is not replaced by one on another fund)."""
    if "group" not in decided.columns or undecided.empty or "group" not in undecided.columns:
        return labels
    pos = {c: i for i, c in enumerate(labels["fund_code"].tolist())}
    by_group: dict[str, str] = {}  # the sheet's group → the labeled set's group of its first applied decision
    for code, g in zip(decided["code"], decided["group"].astype(str).str.strip()):
        if g and code in applied:
            by_group.setdefault(g, labels["group"].iat[pos[code]])
    if not by_group:
        return labels
    sheet_group = undecided["group"].astype(str).str.strip()
    queued = undecided["code"].isin(set(migration_pending(labels_path, set(labels["fund_code"].tolist())))).to_numpy()
    if not queued.any():
        return labels
    # the index's other groups: of the set as it was before the migration took the queued rows out
    back = pd.DataFrame({c: (undecided[c].astype(str).str.strip().to_numpy() if c in undecided.columns else "")
                         for c in ID_COLUMNS}).assign(fund_code=undecided["code"].to_numpy(),
                                                      group=sheet_group.to_numpy())[queued]
    same = _index_groups(pd.concat([labels[ID_COLUMNS + ["group"]], back], ignore_index=True))
    reach = set(by_group).union(*(same.get(g, set()) | same.get(in_set, set()) for g, in_set in by_group.items()))
    rows = undecided[sheet_group.isin(reach).to_numpy() & queued]
    pending = set(rows["code"])
    if not pending:
        return labels
    h = read_history(labels_path)
    h = h[(h["changed_by"] == MIGRATION_BY) & (h["new_secondary"] == "") & h["fund_code"].isin(pending)]
    out = h.reindex(columns=HISTORY_COLUMNS).fillna("").groupby("fund_code").tail(1).set_index("fund_code")
    add = []
    for r in rows[rows["code"].isin(pending)].itertuples():
        st = out.loc[r.code]
        if st["old_source"] == "review":
            continue
        row = {c: str(getattr(r, c, "") or "") for c in ID_COLUMNS}
        row.update(fund_code=r.code, primary=st["old_primary"], secondary=st["old_secondary"],
                   source=st["old_source"], propagated_from="", labeled_by=st["old_labeled_by"],
                   labeled_at=st["old_labeled_at"], taxonomy_version=st["old_taxonomy_version"],
                   group=by_group.get(str(r.group).strip(), str(r.group).strip()), note=st["old_note"])
        add.append(row)
    if not add:
        return labels
    return pd.concat([labels, pd.DataFrame(add, columns=LABEL_COLUMNS)], ignore_index=True)


# the note of a row a decision relabeled (_follow_in_group), for people: no step reads it (a withdrawal knows the row by
# its fields: propagated from the decided fund, by its reviewer on its date)
_FROM_DECISION = "propagated from {}'s review decision"


def _in_place(labels: pd.DataFrame, sheet: pd.DataFrame, h: pd.DataFrame) -> pd.DataFrame:
    """``labels`` with the rows of a taxonomy migration's review queue it holds (funds the latest migration took out,
    :func:`classifier.labeled.latest_migration_queued`, back by this import or an earlier one) at their places in the
    set before the migration (the queue's ``row`` names their line there, ``labels.csv:39``: :func:`classifier.
    taxonomy_change.migrate`), not after every other row: the file changes only where it must. Every other row keeps
    its order; a review sheet (its ``row`` a line of its tagged file) or a queue of an earlier release (no line) leaves
    the rows where the import put them. ``sheet``: the sheet's rows, with their fund codes in ``code``."""
    if "row" not in sheet.columns or "code" not in sheet.columns:
        return labels
    queued = latest_migration_queued(h)
    # a queue's row names the set's line (labels.csv:39); a review sheet's is a line of its tagged file, not read
    line = pd.to_numeric(sheet["row"].astype(str).str.strip().str.extract(r"^.+:(\d+)$")[0], errors="coerce")
    was = {c: int(n) - 2 for c, n in zip(sheet["code"], line)
           if isinstance(c, str) and c in queued and n == n and n >= 2}  # its place before the migration, 0 first
    codes = labels["fund_code"].tolist()
    if not any(c in was for c in codes):
        return labels
    # the place before the migration of each other row: in turn, the places no queued row had (rows added since come
    # after them all)
    taken = set(was.values())
    free = (n for n in range(len(codes) + len(taken) + 1) if n not in taken)
    place = [was[c] if c in was else next(free) for c in codes]
    order = [j for j, c in enumerate(codes) if c not in was]
    for j in sorted((j for j, c in enumerate(codes) if c in was), key=lambda j: place[j]):
        # before the first row whose place comes after its own
        at = next((k for k, o in enumerate(order) if place[o] > place[j]), len(order))
        order.insert(at, j)
    return labels.iloc[order].reset_index(drop=True)


class _History:
    """history.csv ``h`` read column by column, once: its columns as arrays of the cells (a column ``h`` lacks, an
    older history's ``old_note`` or ``old_propagated_from``, as ''), and each fund's rows, in order. :func:`_replaced`
    reads a fund's rows once per state it goes back through, thousands of times in an import that relabels a large
    index (~0.1 ms a column taken from the frame each time); ``h`` is never changed (a change adds its rows to a new
    frame, :func:`_with_history`)."""

    def __init__(self, h: pd.DataFrame):
        self.frame, self.columns = h, {c: h[c].to_numpy() for c in h.columns}
        rows: dict[str, list[int]] = {}
        for k, code in enumerate(self.columns.get("fund_code", ())):
            rows.setdefault(code, []).append(k)
        self.rows = {code: np.array(ks, dtype=np.intp) for code, ks in rows.items()}
        self.none = np.empty(len(h), dtype=object)
        self.none[:] = ""

    def of(self, h: pd.DataFrame) -> bool:
        return self.frame is h

    def col(self, c: str) -> np.ndarray:
        return self.columns.get(c, self.none)

    def mine(self, code: str) -> np.ndarray:
        return self.rows.get(code, np.empty(0, dtype=np.intp))


_HISTORY: list = []  # the last _History read (one per history frame an import reads at a time)


def _history(h: pd.DataFrame) -> _History:
    if not (_HISTORY and _HISTORY[0].of(h)):
        _HISTORY[:] = [_History(h)]
    return _HISTORY[0]


def _replaced(h: pd.DataFrame, code: str, state: dict, upto: int) -> tuple[dict, int] | None:
    """The label that ``state`` (a row of fund ``code``) replaced, and its history row's position: the old values of
    the last row of ``h`` (history.csv) above ``upto`` that recorded the change to it (the fund, its class, who and
    when; or a taxonomy migration that moved its class and kept the rest, as it keeps a review decision's); None when
    there is none or the change added the fund."""
    hi = _history(h)
    mine = hi.mine(code)  # the fund's rows, in order
    f = {c: hi.col(c)[mine] for c in ("changed_by", "changed_at", "new_secondary", "old_source", "old_labeled_by",
                                      "old_labeled_at")}
    kept = ((f["changed_by"] == MIGRATION_BY) & (f["old_source"] == state["source"])
            & (f["old_labeled_by"] == state["labeled_by"]) & (f["old_labeled_at"] == state["labeled_at"]))
    m = ((f["new_secondary"] == state["secondary"])
         & (((f["changed_by"] == state["labeled_by"]) & (f["changed_at"] == state["labeled_at"])) | kept))
    hits = mine[m & (mine < upto)]
    if len(hits) > 1:  # one reviewer's changes on one day: tell apart the one that made the state
        made = None
        for k in hits[::-1]:
            if made is not None and k >= made:
                continue
            nxt, prev = mine[mine > k], mine[mine < k]
            if len(nxt) and not _is_state(hi, nxt[0], state):
                continue  # it made another state (the fund's next change replaced that one): its own review decision
            if len(prev) and _is_state(hi, prev[-1], state):
                made = prev[-1]  # it brought the state back (a withdrawal, a dispute): made before its last change
                continue
            hits = np.array([k])
            break
    if not len(hits) or not hi.col("old_secondary")[hits[-1]]:
        return None
    k = hits[-1]
    return {"primary": hi.col("old_primary")[k], "secondary": hi.col("old_secondary")[k],
            "source": hi.col("old_source")[k], "labeled_by": hi.col("old_labeled_by")[k],
            "labeled_at": hi.col("old_labeled_at")[k], "taxonomy_version": hi.col("old_taxonomy_version")[k],
            "note": hi.col("old_note")[k], "propagated_from": hi.col("old_propagated_from")[k]}, int(k)


def _is_state(hi: _History, k: int, state: dict) -> bool:
    """Whether history row ``k`` (of ``hi``) replaced ``state`` (its old label, provenance, who and when: not its note,
    which a person may edit in labels.csv; its copied fund unless the history predates keeping it)."""
    def r(c: str):
        return hi.col(c)[k]
    return (r("old_secondary") == state["secondary"] and r("old_source") == state["source"]
            and r("old_labeled_by") == state["labeled_by"] and r("old_labeled_at") == state["labeled_at"]
            and (not r("old_propagated_from") or r("old_propagated_from") == (state.get("propagated_from") or "")))


def _before_decision(h: pd.DataFrame, code: str, row: dict, decided, tax: Taxonomy,
                     stamps: set | None = None, why: list | None = None) -> dict | None:
    """The label fund ``code`` had before the decision(s) that made its ``row`` (``decided(state)``: a state made by
    them), going back through history.csv ``h``; None when the history does not hold it (the decision added the
    fund) or it is not a label of ``tax``. ``stamps`` gains the (labeled_by, labeled_at) of each state the decisions
    made. ``why`` gains, when history.csv holds the earlier label but it is not one of ``tax`` (a migration split or
    removed its class), what that label was. A propagated label's ``propagated_from`` is the one history kept ('' in
    rows written before history kept it: see :func:`_propagated_from`)."""
    state, upto = dict(row), len(h)
    while decided(state):
        if stamps is not None:
            stamps.add((state["labeled_by"], state["labeled_at"]))
        found = _replaced(h, code, state, upto)
        if found is None:
            return None
        state, upto = found
    earlier = state
    if state["taxonomy_version"] != tax.version:
        state = _through_migrations(h, state, upto, tax)
    if state is None or state["secondary"] not in tax.labels or state["source"] not in SOURCES:
        if why is not None and (state is None or state["secondary"] not in tax.labels):
            moved = earlier["taxonomy_version"] != tax.version
            why.append(f"its earlier label {earlier['secondary']} ({earlier['taxonomy_version']}) is not a class of "
                       f"{tax.version}" + (": a taxonomy migration split or removed it" if moved else ""))
        return None
    state["propagated_from"] = str(state.get("propagated_from") or "") if state["source"] != "hand" else ""
    return state


def _through_migrations(h: pd.DataFrame, state: dict, upto: int, tax: Taxonomy) -> dict | None:
    """``state``, a label of an earlier taxonomy (history row ``upto`` of ``h`` holds it), as the taxonomy migrations
    since (history.csv's rows changed by the migration, below ``upto``: each from one version) moved its class: a class
    a migration renamed or merged takes its new name (and becomes ``migrated``, as `taxonomy migrate` makes it); None
    when a migration split or removed it, or it is not a class of ``tax``."""
    mig = h.iloc[upto:]
    mig = mig[mig["changed_by"] == MIGRATION_BY]
    versions = list(dict.fromkeys(mig["old_taxonomy_version"]))
    if state["taxonomy_version"] not in versions:
        return None
    state = dict(state)
    for v in versions[versions.index(state["taxonomy_version"]):]:
        moved = mig[(mig["old_taxonomy_version"] == v) & (mig["old_secondary"] == state["secondary"])]
        targets = set(moved["new_secondary"])
        if not targets:  # the class kept its name
            continue
        if len(targets) > 1 or "" in targets:
            return None
        if state["source"] != "review":
            state.update(source="migrated", labeled_by=MIGRATION_BY, labeled_at=moved["changed_at"].iat[0],
                         note=migrated_note(state["secondary"], state["source"]))
        state["secondary"] = targets.pop()
    if state["secondary"] not in tax.labels:
        return None
    state.update(primary=tax.primary_of(state["secondary"]), taxonomy_version=tax.version)
    return state


def _propagated_from(labels: pd.DataFrame, plan: dict, pos: int, h: pd.DataFrame | None = None) -> str:
    """The fund a restored propagated row ``pos`` copies (or a migrated one, its label propagated before a migration
    renamed its class): the review decision of its group that relabeled it (its class, reviewer and date), else a hand
    or report row of its group with its class (the rows ``plan`` restores as they will be; a migrated row whose label
    was one, ``h``: history.csv, :func:`classifier.labeled.carried_sources`), the one its group's other propagated
    rows copy when there are several; '' when none is."""
    g, cls = labels["group"].iat[pos], plan[pos]["secondary"]
    rows = [(k, {**(plan.get(k) or labels.iloc[k].to_dict()), "fund_code": labels["fund_code"].iat[k]})
            for k in np.flatnonzero((labels["group"] == g).to_numpy())]
    carried = carried_sources(pd.DataFrame([st for _, st in rows]), h).tolist()
    stamp = (plan[pos]["labeled_by"], plan[pos]["labeled_at"])
    decisions = [labels["fund_code"].iat[k] for k, st in rows if st["source"] == "review" and st["secondary"] == cls
                 and (st["labeled_by"], st["labeled_at"]) == stamp]
    if len(decisions) == 1:
        return decisions[0]
    heads = [labels["fund_code"].iat[k] for (k, st), src in zip(rows, carried)
             if src in ("hand", "report") and st["secondary"] == cls]
    copied = [st["propagated_from"] for (k, st), src in zip(rows, carried) if k != pos and src == "propagated"
              and st["propagated_from"] in heads]
    if copied:
        return max(set(copied), key=copied.count)
    return heads[0] if len(heads) == 1 else ""


def _made_by(code: str, stamps: set):
    """Whether a state of a row is one fund ``code``'s review decision(s) made (``stamps``: their reviewers and dates;
    the predicate of :func:`_before_decision`, each such state added to ``moved``): a propagated label copying
    ``code`` (or one whose copied fund history.csv did not keep, as in rows written before it kept it), by one of
    them, on its date, and a state a taxonomy migration made above one (it moved the class since). The copied fund
    tells apart two decisions of one reviewer on one day."""
    def relabeled(st: dict, moved: list) -> bool:
        if (st["source"] == "propagated" and (st["labeled_by"], st["labeled_at"]) in stamps
                and str(st.get("propagated_from") or "") in ("", code)):
            moved.append(st)
            return True
        return st["labeled_by"] == MIGRATION_BY and not moved
    return relabeled


def _followers(labels: pd.DataFrame, h: pd.DataFrame, code: str, relabeled, tax: Taxonomy,
               among: np.ndarray | None = None) -> list[int]:
    """The rows of ``labels`` (of the mask ``among``) whose labels fund ``code``'s review decision made (``relabeled``:
    :func:`_made_by`): propagated from it (or migrated since), with a state it made in history.csv ``h``."""
    cand = ((labels["propagated_from"] == code) & labels["source"].isin(("propagated", "migrated"))).to_numpy()
    out = []
    rows = _RowWrites(labels)  # (read only: the rows' values taken once)
    for j in np.flatnonzero(cand if among is None else cand & among):
        made: list = []
        _before_decision(h, labels["fund_code"].iat[j], rows.row(j), lambda st: relabeled(st, made), tax)
        if made:
            out.append(int(j))
    return out


def _withdraw(labels: pd.DataFrame, rows: pd.DataFrame, tax: Taxonomy, h: pd.DataFrame, today: str, history: list,
              res: "ImportResult", shows_answer: bool = False, unseen: list | None = None,
              hidden: tuple = (), touched: dict | None = None, overruled: frozenset = frozenset()) -> pd.DataFrame:
    """Take back the review decisions of the funds of ``rows`` (their decision: a withdraw word): each fund's row goes
    back to the label it had before its review decision(s), or, when the decision added it (or history.csv does not
    hold its earlier label), leaves the labeled set; the rows the decision relabeled (its index's hand, propagated and
    migrated rows, :func:`_follow_in_group`) go back to their earlier labels, unless the history does not hold them
    (the report names those); the index's remaining decisions then settle it afresh (:func:`_follow_in_group`, for the
    groups ``touched`` gains: group → the withdrawn fund and who withdrew it). Every old row goes to ``history`` (a
    removed one with no new class). A withdrawal on a sheet that did not show the fund's decision (``shows_answer``: it
    shows the tool's answer, see :func:`_unseen_decision`) goes to ``unseen`` instead, but on the rows of the funds
    ``overruled`` names (`--overrule-fund`). Returns the new labeled set."""
    labels = labels.copy()
    h = h.reindex(columns=list(dict.fromkeys(list(h.columns) + HISTORY_COLUMNS))).fillna("").astype(str)
    # funds the latest taxonomy migration took out of the set for its review queue (a decision on their group put
    # them back): a withdrawal puts them back in that queue, which an import still accepts; the queue of an earlier
    # migration is of an earlier version, which no import accepts once the set is migrated again (as one of a class
    # split or removed, such a fund leaves the set, and a row it relabeled keeps the class: both named)
    queued_by_migration = latest_migration_queued(h)
    queued_before = set(h.loc[(h["changed_by"] == MIGRATION_BY) & (h["new_secondary"] == ""), "fund_code"])
    drop = []
    same = None  # the groups of each index (_index_groups), read at the first withdrawal
    for r in rows.itertuples():
        code, note = r.code, str(getattr(r, "comment", "") or "") or "review decision withdrawn"
        at = np.flatnonzero((labels["fund_code"] == code).to_numpy())
        if not len(at) or labels["source"].iat[at[0]] != "review":
            res.undecided.append(code)
            continue
        i = int(at[0])
        why = _unseen_decision(r, {c: labels[c].iat[i] for c in labels.columns}, tax,
                               shows_answer and code not in overruled, withdraw=True, deleted=hidden)
        if why:
            unseen.append(why)
            continue
        # the rows read from the columns' values taken once, each as the restorations before it left it; written
        # together once this fund's are all decided (one assignment per column: each cell's copies an Arrow column)
        writes = _RowWrites(labels)
        row = writes.row
        cur = row(i)
        stamps: set[tuple[str, str]] = set()  # who and when of the fund's decisions: the rows they relabeled carry them
        relabeled = _made_by(code, stamps)
        gone: list[str] = []  # why the fund's earlier label cannot come back, when history.csv holds it
        plan = {i: _before_decision(h, code, cur, lambda st: st["source"] == "review", tax, stamps, gone)}
        followers = _followers(labels, h, code, relabeled, tax)
        if same is None:
            same = _index_groups(labels)
        if cur["group"] and touched is not None:  # the index's other decisions settle it (or dispute it) afresh
            touched.setdefault(cur["group"], (code, r.reviewer))
        # the index's other review decisions of the withdrawn class: the rows the withdrawn one relabeled go back to
        # their earlier labels, and the index's remaining decisions relabel them again (_follow_in_group), each
        # change in history.csv, so that withdrawing those in turn restores them too; a row whose earlier label
        # history.csv does not hold keeps the class they give it
        still = sorted(set(labels.loc[labels["group"].isin(same.get(cur["group"], {cur["group"]}))
                                      & (labels["source"] == "review") & (labels["fund_code"] != code)
                                      & (labels["secondary"] == cur["secondary"]), "fund_code"])) if cur["group"] else []
        kept, requeued = {}, []
        for j in followers:
            fo = row(j)
            made, lost = [], []
            old = _before_decision(h, fo["fund_code"], fo, lambda st: relabeled(st, made), tax, why=lost)
            if old is None and not still and fo["fund_code"] in queued_by_migration:
                requeued.append(int(j))  # put back from a migration's queue with the decision: back into the queue
            elif old is None:
                kept[int(j)] = (f"its index keeps the review decision of {', '.join(still)}" if still else
                                f"{lost[0] if lost else 'history.csv holds no earlier label of it'}; label it by hand "
                                f"or review it")
            else:
                plan[int(j)] = old
        for k in [k for k, st in plan.items() if st and st["source"] == "propagated" and not st["propagated_from"]]:
            plan[k]["propagated_from"] = _propagated_from(labels, plan, k, h)
            if not plan[k]["propagated_from"]:  # the fund its label copies cannot be told
                if k == i:
                    plan[k] = None
                else:
                    kept[k] = "the fund whose label it copied before cannot be told; label it by hand or review it"
                    del plan[k]
        # a restored migrated row whose label was propagated before the migration: the fund it copies, as it had (a
        # migration keeps propagated_from), which history.csv does not keep; '' when it cannot be told (no provenance
        # is missing: a migrated row needs none)
        back = [k for k, st in plan.items() if st and st["source"] == "migrated" and not st["propagated_from"]]
        if back:
            was = carried_sources(pd.DataFrame([{**plan[k], "fund_code": labels["fund_code"].iat[k]} for k in back]), h)
            for k, src in zip(back, was):
                if src == "propagated":
                    plan[k]["propagated_from"] = _propagated_from(labels, plan, k, h)
        shown = f"{cur['secondary']} ({cur['labeled_by']}, {cur['labeled_at']})"
        for k, st in plan.items():
            old = row(k)
            if st is None:
                history.append(_history_row(old, "", r.reviewer, today, f"withdrawn: {note}"))
                drop.append(k)
                res.withdrawn.append((code, shown, _out_of_earlier_queue(h, code, tax)
                                      if k == i and code in queued_before - queued_by_migration
                                      else f"removed from the labeled set ({gone[0]})" if k == i and gone
                                      # a fund a migration queued, which the decision put back: back in the queue
                                      else "back to the migration's review queue, out of the labeled set (a taxonomy "
                                           "migration queued it, and the decision put it back): decide it there "
                                           "again" if k == i and code in queued_by_migration
                                      else "removed from the labeled set (it had no label before the decision that "
                                           "history.csv holds)"))
                continue
            reason = f"withdrawn: {note}" if k == i else f"{code}'s review decision withdrawn"
            history.append(_history_row(old, st["secondary"], r.reviewer, today, reason))
            writes.set(k, st)
            if k == i:
                res.withdrawn.append((code, shown, f"back to its {st['source']} label {st['secondary']}"))
            else:
                res.restored.append((old["fund_code"], old["secondary"], st["secondary"], code))
        for k in requeued:
            old = row(k)
            history.append(_history_row(old, "", r.reviewer, today, f"{code}'s review decision withdrawn"))
            drop.append(k)
            res.requeued.append((old["fund_code"], old["secondary"], code))
        writes.flush()
        res.kept += [(labels["fund_code"].iat[k], labels["secondary"].iat[k],
                      f"relabeled with {code}'s withdrawn decision, it keeps that label: {why}") for k, why in kept.items()]
    return labels.drop(index=labels.index[drop]).reset_index(drop=True) if drop else labels


def _out_of_earlier_queue(h: pd.DataFrame, code: str, tax: Taxonomy) -> str:
    """What a withdrawal did to fund ``code``, which a taxonomy migration before the latest one queued for review
    (history.csv ``h``) and a decision on that queue put back: it leaves the labeled set, and that queue, of an
    earlier version, is no longer imported."""
    rows = h[(h["fund_code"] == code) & (h["changed_by"] == MIGRATION_BY) & (h["new_secondary"] == "")]
    r = rows.iloc[-1]
    return (f"removed from the labeled set: the taxonomy migration from {r['old_taxonomy_version']} queued it (its "
            f"class {r['old_secondary']} split or removed), and that migration's review queue can no longer be "
            f"imported, the set having been migrated since (to {tax.version}); a review decision on a tagged batch "
            f"adds it again")


def _overruled(overrule: bool | tuple, decided: pd.DataFrame, withdraw: pd.DataFrame, path) -> frozenset:
    """The fund codes ``overrule`` names (`--overrule-fund 159915,510300`, six digits or with an exchange), each a
    decided row of the sheet (a decision or a withdrawal); none for True or False (every row, or none). A code that
    is not a fund code, or names no decided row (a typo would leave the row meant refused), is refused."""
    if isinstance(overrule, bool) or not overrule:
        return frozenset()
    given = [c.strip() for item in overrule for c in str(item).split(",") if c.strip()]
    codes = {c: parse_fund_code(c) for c in given}
    on_sheet = set(decided["code"]) | set(withdraw["code"])
    bad = [c for c, six in codes.items() if six is None or six not in on_sheet]
    if bad:
        raise InputError(f"{path}: --overrule-fund {', '.join(bad)}: "
                         + ("not a fund code" if all(codes[c] is None for c in bad) else
                            "no decided row of this sheet has this fund code")
                         + "; name the fund codes of the rows to overrule (the import's refusals name them), or pass "
                           "--overrule for every row, nothing imported")
    return frozenset(codes.values())


def import_review(path, tax: Taxonomy, labels_path, reviewer: str | None = None, today: str | None = None,
                  dry_run: bool = False, sheet: str | None = None, overrule: bool | tuple = False) -> ImportResult:
    """Put the decisions of a review sheet into the labeled set at ``labels_path``: one transaction, all or nothing.
    ``sheet``: the worksheet of a workbook to read (default: its only visible sheet that holds data). A decision that
    would replace a review decision the sheet did not show (it was exported before it) is refused unless
    ``overrule``: True for every row, or the fund codes of the rows to overrule (`--overrule-fund`), each one a
    decided row of the sheet."""
    decided, commented, padded, undecided, read = _read_decisions(path, tax, reviewer, sheet, labels_path)
    taken_back = decided["decision"].isin(set(withdraw_words())).to_numpy()  # 撤销: withdraw the fund's decision
    withdraw, decided = decided[taken_back], decided[~taken_back].copy()
    exported = "group" in decided.columns  # an exported sheet: it has `group`, and every column export writes
    # what shows a fund's later review decision (or its absence); on an exported sheet, deleted columns hide it
    hidden = tuple(c for c in ("secondary", "confidence") if c not in decided.columns) if exported else ()
    shows_answer = ("secondary" in decided.columns or exported) and overrule is not True
    overruled = _overruled(overrule, decided, withdraw, path)  # the rows --overrule-fund names: those only

    def shows(code: str) -> bool:  # whether the sheet's row of ``code`` is held to what the sheet shows
        return shows_answer and code not in overruled
    # what identifies a fund the import adds to the labeled set; an exported sheet holds them all
    deleted = [c for c in ID_COLUMNS[1:] if c not in decided.columns] if exported else []
    decided["index_key"] = code_keys(decided) if "index_code" in decided.columns else ""
    # the index subject of a fund new to the labeled set that gives no index code: its index name's (a batch giving
    # the index by name alone), else the one an index fund's name gives (a fund list: names alone); read (a prepare
    # of the decided rows, ~30 ms) only when such a fund is added
    name_key: list[str] = []

    def name_key_of(j: int) -> str:
        if not name_key:
            p = prepare(_id_rows(decided), detect_columns(ID_COLUMNS))
            subject = subject_keys(p)
            name_key.extend(subject.where(subject.str.startswith("idx:"), name_keys(p)).tolist())
        return name_key[j]

    split = []  # one decision is meant to cover a group: two classes in one group settle none of its other funds
    if "group" in decided.columns:
        for g, rows in decided[decided["group"].astype(str).str.strip() != ""].groupby("group", sort=True):
            if rows["decision"].nunique() > 1:
                split.append((g, {c: rows.loc[rows["decision"] == c, "code"].tolist()
                                  for c in sorted(rows["decision"].unique())}))
    today = today or date.today().isoformat()

    def compute(labels: pd.DataFrame):
        _check_labeled_set(labels, labels_path, tax)
        res = ImportResult(split_groups=split, commented=commented, padded=padded, read=read, dry_run=dry_run)
        history, new_rows, unseen = [], [], []
        h = read_history(labels_path)
        ended = _ended_reviews(h) if shows_answer else {}
        touched: dict[str, tuple[str, str]] = {}  # group of a withdrawn decision → its fund, who withdrew it
        if len(withdraw):  # first: a decision of the same sheet then relabels the index's rows as they were before
            before = labels
            labels = _withdraw(labels, withdraw, tax, h, today, history, res, shows_answer, unseen, hidden, touched,
                               overruled)
            if res.undecided:  # a fund a decision on its index or family settles: that decision is the one to take back
                res.settled_by = _index_disputes(before, withdraw[withdraw["code"].isin(res.undecided)], tax)[1]
        res.disputes, settled_by = _index_disputes(labels, decided, tax)
        if shows_answer:  # a fund an earlier decision on its index or family settles shows at confidence 1 once made
            who = labels.set_index("fund_code")[["secondary", "labeled_by", "labeled_at"]]
            for r in decided[decided["code"].isin(settled_by)].itertuples():
                conf = _tool_confidence(r) if shows(r.code) else None
                if conf is not None:
                    earlier = "; ".join(f"{c} {who.at[c, 'secondary']} ({who.at[c, 'labeled_by']}, "
                                        f"{who.at[c, 'labeled_at']})" for c in settled_by[r.code])
                    unseen.append(f"row {r.line_no} ({r.code}): the review decision on its index or share-class "
                                  f"family, {earlier}, settles this fund, but this sheet shows the tool's answer (confidence "
                                  f"{conf:g}): it was exported before that decision, and {r.decision} here would put the "
                                  f"index in dispute (its other funds back to review): export the sheet again and decide "
                                  f"there, or pass --overrule-fund {r.code} to decide {r.decision} anyway "
                                  f"(--overrule: on every row)")
        applied: dict[str, tuple[str, str, str]] = {}  # fund code → decision, reviewer, note of the rows written
        pos = {c: i for i, c in enumerate(labels["fund_code"].tolist())}
        set_keys = code_keys(labels).tolist()
        group_of = {}  # the set's group of each tracked index code (000510 and 000510.SH are one index)
        for key, g in zip(set_keys, labels["group"].tolist()):
            if key and g:
                group_of.setdefault(key, g)
        by_subject: dict[str, str] | None = None  # the set's group of each index subject, read when a name needs it
        labels = labels.copy()
        for j, r in enumerate(decided.itertuples()):
            code = r.code
            note = str(getattr(r, "comment", "") or "") or "review"
            new = {"primary": tax.primary_of(r.decision), "secondary": r.decision, "source": "review",
                   "propagated_from": "", "labeled_by": r.reviewer, "labeled_at": today,
                   "taxonomy_version": tax.version, "note": note}
            if code in pos:
                i = pos[code]
                old = {c: labels.iat[i, labels.columns.get_loc(c)] for c in labels.columns}  # a copy, before writing
            else:
                old = None
            if shows(code):  # a decision withdrawn since this sheet may have been exported: not put back unseen
                why = _withdrawn_before(r, ended, old, tax)
                if why:
                    unseen.append(why)
                    continue
            if old is not None:
                if old["secondary"] == r.decision and old["source"] == "review":
                    res.confirmed.append(code)
                    if str(getattr(r, "comment", "") or "").strip() not in ("", str(old.get("note", "")).strip()):
                        res.unnoted.append(code)
                    continue
                why = _unseen_decision(r, old, tax, shows(code), deleted=hidden)
                if why:
                    unseen.append(why)
                    continue
                other = _other_fund(r, old, set_keys[i])
                if other:
                    res.mismatched.append((code, *other))
                history.append(_history_row(old, r.decision, r.reviewer, today, note))
                for k, v in new.items():
                    labels.iat[i, labels.columns.get_loc(k)] = v
                applied[code] = (r.decision, r.reviewer, note)
                if old["secondary"] == r.decision:
                    res.confirmed.append(code)
                else:
                    res.changed.append((code, old["secondary"], r.decision))
            else:
                row = {c: str(getattr(r, c, "") or "") for c in LABEL_COLUMNS}
                row.update(new, fund_code=code)
                # the set's own group, never the review sheet's key (code:000510 where the set has 000510.SH): the
                # set's group of the same tracked index code; else, for a fund with no index code, the set's group of
                # the index its index name gives (中证国新央企股东回报指数 → 932039.CSI) or, with no index name either,
                # that an index fund's name gives (华夏中证A500ETF联接C → idx:中证A500 → 000510.SH); else the
                # sheet's group when the set's rule makes it for this row (a migration queue carries the row's own);
                # else the index code, the index name, the index the fund's name gives, the fund
                by_name = name_key_of(j) if not row["index_code"] else ""
                if by_name and by_subject is None:
                    by_subject = _subject_groups(labels)
                own = {row["index_code"], f"idx:{row['index_name']}", f"bench:{row['index_name']}", f"money:{code}",
                       by_name or f"review:{code}"} - {"", "idx:", "bench:"}
                row["group"] = (group_of.get(r.index_key) or (by_subject or {}).get(by_name)
                                or (row["group"] if row["group"] in own else "") or row["index_code"]
                                or (f"idx:{row['index_name']}" if row["index_name"] else "") or by_name
                                or f"review:{code}")
                if r.index_key:
                    group_of.setdefault(r.index_key, row["group"])
                if by_name:
                    by_subject.setdefault(by_name, row["group"])
                new_rows.append(row)
                pos[code] = len(labels) + len(new_rows) - 1
                res.added.append(code)
                applied[code] = (r.decision, r.reviewer, note)
        if new_rows and deleted:
            codes = ", ".join(r["fund_code"] for r in new_rows[:10]) + (" …" if len(new_rows) > 10 else "")
            unseen.append(f"column(s) {', '.join(deleted)} were deleted from this review sheet, and the decisions on "
                          f"{counted(len(new_rows), 'fund')} new to the labeled set ({codes}) reach the other funds of their "
                          f"index, share classes and feeders only through them: put the columns back (copy them from "
                          f"the exported sheet), or the decisions would settle those funds alone")
        if unseen:
            raise InputError(f"{path}: {len(unseen)} problem(s), nothing imported:\n  " + "\n  ".join(unseen))
        if new_rows:
            labels = pd.concat([labels, pd.DataFrame(new_rows, columns=LABEL_COLUMNS)], ignore_index=True)
        n = len(labels)
        labels = _queued_in_group(labels, applied, decided, undecided, labels_path)
        queued = np.arange(len(labels)) >= n
        _follow_in_group(labels, applied, set(decided["code"]), tax, today, history, res, queued, h, touched)
        if queued.any():  # a queued row its group's decision did not settle (a dispute) stays out, in the queue
            labels = labels[~(queued & (labels["taxonomy_version"] != tax.version).to_numpy())].reset_index(drop=True)
        labels = _in_place(labels, pd.concat([decided, undecided]), h)
        res.pending = migration_pending(labels_path, set(labels["fund_code"].tolist()))
        return Change(labels, history), res

    return change_labels(labels_path, compute, dry_run=dry_run)
