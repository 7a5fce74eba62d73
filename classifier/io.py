"""Read fund tables as users have them (CSV in any Chinese encoding, XLSX, Parquet) and write results atomically.

Every cell is read as text and kept exactly as read (no NaN coercion), so that every input row and column comes back
out unchanged beside the new columns. Errors name the file and, where it applies, the line or column.
"""
from __future__ import annotations

import csv
import io as _io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .columns import header_score
from .errors import InputError

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
MAX_HEADER_SCAN = 10
csv.field_size_limit(64 * 1024 * 1024)  # a 1 MB cell is a bad cell, not a reason to fail the file


@dataclass
class Table:
    """A read table: the frame (all strings), where it came from, and what reading it took."""

    frame: pd.DataFrame
    path: str
    encoding: str = ""
    header_row: int = 0  # 0-based row of the header in the file
    warnings: list[str] = field(default_factory=list)


def _decode(data: bytes, path: str) -> tuple[str, str, list[str]]:
    """Decode bytes line by line: UTF-8 (with or without BOM) first, else GB18030 (a superset of GBK/GB2312)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: starts like UTF-16 but does not decode ({exc.reason} at byte {exc.start})") from exc
    if b"\x00" in data[:65536]:
        raise InputError(f"{path}: binary file (NUL bytes), not a CSV text table; for Excel use .xlsx")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030", []
    except UnicodeDecodeError:
        pass
    out, warnings, used = [], [], set()
    for no, line in enumerate(data.split(b"\n"), start=1):
        for enc in ("utf-8", "gb18030"):
            try:
                out.append(line.decode(enc))
                used.add(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InputError(f"{path}: line {no} is neither UTF-8 nor GBK/GB18030 text; re-export the file as UTF-8")
    if len(used) > 1:
        warnings.append(f"{path}: mixed encodings (UTF-8 and GBK lines); each line was decoded on its own")
    return "\n".join(out), "+".join(sorted(used)), warnings


def _frame_from_rows(rows: list[list[str]], path: str) -> tuple[pd.DataFrame, int]:
    rows = [r for r in rows]
    if not rows or all(not any(c.strip() for c in r) for r in rows):
        raise InputError(f"{path}: empty file (no header, no rows)")
    scan = rows[:MAX_HEADER_SCAN]
    scores = [header_score(r) for r in scan]
    hdr = max(range(len(scan)), key=lambda i: (scores[i], -i)) if max(scores) > 0 else 0
    header = [str(c) for c in rows[hdr]]
    width = max(len(header), max((len(r) for r in rows[hdr + 1:]), default=0))
    header += [f"column_{i + 1}" for i in range(len(header), width)]
    body = [list(r) + [""] * (width - len(r)) for r in rows[hdr + 1:]]
    frame = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header, dtype=object)
    return frame, hdr


def read_table(path: str | Path) -> Table:
    """Read CSV/TSV (UTF-8, UTF-8-BOM, GBK/GB18030, mixed), XLSX or Parquet into a :class:`Table` of strings.

    A title row above the header (as in merged-header Excel exports) is skipped: the header is the row among the
    first ten with the most known column aliases.
    """
    p = Path(path)
    sp = str(p)
    if not p.exists():
        raise InputError(f"{sp}: no such file")
    if p.is_dir():
        raise InputError(f"{sp}: is a directory, not a table file")
    suffix = p.suffix.lower()
    try:
        if suffix in EXCEL_SUFFIXES:
            return _read_excel(p)
        if suffix in PARQUET_SUFFIXES:
            frame = pd.read_parquet(p)
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
            return Table(frame, sp, "parquet")
        if suffix not in CSV_SUFFIXES and suffix:
            raise InputError(f"{sp}: unsupported file type '{suffix}'; use .csv, .xlsx or .parquet")
        data = p.read_bytes()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 — any reader failure becomes one clear message
        raise InputError(f"{sp}: cannot read as {suffix.lstrip('.') or 'csv'}: {exc}") from exc
    if not data.strip():
        raise InputError(f"{sp}: empty file (no header, no rows)")
    text, enc, warnings = _decode(data, sp)
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        delim = dialect.delimiter
    except csv.Error:
        delim = "\t" if suffix == ".tsv" else ","
    try:
        rows = list(csv.reader(_io.StringIO(text, newline=""), delimiter=delim))
    except csv.Error as exc:
        raise InputError(f"{sp}: malformed CSV: {exc}") from exc
    frame, hdr = _frame_from_rows(rows, sp)
    return Table(frame, sp, enc, hdr, warnings)


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape_ooxml(text: str) -> str:
    """XLSX stores control characters such as CR as ``_x000D_``; openpyxl's read-only mode leaves them escaped."""
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _read_excel(p: Path) -> Table:
    import openpyxl

    try:
        values = openpyxl.load_workbook(p, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(p, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{p}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    rows = []
    # a formula cell keeps its cached value; a workbook written by a script has none, so the formula text is kept
    for vr, fr in zip(values.worksheets[0].iter_rows(values_only=True),
                      formulas.worksheets[0].iter_rows(values_only=True)):
        rows.append(["" if (v is None and f is None) else _unescape_ooxml(str(f if v is None else v))
                     for v, f in zip(vr, fr)])
    values.close()
    formulas.close()
    frame, hdr = _frame_from_rows(rows, str(p))
    warnings = [f"{p}: header found on row {hdr + 1} (rows above it skipped)"] if hdr else []
    return Table(frame, str(p), "xlsx", hdr, warnings)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_target(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; a written file gets the usual mode
    return Path(tmp)


def atomic_write_bytes(path: str | Path, writer) -> None:
    """Call ``writer(tmp_path)`` then rename onto ``path``: readers never see a half-written file."""
    target = Path(path)
    tmp = _atomic_target(target)
    try:
        writer(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def csv_text(frame: pd.DataFrame, sep: str = ",") -> str:
    r"""``frame`` as RFC 4180 CSV text with LF line ends, header first, no index.

    A cell is quoted when it holds the separator, a quote, LF **or CR** (pandas' writer leaves a lone CR bare, and
    every reader then splits the row there). Otherwise the text is what ``DataFrame.to_csv`` writes, so files written
    before read and write back byte for byte.

    >>> csv_text(pd.DataFrame({"a": ["x\ry", 'a "b" c'], "b": ["1", ""]}))
    'a,b\n"x\ry",1\n"a ""b"" c",\n'
    """
    special = re.compile("[" + re.escape(sep) + '"\r\n]')

    def cell(v) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return ""
        t = str(v)
        return '"' + t.replace('"', '""') + '"' if special.search(t) else t

    lines = [sep.join(cell(c) for c in frame.columns)]
    for row in frame.itertuples(index=False, name=None):
        lines.append(sep.join(cell(v) for v in row))
    return "\n".join(lines) + "\n"


def write_csv(frame: pd.DataFrame, path: str | Path, sep: str = ",", bom: bool = False) -> None:
    """Write ``frame`` as CSV (see :func:`csv_text`) atomically; ``bom`` marks UTF-8 for Excel."""
    data = csv_text(frame, sep).encode("utf-8-sig" if bom else "utf-8")
    atomic_write_bytes(path, lambda t: Path(t).write_bytes(data))


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


def write_table(frame: pd.DataFrame, path: str | Path, sheet: str = "funds") -> None:
    """Write ``frame`` in the format named by the extension (.csv UTF-8 with BOM for Excel, .xlsx, .parquet).

    XLSX cells are written as text, never as formulas, so a cell such as ``=1+1`` comes back as it went in.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in CSV_SUFFIXES:
        sep = "\t" if suffix == ".tsv" else ","
        write_csv(frame, target, sep=sep, bom=True)
    elif suffix in EXCEL_SUFFIXES:
        def _xlsx(t: Path) -> None:
            with pd.ExcelWriter(t, engine="xlsxwriter",
                                engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False,
                                                           "strings_to_numbers": False}}) as xw:
                frame.to_excel(xw, index=False, sheet_name=sheet)
        atomic_write_bytes(target, _xlsx)
    elif suffix in PARQUET_SUFFIXES:
        if frame.columns.duplicated().any():
            dup = sorted(set(frame.columns[frame.columns.duplicated()]))
            raise InputError(f"{target}: Parquet cannot hold duplicate column names {dup}; write .csv or .xlsx")
        atomic_write_bytes(target, lambda t: frame.to_parquet(t, index=False))
    else:
        raise InputError(f"{target}: unsupported output type '{suffix}'; use .csv, .xlsx or .parquet")


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
                 title: str = "", notes: list[str] | None = None) -> list[Path]:
    """Write several tables as one output, chosen by ``path``: ``.xlsx`` (a sheet per table, each image on a sheet of
    its own), ``.md`` (a section per table, images linked), or a folder (``<name>.csv`` per table, UTF-8 with BOM).

    ``images`` maps a name to a PNG already written (beside the output). Every file is written atomically. Returns
    the files written.
    """
    images = images or {}
    target = Path(path)
    if is_folder_output(target):
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in sheets.items():
            write_csv(frame, target / f"{name}.csv", bom=True)
            written.append(target / f"{name}.csv")
        return written
    suffix = target.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        def _xlsx(t: Path) -> None:
            with pd.ExcelWriter(t, engine="xlsxwriter",
                                engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False,
                                                           "strings_to_numbers": False}}) as xw:
                for name, frame in sheets.items():
                    frame.to_excel(xw, index=False, sheet_name=name[:31])
                    ws = xw.sheets[name[:31]]
                    ws.freeze_panes(1, 0)
                    for i, c in enumerate(frame.columns):
                        longest = max([len(str(c))] + [len(str(v)) for v in frame[c].head(200)])
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
    return [target]
