"""The labeled set (``labels.csv`` with ``history.csv`` beside it): schema, reading, transactions and the audit.

This module is the one owner of the labeled set. Every change (review import, taxonomy migration) goes through
:func:`change_labels`, one transaction: take the set's lock (``filelock``: portable, and a process that dies releases
it), finish any commit an earlier crash interrupted, re-read both files, let the caller validate and compute the
change (an error there writes nothing), then write labels and history together, and with them any other file of the
set's folder the change rewrites (a taxonomy migration: the blind reads, ``agreement.csv``), in the same commit.

Why CSV files and not SQLite: the labeled set is the team's reviewable, diffable record, versioned in git and read by
training; a database beside it would be a second copy that can drift. What SQLite would add (an all-or-nothing
commit of two tables) is done here with a journal: the new files are written and synced under temporary names, a
small journal naming them is written atomically, then each is renamed and the journal removed. A crash before the
journal leaves the old files; after it, the next reader (of the labels, or of ``agreement.csv``) rolls the renames
forward and sees the new ones. History is append-only: its old bytes are kept as they are and the new rows added
after them. Each file keeps its own line end and byte-order mark (a set saved by Excel on Windows has CRLF), so a row
no change touched keeps its bytes.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO, StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from .agreement import AGREEMENT_FILE
from .errors import ChangeRecovered, InputError
from .io import atomic_write_bytes, csv_text, stale_temps, sync_folder, write_synced
from .text import blank_rows, code6_column, counted
from .taxonomy import Taxonomy
from .config import default_path, shipped_path
from .workspace import data_path

LABEL_COLUMNS = ["fund_code", "fund_name", "full_name", "index_code", "index_name", "fund_type", "primary",
                 "secondary", "source", "propagated_from", "labeled_by", "labeled_at", "taxonomy_version", "group",
                 "note"]
# old_note, then old_propagated_from came last, after the first histories were written: a history without them keeps
# its rows, its header gains them (see _commit)
HISTORY_COLUMNS = ["fund_code", "old_primary", "old_secondary", "old_source", "old_labeled_by", "old_labeled_at",
                   "old_taxonomy_version", "new_secondary", "changed_by", "changed_at", "reason", "old_note",
                   "old_propagated_from"]
ID_COLUMNS = LABEL_COLUMNS[:6]  # what identifies a labeled fund: the columns training and rule reports prepare
SOURCES = {"report", "hand", "review", "propagated", "migrated"}
MIGRATION_BY = "migration"  # history's changed_by (and labeled_by) of what `taxonomy migrate` changed
SHIPPED_LABELS = shipped_path("labeled")  # the labeled set shipped with the tool (defaults.toml [paths])
HOLDOUT_DIR = "holdout"  # data/holdout: the blind evaluation set, which no labeled-set reader accepts
LOCK_TIMEOUT = 120.0  # seconds a change waits for another one before it fails loudly
BOM = codecs.BOM_UTF8
# why a file of the labeled set could not be replaced (PermissionError): on Windows, another program holds it open
OPEN_ELSEWHERE = "it is open in another program (Excel or WPS keeps a file locked while it is open)"


def migrated_note(secondary: str, source: str) -> str:
    """The note of a row `taxonomy migrate` moved to a renamed or merged class (``secondary``: its class before)."""
    return f"was {secondary} ({source})"


def default_labels() -> Path:
    """The labeled set a command reads by default: the workspace's, else the one shipped with the tool."""
    return data_path(default_path("labeled"))


def _csv(path: Path, what: str) -> pd.DataFrame:
    """The CSV file at ``path``, every cell as text, in its encoding (UTF-8, or GBK as Excel on a Chinese Windows
    saves a CSV: :func:`_encoding`). Its bytes are read each time; bytes parsed before in this process are not parsed
    again (a copy of that frame is returned): a review import reads the set, then the tagging that follows reads the
    set the import wrote, and a notebook loads a Tagger many times (~40 ms per parse of the shipped set, ~0.5 ms to
    read and hash its bytes)."""
    try:
        data = Path(path).read_bytes()
        enc = _encoding(data)
        encoding = "utf-8-sig" if enc == "utf-8" else enc
        key = (encoding, hashlib.sha256(data).digest())
        frame = _PARSED.get(key)
        if frame is None:
            frame = pd.read_csv(BytesIO(data), dtype=str, keep_default_na=False, encoding=encoding)
            if len(_PARSED) >= 8:
                _PARSED.pop(next(iter(_PARSED)))
            _PARSED[key] = frame
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read {what}: {exc}") from exc
    return frame.copy()


_PARSED: dict[tuple[str, bytes], pd.DataFrame] = {}  # (encoding, sha256 of a file's bytes) -> the frame read from them


def read_labels(path: str | Path | None = None) -> pd.DataFrame:
    return _read_labels(path)[0]


def _read_labels(path: str | Path | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The labeled set with six-digit fund codes, and the codes as the file writes them (a change writes a row it did
    not touch back with its own: :func:`_commit`)."""
    p = Path(path) if path else default_labels()
    if HOLDOUT_DIR in p.resolve().parts:
        raise InputError(f"{p}: this is the blind holdout; it is never used to train, tune or write rules — "
                         f"evaluate on it with scripts/eval_holdout.py")
    settle(p)
    df = _csv(p, "labeled set")
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{p}: labeled set lacks columns {missing}")
    check_no_blank_rows(df, p)
    # a set opened and saved in Excel holds its codes as numbers, without their leading zeros (004433 → 4433), and a
    # code typed in by hand may carry its exchange (510300.SH, sh510300): they are that fund's, which every reader
    # (tagging's decisions by code, the next import's row of the fund) needs as its six digits (text.code6_column); a
    # cell holding no fund code stays as it is (the audit names it)
    written = df["fund_code"].copy()
    six = code6_column(written)
    other = (six != "") & (six != written)
    if other.any():
        df.loc[other, "fund_code"] = six[other]
    return df, written


def check_no_blank_rows(labels: pd.DataFrame, path: str | Path) -> None:
    """Refuse a labeled set holding a blank row (every cell empty: Excel writes ``,,,,,,`` for a row whose cells were
    cleared rather than deleted), naming the file and its rows. It is no fund, yet every reader would count it as one
    (an error of "secondary ''", a fund with no code); skipping it would let the next change drop it from the file
    without a word. The user deletes it: one answer, here, for every command that reads the set."""
    blank = blank_rows(labels)
    if blank.any():
        rows = [int(i) + 2 for i in labels.index[blank]]
        shown = ", ".join(str(r) for r in rows[:10]) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
        raise InputError(f"{path}: {'row' if len(rows) == 1 else 'rows'} {shown} "
                         f"{'is' if len(rows) == 1 else 'are'} blank (every cell empty, as Excel saves a row whose "
                         f"cells were cleared): delete {'it' if len(rows) == 1 else 'them'} (the whole row), nothing "
                         f"done")


def check_classes(labels: pd.DataFrame, path: str | Path, tax: Taxonomy) -> None:
    """Refuse a labeled set ``tax`` cannot be trained on, naming the file, the rows and the column: labels of another
    taxonomy version (a set migrated since, or another taxonomy's), or a ``secondary`` that is not one of its classes
    (a class typed by hand, in Excel, with a trailing space or full-width brackets). Training would otherwise stop on
    an internal error deep in the model, or fit a set the taxonomy does not describe."""
    versions = sorted(set(labels["taxonomy_version"].astype(str).str.strip()) - {""})
    if versions and versions != [tax.version]:
        raise InputError(f"{path}: holds labels of taxonomy {', '.join(versions)} (column taxonomy_version), not "
                         f"{tax.version}; pass {_taxonomy_of(versions)}, nothing done")
    bad = ~labels["secondary"].isin(tax.labels)
    if bad.any():
        folded = {_folded(lab): lab for lab in tax.labels}
        rows = [f"row {int(i) + 2} ({labels.at[i, 'fund_code']}): {labels.at[i, 'secondary']!r}"
                + (f" (did you mean {folded[_folded(labels.at[i, 'secondary'])]!r}?)"
                   if _folded(labels.at[i, "secondary"]) in folded else "")
                for i in labels.index[bad][:10]]
        raise InputError(f"{path}: column 'secondary' holds {int(bad.sum())} label(s) that are not classes of "
                         f"{tax.version}: " + "; ".join(rows) + (" …" if bad.sum() > 10 else "")
                         + "; correct them (`fundclass labels audit` lists every problem), nothing done")


def _taxonomy_of(versions: list[str]) -> str:
    """What to pass for a labeled set of ``versions``: the --taxonomy file of its version when one is known (shipped,
    or recorded by `taxonomy migrate` in the workspace's configuration), else the --taxonomy it was labeled for."""
    from .taxonomy import file_of_version

    found = file_of_version(versions)
    return f"--taxonomy {found}" if found else "the --taxonomy the set was labeled (or migrated) for"


def migrated_from(labels_path: str | Path) -> set[str]:
    """The taxonomy versions the labeled set at ``labels_path`` was migrated from (its history's migration rows)."""
    h = read_history(labels_path)
    if not {"changed_by", "old_taxonomy_version"} <= set(h.columns):
        return set()
    return set(h.loc[h["changed_by"] == MIGRATION_BY, "old_taxonomy_version"]) - {""}


def _folded(text: str) -> str:
    """A label as typed by hand compared with the taxonomy's: NFKC (full-width brackets, letters and spaces as ASCII),
    no whitespace nor character that prints nothing (a zero-width space, a byte-order mark: Unicode's format
    characters, pasted with a class copied from a web page or a chat), case folded."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"\s+", "", "".join(ch for ch in text if unicodedata.category(ch) != "Cf")).casefold()


def write_labels(df: pd.DataFrame, path: str | Path) -> None:
    """Write a whole new labeled set (the data builds in ``scripts/``); changes to an existing one use
    :func:`change_labels`."""
    data = csv_text(df[LABEL_COLUMNS]).encode("utf-8")
    atomic_write_bytes(path, lambda t: Path(t).write_bytes(data))


def history_path(labels_path: str | Path) -> Path:
    return Path(labels_path).with_name("history.csv")


def labels_version(path: str | Path) -> str:
    """The taxonomy version of a labeled set's first row ('' when it has none or cannot be read). Remembered per
    state of the file (its inode, size and modification time): `fundclass tag` asks three times of one set (which
    model and set go with the taxonomy, then the model's check), and each read decoded the whole set (~5 ms)."""
    try:
        p = Path(path)
        st = p.stat()
        key = (str(p.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in _VERSIONS:
            return _VERSIONS[key]
        data = p.read_bytes()
        try:  # decoded once: UTF-8 (the BOM dropped) when the whole file is UTF-8, else GB18030 (see _encoding)
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        row = next(csv.DictReader(StringIO(text, newline="")), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return ""
    if len(_VERSIONS) >= 8:
        _VERSIONS.pop(next(iter(_VERSIONS)))
    version = _VERSIONS[key] = (row or {}).get("taxonomy_version") or ""
    return version


_VERSIONS: dict[tuple, str] = {}  # (path, device, inode, size, mtime) of a labeled set -> its first row's version


def migration_pending(labels_path: str | Path, labeled: set[str]) -> list[str]:
    """The funds the latest taxonomy migration took out of the labeled set for review (history: changed by the
    migration, no new class) that are not in ``labeled``: those its review queue, the one a review import of the set's
    version accepts, still holds undecided. A fund an earlier migration queued is not pending once a later migration
    ran (`taxonomy migrate` refuses to run while funds are pending unless told to leave them out of the set,
    :func:`classifier.taxonomy_change.migrate`; their queue, of an earlier version, is no longer imported). Read-only:
    a history Excel saved in GBK is read too, and its codes as six digits, as :func:`read_labels` reads the set's."""
    return sorted(latest_migration_queued(read_history(labels_path)) - labeled)


def latest_migration_queued(h: pd.DataFrame) -> set[str]:
    """The funds the latest taxonomy migration in history ``h`` (the set's history.csv) took out of the labeled set
    for its review queue (changed by the migration, no new class): the only migration queue a review import of the
    set's version still accepts. A fund an earlier migration queued is not among them."""
    if not {"fund_code", "new_secondary", "changed_by"} <= set(h.columns):
        return set()
    mig = (h["changed_by"] == MIGRATION_BY).to_numpy()
    # a row of no fund is the migration itself (taxonomy_change._plan), written before the rows of its funds: the
    # latest migration's rows follow its last one (a history from before such rows: every migration row)
    heads = (mig & (h["fund_code"] == "").to_numpy()).nonzero()[0]
    after = np.arange(len(h)) >= (heads[-1] if len(heads) else 0)
    return set(h.loc[mig & after & (h["new_secondary"] == "").to_numpy() & (h["fund_code"] != "").to_numpy(),
                     "fund_code"])


def carried_sources(labels: pd.DataFrame, history: pd.DataFrame) -> pd.Series:
    """Each row's ``source``, but for a ``migrated`` row the source of the label it carries: the one it had before the
    taxonomy migration(s) that moved its class (``hand``, ``propagated``, ``report``), read from ``history`` (the set's
    history.csv: each migration's row of the fund, its new class and date, :func:`classifier.taxonomy_change._plan`),
    through every migration since; ``migrated`` when history.csv does not hold it. A row a migration renamed moves, is
    restored and is audited as the label it carries: a hand row stays a hand row of the set, a report example one of
    the report's."""
    out = labels["source"].astype(str).copy()
    migrated = (out == "migrated").to_numpy()
    if not migrated.any() or history is None or history.empty:
        return out
    h = history.reindex(columns=HISTORY_COLUMNS).fillna("").astype(str)
    h = h[(h["changed_by"] == MIGRATION_BY) & (h["new_secondary"] != "")]
    # (fund, class it became, date of the migration) → its label before: the last such row (a later one replaces it)
    before = {(c, n, at): (s, o, by, oat) for c, n, at, s, o, by, oat in zip(
        h["fund_code"], h["new_secondary"], h["changed_at"], h["old_source"], h["old_secondary"], h["old_labeled_by"],
        h["old_labeled_at"])}
    for i in out.index[migrated]:
        state = (labels.at[i, "fund_code"], labels.at[i, "secondary"], labels.at[i, "labeled_at"])
        src, by = "migrated", labels.at[i, "labeled_by"]
        for _ in range(len(before) + 1):  # each step goes back one migration (a loop in a hand-edited history ends)
            if src != "migrated" or by != MIGRATION_BY or state not in before:
                break
            src, old, by, at = before[state]
            state = (state[0], old, at)
        out.at[i] = src
    return out


def read_history(labels_path: str | Path) -> pd.DataFrame:
    """The labeled set's ``history.csv`` (read-only; empty without one), in its encoding (a history Excel saved in
    GBK too), its codes as six digits, as :func:`read_labels` reads the set's."""
    hp = history_path(labels_path)
    if not hp.exists() or not hp.stat().st_size:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    h = _csv(hp, "review history")
    if "fund_code" in h.columns:
        code = h["fund_code"].str.strip()
        six = code6_column(code)
        h["fund_code"] = code.where(six == "", six)
    return h


def _journal(labels_path: Path) -> Path:
    return labels_path.with_name(f".{labels_path.name}.journal")


def settle(labels_path: str | Path) -> None:
    """Finish a commit to the labeled set at ``labels_path`` that a crash interrupted (its journal is there), before
    anyone reads a half-changed set: labels, history or ``agreement.csv``."""
    p = Path(labels_path)
    if _journal(p).exists():
        with _locked(p):
            _recover(p)
        return
    # no commit to finish: the files a change staged and never committed (killed before its journal was in place, the
    # journal's own temp file too) are removed once its process has ended (their names carry its pid: :func:`_staged`),
    # as a model save's are, by any reader; under the set's lock, as a change removes them (a change of another
    # machine sharing the folder holds it meanwhile)
    staged = [_real(p.parent / n) for n in (p.name, "history.csv", AGREEMENT_FILE)] + [_journal(p)]
    if any(stale_temps(f) for f in staged):
        with _locked(p, reading=True) as locked:
            if locked:
                _recover(p)
        return
    _settle_outputs(p)


def _outputs(labels_path: Path) -> Path:
    return labels_path.with_name(f".{labels_path.name}.outputs")


def stage_outputs(labels_path: str | Path, targets: list) -> None:
    """Note in the set's folder, under the set's lock and before they are staged, the files outside the set that
    describe the change being made (a taxonomy migration's review queue and the workspace's configuration: written
    whole beside their places, ``.NAME.<pid>-<random>.tmp``, and put there once the change is committed,
    :class:`classifier.io.StagedOutputs`). A process killed before it put them in place leaves them to the next
    command that reads the set (:func:`_settle_outputs`): put in place when the change was committed, removed when it
    was not. :func:`outputs_placed` removes the note."""
    p = Path(labels_path)
    body = json.dumps({"pid": os.getpid(), "host": _host(), "targets": [str(Path(t).resolve()) for t in targets]}
                      ).encode("utf-8")
    atomic_write_bytes(_outputs(p), lambda t: Path(t).write_bytes(body))


def _host() -> str:
    import socket

    return socket.gethostname()


def outputs_placed(labels_path: str | Path) -> None:
    """The files :func:`stage_outputs` noted are in place (or removed): the note goes."""
    _outputs(Path(labels_path)).unlink(missing_ok=True)


def _note_commit(labels_path: Path, labels_bytes: bytes) -> None:
    """Before a commit's journal: this process's note of outputs (:func:`stage_outputs`) gains the sha256 of the
    labels.csv the commit writes, by which :func:`_settle_outputs` knows the change was committed."""
    note = _outputs(labels_path)
    try:
        d = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(d, dict) and d.get("pid") == os.getpid():
        d["labels_sha256"] = hashlib.sha256(labels_bytes).hexdigest()
        body = json.dumps(d).encode("utf-8")
        atomic_write_bytes(note, lambda t: Path(t).write_bytes(body))


def _settle_outputs(labels_path: Path) -> None:
    """Finish what a change killed before it put its outputs in place left (:func:`stage_outputs`), once its process
    has ended: each file it staged (``.NAME.<pid>-<random>.tmp`` beside its place) is put in place when the change
    was committed (labels.csv holds the bytes the commit wrote: a migration's queue and the workspace's record of its
    taxonomy appear as the migration would have put them), removed when it was not."""
    from .io import _pid_alive

    note = _outputs(labels_path)
    if not note.exists():
        return
    try:
        d = json.loads(note.read_text(encoding="utf-8"))
        pid, targets = int(d["pid"]), [Path(t) for t in d["targets"]]
    except (OSError, ValueError, KeyError, TypeError):
        return
    # a change still running (between its commit and putting its outputs in place), or one of another machine sharing
    # the folder, whose processes this one cannot see: left to it, or to that machine's next command
    if _pid_alive(pid) or d.get("host", _host()) != _host():
        return
    try:
        done = bool(d.get("labels_sha256")) and \
            hashlib.sha256(labels_path.read_bytes()).hexdigest() == d["labels_sha256"]
    except OSError:
        return
    for target in targets:
        for tmp in stale_temps(target):
            if not tmp.name.startswith(f".{target.name}.{pid}-"):
                continue
            try:
                if done:
                    os.replace(tmp, target)
                else:
                    tmp.unlink()
            except OSError:
                continue
    note.unlink(missing_ok=True)


@contextmanager
def _locked(labels_path: Path, timeout: float = LOCK_TIMEOUT, reading: bool = False):
    """Hold the labeled set's lock. Its folder may be one the user can only read (a team's folder, a read-only
    mount), where no lock file can be made: ``reading`` (a dry run) then goes on without the lock (yields False),
    and a change is refused, naming the folder."""
    import errno

    from filelock import FileLock, Timeout

    lock = FileLock(str(labels_path.with_name(f".{labels_path.name}.lock")), timeout=timeout)
    try:
        lock.acquire()
    except Timeout as exc:
        raise InputError(f"{labels_path}: another change to the labeled set has held its lock for {timeout:.0f} s; "
                         f"try again when it has finished") from exc
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        if reading:
            yield False
            return
        raise InputError(f"{labels_path.parent}: the labeled set's folder cannot be written ({exc.strerror}); "
                         f"nothing was written: work in a workspace you can write (`fundclass init DIR`, then "
                         f"--workspace DIR), or check a sheet with --dry-run") from exc
    try:
        yield True
    finally:
        lock.release()


@contextmanager
def held_still(labels_path: str | Path):
    """Keep the labeled set at ``labels_path`` from changing while a reader reads it together with the files beside
    it (training: the labels, ``agreement.csv`` and their hashes, which name the model): a change (a review import, a
    migration, which rewrites both) waits, so the reader sees one commit's set, whole. A set inside the installed
    package, which no command changes, is read without the lock (no lock file is made there), as is one in a folder
    that cannot take one."""
    from .workspace import check_writable

    p = Path(labels_path)
    try:
        check_writable(p)
        lock = p.exists()
    except InputError:
        lock = False
    if not lock:
        yield
        return
    with _locked(p, reading=True) as locked:
        if locked:
            _recover(p)
        yield


def _recover(labels_path: Path) -> None:
    """Roll an interrupted commit forward (its journal names the staged files), and drop stale staged files; each
    says what became of the interrupted change (a :class:`ChangeRecovered` warning), which no output showed since."""
    j = _journal(labels_path)
    completed = j.exists()
    if j.exists():
        # the files are the set's folder's, wherever it is now (a workspace moved or copied since the crash): a
        # journal names them by name (one of an earlier version by full path: its name is taken)
        here = labels_path.parent
        folders = {here: None}
        for tmp, target in json.loads(j.read_text(encoding="utf-8")):
            target = _real(here / Path(target).name)  # a file linked into the folder: staged beside the one it links
            folders[target.parent] = None
            tmp = target.parent / Path(tmp).name
            if tmp.exists():
                try:
                    os.replace(tmp, target)
                except PermissionError as exc:  # Windows: Excel or WPS holds the file open
                    raise InputError(f"{target}: {OPEN_ELSEWHERE}: a change to the labeled set is saved and waits "
                                     f"to be completed in it; close it there and run the command again") from exc
        for folder in folders:  # the renames on disk before the journal that completes them is gone
            sync_folder(folder)
        j.unlink()
    files = [_real(labels_path.parent / n) for n in (labels_path.name, "history.csv", AGREEMENT_FILE)]
    dropped = 0
    for folder in dict.fromkeys(f.parent for f in files):
        for stale in folder.glob(".*.csv.*.tmp"):
            if stale.name.startswith(tuple(f".{f.name}." for f in files)):
                stale.unlink(missing_ok=True)
                dropped += 1
    for stale in stale_temps(j):  # the journal's temp file, of a change killed while writing it: the staged files
        stale.unlink(missing_ok=True)  # beside it, dropped above, say what became of that change
    _settle_outputs(labels_path)
    if completed:
        warnings.warn(f"{labels_path}: a change to the labeled set (a review import or a taxonomy migration) was "
                      f"interrupted after it was committed (its command killed or crashed): it is now complete, "
                      f"{labels_path.name} and history.csv both hold it", ChangeRecovered, stacklevel=2)
    elif dropped:
        warnings.warn(f"{labels_path}: a change to the labeled set (a review import or a taxonomy migration) was "
                      f"interrupted before it was committed (its command killed or crashed): nothing of it was "
                      f"written, the set is as before it; run that command again", ChangeRecovered, stacklevel=2)


class CommitPending(InputError):
    """A change to the labeled set is committed (its journal written, ``labels.csv`` replaced) but not yet complete: a
    file of the set is held open elsewhere; the next command that reads the set completes it. What describes the
    change (a migration's review queue) is kept."""


def _real(path: Path) -> Path:
    """The file a symlink ``path`` links to (a labeled set kept in a team's or synced folder, linked into the
    workspace), which a commit replaces, keeping the link; else ``path``."""
    return path.resolve() if path.is_symlink() else path


def _staged(target: Path, data: bytes) -> Path:
    import tempfile

    # named as io's temp files, with this process's id: once it has ended, a staged file no journal names is a change
    # that never committed, which the next reader removes (:func:`settle`)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:  # a full disk: the part written is no use, and takes the space a retry needs
        Path(tmp).unlink(missing_ok=True)
        raise
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    os.chmod(tmp, mode)
    return Path(tmp)


def _form(path: Path, default: tuple[bytes, str] = (b"", "\n")) -> tuple[bytes, str]:
    """The byte-order mark (``b""`` without one) and line end of an existing CSV file, read from its header line, so
    that it is written back in its own form: Excel on Windows saves CSV with CRLF, its "CSV UTF-8" with a mark too.
    ``default`` for a file that does not exist or is empty."""
    if not path.exists():
        return default
    with open(path, "rb") as f:
        head = f.readline()
    if not head:
        return default
    return (BOM if head.startswith(BOM) else b""), ("\r\n" if head.endswith(b"\r\n") else "\n")


def _encoding(data: bytes) -> str:
    """UTF-8, or GB18030 for a file that is not UTF-8 (a labeled set or history Excel saved on a Chinese Windows, in
    GBK, which GB18030 contains): a change writes the file back in its own encoding, so it stays in one."""
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _as_written(labels: pd.DataFrame, written: pd.Series, columns: list[str]) -> dict[tuple, str]:
    """The rows of ``labels`` (as read, six-digit codes) whose code the file writes another way that is to be kept:
    each row's values (``columns``) → its code as written. A code with its exchange (510300.SH, sh510300) is kept on
    every row a change does not touch; a code Excel cut to its last digits (17040) is not: its row is written whole."""
    keep = (written != labels["fund_code"]) & ~written.str.fullmatch(r"\s*\d{1,5}\s*")
    if not keep.any():
        return {}
    rows = labels.loc[keep].reindex(columns=columns).fillna("")
    return dict(zip(rows.itertuples(index=False, name=None), written[keep]))


def _commit(labels_path: Path, labels: pd.DataFrame, new_history: list[dict], columns: list[str],
            as_written: dict[tuple, str] | None = None, others: list[tuple[Path, bytes]] = ()) -> None:
    """Write ``labels`` and the history rows added, each file in its own form (:func:`_form`) and the labeled set
    with its own ``columns``, in their order (a column the user added is kept; a new row has it empty): every row the
    change did not touch keeps its bytes, its fund code as the file wrote it too (``as_written``: :func:`_as_written`;
    a row the change touched takes the six-digit code). ``others``: further files of the set's folder and their new
    bytes, replaced in the same commit, after the two."""
    bom, eol = _form(labels_path)
    body = labels.reindex(columns=columns).fillna("")
    if as_written:
        code = body.columns.get_loc("fund_code")
        body = body.copy()
        body.iloc[:, code] = [as_written.get(row, row[code]) for row in body.itertuples(index=False, name=None)]
    # the set in its own encoding too: a labels.csv Excel saved in GBK stays GBK, each untouched row its own bytes
    enc = _encoding(labels_path.read_bytes()) if labels_path.exists() else "utf-8"
    files = [(labels_path, bom + csv_text(body, line_end=eol).encode(enc))]
    if new_history:
        hp = history_path(labels_path)
        hbom, heol = _form(hp, (bom, eol))  # a new history takes the labeled set's form
        if hp.exists() and hp.stat().st_size:
            old = hp.read_bytes()
            old = old if old.endswith(b"\n") else old + heol.encode("ascii")
            enc = _encoding(old)
            head, rest = old.split(b"\n", 1)
            columns = next(csv.reader([head[len(hbom):].rstrip(b"\r").decode(enc)]))
            added = [c for c in HISTORY_COLUMNS if c not in columns]
            if added:  # a history of an older form: its header gains the columns at the end, its rows stay as they are
                columns += added
                old = hbom + csv_text(pd.DataFrame(columns=columns), line_end=heol).encode(enc) + rest
            rows = pd.DataFrame(new_history, columns=columns)
            files.append((hp, old + csv_text(rows, header=False, line_end=heol).encode(enc)))
        else:
            rows = pd.DataFrame(new_history, columns=HISTORY_COLUMNS)
            files.append((hp, hbom + csv_text(rows, line_end=heol).encode("utf-8")))
    files += others
    staged = []
    j = _journal(labels_path)
    try:
        for t, d in files:
            staged.append((_staged(_real(t), d), t))
        _note_commit(labels_path, files[0][1])
        payload = json.dumps([[s.name, t.name] for s, t in staged]).encode("utf-8")
        staged = [(s, _real(t)) for s, t in staged]  # replaced through a link, which stays
        atomic_write_bytes(j, lambda t: write_synced(t, payload))
        sync_folder(j.parent)  # the journal's name on disk before any file it names is renamed into place
    except BaseException as exc:
        for s, _ in staged:
            s.unlink(missing_ok=True)
        j.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, PermissionError):  # a full disk, a quota, an I/O error
            import errno

            fix = "free some space there" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the folder"
            raise InputError(f"{labels_path.parent}: the change could not be written ({exc.strerror or exc}); "
                             f"nothing was changed: {fix} and run the command again") from exc
        raise
    for k, (s, t) in enumerate(staged):
        try:
            os.replace(s, t)
        except OSError as exc:
            # Windows refuses to replace a file another program holds open (Excel or WPS keeps labels.csv or
            # history.csv locked while it shows it): PermissionError, naming the staged file, not the one held
            held = (f"{OPEN_ELSEWHERE}" if isinstance(exc, PermissionError)
                    else f"cannot be replaced ({exc.strerror or exc})")
            if k == 0:  # nothing replaced yet: undo the commit, the old pair stays as it was
                for s2, _ in staged:
                    s2.unlink(missing_ok=True)
                j.unlink(missing_ok=True)
                raise InputError(f"{t}: {held}; nothing was changed: close it there and run the command "
                                 f"again") from exc
            # the pair is half replaced: the journal completes it (:func:`_recover`), at the next command that reads
            # the labeled set once the file can be replaced
            raise CommitPending(f"{t}: {held}; the change is saved ({staged[0][1].name} holds it, {j.name} the rest) "
                             f"and is completed by the next fundclass command that reads the labeled set once "
                             f"{t.name} is closed: close it there, then run any command (importing the same sheet "
                             f"again then changes nothing)") from exc
    for folder in dict.fromkeys(t.parent for _, t in staged):  # the renames on disk before the journal is gone
        sync_folder(folder)
    j.unlink()


@dataclass
class Change:
    """What a transaction returns to :func:`change_labels`: the whole new labeled set and the history rows to add,
    and ``others``: other files of the set's folder (their path and new bytes) it rewrites in the same commit (a
    taxonomy migration: ``agreement.csv``)."""

    labels: pd.DataFrame
    history: list[dict] = field(default_factory=list)
    others: list[tuple[Path, bytes]] = field(default_factory=list)


def check_one_row_per_fund(labels: pd.DataFrame, path: Path) -> None:
    """Refuse to change a labeled set that holds a fund on two rows (a row copied or typed again by hand in Excel, or
    its code once with its exchange: 510300.SH and 510300): a change finds one of them, so a decision would replace one
    label and leave the other, and a withdrawal could not find the decision it takes back."""
    code = labels["fund_code"]
    dup = labels[(code != "") & code.duplicated(keep=False)]
    if dup.empty:
        return
    found = [f"{c} on rows {', '.join(str(int(i) + 2) for i in g.index)}" for c, g in dup.groupby("fund_code", sort=True)]
    raise InputError(f"{path}: column fund_code holds {counted(len(found), 'fund')} on more than one row: "
                     + "; ".join(found[:10]) + (" …" if len(found) > 10 else "")
                     + "; a fund has one row (delete the extra rows, keeping the label you mean), nothing written")


def change_labels(labels_path: str | Path, compute, dry_run: bool = False, timeout: float = LOCK_TIMEOUT):
    """Change the labeled set at ``labels_path`` in one transaction.

    ``compute(labels)`` receives the current set, read under the lock, and returns ``(Change, result)``; it raises
    to abort (nothing is written). Concurrent callers wait for each other, so none loses another's rows. A change
    that changes nothing (no history, the same labels) writes nothing. Returns ``result``.
    """
    p = Path(labels_path)
    if not p.exists():
        raise InputError(f"{p}: no labeled set here; `fundclass init` makes a workspace with a copy of the shipped one")
    with _locked(p, timeout, reading=dry_run) as locked:
        if locked:  # a dry run in a folder it may not write reads the set as it is
            _recover(p)
        labels, written = _read_labels(p)
        check_one_row_per_fund(labels, p)
        change, result = compute(labels.copy())
        same = change.labels[LABEL_COLUMNS].reset_index(drop=True).equals(labels[LABEL_COLUMNS])
        others = [(Path(f), d) for f, d in change.others]
        wrong = [f for f, _ in others if f.parent.resolve() != p.parent.resolve() or f.name in (p.name, "history.csv")]
        if wrong:  # a bug, not a user error: the journal names the files of the set's folder by name
            raise ValueError(f"{wrong[0]}: not another file of the labeled set's folder {p.parent}")
        if not dry_run and (change.history or not same or others):
            columns = list(labels.columns)
            _commit(p, change.labels, change.history, columns, _as_written(labels, written, columns), others)
    return result


@dataclass
class AuditReport:
    errors: list[str] = field(default_factory=list)
    # indices or families whose review decisions disagree (a dispute `review import` warned of): not an error
    disputes: list[str] = field(default_factory=list)
    counts: pd.DataFrame | None = None
    n_funds: int = 0
    n_groups: int = 0
    n_indices: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _disputing(rows: pd.DataFrame, disputed: dict | None = None) -> tuple | None:
    """The review decisions of one index's or family's rows (``rows``, with their ``carried`` source) when they
    disagree and account for its labels: (code, class, reviewer, date) of each decision, sorted; None when its labels
    disagree otherwise. In a dispute (``review import`` warns of it) each decision's fund and the share classes and
    feeders that follow it (propagated from it by the decision's reviewer on its date) hold its class, and the other
    rows their labels from before the decisions, one class; any other split is an error of the set.

    ``disputed``: the decisions of the disputes found on other keys (code → (class, reviewer, date, the dispute)).
    The set may hold one index in two groups (its ETFs under the index code, feeders under the index name): the
    feeders of a disputing decision on an ETF then follow it in a group that holds no decision, beside the name
    group's labels from before the decisions; that group is part of the ETF's dispute, which is returned."""
    review = (rows["carried"] == "review").to_numpy()
    if rows.loc[review, "secondary"].nunique() < 2:
        if not disputed:
            return None
        outer = [disputed.get(f, (None,) * 4) for f in rows["propagated_from"]]
        follows = np.array([o[:3] == (s, by, at) for o, s, by, at in zip(outer, *(rows[k] for k in (
            "secondary", "labeled_by", "labeled_at")))], dtype=bool)
        found = {o[3] for o, f in zip(outer, follows) if f}
        if len(found) != 1 or rows.loc[~review & ~follows, "secondary"].nunique() > 1:
            return None
        return found.pop()
    decided = {c: (s, by, at) for c, s, by, at in zip(*(rows.loc[review, k] for k in (
        "fund_code", "secondary", "labeled_by", "labeled_at")))}
    follows = [decided.get(f) == (s, by, at) for f, s, by, at in zip(*(rows[k] for k in (
        "propagated_from", "secondary", "labeled_by", "labeled_at")))]
    rest = rows[~review & ~np.array(follows, dtype=bool)]
    if rest["secondary"].nunique() > 1:
        return None
    return tuple(sorted((c, *v) for c, v in decided.items()))


def audit(df: pd.DataFrame, tax: Taxonomy, report_counts: bool = True,
          history: pd.DataFrame | None = None) -> AuditReport:
    """Check the labeled set: duplicate codes, labels outside the taxonomy, primary/secondary mismatch, missing
    provenance, and one index or one family carrying two labels (ignoring rows the report itself labeled, also once a
    taxonomy migration renamed their class: ``history``, the set's history.csv, says so, :func:`carried_sources`); an
    index or family whose review decisions disagree (a dispute, :func:`_disputing`) is named in ``disputes``, not as
    an error."""
    rep = AuditReport(n_funds=len(df), n_groups=df["group"].nunique())
    from .normalize import apply_unique, index_key_subject, index_subject
    from .vocabulary import load_vocabulary

    vocab = load_vocabulary()
    # once per distinct index name (the set repeats each over its funds), read by the count of indices and by the
    # report's counts below
    names = apply_unique(df["index_name"], lambda s: index_key_subject(index_subject(s, vocab), vocab) if s else "")
    rep.n_indices = int(names[names != ""].nunique())
    # labels of another version (a set migrated since, audited with the taxonomy it was migrated from): named once,
    # with their rows, as training refuses them (:func:`check_classes`); classes both versions share would pass
    other = df["taxonomy_version"].astype(str).str.strip()
    other = other[(other != "") & (other != tax.version)]
    for v, g in other.groupby(other, sort=True):
        rows = [int(i) + 2 for i in g.index]
        rep.errors.append(f"{counted(len(rows), 'row', verbs=('holds', 'hold'))} labels of taxonomy {v} (column taxonomy_version), not "
                          f"{tax.version}: rows {rows[:10]}{' …' if len(rows) > 10 else ''}; audit with "
                          + _taxonomy_of([v]))
    dup = df[df.fund_code.duplicated(keep=False)]
    for code, g in dup.groupby("fund_code"):
        rep.errors.append(f"duplicate fund_code {code} on rows {[int(i) + 2 for i in g.index]}")
    labels = set(tax.labels)
    primary_of = {lab: tax.primary_of(lab) for lab in labels}
    # the rows as plain lists, not df.iterrows(): a Series built per row cost ~1.3 s on the shipped set's 5,000 rows
    cols = ("fund_code", "primary", "secondary", "source", "propagated_from", "labeled_by", "labeled_at",
            "taxonomy_version")
    for i, code, primary, secondary, source, propagated_from, labeled_by, labeled_at, taxonomy_version in zip(
            df.index, *(df[c].tolist() for c in cols)):
        line = int(i) + 2
        if secondary not in labels:
            if str(taxonomy_version).strip() not in ("", tax.version):  # its version's error above names the row
                continue
            rep.errors.append(f"row {line} ({code}): secondary '{secondary}' is not in taxonomy {tax.version}")
            continue
        if primary != primary_of[secondary]:
            rep.errors.append(f"row {line} ({code}): primary '{primary}' does not own '{secondary}'")
        if source not in SOURCES:
            rep.errors.append(f"row {line} ({code}): source '{source}' not one of {sorted(SOURCES)}")
        if source == "propagated" and not propagated_from:
            rep.errors.append(f"row {line} ({code}): propagated label without propagated_from")
        if not labeled_by or not labeled_at or not taxonomy_version:
            rep.errors.append(f"row {line} ({code}): missing provenance (labeled_by/labeled_at/taxonomy_version)")
    carried = carried_sources(df, history)
    non_report = df[(carried != "report").to_numpy()].assign(carried=carried)
    split = []  # (what, key, its rows) of each index and group carrying two labels or more
    for col, what in (("index_code", "index"), ("group", "family/index group")):
        keyed = non_report[non_report[col] != ""]
        n = keyed.groupby(col).secondary.nunique()
        split += [(what, key, keyed[keyed[col] == key]) for key in n[n > 1].index]
    found = [_disputing(rows) for _, _, rows in split]
    # a group of an index that holds none of its decisions (the index's feeders under its name, its ETFs' under its
    # code) may take part in a dispute found on another key: read once every such dispute is known
    disputed = {c: (s, by, at, d) for d in found if d for c, s, by, at in d}
    said: set = set()
    for (what, key, rows), decisions in zip(split, found):
        seen = rows.secondary.value_counts().to_dict()
        decisions = decisions or _disputing(rows, disputed)
        if decisions is None:
            rep.errors.append(f"{what} '{key}' carries {len(seen)} labels: {seen}")
        elif decisions not in said:  # an index's code and its group: one dispute, said once
            said.add(decisions)
            rep.disputes.append(
                f"{what} '{key}' is in dispute: its review decisions disagree ("
                + "; ".join(f"{c} {s} ({by}, {at})" for c, s, by, at in decisions)
                + f"), so it carries {len(seen)} labels {seen}: at the next `fundclass tag` each decision settles "
                f"its own fund (and its share classes and feeders) and the index's or family's other funds go to "
                f"review (复核决定不一致); the set holds their labels from before the decisions until the dispute "
                f"ends: decide them again in one class, or withdraw (撤销) the decision of the other")
    if report_counts:
        df = df.assign(index_key=names.where(names != "", df["group"]))
        by_class = df.groupby("secondary").agg(funds=("fund_code", "size"), indices=("index_key", "nunique"))
        report = {c.secondary: c.report_count for c in tax.classes}
        by_class["report_indices"] = [report.get(s) for s in by_class.index]
        rep.counts = by_class
    return rep
