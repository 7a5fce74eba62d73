"""Index funds of a fund list keyed apart from their index because their name drops the index family word.

An index fund known by its name alone is keyed by the index its name gives (``classifier.index_key.name_keys``):
广发央企创新驱动ETF联接A gave ``idx:央企创新驱动`` while 中证央企创新驱动指数 (000861.CSI) and its ETFs key as
``idx:中证央企创新驱动``, so a review decision on one side did not settle the other. This script lists the name keys of
a fund list whose subject begins with no index family word (taxonomy/common.toml ``index_families``) and is a known
index's subject without the family word it begins with; known: the synonym table's full names, the labeled sets' index
names, the ETF list's index names and the CSI list's short names. ``one`` such index or ``several`` (医药卫生: 中证,
创业板, 沪深300医药卫生); ``also its own``: the bare subject is itself a known index's name (食品饮料, the CSI's 000807).
What is left after scripts/build_index_synonyms.py's rule 4 is what it could not tell apart (see its ``-v``).

Usage: python scripts/family_word_keys.py [--list FUND_LIST.csv] [-v]
"""
from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

from classifier.columns import detect_columns
from classifier.config import raw_data_dir
from classifier.index_key import name_keys
from classifier.normalize import index_key_subject, index_subject
from classifier.prepare import prepare
from classifier.vocabulary import INDEX_SYNONYMS, load_vocabulary

ROOT = Path(__file__).resolve().parent.parent
FUND_LIST = "eastmoney_fundcode_20251117/fundcode_search_20251117.csv"
INDEX_NAMES = (("tushare_etf_basic_2026/etf_basic_listed.csv", "index_name"),
               ("yalishanyi_csindex_list/csindex_index_list.csv", "display_name"))
LABELED = ("data/labeled/labels.csv", "data/labeled/efund/labels.csv")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def known_subjects(raw: Path) -> set[str]:
    vocab = load_vocabulary()
    names = list(_read(INDEX_SYNONYMS)["canonical"])
    names += [n for p in LABELED for n in _read(ROOT / p)["index_name"]]
    names += [n for p, col in INDEX_NAMES for n in _read(raw / p)[col]]
    return {index_key_subject(index_subject(n, vocab), vocab) for n in names if n}


def apart(fund_list: Path, raw: Path) -> tuple[pd.Series, list[tuple[str, int, list[str], bool]]]:
    vocab = load_vocabulary()
    families = vocab.index_families
    funds = _read(fund_list)
    p = prepare(funds, detect_columns(list(funds.columns)), vocab)
    keys = name_keys(p)
    keys = keys[keys != ""]
    known = known_subjects(raw)
    dropped: dict[str, set] = defaultdict(set)
    for k in known:
        w = next((w for w in families if k.startswith(w) and len(k) > len(w)), "")
        if w:
            dropped[k[len(w):]].add(k)
    rows = [(s, n, sorted(dropped[s]), s in known) for s, n in Counter(keys.str[4:]).most_common()
            if not s.startswith(families) and s in dropped]
    return keys, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", default=None, help=f"fund list (default: the raw folder's {FUND_LIST})")
    ap.add_argument("--raw", default=None, help="raw data folder (default: the configured one)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the keys")
    a = ap.parse_args()
    raw = Path(a.raw) if a.raw else raw_data_dir()
    keys, rows = apart(Path(a.list) if a.list else raw / FUND_LIST, raw)
    print(f"name keys: {len(keys)} rows, {keys.nunique()} keys")
    for what, pick in (("one known index", lambda r: len(r[2]) == 1 and not r[3]),
                       ("one known index, also its own name", lambda r: len(r[2]) == 1 and r[3]),
                       ("several known indices", lambda r: len(r[2]) > 1)):
        sel = [r for r in rows if pick(r)]
        print(f"keyed apart, a known index's name without its family word, {what}: "
              f"{sum(n for _, n, _, _ in sel)} rows, {len(sel)} keys")
        if a.verbose:
            for s, n, indices, _ in sel:
                print(f"  {n:4d}  idx:{s}  ({' / '.join(indices)})")


if __name__ == "__main__":
    main()
