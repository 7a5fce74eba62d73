"""Cell text, the bottom of the import graph: :func:`clean` (width, script, spaces, case) and the six-digit fund code.

Imports nothing of the package, so every module can use it: the vocabulary loader cleans its words with it, the
normalizers build on it, and every reader of fund codes (prepare, holdings, tagged files, summary, stability) takes
the code with :func:`code6` / :func:`code6_column`, one definition of what a fund code is.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufeff\u200b-\u200f]")
MAX_CHARS = 512  # longer cells are cut before matching (the original cell is kept in the output)
CODE6 = r"(?<!\d)(\d{6})(?!\d)"  # six digits, not part of a longer number: 0000012 is not fund 000001
_CODE6 = re.compile(CODE6)
_PLAIN = re.compile(r"[!-~]*")  # printable ASCII, no space: what clean leaves as it is (but for case)
_SHORT_CODE = re.compile(r"^\s*([0-9]{1,5})(?:\.0+)?\s*$")  # 4433, 4433.0: a code whose leading zeros were dropped


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported lazily: ~20 ms, only when text is normalized

    return opencc.OpenCC("t2s")


def _pre(text) -> str:
    if not isinstance(text, str) or not text:
        return ""
    # no whitespace (``str.split`` cuts at the characters ``\s`` matches), no control characters (each of which
    # ``str.isprintable`` rejects): the same text as ``_CONTROL.sub("", _SPACE.sub("", t))``, without a regex scan
    t = "".join(unicodedata.normalize("NFKC", text[: MAX_CHARS * 2]).split())
    return t if t.isprintable() else _CONTROL.sub("", t)


def clean(text: str) -> str:
    """NFKC, simplified Chinese, no whitespace or control characters, upper-case Latin; '' for missing values."""
    t = _pre(text)
    if t and any("\u4e00" <= ch <= "\u9fff" for ch in t):
        t = _t2s().convert(t)
    return t.upper()[:MAX_CHARS]


def clean_many(values) -> list[str]:
    """:func:`clean` for many strings, with one OpenCC call over all of them (they hold no newline once cleaned)."""
    pre = [_pre(v) for v in values]
    if any(pre):
        pre = _t2s().convert("\n".join(pre)).split("\n")
    return [s.upper()[:MAX_CHARS] for s in pre]


def code6(code: str) -> str:
    """The 6-digit fund code inside 159995.SZ / SZ159995 / 159995 / ' 159995 ' ('' when there is none; a run of
    seven or more digits is not a fund code).

    >>> [code6(c) for c in ("159995.SZ", "SZ159995", " 159995 ", "0000012", "12345")]
    ['159995', '159995', '159995', '', '']
    """
    m = re.search(CODE6, clean(code))
    return m.group(1) if m else ""


def code6_column(codes: pd.Series) -> pd.Series:
    """:func:`code6` of every cell of a fund-code column ('' where a cell holds no fund code); a cell that is not text
    is read as its text (an integer 159995 is fund 159995). A cell of one to five digits alone (an integer 4433, or
    4433.0) is a six-digit code whose leading zeros a spreadsheet dropped, as Excel does to 004433 in a number cell or
    a CSV it saved: fund 004433, whose review decision, holdings and previous class are kept by that code. Cells of
    plain ASCII with no space are what :func:`clean` leaves as they are (but for case, which digits do not have), so
    those are searched at once; the rest go through :func:`code6` (full-width ``１５９９９５``, inner spaces).

    >>> code6_column(pd.Series(["159995.SZ", "0000012", None, "１５９９９５", "159 995", 510300])).tolist()
    ['159995', '', '', '159995', '159995', '510300']
    >>> code6_column(pd.Series([4433, "4433.0", " 17040 ", "4433A"])).tolist()
    ['004433', '004433', '017040', '']
    """
    out = []
    for v in codes.tolist():  # one pass in Python: three pandas string passes over the column cost more
        t = "" if v is None or (isinstance(v, float) and v != v) else str(v)
        if len(t) == 6 and t.isascii() and t.isdigit():  # most cells: the code itself
            out.append(t)
            continue
        m = _SHORT_CODE.search(t)
        if m:
            out.append(m.group(1).zfill(6))
        elif _PLAIN.fullmatch(t):
            m = _CODE6.search(t)
            out.append(m.group(1) if m else "")
        else:
            out.append(code6(t))
    return pd.Series(out, index=codes.index, dtype=object)


def number_column(values: pd.Series) -> pd.Series:
    """Cells as numbers, NaN where a cell holds none (blank, text). A column formatted as a percentage in Excel and
    saved as CSV holds each cell as Excel shows it, 67.76%: the number 0.6776.

    >>> number_column(pd.Series(["0.6776", "67.76%", " 100% ", "", "x"])).round(4).tolist()[:3]
    [0.6776, 0.6776, 1.0]
    """
    text = values.astype(str).str.strip()
    percent = text.str.endswith("%")
    num = pd.to_numeric(text.where(~percent, text.str[:-1]).where(text != "", None), errors="coerce")
    return num.where(~percent, num / 100).astype(float)


def counted(n: int, noun: str, plural: str = "", verbs: tuple[str, str] = ("", "")) -> str:
    """``n`` with its noun in plain English, and the verb that agrees (``verbs``: singular, plural), for a line a user
    reads: "1 row", "3 rows", never "1 rows". ``plural``: when it is not the noun with an s.

    >>> counted(1, "row"), counted(3, "row"), counted(1, "share class", "share classes")
    ('1 row', '3 rows', '1 share class')
    >>> counted(1, "fund", verbs=("holds", "hold")), counted(2, "fund", verbs=("holds", "hold"))
    ('1 fund holds', '2 funds hold')
    """
    verb = verbs[0] if n == 1 else verbs[1]
    return f"{n} {noun if n == 1 else plural or noun + 's'}" + (f" {verb}" if verb else "")


def blank_rows(frame: pd.DataFrame) -> pd.Series:
    """Per row of ``frame``, whether no cell of it is filled (missing, or whitespace only): a blank line of a CSV, a
    row an Excel sheet keeps because it was formatted or cleared.

    >>> blank_rows(pd.DataFrame({"a": ["x", "", None], "b": [" ", "\u3000", float("nan")]})).tolist()
    [False, True, True]
    """
    # a row with a cell that begins with a letter or a digit is filled, whatever counts as whitespace: most rows are
    # settled by their first column (a file's 25k rows: 11 ms → 1 ms); only the others are read cell by cell
    maybe = list(range(len(frame)))
    for j in range(frame.shape[1]):
        if not maybe:
            break
        values = frame.iloc[:, j].tolist()
        maybe = [i for i in maybe if not (isinstance(values[i], str) and values[i][:1].isalnum())]
    blank = np.zeros(len(frame), dtype=bool)
    if maybe:
        rest = frame.iloc[maybe]
        left = np.ones(len(maybe), dtype=bool)
        for j in range(rest.shape[1]):
            col = rest.iloc[:, j]
            left &= col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
        blank[maybe] = left
    return pd.Series(blank, index=frame.index)
