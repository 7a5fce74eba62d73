"""Random review sessions: does what `review export` says a decision settles (`settles`) hold at the next tag?

Each session tags a small batch of real index funds of two subjects (ETFs with their tracked index from the Tushare
ETF list, off-exchange index funds and feeders by name alone from the Eastmoney fund list; some index columns
blanked, as files lack them), makes one to three rounds of earlier review decisions (dated before today), then, for
every row of the review sheet and each on its own copy of the labeled set, one decision imported today and the batch
tagged again: the rows whose `review_decision` names the decided fund must be as many as the sheet's `settles` said.
The decision on a row agrees with the decision that already settles it (most often) or is another class; a row that
is itself a decision keeps its class (re-deciding it with another class while other decisions agree on its index puts
the index in dispute, which the import warns of, and settles its own fund only).

Not a unit test (a session imports and tags ~10 times; 100 sessions take ~10 minutes): a search for mismatches
between classifier.reach and classifier.decide. Prints one line per session and exits 1 when any mismatch is found.

Usage: python scripts/check_settles.py [--raw DIR] [--seeds 0:100] [--work DIR]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from classifier.config import raw_data_dir
from classifier.io import write_table
from classifier.labeled import SHIPPED_LABELS
from classifier.pipeline import Tagger
from classifier.review import import_review, review_frame
from classifier.taxonomy import load_taxonomy

SUBJECTS = ["沪深300", "中证500", "A500", "科创50", "半导体", "红利", "医药", "证券", "芯片", "创业板", "军工", "新能源"]


def fund_pool(raw: Path) -> pd.DataFrame:
    """Per subject, up to 4 ETFs giving their index and 8 index funds of the fund list (names alone)."""
    etf = pd.read_csv(raw / "tushare_etf_basic_2026/etf_basic_listed.csv", dtype=str).fillna("")
    em = pd.read_csv(raw / "eastmoney_fundcode_20251117/fundcode_search_20251117.csv", dtype=str).fillna("")
    rows = []
    for s in SUBJECTS:
        for r in etf[etf["csname"].str.contains(s) & (etf["index_code"] != "")].head(4).itertuples():
            rows.append(dict(fund_code=r.ts_code[:6], fund_short_name=r.csname, index_code=r.index_code,
                             index_name=r.index_name, fund_type="指数型-股票"))
        funds = em[em["fund_short_name"].str.contains(s) & em["fund_type"].str.startswith("指数型")].head(8)
        for r in funds.itertuples():
            rows.append(dict(fund_code=r.fund_code, fund_short_name=r.fund_short_name, index_code="", index_name="",
                             fund_type=r.fund_type))
    return pd.DataFrame(rows).drop_duplicates("fund_code").reset_index(drop=True)


def session(seed: int, pool: pd.DataFrame, work: Path) -> tuple[int, int, list[tuple]]:
    """One session: (rows of the batch, decisions checked, mismatches)."""
    tax = load_taxonomy()
    rnd = random.Random(seed)
    subjects = rnd.sample(SUBJECTS, 2)
    cand = pool[pool["fund_short_name"].str.contains("|".join(subjects))]
    batch = cand.sample(min(len(cand), rnd.randint(6, 14)), random_state=seed).reset_index(drop=True)
    for i in batch.index:
        if rnd.random() < 0.3:
            batch.loc[i, "index_code"] = ""
        if rnd.random() < 0.2:
            batch.loc[i, "index_name"] = ""
    labels = work / "labels.csv"
    shutil.copy(SHIPPED_LABELS, labels)
    for rd in range(rnd.randint(1, 3)):  # earlier decisions, on days before today
        sheet = review_frame(Tagger.load(labels_path=labels).tag(batch), include_all=True, labels_path=labels)
        for k in rnd.sample(list(sheet.index), rnd.randint(1, 2)):
            cur = sheet.at[k, "secondary"]
            sheet.loc[k, ["decision", "reviewer"]] = [cur if cur in tax.labels and rnd.random() < 0.6
                                                      else rnd.choice(tax.labels), f"r{rd}"]
        write_table(sheet, work / f"earlier{rd}.csv")
        import_review(work / f"earlier{rd}.csv", tax, labels, today=f"2000-01-0{rd + 1}", overrule=True)
    tagged = Tagger.load(labels_path=labels).tag(batch)
    sheet = review_frame(tagged, include_all=True, labels_path=labels)
    cls = dict(zip(tagged["fund_code"], tagged["secondary"]))
    deciders = [c for c in tagged["review_decision"] if c]
    bad = []
    for k in sheet.index:
        code = sheet.at[k, "fund_code"]
        row = tagged[tagged["fund_code"] == code].iloc[0]
        if row["review_decision"] == code or (row["review_decision"] and rnd.random() < 0.7):
            decision = row["secondary"]
        elif deciders and rnd.random() < 0.5:
            decision = cls[rnd.choice(deciders)]
        else:
            decision = rnd.choice(tax.labels)
        copy = work / code
        copy.mkdir()
        shutil.copy(labels, copy / "labels.csv")
        if (work / "history.csv").exists():
            shutil.copy(work / "history.csv", copy / "history.csv")
        decided = sheet.copy()
        decided.loc[k, ["decision", "reviewer"]] = [decision, "check"]
        write_table(decided, copy / "r.csv")
        import_review(copy / "r.csv", tax, copy / "labels.csv", overrule=True)
        out = Tagger.load(labels_path=copy / "labels.csv").tag(batch)
        settled = out.loc[out["review_decision"] == code, "fund_code"].tolist()
        if str(len(settled)) != sheet.at[k, "settles"]:
            bad.append((code, row["fund_short_name"], decision, sheet.at[k, "settles"], settled))
    return len(batch), len(sheet), bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raw", type=Path, default=None, help="the shared raw data folder (default: configuration)")
    ap.add_argument("--seeds", default="0:100", help="first:stop of the sessions' seeds")
    ap.add_argument("--work", type=Path, default=None, help="keep each session's files here (default: a temp folder)")
    a = ap.parse_args()
    warnings.simplefilter("ignore")  # the tag runs' notes
    pool = fund_pool(a.raw or raw_data_dir())
    first, stop = (int(x) for x in a.seeds.split(":"))
    base = a.work or Path(tempfile.mkdtemp(prefix="check_settles_"))
    n_rows = n_bad = 0
    for seed in range(first, stop):
        work = base / f"s{seed}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        rows, checked, bad = session(seed, pool, work)
        n_rows += checked
        n_bad += len(bad)
        print(f"session {seed}: {rows} funds, {checked} decisions checked, {len(bad)} mismatches"
              + "".join(f"\n  {c} {n} decided {d}: sheet said {s}, settled {len(got)} {got}" for c, n, d, s, got in bad),
              flush=True)
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{stop - first} sessions, {n_rows} decisions checked, {n_bad} mismatches")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
