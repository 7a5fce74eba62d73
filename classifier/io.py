"""Read fund tables as users have them (CSV in any Chinese encoding, XLSX, Parquet) and write results atomically.

Every cell is read as text and kept exactly as read (no NaN coercion), so that every input row and column comes back
out unchanged beside the new columns. Errors name the file and, where it applies, the line or column.
"""
from __future__ import annotations

import contextvars
import csv
import errno
import io as _io
import os
import re
import signal
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .collector import collector_paused
from .columns import header_score
from .errors import InputError

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
MAX_HEADER_SCAN = 10
EXCEL_CELL_MAX = 32767  # Excel's limit for a cell, in UTF-16 code units
csv.field_size_limit(64 * 1024 * 1024)  # a 1 MB cell is a bad cell, not a reason to fail the file

# What a Chinese fund file is in when it is not UTF-8 or UTF-16: GB18030 (a superset of GBK and GB2312) or Big5
# (traditional; the pipeline turns it into simplified later). charset-normalizer ranks the two for each file; Big5 is
# decoded as cp950, the Windows code page that Big5 files really are (a superset).
LEGACY_ENCODINGS = {"gb18030": ("gb18030", "GBK/GB18030"), "big5": ("cp950", "Big5")}
DETECT_SAMPLE = 65536  # bytes of the non-UTF-8 lines that charset-normalizer reads
SHOWN_LINES = 10


@dataclass
class Table:
    """A read table: the frame (all strings), where it came from, and what reading it took.

    ``typed`` is the table with its own column types (Parquet input only, its index as leading columns), written back
    in place of the text columns when the output is Parquet too. ``cells`` is an XLSX input's cells as the workbook
    holds them (numbers, dates, booleans as such; object columns), so that an XLSX output keeps them as numbers,
    dates and booleans rather than their text (:func:`write_table`).
    """

    frame: pd.DataFrame
    path: str
    encoding: str = ""
    header_row: int = 0  # 0-based row of the header in the file
    warnings: list[str] = field(default_factory=list)
    typed: pd.DataFrame | None = None
    cells: pd.DataFrame | None = None
    sheet: str = ""  # the worksheet read, of an XLSX
    # of a workbook with several visible sheets holding data, what says which one a SheetChooser took ('' otherwise)
    chosen: str = ""


def _lines(numbers: list[int]) -> str:
    """'line 4 is' / 'lines 4, 9 are' (the first ten numbers, then a count).

    >>> _lines([4]), _lines(list(range(1, 13)))
    ('line 4 is', 'lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more are')
    """
    shown = ", ".join(str(n) for n in numbers[:SHOWN_LINES])
    shown += f" and {len(numbers) - SHOWN_LINES} more" if len(numbers) > SHOWN_LINES else ""
    return f"line {shown} is" if len(numbers) == 1 else f"lines {shown} are"


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text without a byte-order mark (NUL bytes are then half of every ASCII character), or None."""
    if len(data) % 2:
        return None
    for enc in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if any(c in text for c in "\n,\t") and all(unicodedata.category(c)[0] != "C" or c in "\t\r\n"
                                                  for c in text[:4096]):
            return text, enc
    return None


def _legacy_ranking(lines: list[bytes]) -> list[str]:
    """The Chinese legacy encodings, most likely first for these lines (which are not UTF-8), by charset-normalizer."""
    from charset_normalizer import from_bytes

    sample, size = [], 0
    for line in lines:
        if size >= DETECT_SAMPLE:
            break
        sample.append(line)
        size += len(line) + 1
    ranked = [m.encoding for m in from_bytes(b"\n".join(sample), cp_isolation=list(LEGACY_ENCODINGS))]
    return [e for e in ranked if e in LEGACY_ENCODINGS] + [e for e in LEGACY_ENCODINGS if e not in ranked]


def _decode(data: bytes, path: str) -> tuple[str, str, list[str]]:
    """Decode a text table: a BOM's encoding; else UTF-8; else line by line, each line UTF-8 when it decodes as
    UTF-8 and otherwise the file's legacy encoding (GB18030 or Big5, detected on those lines).

    A file whose lines mix UTF-8 and a legacy encoding is read line by line with a warning naming the legacy lines;
    a line that neither decodes is refused with its number. Nothing is ever decoded whole in a legacy encoding when
    some of its lines are UTF-8 (UTF-8 Chinese often decodes "cleanly" as GB18030 into mojibake).
    """
    for bom, enc in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                     (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc, []
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: starts like {enc.upper()} but does not decode ({exc.reason} at byte "
                                 f"{exc.start})") from exc
    if b"\x00" in data[:65536]:
        found = _utf16_without_bom(data)
        if found:
            return found[0], found[1], []
        raise InputError(f"{path}: binary file (NUL bytes), not a CSV text table; for Excel use .xlsx")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    text: list[str | None] = []
    for line in lines:
        try:
            text.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            text.append(None)
    legacy = [i for i, t in enumerate(text) if t is None]
    ranked = _legacy_ranking([lines[i] for i in legacy])
    failed: dict[str, list[int]] = {}
    for enc in ranked:
        codec = LEGACY_ENCODINGS[enc][0]
        failed[enc] = []
        decoded = {}
        for i in legacy:
            try:
                decoded[i] = lines[i].decode(codec)
            except UnicodeDecodeError:
                failed[enc].append(i + 1)
        if not failed[enc]:
            break
    else:
        enc = ranked[0]
        names = " or ".join(LEGACY_ENCODINGS[e][1] for e in ranked)
        raise InputError(f"{path}: {_lines(failed[enc])} neither UTF-8 nor {names} text; re-export the file as "
                         f"UTF-8")
    name = LEGACY_ENCODINGS[enc][1]
    utf8 = [i + 1 for i, t in enumerate(text) if t is not None and not t.isascii()]
    warnings = []
    if utf8:
        warnings.append(f"{path}: mixed encodings: {_lines([i + 1 for i in legacy])} {name}, the others UTF-8; "
                        f"each line was decoded on its own")
    out = [decoded[i] if t is None else t for i, t in enumerate(text)]
    return "\n".join(out), ("utf-8+" if utf8 else "") + enc, warnings


def _header_row(rows: list[list[str]]) -> int:
    """The row among the first ten with the most known column aliases (0 when none has any)."""
    scores = [header_score(r) for r in rows[:MAX_HEADER_SCAN]]
    return max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores and max(scores) > 0 else 0


def _frame_from_rows(rows: list[list[str]], path: str) -> tuple[pd.DataFrame, int]:
    if not rows or all(not any(c.strip() for c in r) for r in rows):
        raise InputError(f"{path}: empty file (no header, no rows)")
    hdr = _header_row(rows)
    header = [str(c) for c in rows[hdr]]
    body = rows[hdr + 1:]
    width = max(len(header), max(map(len, body), default=0))
    header += [f"column_{i + 1}" for i in range(len(header), width)]
    for r in body:  # short rows padded in place (the reader's own lists)
        if len(r) < width:
            r += [""] * (width - len(r))
    frame = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header, dtype=object)
    return frame, hdr


ONE_COLUMN = "\x00"  # the "delimiter" of a one-column file: a character a text table never holds


def _delimiter(text: str, suffix: str) -> str:
    r"""The delimiter of a CSV text: the sniffed one if it splits the header into several columns and at least half of
    the rows below it into as many; else the default (``,``, or TAB for .tsv) if it splits the header; else none
    (one column), so that a list of names that contain ``;`` stays one column.

    >>> _delimiter("基金简称\n华夏;中证;500;ETF\n易方达;沪深;300;ETF\n", ".csv") == ONE_COLUMN
    True
    >>> _delimiter("基金代码;基金简称\n159995;芯片ETF\n510300;沪深300ETF\n", ".csv")
    ';'
    """
    sample = text[:8192]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # whole rows only

    def split(d: str) -> tuple[int, list[int]]:
        rows = [r for r in csv.reader(_io.StringIO(sample, newline=""), delimiter=d) if any(c.strip() for c in r)]
        if not rows:
            return 0, []
        hdr = _header_row(rows)
        return len(rows[hdr]), [len(r) for r in rows[hdr + 1:]]

    default = "\t" if suffix == ".tsv" else ","
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        sniffed = None
    try:
        if sniffed:
            width, body = split(sniffed)
            if width > 1 and 2 * sum(n == width for n in body) >= len(body):
                return sniffed
        if split(default)[0] > 1:
            return default
    except csv.Error:
        return default  # malformed: reported when the whole file is read
    return ONE_COLUMN


def read_table(path: str | Path, sheet: str | None = None, chooser: SheetChooser | None = None) -> Table:
    """Read CSV/TSV (UTF-8 with or without BOM, UTF-16, GBK/GB18030, Big5, lines mixing UTF-8 and one of these), XLSX
    or Parquet into a :class:`Table` of strings.

    A title row above the header (as in merged-header exports) is skipped with a warning: the header is the row among
    the first ten with the most known column aliases. ``sheet`` names the worksheet of a workbook to read (default:
    the only visible sheet that holds data; with ``chooser``, of several such sheets the only one whose header
    holds the columns the caller reads, :class:`SheetChooser`). A Parquet file's index, unless it is an unnamed RangeIndex, comes first
    as columns, and ``Table.typed`` keeps the columns' own types.
    """
    p = Path(path)
    sp = str(p)
    if not p.exists():
        raise InputError(f"{sp}: no such file")
    if p.is_dir():
        raise InputError(f"{sp}: is a directory, not a table file")
    suffix = p.suffix.lower()
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        raise InputError(f"{sp}: --sheet applies to .xlsx workbooks, not to '{suffix or 'csv'}' files")
    try:
        if suffix in EXCEL_SUFFIXES:
            return _read_excel(p, sheet, chooser)
        if suffix in PARQUET_SUFFIXES:
            typed = _index_as_columns(pd.read_parquet(p))
            frame = typed.astype(object).where(typed.notna(), "").astype(str)
            return Table(frame, sp, "parquet", typed=typed)
        if suffix not in CSV_SUFFIXES and suffix:
            # a workbook of another format (Excel 97-2003, WPS, LibreOffice): the program that saved it saves .xlsx
            how = (f" (open it in Excel, WPS or LibreOffice and save it as .xlsx: 另存为 Excel 工作簿)"
                   if suffix in (".xls", ".xlsb", ".et", ".ett", ".ods", ".numbers") else "")
            raise InputError(f"{sp}: unsupported file type '{suffix}'; use .csv, .xlsx or .parquet{how}")
        data = p.read_bytes()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 — any reader failure becomes one clear message
        raise InputError(f"{sp}: cannot read as {suffix.lstrip('.') or 'csv'}: {exc}") from exc
    if not data.strip():
        raise InputError(f"{sp}: empty file (no header, no rows)")
    text, enc, warnings = _decode(data, sp)
    delim = _delimiter(text, suffix)
    with collector_paused():
        try:
            rows = list(csv.reader(_io.StringIO(text, newline=""), delimiter=delim))
        except csv.Error as exc:
            raise InputError(f"{sp}: malformed CSV: {exc}") from exc
        frame, hdr = _frame_from_rows(rows, sp)
        del rows
    if hdr:
        warnings.append(f"{sp}: header found on row {hdr + 1} (rows above it skipped)")
    return Table(frame, sp, enc, hdr, warnings)


def _index_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame's index as its first columns (a fund code kept as the index must not get lost), unless it is an
    unnamed RangeIndex, which holds nothing but row positions. A name already taken by a column gets ``_index``."""
    idx = frame.index
    if isinstance(idx, pd.RangeIndex) and idx.name is None:
        return frame
    taken = {str(c) for c in frame.columns}
    names = []
    for i, n in enumerate(idx.names):
        n = str(n) if n is not None else ("index" if idx.nlevels == 1 else f"level_{i}")
        while n in taken:
            n += "_index"
        taken.add(n)
        names.append(n)
    return frame.set_axis(idx.set_names(names), axis=0).reset_index()


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape_ooxml(text: str) -> str:
    """XLSX stores control characters such as CR as ``_x000D_``; openpyxl's read-only mode leaves them escaped."""
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _has_data(ws) -> bool:
    return any(v is not None and str(v).strip() for row in ws.iter_rows(values_only=True) for v in row)


@dataclass
class SheetChooser:
    """How a reader tells its sheet among several visible sheets of a workbook that hold data (a user's notes sheet
    beside the review sheet): ``holds(row)`` is true of a header row (its cells as text) that holds the columns the
    reader needs, ``what`` names those columns for the user ("the review sheet's columns fund_code, decision, …")."""
    what: str
    holds: Callable[[list[str]], bool]
    own_hidden: tuple[str, ...] = ()  # hidden sheets the tool writes beside its table (a drop-down's list): no note

    def fits(self, ws) -> bool:
        """Whether one of the first rows of worksheet ``ws`` (where :func:`_header_row` looks) is such a header."""
        return any(self.holds(["" if v is None else str(v) for v in row])
                   for row in ws.iter_rows(max_row=MAX_HEADER_SCAN, values_only=True))


def _choose_sheet(book, p: Path, sheet: str | None,
                  chooser: SheetChooser | None = None) -> tuple[str, list[str], str]:
    """The worksheet to read: ``sheet`` if given; else the only visible sheet that holds data (else the active one,
    else the first visible one); of several, the only one ``chooser`` fits, said in a note. Refuses a workbook with
    several visible sheets holding data otherwise, naming them. Returns the sheet's name, warnings (hidden sheets
    with data that were skipped) and the note of the sheet ``chooser`` took ('' when it took none)."""
    sheets = book.worksheets
    listed = ", ".join(repr(ws.title) + ("" if ws.sheet_state == "visible" else f" ({ws.sheet_state})")
                       for ws in sheets)
    if sheet is not None:
        if sheet not in [ws.title for ws in sheets]:
            raise InputError(f"{p}: no worksheet '{sheet}'; its sheets are {listed}")
        return sheet, [], ""
    visible = [ws for ws in sheets if ws.sheet_state == "visible"]
    filled = [ws for ws in visible if _has_data(ws)]
    chosen = ""
    if len(filled) > 1:
        fit = [ws for ws in filled if chooser.fits(ws)] if chooser else []
        if len(fit) != 1:
            said = "" if chooser is None else (f"; none of them holds {chooser.what}" if not fit else
                                               f"; {len(fit)} of them hold {chooser.what} "
                                               f"({', '.join(repr(ws.title) for ws in fit)})")
            raise InputError(f"{p}: {len(filled)} visible sheets hold data "
                             f"({', '.join(repr(ws.title) for ws in filled)}){said}; choose one with --sheet NAME, or "
                             f"hide or delete the others")
        chosen = (f"{p}: read sheet '{fit[0].title}', the only one holding {chooser.what}; "
                  f"{', '.join(repr(ws.title) for ws in filled if ws is not fit[0])} skipped (--sheet NAME reads "
                  f"another)")
        filled = fit
    own = chooser.own_hidden if chooser else ()
    hidden = [ws.title for ws in sheets if ws.sheet_state != "visible" and ws.title not in own and _has_data(ws)]
    if filled:
        ws = filled[0]
    else:
        active = book.active
        ws = active if active is not None and active.sheet_state == "visible" else (visible or sheets)[0]
    notes = [f"{p}: read sheet '{ws.title}'; hidden sheet(s) {', '.join(repr(h) for h in hidden)} skipped "
             f"(--sheet NAME reads one)"] if hidden else []
    return ws.title, notes, chosen


def _read_excel(p: Path, sheet: str | None = None, chooser: SheetChooser | None = None) -> Table:
    import openpyxl

    try:
        values = openpyxl.load_workbook(p, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(p, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{p}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    try:
        name, warnings, chosen = _choose_sheet(formulas, p, sheet, chooser)
        rows, natives = [], []
        # a formula cell keeps its cached value; a workbook written by a script has none, so the formula text is kept
        for vr, fr in zip(values[name].iter_rows(values_only=True), formulas[name].iter_rows(values_only=True)):
            rows.append(["" if (v is None and f is None) else _unescape_ooxml(str(f if v is None else v))
                         for v, f in zip(vr, fr)])
            natives.append([v if _excel_native(v) else None for v in vr])
    finally:
        values.close()
        formulas.close()
    frame, hdr = _frame_from_rows(rows, str(p))
    if hdr:
        warnings.append(f"{p}: header found on row {hdr + 1} (rows above it skipped)")
    width = frame.shape[1]
    body = [r + [None] * (width - len(r)) for r in natives[hdr + 1:]]
    cells = pd.DataFrame(body, dtype=object) if body else None
    return Table(frame, str(p), "xlsx", hdr, warnings, cells=cells, sheet=name, chosen=chosen)


def merged_ranges(table: Table) -> list[tuple[int, int, int, int]]:
    """The merged cells of the worksheet an XLSX ``table`` was read from, as (first row, first column, last row, last
    column), 0-based in ``table.frame`` (rows of the header or above it left out); none for other files. A merged
    cell shows its first cell's value over the whole range (a reviewer merges the decision cells of a block to decide
    it at once), while its other cells hold nothing: a reader that reads what the sheet shows spreads it."""
    if table.encoding != "xlsx" or not table.sheet:
        return []
    from openpyxl.utils.cell import range_boundaries  # (after the check: a CSV sheet's import loads no openpyxl)

    xml = _sheet_part(table)
    if xml is None:
        refs = _whole_sheet(table, lambda ws: [r.coord for r in ws.merged_cells.ranges])
    else:
        refs = re.findall(r"<(?:\w+:)?mergeCell\b[^>]*\bref=\"([A-Za-z]+\d+:[A-Za-z]+\d+)\"", xml)
    first = table.header_row + 1  # the frame's first row, 0-based in the sheet
    out = []
    for ref in refs:
        c0, r0, c1, r1 = range_boundaries(ref)
        if r0 - 1 >= first:
            out.append((r0 - 1 - first, c0 - 1, r1 - 1 - first, c1 - 1))
    return out


def hidden_rows(table: Table) -> list[int]:
    """The rows of ``table.frame`` (0-based) that the worksheet an XLSX ``table`` was read from hides (a filter, or
    rows hidden by hand); none for other files. Excel and WPS paste and fill into the rows a filter hides too, so a
    reader of what a person decided names them."""
    if table.encoding != "xlsx" or not table.sheet:
        return []
    xml = _sheet_part(table)
    if xml is None:
        numbers = _whole_sheet(table, lambda ws: [r for r, d in ws.row_dimensions.items() if d.hidden])
    else:
        numbers = [int(m.group(2)) for m in re.finditer(r"<(?:\w+:)?row\b([^>]*?)\br=\"(\d+)\"([^>]*)>", xml)
                   if re.search(r"\bhidden=\"(?:1|true)\"", m.group(1) + m.group(3))]
    first = table.header_row + 1  # the frame's first row, 0-based in the sheet
    return [r - 1 - first for r in numbers if 0 <= r - 1 - first < len(table.frame)]


def _sheet_part(table: Table) -> str | None:
    """The XML of the worksheet an XLSX ``table`` was read from: a read-only sheet keeps no merged cells nor hidden
    rows, so its part of the file is read (openpyxl's part name is private: None with a version without it)."""
    import zipfile

    import openpyxl

    book = openpyxl.load_workbook(table.path, read_only=True)
    try:
        part = getattr(book[table.sheet], "_worksheet_path", None)
    finally:
        book.close()
    if part is None:
        return None
    with zipfile.ZipFile(table.path) as z:
        return z.read(part).decode("utf-8", errors="replace")


def _whole_sheet(table: Table, read):
    """``read`` of the worksheet an XLSX ``table`` was read from, the workbook loaded whole (slower: the public API,
    when :func:`_sheet_part` cannot name the sheet's part)."""
    import openpyxl

    whole = openpyxl.load_workbook(table.path)
    try:
        return read(whole[table.sheet])
    finally:
        whole.close()


def date_texts(table: Table, column: int) -> dict[int, str]:
    """The date and date-time cells of column ``column`` (0-based) of an XLSX ``table``, by row of ``table.frame``, as
    the date text a user saw in Excel: a cell typed as text that Excel turned into a date (12/1 in a comment column)
    reads as "2026-12-01", not its value's text "2026-12-01 00:00:00"; a time other than midnight is kept
    ("2026-12-01 09:30"). For a reader of a column of text (a comment, a name); none for other files."""
    import datetime as _dt

    if table.cells is None or column >= table.cells.shape[1]:
        return {}
    out = {}
    for r, v in enumerate(table.cells.iloc[:, column]):
        if isinstance(v, _dt.datetime):
            out[r] = v.strftime("%Y-%m-%d") if v.time() == _dt.time() else \
                v.strftime("%Y-%m-%d %H:%M" + (":%S" if v.second or v.microsecond else ""))
        elif isinstance(v, _dt.date):
            out[r] = v.isoformat()
    return out


def _excel_native(v) -> bool:
    """A cell value an XLSX output writes as itself rather than as its text: a number (finite), a boolean, a date or
    a naive date-time; not text, blanks, times of day, durations or time-zone-aware stamps."""
    import datetime as _dt
    import math

    if isinstance(v, (bool, np.bool_)):
        return True
    if isinstance(v, (int, float, np.integer, np.floating)):
        return math.isfinite(float(v))
    if isinstance(v, _dt.datetime):
        return v.tzinfo is None and not pd.isna(v)
    return isinstance(v, _dt.date)


def _with_natives(frame: pd.DataFrame, natives: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` (all text in its first columns) with the input's own numbers, booleans and dates in place of their text,
    cell by cell, for an XLSX output; a date-time at midnight (how a date cell reads) is written as a date."""
    import datetime as _dt

    if natives is None or len(natives) != len(frame) or natives.shape[1] > frame.shape[1]:
        return frame
    out = frame.copy()
    for j in range(natives.shape[1]):
        col = natives.iloc[:, j]
        values = col.to_numpy(dtype=object)
        keep = [_excel_native(v) for v in values]
        if not any(keep):
            continue
        merged = out.iloc[:, j].to_numpy(dtype=object).copy()
        for i, k in enumerate(keep):
            if k:
                v = values[i]
                if isinstance(v, pd.Timestamp):
                    v = v.to_pydatetime()
                if isinstance(v, _dt.datetime) and v.time() == _dt.time(0):
                    v = v.date()
                elif isinstance(v, np.generic):
                    v = v.item()
                merged[i] = v
        out.isetitem(j, merged)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# A temp file of ours: ``.<output name>.<pid>-<8 random>.tmp`` (before: ``.<output name>.<8 random>.tmp``, no pid)
STALE_LEGACY_SECONDS = 600
PROBE = "fundclass-probe"  # the empty file check_writable_folder makes and removes: ``.fundclass-probe.<pid>-….tmp``


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(r"\." + re.escape(name) + r"\.(?:(\d+)-)?[a-z0-9_]{8}\.tmp")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # someone else's process, or a pid we cannot ask about: leave its file alone
    return True


def stale_temps(path: str | Path, folders: bool = False) -> list[Path]:
    """The temp files an interrupted write of ``path`` left beside it that no running write owns: those whose writing
    process has ended, and those of the older name format (no pid) untouched for ten minutes. Only names of the
    tool's own form (``.NAME.<pid>-<8 random>.tmp``), never another file; ``folders``: the temp folders of that form
    instead (a model folder written whole before it is renamed into place). Removes nothing."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        return []
    pattern = _temp_pattern(target.name)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    out = []
    for e in entries:
        m = pattern.fullmatch(e.name)
        if not m:
            continue
        try:
            stale = (not _pid_alive(int(m.group(1)))) if m.group(1) else \
                time.time() - e.stat().st_mtime > STALE_LEGACY_SECONDS
            if stale and (e.is_dir(follow_symlinks=False) if folders else e.is_file(follow_symlinks=False)):
                out.append(Path(e.path))
        except OSError:
            continue
    return out


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temp files an interrupted write of ``path`` left beside it (killed, crashed, power cut): those whose
    writing process has ended, and those of the older name format untouched for ten minutes, unless a journal of an
    unfinished commit (:mod:`classifier.labeled` stages files under that format) lies in the folder. Returns them."""
    stale = stale_temps(path)
    if not stale:
        return []
    try:
        journal = any(e.name.endswith(".journal") for e in os.scandir(Path(path).parent))
    except OSError:
        return []
    removed = []
    for p in stale:
        if journal and not _temp_pattern(Path(path).name).fullmatch(p.name).group(1):
            continue
        try:
            os.unlink(p)
            removed.append(p)
        except OSError:
            continue
    return removed


def _atomic_target(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; a written file gets the usual mode
    return Path(tmp)


class _Terminated(BaseException):
    """SIGTERM arrived during an atomic write (raised by the temporary handler, so the temp file is removed)."""


@contextmanager
def _sigterm_unwinds():
    """While inside, SIGTERM raises :class:`_Terminated` instead of ending the process where it stands; the previous
    handler is restored on the way out. Only in the main thread, and not when SIGTERM is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:
        yield
        return

    def handler(signum, frame):
        raise _Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def ends_on_sigterm():
    """Run the block so that SIGTERM unwinds it first (its ``finally`` blocks and context managers run: temp files
    removed, worker processes ended and waited for), then ends the process as SIGTERM does. Nested atomic writes
    re-deliver the signal here after removing their temp files."""
    try:
        with _sigterm_unwinds():
            yield
    except _Terminated:
        signal.raise_signal(signal.SIGTERM)
        raise InterruptedError(errno.EINTR, "interrupted by SIGTERM") from None


class StagedOutputs:
    """Outputs that describe a change and are put in place only once it is committed (`taxonomy migrate`'s review
    queue, after the labeled set's commit). Inside :meth:`staging`, :func:`atomic_write_bytes` writes each file whole
    into its temp file beside it (``.NAME.<pid>-<random>.tmp``: a full disk or a folder that cannot be written stops
    the command before the change) and leaves it there; :meth:`publish` then renames them into place, and
    :meth:`discard` removes them when the change was not made. A temp file a killed process left is removed by the next
    write of that output, as any other."""

    def __init__(self) -> None:
        self.files: list[tuple[Path, Path]] = []  # (temp file, output)

    @contextmanager
    def staging(self):
        token = _STAGED.set(self)
        try:
            yield self
        finally:
            _STAGED.reset(token)

    def publish(self) -> None:
        """Rename each staged file into place; an OSError leaves the ones not yet renamed in ``files``."""
        while self.files:
            tmp, target = self.files[0]
            os.replace(tmp, target)
            self.files.pop(0)

    def discard(self) -> None:
        for tmp, _ in self.files:
            tmp.unlink(missing_ok=True)
        self.files.clear()


_STAGED: contextvars.ContextVar[StagedOutputs | None] = contextvars.ContextVar("fundclass_staged", default=None)


def write_synced(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and wait until the disk holds it (fsync): a commit's journal must be on disk before
    the first file it names is renamed into place, or a power cut could leave a half-replaced pair with no journal."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sync_folder(folder: str | Path) -> None:
    """Wait until the disk holds ``folder``'s entries (the names renames gave, a journal's name): fsync of the folder,
    where the system allows it (POSIX; Windows opens no folder as a file, and its renames are the file system's; a
    file system that refuses a folder's fsync, as some network mounts do, is left to its own order)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:  # a file system that syncs no folder (some network and FUSE mounts): its renames stand
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EPERM):
            raise


def atomic_write_bytes(path: str | Path, writer) -> None:
    """Call ``writer(tmp_path)`` then rename onto ``path``: readers never see a half-written file.

    The temp file is removed when the writer fails, and when SIGTERM arrives meanwhile (the signal is then delivered
    again to the handler that was in place, by default ending the process as SIGTERM does). Temp files that earlier
    interrupted writes of ``path`` left (kill -9, a crash) are removed first.
    """
    target = Path(path)
    remove_stale_temps(target)
    staged = _STAGED.get()
    try:
        with _sigterm_unwinds():
            tmp = _atomic_target(target)
            try:
                writer(tmp)
                if staged is None:
                    os.replace(tmp, target)
                else:  # complete in its temp file, put in place by the caller's StagedOutputs.publish
                    staged.files.append((tmp, target))
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
    except _Terminated:
        signal.raise_signal(signal.SIGTERM)
        raise InterruptedError(errno.EINTR, "interrupted by SIGTERM; nothing written", str(target)) from None


def check_output(path: str | Path) -> list[Path]:
    """Before any work: check that ``path`` can be written (its folder, or the nearest existing folder above it,
    takes a new file) and remove temp files that interrupted writes of it left. Returns the files removed.

    Raises
    ------
    InputError
        naming the folder and the cause (read-only, no permission, not a folder).
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{path}: is a folder; name an output file")
    check_writable_folder(target.parent, f"{path}: cannot write the output in", "choose another output folder")
    return remove_stale_temps(target)


def check_writable_folder(folder: str | Path, what: str, fix: str) -> None:
    """Raise :class:`InputError` ("<what> <folder> (<cause>); <fix>") unless a file can be made in ``folder`` (or,
    when it does not exist yet, in the nearest existing folder above it, where it would be created)."""
    probe = Path(folder) if str(folder) else Path(".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{what} {folder} ({probe} is not a folder); {fix}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{PROBE}.{os.getpid()}-", suffix=".tmp", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"{what} {probe} ({exc.strerror or exc}); {fix}") from exc
    # the empty probe a command killed between its two calls above left (a process that ended, or in the name before
    # the pid was in it, ``.fundclass-probe-<8 random>.tmp``, untouched for ten minutes): it would stay for good
    for t in stale_temps(probe / PROBE):
        _unlink_quietly(t)
    for e in probe.glob(".fundclass-probe-*.tmp"):
        try:
            if re.fullmatch(r"\.fundclass-probe-[a-z0-9_]{8}\.tmp", e.name) and e.is_file() and \
                    time.time() - e.stat().st_mtime > STALE_LEGACY_SECONDS:
                e.unlink()
        except OSError:
            pass


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:  # gone already, or a folder this user may only read: nothing to do
        pass


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_BLOCK_ROWS = 5000
_FORMULA_CELL = re.compile("\n[=+\\-@\t\r]")  # a cell beginning as in _FORMULA_START, in a column joined by LF
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?")


def neutralize(text: str) -> str:
    r"""``text`` with a ``'`` in front when a spreadsheet would run it as a formula (it begins with = + - @, TAB or
    CR and is not a number): Excel then shows the text and runs nothing. Numbers such as -1.5 stay as they are.

    >>> [neutralize(t) for t in ("=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)", "-1.5", "+3", "-", "华夏", "\tx")]
    ["'=1+1", "'+cmd|' /C calc'!A0", "'@SUM(A1)", '-1.5', '+3', "'-", '华夏', "'\tx"]
    """
    return "'" + text if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text) else text


def unneutralize(text: str) -> str:
    r"""Undo :func:`neutralize`: ``text`` without its leading ``'`` when that is the ``'`` neutralize puts there
    (``text`` is ``'`` + t with ``neutralize(t) == text``); any other text as it is.

    >>> [unneutralize(t) for t in ("'=1+1", "'+cmd", "'-", "'\tx", "'-1.5", "''=x", "'华夏", "=1+1", "'")]
    ['=1+1', '+cmd', '-', '\tx', "'-1.5", "''=x", "'华夏", '=1+1', "'"]
    """
    return text[1:] if text.startswith("'") and neutralize(text[1:]) == text else text


_NEUTRALIZED_CELL = re.compile("\n'[=+\\-@\t\r]")  # a cell neutralize may have written, in a column joined by LF


def unneutralize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (all text, as :func:`read_table` returns) with :func:`unneutralize` applied to every cell and column
    name; only columns that hold a candidate are copied and checked cell by cell."""
    out = frame
    names = [str(c) for c in frame.columns]
    if _NEUTRALIZED_CELL.search("\n" + "\n".join(names)):
        out = frame.set_axis([unneutralize(c) for c in names], axis=1)
    for j in range(frame.shape[1]):
        values = frame.iloc[:, j].tolist()
        try:
            joined = "\n".join(values)  # read_table's cells are all text
        except TypeError:
            joined = "\n".join(map(str, values))
        if not _NEUTRALIZED_CELL.search("\n" + joined):
            continue
        if out is frame:
            out = frame.copy()
        out.isetitem(j, pd.Series([unneutralize(v) if isinstance(v, str) else v for v in values], index=frame.index,
                                  dtype=object))
    return out


def read_output(path: str | Path, sheet: str | None = None, chooser: SheetChooser | None = None) -> Table:
    """Read back a table this tool wrote (a tagged file, a review sheet): :func:`read_table` (``sheet``: the worksheet
    of a workbook, and ``chooser``, as there), and for a CSV every cell
    that :func:`neutralize` gave a ``'`` loses it again (see :func:`unneutralize`), so that ``=SUM(A1)`` written as
    ``'=SUM(A1)`` comes back as ``=SUM(A1)``. XLSX and Parquet outputs hold every cell as it is and are not changed.

    Not for a user's input file (``fundclass tag``), whose cells come out exactly as they went in.
    """
    table = read_table(path, sheet, chooser)
    if Path(path).suffix.lower() in CSV_SUFFIXES or not Path(path).suffix:
        table.frame = unneutralize_frame(table.frame)
    return table


_BOOL_TEXTS = np.array(["False", "True"], dtype=object)


def _cell_texts(column: pd.Series) -> list[str]:
    """A column's cells as text: missing values (None, NaN) empty, others ``str(v)``. A text column comes out of
    Arrow in one step (``pd.NA`` of a ``string`` column reads as ``str(pd.NA)``, as cell by cell)."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        return column.to_numpy(dtype=object, na_value="<NA>" if dtype.na_value is pd.NA else "").tolist()
    if dtype == np.float64:  # numbers (the output's confidence): each distinct value's text made once
        bits = np.ascontiguousarray(column.to_numpy()).view(np.int64)  # -0.0 apart from 0.0, as str() keeps it
        distinct, back = np.unique(bits, return_inverse=True)
        made = np.array(["" if v != v else str(v) for v in distinct.view(np.float64).tolist()], dtype=object)
        return made[back].tolist()
    if dtype == np.bool_:
        return _BOOL_TEXTS[column.to_numpy().view(np.uint8)].tolist()
    values = column.tolist()
    if set(map(type, values)) <= {str}:  # text in an object column (the output's own columns)
        return values
    return ["" if v is None or (isinstance(v, float) and v != v) else v if isinstance(v, str) else str(v)
            for v in values]


def csv_text(frame: pd.DataFrame, sep: str = ",", neutralize_formulas: bool = False, header: bool = True,
             line_end: str = "\n") -> str:
    r"""``frame`` as RFC 4180 CSV text with LF line ends (``line_end="\r\n"``: CRLF, as Excel on Windows saves CSV),
    header first, no index.

    A cell is quoted when it holds the separator, a quote, LF **or CR** (pandas' writer leaves a lone CR bare, and
    every reader then splits the row there). Otherwise the text is what ``DataFrame.to_csv`` writes, so files written
    before read and write back byte for byte. ``neutralize_formulas`` puts a ``'`` before every cell a spreadsheet
    would run as a formula (see :func:`neutralize`), for files people open in Excel. ``header=False``: the rows
    alone (a later part of a file written in parts). ``line_end`` ends the rows only; a line break inside a cell is
    kept as it is (quoted).

    >>> csv_text(pd.DataFrame({"a": ["x\ry", 'a "b" c'], "b": ["1", ""]}))
    'a,b\n"x\ry",1\n"a ""b"" c",\n'
    >>> csv_text(pd.DataFrame({"a": ["x\ny"], "b": ["1"]}), line_end="\r\n")
    'a,b\r\n"x\ny",1\r\n'
    >>> csv_text(pd.DataFrame({"a": ["=1+1"], "b": [-1.5]}), neutralize_formulas=True)
    "a,b\n'=1+1,-1.5\n"
    """
    return "".join(csv_blocks(frame, sep, neutralize_formulas, header, line_end))


def csv_blocks(frame: pd.DataFrame, sep: str = ",", neutralize_formulas: bool = False, header: bool = True,
               line_end: str = "\n"):
    """:func:`csv_text` of ``frame`` in pieces (the header line, then up to ``CSV_BLOCK_ROWS`` rows each, every piece
    ending with its line end): only one piece's cells are Python strings at a time."""
    def quoted(t: str) -> bool:  # the separator, a quote, CR or LF: four scans of the text, each at memchr speed
        return sep in t or '"' in t or "\r" in t or "\n" in t

    def cells(out: list[str]) -> list[str]:
        """One column's cells (see :func:`_cell_texts`) as CSV text; the per-cell checks run only on columns that
        need them."""
        # the column joined once by LF: a cell begins like a formula where LF is followed by one of their characters
        # (the first cell: where it begins with one), and a cell holds a LF where the text holds more than the LFs
        # put between the cells
        joined = "\n".join(out)
        if neutralize_formulas and ((out and out[0].startswith(_FORMULA_START)) or _FORMULA_CELL.search(joined)):
            out = [neutralize(t) if t.startswith(_FORMULA_START) else t for t in out]
            joined = "\n".join(out)
        if '"' in joined or "\r" in joined or joined.count("\n") > len(out) - 1 or (sep != "\n" and sep in joined):
            out = ['"' + t.replace('"', '""') + '"' if quoted(t) else t for t in out]
        return out

    if header:
        yield sep.join(cells(_cell_texts(pd.Series(frame.columns, dtype=object)))) + line_end
    for s in range(0, len(frame), CSV_BLOCK_ROWS):
        block = frame.iloc[s:s + CSV_BLOCK_ROWS]
        yield line_end.join(map(sep.join, zip(*(cells(_cell_texts(block.iloc[:, j]))
                                                for j in range(block.shape[1]))))) + line_end


def write_csv(frame: pd.DataFrame, path: str | Path, sep: str = ",", bom: bool = False,
              neutralize_formulas: bool = False) -> None:
    """Write ``frame`` as CSV (see :func:`csv_text`) atomically; ``bom`` marks UTF-8 for Excel."""
    data = csv_text(frame, sep, neutralize_formulas).encode("utf-8-sig" if bom else "utf-8")
    atomic_write_bytes(path, lambda t: Path(t).write_bytes(data))


def write_bytes_parts(parts, path: str | Path, bom: bool = False) -> None:
    """Write the byte strings of the iterable ``parts`` one after the other as one file, atomically: only one part is
    in memory at a time, and nothing replaces ``path`` unless every part came through. ``bom``: begin with UTF-8's
    byte-order mark (CSV for Excel; the parts are :func:`csv_text` of frames, the first with its header)."""
    def _write(t: Path) -> None:
        with open(t, "wb") as f:
            if bom:
                f.write(b"\xef\xbb\xbf")
            for part in parts:
                f.write(part)
    atomic_write_bytes(path, _write)


def check_not_input(output: str | Path, *inputs: str | Path | None) -> None:
    """Refuse to write ``output`` over one of ``inputs`` (also through a symlink, a hard link or ``..``)."""
    out = Path(output)
    for i in inputs:
        if i is None:
            continue
        src = Path(i)
        same = out.resolve() == src.resolve()
        if not same and out.exists() and src.exists():
            same = os.path.samefile(out, src)
        if same:
            raise InputError(f"{output}: this would overwrite the input {i}; choose another output file")


def _utf16_units(text: str) -> int:
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF) if len(text) > EXCEL_CELL_MAX // 2 else len(text)


EXCEL_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
SHOWN_CUTS = 5


def xlsx_date():
    """The date an XLSX of this tool records as created and modified: ``$SOURCE_DATE_EPOCH`` (the reproducible-builds
    convention) when set, else 1980-01-01, the date xlsxwriter gives the file's zip members. Not the clock: the same
    rows make the same bytes on every run (the file's own modification time still says when it was written)."""
    from datetime import datetime, timezone

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise InputError(f"SOURCE_DATE_EPOCH={epoch!r}: expected whole seconds since 1970-01-01") from None
    return datetime(1980, 1, 1, tzinfo=timezone.utc)


def excel_writer(path: str | Path) -> pd.ExcelWriter:
    """An XLSX writer that writes every text cell as text (never a formula, URL or number), dated by
    :func:`xlsx_date`. Cut cells over Excel's limit first (:func:`fit_excel_sheets`)."""
    xw = pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": EXCEL_OPTIONS})
    xw.book.set_properties({"created": xlsx_date()})
    return xw


def _cut_utf16(text: str) -> str:
    return text.encode("utf-16-le")[:2 * EXCEL_CELL_MAX].decode("utf-16-le", errors="ignore")


def _fit_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[int, str, int]]]:
    """``frame`` with its text cells and column names over Excel's limit cut, and the cuts as (sheet row, column
    label, characters before), rows counted as in the sheet (the header is row 1)."""
    cut: list[tuple[int, str, int]] = []
    out = frame
    names = list(frame.columns)
    long_names = [j for j, c in enumerate(names) if isinstance(c, str) and _utf16_units(c) > EXCEL_CELL_MAX]
    if long_names:
        for j in long_names:
            cut.append((1, f"{j + 1} (its header)", len(names[j])))
            names[j] = _cut_utf16(names[j])
        out = frame.set_axis(names, axis=1)
    for j in range(frame.shape[1]):
        values = frame.iloc[:, j].to_numpy(dtype=object)
        long = [i for i, v in enumerate(values) if isinstance(v, str) and len(v) > EXCEL_CELL_MAX // 2
                and _utf16_units(v) > EXCEL_CELL_MAX]
        if not long:
            continue
        if out is frame:
            out = frame.copy()
        col = values.copy()
        for i in long:
            cut.append((i + 2, f"'{names[j]}'", len(col[i])))
            col[i] = _cut_utf16(col[i])
        out.isetitem(j, col)
    return out, cut


def fit_excel_sheets(sheets: dict[str, pd.DataFrame], path: str | Path = "") -> tuple[dict[str, pd.DataFrame],
                                                                                      list[str]]:
    """The sheets (name → frame, in order) with every text cell longer than Excel's limit (32,767 UTF-16 units) cut to
    it, and warnings for the user naming the file, sheet, row and column of each cut cell (the first five, then a
    count). Every XLSX this tool writes goes through here: Excel (and xlsxwriter) would cut or refuse them otherwise."""
    fitted: dict[str, pd.DataFrame] = {}
    cuts: list[tuple[str, int, str, int]] = []
    for name, frame in sheets.items():
        fitted[name], cut = _fit_frame(frame)
        cuts += [(name, *c) for c in sorted(cut, key=lambda t: t[0])]
    notes = [f"{path}: sheet '{s[:31]}', row {r}, column {c}: {n:,} characters cut to {EXCEL_CELL_MAX:,}, Excel's "
             f"limit for a cell (write .csv or .parquet to keep it whole)" for s, r, c, n in cuts[:SHOWN_CUTS]]
    if len(cuts) > SHOWN_CUTS:
        notes.append(f"{path}: {len(cuts) - SHOWN_CUTS} more cells cut to {EXCEL_CELL_MAX:,} characters")
    return fitted, notes


def fit_excel_cells(frame: pd.DataFrame, path: str | Path = "", sheet: str = "funds") -> tuple[pd.DataFrame,
                                                                                                list[str]]:
    """One sheet's :func:`fit_excel_sheets`."""
    fitted, notes = fit_excel_sheets({sheet: frame}, path)
    return fitted[sheet], notes


def write_table(frame: pd.DataFrame, path: str | Path, sheet: str = "funds", raw_csv: bool = False,
                typed: pd.DataFrame | None = None, cells: pd.DataFrame | None = None) -> list[str]:
    """Write ``frame`` in the format named by the extension (.csv UTF-8 with BOM for Excel, .xlsx, .parquet); returns
    warnings for the user.

    CSV cells that a spreadsheet would run as formulas (``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM(…)``) get a leading
    ``'`` unless ``raw_csv`` (for programs that read the file). XLSX cells are written as text, never as formulas, so
    a cell such as ``=1+1`` comes back as it went in; a cell over Excel's 32,767 characters is cut, with a warning
    naming its row and column. Parquet: ``typed`` (the input's own typed columns, see :attr:`Table.typed`) replaces
    the first columns of ``frame``, which hold the same values as text, so numbers, dates, booleans and lists keep
    their types. XLSX: the input's numbers, booleans and dates (``cells``, an XLSX input's, else ``typed``, a Parquet
    input's) are written as such in its columns, not as text (a 基金规模 column stays numbers to sum and sort).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    notes: list[str] = []
    if suffix in CSV_SUFFIXES:
        sep = "\t" if suffix == ".tsv" else ","
        write_csv(frame, target, sep=sep, bom=True, neutralize_formulas=not raw_csv)
    elif suffix in EXCEL_SUFFIXES:
        frame, notes = fit_excel_cells(frame, target, sheet)
        frame = _with_natives(frame, cells if cells is not None else typed)

        def _xlsx(t: Path) -> None:
            with excel_writer(t) as xw:
                frame.to_excel(xw, index=False, sheet_name=sheet)
        atomic_write_bytes(target, _xlsx)
    elif suffix in PARQUET_SUFFIXES:
        if frame.columns.duplicated().any():
            dup = sorted(set(frame.columns[frame.columns.duplicated()]))
            raise InputError(f"{target}: Parquet cannot hold duplicate column names {dup}; write .csv or .xlsx")
        if typed is not None and len(typed) == len(frame) and typed.shape[1] <= frame.shape[1]:
            n = typed.shape[1]
            frame = pd.concat([typed.set_axis(frame.columns[:n], axis=1).reset_index(drop=True),
                               frame.iloc[:, n:].reset_index(drop=True)], axis=1)
        atomic_write_bytes(target, lambda t: frame.to_parquet(t, index=False))
    else:
        raise InputError(f"{target}: unsupported output type '{suffix}'; use .csv, .xlsx or .parquet")
    return notes


def is_folder_output(path: str | Path) -> bool:
    """An output path that names a folder: an existing directory, a trailing slash, or no extension."""
    return str(path).endswith(("/", os.sep)) or Path(path).is_dir() or not Path(path).suffix


def output_files(path: str | Path, sheets) -> list[Path]:
    """The files :func:`write_sheets` writes for ``sheets`` at ``path`` (to check none of them is an input)."""
    return [Path(path) / f"{s}.csv" for s in sheets] if is_folder_output(path) else [Path(path)]


def _markdown_cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def write_sheets(sheets: dict[str, pd.DataFrame], path: str | Path, images: dict[str, Path] | None = None,
                 title: str = "", notes: list[str] | None = None) -> tuple[list[Path], list[str]]:
    """Write several tables as one output, chosen by ``path``: ``.xlsx`` (a sheet per table, each image on a sheet of
    its own), ``.md`` (a section per table, images linked), or a folder (``<name>.csv`` per table, UTF-8 with BOM).

    ``images`` maps a name to a PNG already written (beside the output). Every file is written atomically. Returns
    the files written and warnings for the user: an XLSX cell over Excel's 32,767 characters is cut, with a warning
    naming the file, sheet, row and column (see :func:`fit_excel_sheets`).
    """
    images = images or {}
    target = Path(path)
    if is_folder_output(target):
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in sheets.items():
            write_csv(frame, target / f"{name}.csv", bom=True, neutralize_formulas=True)
            written.append(target / f"{name}.csv")
        return written, []
    suffix = target.suffix.lower()
    warnings: list[str] = []
    if suffix in EXCEL_SUFFIXES:
        sheets, warnings = fit_excel_sheets(sheets, target)

        def _xlsx(t: Path) -> None:
            with excel_writer(t) as xw:
                for name, frame in sheets.items():
                    frame.to_excel(xw, index=False, sheet_name=name[:31])
                    ws = xw.sheets[name[:31]]
                    ws.freeze_panes(1, 0)
                    for i, c in enumerate(frame.columns):
                        longest = max([len(str(c))] + [len(str(v)) for v in frame.iloc[:200, i]])
                        ws.set_column(i, i, min(max(8, longest * 1.6), 60))
                for name, png in images.items():
                    ws = xw.book.add_worksheet(name[:31])
                    ws.insert_image(0, 0, str(png), {"object_position": 3})
        atomic_write_bytes(target, _xlsx)
    elif suffix == ".md":
        parts = [f"# {title}", ""] if title else []
        parts += [f"- {n}" for n in (notes or [])] + ([""] if notes else [])
        for name, png in images.items():
            parts += [f"![{name}]({Path(png).name})", ""]
        for name, frame in sheets.items():
            shown = frame.astype(object).map(_markdown_cell) if len(frame) else frame
            parts += [f"## {name}", "", shown.to_markdown(index=False) if len(frame.columns) else "", ""]
        text = "\n".join(parts)
        atomic_write_bytes(target, lambda t: Path(t).write_text(text, encoding="utf-8"))
    else:
        raise InputError(f"{target}: unsupported output type '{suffix}'; use .xlsx, .md or a folder (one CSV per "
                         f"table, e.g. -o {target.with_suffix('')}/)")
    return [target], warnings
