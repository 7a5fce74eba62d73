"""Reader agreement per head of a labeled set: what independent careful readers chose for each index/family.

``agreement.csv`` sits beside ``labels.csv`` (built by ``scripts/build_agreement.py`` from blind reads). A *head* is
one tracked index: the labeled set's groups joined wherever two of them track the same index (an ETF's index-code
group and the off-exchange family group of the same index are one head). Training uses the reads as targets for the
confidence (the chance that an independent reader picks the tool's class) and the tagger uses them to keep a hand
label's doubt on a contested head.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .io import csv_text

from .normalize import index_key_subject, index_subject
from .vocabulary import load_vocabulary

AGREEMENT_FILE = "agreement.csv"
AGREEMENT_COLUMNS = ["head_id", "group", "index_code", "index_name", "n_funds", "label", "reads", "alts", "n_reads",
                     "agreement", "alt_secondary", "contested"]
PROVENANCE_COLUMNS = ["source", "labeled_by", "labeled_at", "taxonomy_version"]  # who read, when, against what
READ_COLUMNS = ["reads", "alts", "n_reads", "agreement", "alt_secondary", "contested"]  # what head_summary computes


def head_summary(label: str, classes: list[str], alts: list[str]) -> dict:
    """What the readers of one head chose, measured against its ``label``: ``classes`` the readers' classes (in reader
    order), ``alts`` the classes they named as also defensible. Returns the :data:`READ_COLUMNS` cells, as
    ``scripts/build_agreement.py`` writes them: ``agreement`` is the share of reads equal to the label ('nan' with no
    reads, or no label to measure them against), ``alt_secondary`` the most named other class (reads first, then
    alts), ``contested`` 1 when agreement < 1 or a reader named another class."""
    others = Counter([c for c in classes if c != label])
    others_alt = Counter([c for c in alts if c != label])
    alt = (others.most_common(1) or others_alt.most_common(1) or [("", 0)])[0][0]
    agree = sum(c == label for c in classes) / len(classes) if classes and label else float("nan")
    return {"reads": ";".join(classes), "alts": ";".join(alts), "n_reads": len(classes), "agreement": f"{agree:.4g}",
            "alt_secondary": alt, "contested": int(bool(classes) and (agree < 1 or bool(alt)))}


def head_keys(labels: pd.DataFrame) -> pd.Series:
    """One key per fund: its group, joined with every group that tracks the same index subject; each head is named
    after its alphabetically first group."""
    vocab = load_vocabulary()
    subject = labels["index_name"].map(lambda s: index_key_subject(index_subject(s, vocab), vocab) if s else "")
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for g, s in zip(labels["group"].tolist(), subject):
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
    """The agreement table beside a labeled set, indexed by head key; None when there is none. A commit to the set
    that a crash interrupted (a taxonomy migration rewrites this table with the labels) is finished first."""
    from .labeled import settle  # the labeled set's module owns its commits (and imports this one)

    settle(labels_path)
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
    head_of = dict(zip(labels["group"].tolist(), keys))
    reads: dict[str, list[str]] = {}
    for g, r in sorted(agreement["reads"].items()):
        if g in head_of:
            reads.setdefault(head_of[g], [x for x in r.split(";") if x])
    return [reads.get(k, []) for k in keys]


@dataclass
class ReadsMigration:
    """What a taxonomy migration did to ``agreement.csv`` (:func:`migrate_reads`)."""

    moved: int = 0  # heads whose label or reads named a renamed or merged class: now its new name, figures recomputed
    unread: int = 0  # heads with a read of a split or removed class: every read dropped, the head is unread
    unlabeled: int = 0  # heads whose label was split or removed (its funds are in the review queue): label ''
    alts_dropped: int = 0  # 'also defensible' mentions of a split or removed class dropped (reads kept)
    other_version: int = 0  # heads of a taxonomy other than the migration's 'from': left as they are
    other_versions: tuple[str, ...] = ()

    def lines(self, name: str = AGREEMENT_FILE) -> list[str]:
        # no head renamed or merged (a keyword-only change, a split): no line about it
        out = [f"{name}: {self.moved} heads' blind reads follow the renamed or merged classes (agreement recomputed)"
               ] if self.moved else []
        if self.unread:
            out.append(f"{name}: {self.unread} heads had a read of a split or removed class, which cannot say which "
                       f"new class that reader would pick: their reads are dropped and the heads are unread (no "
                       f"reader agreement) until read again")
        if self.unlabeled:
            out.append(f"{name}: {self.unlabeled} heads of a split or removed class have no label (their funds are "
                       f"in the review queue)")
        if self.alts_dropped:
            out.append(f"{name}: {self.alts_dropped} 'also defensible' mentions of a split or removed class dropped")
        return out

    def warnings(self, name: str = AGREEMENT_FILE) -> list[str]:
        if not self.other_version:
            return []
        return [f"{name}: {self.other_version} heads hold reads of taxonomy {', '.join(self.other_versions)}, not the "
                f"migration's: left as they are (rebuild it with scripts/build_agreement.py, or retraining measures "
                f"those heads against classes that may no longer exist)"]


def _records(text: str) -> list[str]:
    """The records of CSV ``text`` as written, each with its line end: a record ends at a line feed outside quotes."""
    out, cur = [], ""
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        cur += line
        if cur.count('"') % 2 == 0:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def _cells(record: str) -> list[str]:
    return next(csv.reader(io.StringIO(record, newline="")), [])


def _record(cells: list[str], eol: str) -> str:
    """One CSV record as :func:`classifier.io.csv_text` writes it, with the line end ``eol`` ('' for none)."""
    line = csv_text(pd.DataFrame([cells]), header=False)
    return line[:-1] + eol


def _with_cell(body: str, k: int, value: str) -> str | None:
    """A record without quotes with its ``k``-th cell replaced, every other byte as it was (None for a quoted one)."""
    if '"' in body or "," in value:
        return None
    parts = body.split(",")
    parts += [""] * (k + 1 - len(parts))
    parts[k] = value
    return ",".join(parts)


def migrate_reads(data: bytes, mapping: dict[str, list[str]], from_version: str, to_version: str,
                  where: str = AGREEMENT_FILE) -> tuple[bytes, ReadsMigration]:
    """``agreement.csv`` (its bytes) after a taxonomy migration, and what changed.

    ``mapping``: old class → its new classes (one: renamed or merged; several: split; none: removed; a class not in
    it keeps its name). A head's label and each read and alt of a renamed or merged class take the new name, and its
    figures are recomputed (:func:`head_summary`): a rename leaves them as they were, a merge may join two classes the
    readers chose apart. A read of a split or removed class cannot be mapped, and the head's other reads are no fair
    sample without it (they are the readers who chose something else): every read of that head is dropped, the head
    is unread. A label of such a class becomes '' (its funds leave the labeled set for review); an alt of one is
    dropped. Every head of ``from_version`` (or of none) takes ``to_version``; a row no class of which moved changes
    in that cell only, every other byte (byte-order mark, line ends, cells as written, columns a user added) is kept.
    Heads of another version are left as they are (counted). Raises ValueError when the file is not an agreement
    table."""
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    try:
        enc, text = "utf-8", data[len(bom):].decode("utf-8")
    except UnicodeDecodeError:
        enc, text = "gb18030", data.decode("gb18030")  # saved by Excel on a Chinese Windows
    records = _records(text)
    if not records:
        return data, ReadsMigration()
    header = _cells(records[0])
    missing = [c for c in ["label"] + READ_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}")
    col = {c: header.index(c) for c in header}
    version = col.get("taxonomy_version")
    rep, others = ReadsMigration(), Counter()
    out = [records[0]]

    def one(c: str) -> str | None:  # a class's new name; None where it was split or removed
        targets = mapping.get(c)
        return c if targets is None else (targets[0] if len(targets) == 1 else None)

    for record in records[1:]:
        body = record.rstrip("\r\n")
        eol = record[len(body):]
        if not body.strip():
            out.append(record)
            continue
        cells = _cells(body)
        if len(cells) < len(header):
            cells += [""] * (len(header) - len(cells))
        if version is not None and cells[version] not in ("", from_version):
            others[cells[version]] += 1
            out.append(record)
            continue
        label = cells[col["label"]]
        reads = cells[col["reads"]].split(";") if cells[col["reads"]] else []
        alts = cells[col["alts"]].split(";") if cells[col["alts"]] else []
        named = [x for x in (label, *reads, *alts) if x in mapping]
        touched = bool(named)
        if touched:
            new_label = one(label) or ""
            rep.unlabeled += bool(label and not new_label)
            if any(one(x) is None for x in reads):
                rep.unread += 1
                new_reads, new_alts = [], []
            else:
                new_reads = [one(x) for x in reads]
                new_alts = [a for a in map(one, alts) if a is not None]
                rep.alts_dropped += len(alts) - len(new_alts)
                rep.moved += any(len(mapping[x]) == 1 for x in named)
            cells[col["label"]] = new_label
            for c, v in head_summary(new_label, new_reads, new_alts).items():
                cells[col[c]] = str(v)
        if version is not None:
            cells[version] = to_version
        if touched:
            out.append(_record(cells, eol))
        elif version is not None:  # the version alone changes: the rest of the row keeps its bytes
            out.append((_with_cell(body, version, to_version) or _record(cells, "")) + eol)
        else:
            out.append(record)
    rep.other_version, rep.other_versions = sum(n for n in others.values()), tuple(sorted(others))
    return bom + "".join(out).encode(enc), rep
