"""Fund-management companies' short names that the raw fund lists use and taxonomy/common.toml's `managers` lacks.

A manager's name missing from the vocabulary stays at the front of a fund's subject, so the index a name gives keeps
it (人保中证A500指数增强A → `idx:人保中证A500`, not `中证A500`) and names a review sheet's group of its own. The names
are read from the raw lists (never copied), by two rules:

1. Tushare's fund list names each fund's manager (`management`: 宏利基金, 东证资管). The manager's short name is the
   longest prefix of two characters or more that most of its funds' names share (东证资管's funds: 东方红…), else the
   company name without 基金 when funds' names begin with it (中银证券).
2. Eastmoney's fund list gives names alone. Its names that no known manager begins are put together by their first
   two characters; a group of three fund families or more (names without their share-class letter) that are not
   exchange short names (ETF, LOF and graded-fund legs name their theme first: 银行ETF, 证保A级) gives the prefix
   its names share up to where they part (人保货币A, 人保双利A, 人保中证A500指数增强A → 人保).
3. A known manager's name followed by another's, in three fund families or more of Eastmoney's list that are not
   exchange short names, is one company's name: two companies merged (国泰君安 and 海通证券 in 2025: 国泰海通中证500指数
   增强A, 国泰海通君得利短债C, …), and a name rule 2 skips (国泰 begins it) kept the second manager in its subject
   (idx:海通沪深300). A fund that names another company's product after its manager's name (华泰柏瑞南方东英恒生科技
   ETF) is an exchange short name; one family (汇添富添富通货币, 交银先锋混合) is not three.

Usage: python scripts/derive_managers.py [--raw ../shared/data/raw] [--check]
prints the missing names as a TOML array to paste into `managers` (keep the longest first where one name begins
another: the loader sorts them anyway); --check exits 1 when any is missing.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

from classifier.config import raw_data_dir
from classifier.taxonomy import load_taxonomy
from classifier.text import clean
from classifier.vocabulary import load_vocabulary

FUND_BASIC = "tushare_fund_basic_E_2025/fund_basic_market_E.csv"
ETF_LIST = "tushare_etf_basic_2026/etf_basic_listed.csv"
FUND_LIST = "eastmoney_fundcode_20251117/fundcode_search_20251117.csv"
TAXONOMIES = Path(__file__).resolve().parent.parent / "taxonomy"
MIN_FAMILIES = 3  # rules 1 and 2: fund families (names without their share-class letter) a prefix must begin
# exchange short names (ETF, LOF, graded-fund legs) and ETFs' full names, which begin with their theme, not a manager
EXCHANGE_NAME = re.compile(r"ETF|LOF|EF$|[AB]级|[AB]端|进取|优先|分级|交易型开放式")
CJK = re.compile(r"[\u4e00-\u9fff]{2,}")


def _read(raw: Path, rel: str) -> pd.DataFrame:
    return pd.read_csv(raw / rel, dtype=str, keep_default_na=False)


def _family_prefix(families: list[str]) -> str:
    """The two-character prefix more than half of ``families`` share, extended while every family with it shares the
    next character (东方红恒阳定开, 东方红睿泽, … → 东方红); '' when no two characters begin most of them."""
    counts = pd.Series([f[:2] for f in families]).value_counts()
    if counts.empty or counts.iloc[0] * 2 <= len(families):
        return ""
    prefix = counts.index[0]
    group = [f for f in families if f.startswith(prefix)]
    while all(len(f) > len(prefix) for f in group) and len({f[len(prefix)] for f in group}) == 1:
        prefix += group[0][len(prefix)]
    return prefix


def from_management(fund_basic: pd.DataFrame, names: list[str], share_class: re.Pattern) -> set[str]:
    """Rule 1: each manager's short name as its funds' names in Tushare's list begin."""
    out = set()
    for company, g in fund_basic.groupby("management"):
        families = sorted({share_class.sub("", clean(n)) for n in g["name"] if n})
        prefix = _family_prefix(families) if len(families) >= MIN_FAMILIES else ""
        short = clean(company).removesuffix("基金")
        if prefix.startswith(short) or not CJK.fullmatch(prefix):  # 九泰锐… is 九泰's; 德信A, 德信B one family
            prefix = short if any(n.startswith(short) for n in names) else ""
        if CJK.fullmatch(prefix):
            out.add(prefix)
    return out


def from_names(names: list[str], known: set[str], share_class: re.Pattern, index_words: set[str]) -> set[str]:
    """Rule 2: the prefixes the fund families of ``names`` that no name of ``known`` begins share, by first two
    characters, up to where their names part; not one that begins an index or theme word (``index_words``) or that
    such a word begins (上证50A, 创业板定开, 科创板长城 name their index first)."""
    begins = re.compile("|".join(re.escape(m) for m in sorted(known, key=len, reverse=True)))
    groups = defaultdict(list)
    for n in names:
        if not begins.match(n) and not EXCHANGE_NAME.search(n) and len(n) > 4:
            groups[n[:2]].append(n)
    out = set()
    for first, group in groups.items():
        families = {share_class.sub("", n) for n in group}
        if len(families) < MIN_FAMILIES:
            continue
        prefix = first
        while len({n[len(prefix):len(prefix) + 1] for n in group}) == 1 and all(len(n) > len(prefix) for n in group):
            prefix += group[0][len(prefix)]
        if CJK.fullmatch(prefix) and not any(w.startswith(prefix) or prefix.startswith(w) for w in index_words):
            out.add(prefix)
    return out


def from_merged(names: list[str], known: set[str], share_class: re.Pattern) -> set[str]:
    """Rule 3: two names of ``known`` one after the other at the start of three fund families or more of ``names``
    (not exchange short names), with two characters or more after them: 国泰 + 海通 → 国泰海通."""
    ordered = sorted(known, key=len, reverse=True)
    begins = re.compile("|".join(re.escape(m) for m in ordered))
    families = defaultdict(set)
    for n in names:
        m = begins.match(n)
        if not m or EXCHANGE_NAME.search(n):
            continue
        second = begins.match(n, m.end())
        if second and len(n) > second.end() + 1:
            families[n[:second.end()]].add(share_class.sub("", n))
    return {prefix for prefix, fams in families.items() if len(fams) >= MIN_FAMILIES}


def missing_managers(raw: Path, vocabulary_path: str | Path | None = None) -> list[str]:
    """The managers' short names the raw lists use that the vocabulary's `managers` lacks, sorted."""
    vocab = load_vocabulary(vocabulary_path)
    fund_basic, etf, fund_list = _read(raw, FUND_BASIC), _read(raw, ETF_LIST), _read(raw, FUND_LIST)
    names = list(dict.fromkeys(clean(n) for n in (*fund_list["fund_short_name"], *fund_basic["name"],
                                                  *etf["csname"], *etf["cname"]) if n))
    known = set(vocab.managers)
    listed = from_management(fund_basic, names, vocab.share_class)
    # the words that begin a name for its index or theme: index families, abbreviations' expansions, the taxonomies'
    # keywords and rule terms
    index_words = {*vocab.structure_words, *vocab.aliases.values()}
    for path in sorted(TAXONOMIES.glob("*.toml")):
        if path.name != "common.toml":
            index_words.update(load_taxonomy(path).terms())
    found = listed | from_names(names, known | listed, vocab.share_class, {w for w in index_words if len(w) >= 2})
    listed_names = [clean(n) for n in dict.fromkeys(fund_list["fund_short_name"]) if n]
    found |= from_merged(listed_names, known | found, vocab.share_class)
    return sorted(found - known)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", default=None, help="raw data folder (default: the configured one)")
    ap.add_argument("--vocabulary", default=None, help="taxonomy/common.toml to check (default: the configured one)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a manager is missing")
    a = ap.parse_args()
    missing = missing_managers(Path(a.raw) if a.raw else raw_data_dir(), a.vocabulary)
    print("[" + ", ".join(f'"{m}"' for m in missing) + "]")
    if a.check and missing:
        print(f"{len(missing)} manager name(s) missing from the vocabulary", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
