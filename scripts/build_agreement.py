"""Reader agreement per head of a labeled set (issue 12): ``agreement.csv`` beside ``labels.csv``.

Input: the agreement worklist (one row per group of the labeled set) and two or more independent reads of it
(``reader_<x>_part<k>.csv``: head_id, secondary, alt_secondary, sure, note), made by readers who saw the report but
not GUIDE.md nor the tool's output. Output, one row per head (groups of the labeled set that track the same index, see
``classifier.agreement.head_keys``):

  head_id, group, index_code, index_name, n_funds   worklist ids (';'-joined), head key, identifying fields
  label                                            the labeled set's class of the group (its most common label)
  reads                                            the readers' classes, ';'-joined in reader order
  alts                                             the classes readers named as also defensible
  n_reads, agreement                               reads, and the share of reads that agree with ``label``
  alt_secondary                                    the most named other class (reads first, then alts), or ''
  contested                                        1 when agreement < 1 or a reader named another class
                                                   (these six: ``classifier.agreement.head_summary``, which
                                                   ``fundclass taxonomy migrate`` recomputes them with)
  source, labeled_by, labeled_at, taxonomy_version provenance: 'blind reads', the readers who read the head and the
                                                   date of their reads (``readers.csv`` in the reads folder: reader,
                                                   labeled_by, labeled_at), the labels' taxonomy version

Re-run after any label change: agreement is always measured against the current label.

Indices no labeled fund tracks (``--index-reads``, default the ``indices`` folder beside the reads folder, when it
exists): blind reads of an index alone (``worklist*.csv``, one per round: head_id, index_code, index_name;
``scripts/build_index_read_worklist.py``)
are heads of no fund, after the labeled ones: group ``read:<index code>``, n_funds 0, label the class most readers
chose when more than half chose it (else '': the readers split), source 'blind reads of the index'. Training gives
their reads to a fund tracking the index, as a labeled head's (``head_reads`` of the agreement calibrator); it fits
nothing on them (no fund of the labeled set is theirs).

Usage: python scripts/build_agreement.py [--labels data/labeled/labels.csv] [--reads data/labeled/reads/agreement]
       [--index-reads data/labeled/reads/indices]
       python scripts/build_agreement.py --labels data/labeled/efund/labels.csv \
           --reads data/labeled/efund/reads/agreement
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pandas as pd

from classifier.agreement import AGREEMENT_COLUMNS, AGREEMENT_FILE, PROVENANCE_COLUMNS, head_keys, head_summary
from classifier.io import csv_text


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def read_readers(reads_dir: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Each reader's reads (``reader_<x>_part<k>.csv`` joined, by head_id) and ``readers.csv`` (by reader)."""
    readers: dict[str, list] = {}
    for f in sorted(reads_dir.glob("reader_*_part*.csv")):
        who = f.name.split("_")[1]
        readers.setdefault(who, []).append(read_csv(f))
    who_read = read_csv(reads_dir / "readers.csv").set_index("reader")
    missing = sorted(set(readers) - set(who_read.index))
    if missing:
        raise SystemExit(f"{reads_dir / 'readers.csv'}: no row for reader(s) {missing}")
    reads = {}
    for who, parts in sorted(readers.items()):
        r = pd.concat(parts, ignore_index=True)
        dup = r.head_id[r.head_id.duplicated()].tolist()
        if dup:
            raise SystemExit(f"reader {who}: heads read twice: {dup[:5]}")
        reads[who] = r.set_index("head_id")
    return reads, who_read


def index_rows(index_dir: Path, version: str) -> list[dict]:
    """The heads of indices no labeled fund tracks, read alone (see the module's docstring)."""
    work = pd.concat([read_csv(f) for f in sorted(index_dir.glob("worklist*.csv"))], ignore_index=True)
    reads, who_read = read_readers(index_dir)
    rows = []
    for h in work.itertuples(index=False):
        got = [(r.at[h.head_id, "secondary"].strip(), r.at[h.head_id, "alt_secondary"].strip())
               for r in reads.values() if h.head_id in r.index]
        if not got:
            continue
        classes = [g for g, _ in got]
        top, n = Counter(classes).most_common(1)[0]
        label = top if n * 2 > len(classes) else ""
        by = [w for w, r in reads.items() if h.head_id in r.index]
        rows.append({"head_id": h.head_id, "group": f"read:{h.index_code}", "index_code": h.index_code,
                     "index_name": h.index_name, "n_funds": 0, "label": label,
                     **head_summary(label, classes, [x for _, x in got if x]),
                     "source": "blind reads of the index", "labeled_by": ";".join(who_read.at[w, "labeled_by"] for w in by),
                     "labeled_at": max(who_read.at[w, "labeled_at"] for w in by), "taxonomy_version": version})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default="data/labeled/labels.csv")
    ap.add_argument("--reads", default="data/labeled/reads/agreement")
    ap.add_argument("--index-reads", default=None, help="default: the folder indices beside --reads, if there")
    a = ap.parse_args()
    labels_path, reads_dir = Path(a.labels), Path(a.reads)
    index_dir = Path(a.index_reads) if a.index_reads else reads_dir.parent / "indices"
    labels = read_csv(labels_path)
    work = read_csv(reads_dir / "worklist.csv")
    reads, who_read = read_readers(reads_dir)
    labels["head"] = head_keys(labels)
    head_of_group = labels.drop_duplicates("group").set_index("group")["head"]
    label_of = labels.groupby("head")["secondary"].agg(lambda s: s.value_counts().index[0])
    n_of = labels.groupby("head").size()
    version_of = labels.groupby("head")["taxonomy_version"].agg(lambda s: s.value_counts().index[0])
    work = work[work.group.isin(head_of_group.index)].copy()  # groups since withheld or removed drop out
    work["head"] = work.group.map(head_of_group)
    rows = []
    for head, part in work.groupby("head", sort=True):
        label = label_of[head]
        got = [(r.at[h, "secondary"].strip(), r.at[h, "alt_secondary"].strip())
               for h in part.head_id for r in reads.values() if h in r.index]
        by = list(dict.fromkeys(w for h in part.head_id for w, r in reads.items() if h in r.index))
        first = part.iloc[0]
        rows.append({"head_id": ";".join(part.head_id), "group": head, "index_code": first.index_code,
                     "index_name": first.index_name, "n_funds": int(n_of[head]), "label": label,
                     **head_summary(label, [g for g, _ in got], [x for _, x in got if x]),
                     "source": "blind reads", "labeled_by": ";".join(who_read.at[w, "labeled_by"] for w in by),
                     "labeled_at": max((who_read.at[w, "labeled_at"] for w in by), default=""),
                     "taxonomy_version": version_of[head]})
    n_labeled = len(rows)
    if (index_dir / "worklist.csv").exists():
        versions = labels["taxonomy_version"].value_counts()
        rows += index_rows(index_dir, versions.index[0] if len(versions) else "")
    out = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS + PROVENANCE_COLUMNS)
    target = labels_path.parent / AGREEMENT_FILE
    target.write_text(csv_text(out), encoding="utf-8")
    ag = out.agreement.astype(float)[:n_labeled]
    print(f"{n_labeled} heads, {len(reads)} readers -> {target}: mean agreement {ag.mean():.4f}, "
          f"unanimous {(ag == 1).mean():.3f}, contested {out.contested[:n_labeled].mean():.3f}")
    if len(out) > n_labeled:
        idx = out.iloc[n_labeled:]
        split = (idx["label"] == "").mean()
        ag_i = idx["agreement"].astype(float)
        print(f"  + {len(idx)} indices read alone ({index_dir}): readers split (no majority) {split:.3f}, "
              f"majority agreement {ag_i.mean():.4f}, unanimous {(ag_i == 1).mean():.3f}")


if __name__ == "__main__":
    main()
