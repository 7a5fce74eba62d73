"""Read back a file that ``fundclass tag`` wrote (CSV, XLSX or Parquet), for the commands that work on tagged runs:
``summary``, ``diff`` and ``tag --previous``.

Every cell comes back as text (see :func:`classifier.io.read_table`), and in a CSV without the ``'`` that ``tag`` put
before cells a spreadsheet would run as formulas (:func:`classifier.io.read_output`); this module turns the columns
those commands read into typed values once, and names the file, column and rows when one is not what ``tag`` writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import detect_columns
from .errors import InputError
from .io import read_output
from .text import code6_column, number_column

TAGGED_COLUMNS = ("primary", "secondary", "confidence", "needs_review", "evidence")
_TRUE = {"true", "1", "1.0", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "0.0", "no", "n", "否", "f", ""}


@dataclass
class TaggedRun:
    """A tagged file: the frame as read (all text) and typed views of the columns the run commands use.

    ``code`` is the six-digit fund code ('' where the row has none), ``name`` the fund's short name, ``line`` the
    file line of each row (for messages).
    """

    path: str
    frame: pd.DataFrame
    colmap: dict
    code: pd.Series
    name: pd.Series
    confidence: pd.Series
    needs_review: pd.Series
    line: pd.Series
    warnings: list[str] = field(default_factory=list)

    def column(self, name: str) -> pd.Series:
        """A column as text ('' where the file has no such column)."""
        if name in self.frame.columns:
            col = self.frame[name]
            if isinstance(col, pd.DataFrame):  # duplicate header: the last one is what `tag` wrote
                col = col.iloc[:, -1]
            return col.astype(str)
        return pd.Series([""] * len(self.frame), index=self.frame.index, dtype=object)

    def versions(self, column: str) -> list[str]:
        """The distinct non-empty values of ``taxonomy_version`` or ``model_version``, in order of appearance."""
        return [v for v in dict.fromkeys(self.column(column).str.strip()) if v]

    def field(self, name: str) -> pd.Series:
        """An input field found by alias (``index_code``, ``index_name``, ``full_name``, …) as text, else ''."""
        if name in self.colmap:
            return self.frame.iloc[:, self.colmap[name]].astype(str).str.strip()
        return pd.Series([""] * len(self.frame), index=self.frame.index, dtype=object)


def _bad_rows(mask: pd.Series, values: pd.Series, line: pd.Series) -> str:
    rows = np.flatnonzero(mask.to_numpy())
    shown = ", ".join(f"line {line.iat[i]} ({values.iat[i]!r})" for i in rows[:5])
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def parse_flags(values: pd.Series, path: str, column: str, line: pd.Series) -> pd.Series:
    """True/False cells as written by CSV, XLSX or Parquet (True, 1, yes, 是 …) to booleans; anything else is an error
    naming the file, column and lines."""
    key = values.astype(str).str.strip().str.lower()
    bad = ~key.isin(_TRUE | _FALSE)
    if bad.any():
        raise InputError(f"{path}: column '{column}' must be True or False; found {_bad_rows(bad, values, line)}")
    return key.isin(_TRUE)


def parse_numbers(values: pd.Series, path: str, column: str, line: pd.Series) -> pd.Series:
    """Numeric cells to floats (blank → NaN; 67.76%, a percentage as Excel saves it to CSV, → 0.6776); text that is
    not a number is an error naming the file, column, lines."""
    text = values.astype(str).str.strip()
    num = number_column(text)
    bad = num.isna() & (text != "") & ~text.str.lower().isin(["nan", "none"])
    if bad.any():
        raise InputError(f"{path}: column '{column}' must hold numbers; found {_bad_rows(bad, values, line)}")
    return num.astype(float)


def read_tagged(path: str | Path, required: tuple[str, ...] = TAGGED_COLUMNS) -> TaggedRun:
    """Read a tagged file and check it has the ``required`` output columns of ``fundclass tag``.

    Raises
    ------
    InputError
        when the file cannot be read, has no fund-name column, lacks one of ``required`` (all missing ones are named),
        or holds a confidence that is not a number or a needs_review flag that is not True/False.
    """
    table = read_output(path)
    frame = table.frame.reset_index(drop=True)
    sp = str(path)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{sp}: not a tagged file (missing column(s) {missing}); run `fundclass tag` on it first")
    colmap = detect_columns(list(frame.columns), sp)
    line = pd.Series(np.arange(len(frame)) + table.header_row + 2, index=frame.index)
    code_col = frame.iloc[:, colmap["code"]].astype(str) if "code" in colmap else pd.Series("", index=frame.index)
    code = code6_column(code_col)
    name = frame.iloc[:, colmap["name"]].astype(str).str.strip()
    run = TaggedRun(sp, frame, colmap, code, name, pd.Series(np.nan, index=frame.index),
                    pd.Series(False, index=frame.index), line, list(table.warnings))
    if "confidence" in frame.columns:
        run.confidence = parse_numbers(run.column("confidence"), sp, "confidence", line)
    if "needs_review" in frame.columns:
        run.needs_review = parse_flags(run.column("needs_review"), sp, "needs_review", line)
    return run
