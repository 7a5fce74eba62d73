"""Other names of one index (classifier/reference/index_synonyms.csv), derived from the raw index and fund lists.

A review decision is remembered per tracked index: its code key and its subject key (the index name without 指数 …,
:mod:`classifier.index_key`). The same index under two names gave two subject keys: 富国上证指数ETF (a fund list's
name alone) gave `idx:上证`, the ETFs of 000001.SH (上证综合指数) `idx:上证综合`, so a decision on one reached no fund named
the other way. The table maps each other name's subject to the subject of the index's full name; only keys read it.

Names of an index, by how sure they are:

1. official names of one code: the CSI index list's short names (`csindex_index_list.csv`, `index_selected_by_author.csv`
   of `yalishanyi_csindex_list`: 上证指数 000001, 科创综指 000680, 科创50 000688), the Tushare ETF list's index names
   (`index_code`, `index_name`: 上证综合指数) and the labeled sets' (`data/labeled/**/labels.csv`, `index_code`,
   `index_name`: the ETFs listed after the raw ETF list's cut-off, 上证科创板综合指数 000680). The full name of a code is
   the name the ETF list or the labeled sets give it (the most frequent; the CSI short name when neither does).
2. fund names that write their index as an index's short name (ending in an abbreviation of 指数: 指, 综指, 成指,
   taxonomy/common.toml `index_abbreviations`): an ETF's short and full name beside its index code (华夏战略新兴成指ETF
   → 000171), an index fund's exchange short name beside its benchmark's main index (Tushare's fund list: 科创综指ETF招商,
   上证科创板综合指数收益率; a benchmark's index only when official names give it one code). Such a name counts only
   where no official name gives its subject, all such names of it
   give one index, and its characters occur, in order, in the index's full name (战略新兴成份 in 中国战略新兴产业成份).
   Other words of fund names are left out: they shorten an index's name to a word other indices' funds use too
   (中证500成长ETF tracks 中证500质量成长, not 500成长; 化工行业ETF 中证石化产业).
3. feeders' names (the Eastmoney fund list, `eastmoney_fundcode_20251117`) beside the index code of the ETF the tool
   links each to (`classifier.linking`, as a tag run of the list does; the ETF's index code from the ETF list): a
   name that begins with an index family word (taxonomy/common.toml `index_families`) and with its index's full name,
   cut short at the end (景顺长城国证机器人ETF联接A → 景顺长城国证机器人产业ETF, 980022: 国证机器人 of 国证机器人产业), where
   no official name gives it and every fund name giving it (any kind above) gives that index.
4. fund names that give an index's name without the index family word it begins with (嘉实央企创新驱动ETF beside
   000861.CSI, 中证央企创新驱动指数: 央企创新驱动; `names` `family word dropped`): an index fund known by its name alone
   that drops the word (广发央企创新驱动ETF联接A, `idx:央企创新驱动`) tracks its index as surely as one that keeps it.
   Only where exactly one index has a name (official, or a benchmark's) that is the subject after a family word (not
   医药卫生: 中证, 创业板 and 沪深300医药卫生; not 成长: 创业板成长, 沪深300成长), no official name gives the subject
   (食品饮料 is the CSI's 000807 too), it is not a number alone (500), a fund name (any kind above, a labeled fund's,
   or an ETF's of the Eastmoney fund list beside the ETF list's index code of its fund code) gives it beside that
   index, and none beside another (信息技术, 中证信息技术 without 中证, is the name 广发信息技术联接A gives
   中证全指信息技术: left out). `-v` prints why each name funds give is left out.

An index whose full name is no other name's keeps a row of its own (`names` `code`, subject = canonical: 中证1000,
000852), which pairs its code with its name for review decisions (`classifier.index_key.reference_pairs`): a decision
on funds giving the index by name alone reaches funds giving it by code alone. Only a full name the ETF list or the
labeled sets give the code, or a CSI short name beginning with an index family word: a bare short name (机器人, H30590)
is a word other indices' funds use too.

A subject official names give two codes is no one's other name, nor one fund names (of any kind above, or a labeled
set's fund beside its row's index: 申万菱信沪深300优选指数增强发起A, 沪深300, not 930767 沪深300优选) give another
index: 军工 (official: 399959) names the ETFs of 399967 too, 大湾区 (931000) those of 恒生沪深港通大湾区综合. The table is checked on the labeled sets, the ETF
list and the CSI list: no subject newly names two index codes there (entries that would are dropped and printed), and
the labeled sets' groups it newly joins are printed with their classes.

Built 2026-12-01 (code rows and feeders' names added: session 29; rule 4: session 32).

Usage: python scripts/build_index_synonyms.py [--raw ../shared/data/raw] [--check]
writes classifier/reference/index_synonyms.csv and its section of SOURCE.md; --check exits 1 when the shipped table
differs from the one the lists give.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

from classifier.columns import detect_columns
from classifier.config import raw_data_dir
from classifier.index_key import _code_key, _unenhanced
from classifier.linking import link
from classifier.normalize import _strip, benchmark_subject, fund_subject, index_subject
from classifier.prepare import prepare
from classifier.text import clean
from classifier.vocabulary import INDEX_SYNONYMS, load_vocabulary

ROOT = Path(__file__).resolve().parent.parent
CSI_LIST = "yalishanyi_csindex_list/csindex_index_list.csv"
CSI_SELECTED = "yalishanyi_csindex_list/index_selected_by_author.csv"
ETF_LIST = "tushare_etf_basic_2026/etf_basic_listed.csv"
FUND_BASIC = "tushare_fund_basic_E_2025/fund_basic_market_E.csv"
FUND_LIST = "eastmoney_fundcode_20251117/fundcode_search_20251117.csv"
LABELED = ("data/labeled/labels.csv", "data/labeled/efund/labels.csv")
INDEX_FUNDS = {"被动指数型", "增强指数型"}  # Tushare's invest_type of funds that track their benchmark's index
SOURCE_MD = INDEX_SYNONYMS.parent / "SOURCE.md"
COLUMNS = ["subject", "canonical", "index_code", "names"]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _subsequence(short: str, full: str) -> bool:
    it = iter(full)
    return all(c in it for c in short)


class Names:
    """The names each source gives an index: official ones (code → subjects) and fund-given ones."""

    def __init__(self, raw: Path):
        self.vocab = vocab = load_vocabulary()
        self.subject = lambda name: index_subject(name, vocab) if clean(name) else ""
        csi, sel, etf = _read(raw / CSI_LIST), _read(raw / CSI_SELECTED), _read(raw / ETF_LIST)
        fund_basic = _read(raw / FUND_BASIC)
        labeled = pd.concat([_read(ROOT / p) for p in LABELED], ignore_index=True)
        # (source, code key, subject) of every official name
        self.official: list[tuple[str, str, str]] = []
        self.full: dict[str, Counter] = defaultdict(Counter)  # code key → its full names' subjects
        for src, df, code, name, full in (("csi", csi, "index_code", "display_name", False),
                                          ("csi", sel, "index_code", "name", False),
                                          ("etf", etf, "index_code", "index_name", True),
                                          ("labeled", labeled, "index_code", "index_name", True)):
            for c, n in zip(df[code], df[name]):
                k, s = _code_key(clean(c)), self.subject(n)
                if k and s:
                    self.official.append((src, k, s))
                    if full:
                        self.full[k][s] += 1
        # fund-given names: (subject, whether the name writes it abbreviated, the index's full name's subject or its
        # code key, fund)
        self.given: list[tuple[str, bool, str, str, str]] = []
        for name in ("csname", "cname"):
            for c, n in zip(etf["index_code"], etf[name]):
                k = _code_key(clean(c))
                if k:
                    self.given.append((*self.name_subject(n), "", k, n))
        index_funds = fund_basic[fund_basic["invest_type"].isin(INDEX_FUNDS)]
        for n, b in zip(index_funds["name"], index_funds["benchmark"]):
            bs = benchmark_subject(b, vocab)
            if bs:
                self.given.append((*self.name_subject(n), bs, "", n))
        # the labeled sets' funds beside the index their rows give (a reader's: 申万菱信沪深300优选指数增强发起A tracks
        # 沪深300, so 沪深300优选 is no name of the CSI's 930767 for its funds): (subject, code key, index subject, fund)
        self.labeled = [(self.name_subject(n)[0], _code_key(clean(c)), self.subject(i), n)
                        for n, c, i in zip(labeled["fund_name"], labeled["index_code"], labeled["index_name"])]
        # feeders of the fund list beside the index code of the ETF the tool links each to (classifier.linking, as a
        # tag run of the list does: 景顺长城国证机器人ETF联接A → 景顺长城国证机器人产业ETF, 159559, 980022.SZ)
        self.feeders: list[tuple[str, str, str]] = []  # (subject, code key, fund)
        funds = _read(raw / FUND_LIST)
        p = prepare(funds, detect_columns(list(funds.columns)), vocab)
        index_of = {clean(c)[:6]: _code_key(clean(k)) for c, k in zip(etf["ts_code"], etf["index_code"]) if clean(k)}
        for n, at in zip(p["name"], link(p)["etf"]):
            k = index_of.get(p["code"].iat[at][:6], "") if at >= 0 else ""
            if k:
                self.feeders.append((self.name_subject(n)[0], k, n))
        # the fund list's ETFs beside their own index code (the ETF list's, by fund code: 富国细分机械设备产业主题ETF,
        # 159886, 931786.CSI), for rule 4 only
        self.etfs = [(self.name_subject(n)[0], index_of[c[:6]], n) for n, c in zip(p["name"], p["code"])
                     if c[:6] in index_of]

    def name_subject(self, name: str) -> tuple[str, bool]:
        """The index subject a fund's name gives (as :func:`classifier.index_key.name_keys` reads it; an exchange short
        name's manager after ETF, 科创综指ETF招商, is cut off with it), and whether the name abbreviates 指数 (战略新兴成指)."""
        t = clean(name).split(self.vocab.etf)[0]
        s = fund_subject(t, self.vocab, cleaned=True)
        if not s:
            return "", False
        s = _unenhanced(s, self.vocab.enhanced)
        bare = _strip(s, self.vocab.index_strip_words)
        abbreviated = any(bare.endswith(a + tail) and len(bare) - len(a + tail) >= 2
                          for a, _ in self.vocab.index_abbreviations for tail in self.vocab.index_tails)
        return index_subject(s, self.vocab, cleaned=True), abbreviated


def derive(names: Names) -> tuple[pd.DataFrame, list[str]]:
    """The table, and what was left out and why."""
    notes: list[str] = []
    codes_of: dict[str, set] = defaultdict(set)
    for _, k, s in names.official:
        codes_of[s].add(k)
    short_of: dict[str, Counter] = defaultdict(Counter)
    for src, k, s in names.official:
        if src == "csi":
            short_of[k][s] += 1

    def canonical(identity: str) -> str:
        if identity.startswith("name:"):
            return identity[5:]
        counts = names.full.get(identity) or short_of.get(identity) or Counter()
        return max(counts.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]))[0] if counts else ""

    entries: dict[str, tuple[str, str]] = {}  # subject → (identity, how it is known)
    for s, ks in codes_of.items():
        if len(ks) == 1:
            entries[s] = (next(iter(ks)), "official")
    given: dict[str, set] = defaultdict(set)
    funds: dict[str, list] = defaultdict(list)
    contested = set()
    every: dict[str, set] = defaultdict(set)  # subject → every index a fund name giving it tracks
    for s, abbreviated, bench, k, fund in names.given:
        if not s:
            continue
        if not k:  # a benchmark's index: its code when official names give it one, else the name itself
            ks = codes_of.get(bench, set())
            k = next(iter(ks)) if len(ks) == 1 else "name:" + bench
        every[s].add(k)
        if s in codes_of:
            if s in entries and canonical(entries[s][0]) != canonical(k):
                notes.append(f"{fund}: its name gives {s}, officially {entries[s][0]}'s, but it tracks {k}: left out")
                contested.add(s)
            continue
        if abbreviated and not k.startswith("name:"):  # a benchmark no official name codes: its text may hold more
            given[s].add(k)
            funds[s].append(fund)
    # a labeled fund's name giving another code's official name than its row's index (given by code, or by a name
    # official names give one code; a reader's own short name, 科创芯片, names none)
    for s, k, bs, fund in names.labeled:
        ks = {k} if k else codes_of.get(bs, set())
        if s in entries and len(ks) == 1 and canonical(entries[s][0]) != canonical(next(iter(ks))):
            notes.append(f"{fund} (labeled): its name gives {s}, officially {entries[s][0]}'s, but it tracks {ks}: "
                         "left out")
            contested.add(s)
    for s in contested:
        del entries[s]
    # a feeder's name that begins with an index family word and with its ETF index's full name (国证机器人 of
    # 国证机器人产业), where no official name gives it and every fund name giving it gives that index
    for s, k, fund in names.feeders:
        if s and s not in codes_of and s.startswith(names.vocab.index_families) and canonical(k).startswith(s):
            given[s] |= {k} | every[s]
            funds[s].append(fund)
    for s, ks in sorted(given.items()):
        if len(ks) > 1:
            notes.append(f"{s}: fund names give it {len(ks)} indices ({', '.join(sorted(ks))}): left out")
            continue
        k = next(iter(ks))
        c = canonical(k)
        if s != c and not _subsequence(s, c):
            notes.append(f"{s} ({funds[s][0]}): not in order in {c}, the full name of {k}: left out")
            continue
        entries[s] = (k, "fund names")
    for s, k in _without_family_word(names, codes_of, canonical, every, set(entries), notes).items():
        entries[s] = (k, "family word dropped")
    rows, own = [], []
    for s, (k, how) in sorted(entries.items()):
        c = canonical(k)
        if c and c != s:
            rows.append({"subject": s, "canonical": c, "index_code": k[5:] if k.startswith("code:") else "",
                         "names": how})
        elif c and k.startswith("code:") and (names.full.get(k) or s.startswith(names.vocab.index_families)):
            # the code's own row, when no other name gives it one: its full name (the ETF list's, the labeled sets'),
            # or a CSI short name beginning with an index family word (中证1000, 000852), not a bare one (机器人)
            own.append({"subject": s, "canonical": s, "index_code": k[5:], "names": "code"})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table = table[~table["canonical"].isin(set(table["subject"]))]  # a canonical subject is no row's subject
    table = check(table, names, notes)
    own = pd.DataFrame(own, columns=COLUMNS)
    own = own[~own["index_code"].isin(set(table["index_code"])) & ~own["subject"].isin(set(table["subject"]))]
    return pd.concat([table, own]).sort_values("subject", kind="stable").reset_index(drop=True), notes


def _family_dropped(subject: str, families: tuple[str, ...]) -> str:
    """``subject`` without the index family word it begins with (中证央企创新驱动 → 央企创新驱动), '' when it begins
    with none or is one alone (``families`` longest first, as the vocabulary holds them)."""
    w = next((w for w in families if subject.startswith(w)), "")
    return subject[len(w):] if w else ""


def _without_family_word(names: Names, codes_of: dict[str, set], canonical, every: dict[str, set],
                         taken: set[str], notes: list[str]) -> dict[str, str]:
    """Rule 4: subject → index (code key, or ``name:`` a benchmark's index) of the fund names that give an index's
    name without the family word it begins with (嘉实央企创新驱动ETF, 000861.CSI 中证央企创新驱动指数: 央企创新驱动), where

    - exactly one index has a name (official: the CSI list's, the ETF list's, the labeled sets'; or a benchmark's)
      that is the subject after a family word: 医药卫生 is 中证, 创业板 and 沪深300医药卫生, so no one's;
    - no official name gives the subject (食品饮料, a CSI short name of its own) and it is no name of its index's
      number alone (500: the number names no index, :func:`classifier.index_key.name_keys`);
    - a fund name (any kind above, a labeled fund's, or the fund list's ETFs' beside their index code) gives it
      beside that index, and no fund name gives it beside another: 信息技术 is 中证信息技术
      without its family word, but 广发信息技术联接A feeds the ETF of 中证全指信息技术 (000993), so it names neither.

    ``taken``: subjects the other rules gave an index; why a name funds give is left out goes into ``notes``."""
    families = names.vocab.index_families
    named: dict[str, set] = defaultdict(set)  # a subject after a family word → the indices with such a name
    for _, k, s in names.official:
        r = _family_dropped(s, families)
        if r:
            named[r].add(k)
    for s, _, bench, k, _ in names.given:
        r = _family_dropped(bench, families)
        if r and not k and not codes_of.get(bench):
            named[r].add("name:" + bench)
    tracked: dict[str, set] = defaultdict(set, {s: set(ks) for s, ks in every.items()})  # subject → indices funds give
    for s, k, _ in names.feeders + names.etfs:
        tracked[s].add(k)
    for s, k, bs, _ in names.labeled:
        ks = {k} if k else codes_of.get(bs, set())
        if len(ks) == 1:
            tracked[s] |= ks
        elif bs and not ks:
            tracked[s].add("name:" + bs)
    out = {}
    for r, ks in sorted(named.items()):
        if r in taken or r.isdigit():
            continue
        # a fund beside an index named as the subject itself (a labeled row's 龙头家电, no code) says nothing of which
        given = {canonical(t) for t in tracked.get(r, ())} - {r}
        why = (f"{len(ks)} indices are it after a family word ({', '.join(sorted(ks))})" if len(ks) > 1
               else f"an official name of {', '.join(sorted(codes_of[r]))}" if r in codes_of
               else "no fund name gives it" if not given
               else f"fund names give it {', '.join(sorted(given))}" if given != {canonical(next(iter(ks)))}
               else "")
        if not why:
            out[r] = next(iter(ks))
        elif given:  # a name funds use: say why it names no index
            notes.append(f"{r}: {why}: not read as {' / '.join(sorted(canonical(k) for k in ks))} (rule 4)")
    return out


def _codes_by_subject(pairs, syn: dict[str, str]) -> dict[str, set]:
    out: dict[str, set] = defaultdict(set)
    for k, s in pairs:
        out[syn.get(s, s)].add(k)
    return out


def check(table: pd.DataFrame, names: Names, notes: list[str]) -> pd.DataFrame:
    """Drop the entries that make a subject name two index codes it did not name before, in any one source (the
    labeled sets, the ETF list, the CSI list) or all of them together."""
    sources = defaultdict(list)
    for src, k, s in names.official:
        sources[src].append((k, s))
        sources["all"].append((k, s))
    while True:
        syn = dict(zip(table["subject"], table["canonical"]))
        bad = set()
        for src, pairs in sources.items():
            before, after = _codes_by_subject(pairs, {}), _codes_by_subject(pairs, syn)
            for s, ks in after.items():
                if len(ks) > 1 and before.get(s, set()) != ks:
                    bad |= {v for v, c in syn.items() if c == s}
                    notes.append(f"{s} would name {sorted(ks)} in {src}: its other names left out")
        if not bad:
            return table.reset_index(drop=True)
        table = table[~table["subject"].isin(bad)]


def joined_groups(table: pd.DataFrame) -> list[str]:
    """The labeled sets' groups the table newly joins (by index subject), with their classes."""
    syn = dict(zip(table["subject"], table["canonical"]))
    vocab = load_vocabulary()
    out = []
    for p in LABELED:
        df = _read(ROOT / p)
        s = df["index_name"].map(lambda n: index_subject(n, vocab) if n else "")
        df = df.assign(before=s, after=s.map(lambda t: syn.get(t, t)))
        for after, g in df[df["after"] != ""].groupby("after"):
            if g["before"].nunique() > 1:
                parts = [f"{grp} ({'/'.join(sorted(set(x.secondary)))}, {len(x)})" for grp, x in g.groupby("group")]
                out.append(f"{p}: {after}: " + " + ".join(parts))
    return out


def source_section(table: pd.DataFrame) -> str:
    by = table["names"].value_counts()
    return f"""<!-- section: index_synonyms.csv (written by scripts/; do not edit by hand) -->
## Other names of one index (derived)

`index_synonyms.csv`: {len(table)} index subjects (an index name without 指数 …, as `classifier.normalize.index_subject`
reads it), each with the subject of its index's full name (`canonical`), the index code when one is known, and how
the name is known (`names`: `official`, {by.get('official', 0)}: a short name the CSI index list gives the code;
`fund names`, {by.get('fund names', 0)}: the name funds tracking the index give it; `family word dropped`,
{by.get('family word dropped', 0)}: the index's name without the index family word it begins with, as funds tracking it
give it, where no other index's name is it after a family word, no official name gives it and no fund gives it beside
another index; `code`, {by.get('code', 0)}: an
index's full name that is no other name's, subject = canonical, which pairs the code with it). Review decisions' index keys read
it (`classifier.index_key`): 富国上证指数ETF (`idx:上证`) and the ETFs of 000001.SH (上证综合指数) are one index,
a decision on 中证1000 given by name reaches funds giving 000852 alone, and one on 中证央企创新驱动 reaches
广发央企创新驱动ETF联接A (`idx:央企创新驱动`). Part of the shared vocabulary: its bytes are in
the vocabulary hash a model records.

- Derived from the shared raw data, never copied: `{CSI_LIST}` and `{CSI_SELECTED}` (yalishanyi/stock_data, CSI index
  short names, 2026-05-12), `{ETF_LIST}` (Tushare ETF list, index codes and names, fund names; ~May 2026),
  `{FUND_BASIC}` (Tushare fund list, index funds' names and benchmarks; 2025-04), `{FUND_LIST}` (Eastmoney fund list,
  2025-11-17: feeders' names, each with the ETF the tool links it to), and the labeled sets' index codes and names
  (`data/labeled/labels.csv`, `data/labeled/efund/labels.csv`); built 2026-12-01 (code rows, feeders: session
  29; names without their family word: session 32). Rules in the script's
  docstring: only names of exactly one index code; a subject official names give two codes, or that funds tracking
  another index use (军工, 大湾区), is left out; no subject newly names two codes in the labeled sets, the ETF list or
  the CSI list.
- Rebuild: `python scripts/build_index_synonyms.py` (then retrain both shipped models: the vocabulary hash changes);
  `--check` exits 1 when the table is not the one the lists give.
"""


def write_source(section: str) -> None:
    text = SOURCE_MD.read_text(encoding="utf-8")
    marker = "<!-- section: index_synonyms.csv"
    parts = text.split("<!-- section: ")
    kept = [p for p in parts[1:] if not ("<!-- section: " + p).startswith(marker)]
    SOURCE_MD.write_text(parts[0] + "".join("<!-- section: " + p for p in kept).rstrip("\n") + "\n\n" + section,
                         encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", default=None, help="raw data folder (default: the configured one)")
    ap.add_argument("--check", action="store_true", help="exit 1 when the shipped table differs from the derived one")
    ap.add_argument("-v", "--verbose", action="store_true", help="print what was left out and the groups joined")
    a = ap.parse_args()
    table, notes = derive(Names(Path(a.raw) if a.raw else raw_data_dir()))
    text = table.to_csv(index=False, lineterminator="\n")
    if a.check:
        same = INDEX_SYNONYMS.exists() and INDEX_SYNONYMS.read_text(encoding="utf-8") == text
        print(f"{INDEX_SYNONYMS.name}: {'up to date' if same else 'differs from the lists'} ({len(table)} rows)")
        sys.exit(0 if same else 1)
    INDEX_SYNONYMS.write_text(text, encoding="utf-8")
    write_source(source_section(table))
    print(f"wrote {INDEX_SYNONYMS} ({len(table)} rows)")
    if a.verbose:
        print("\n".join(notes + joined_groups(table)))


if __name__ == "__main__":
    main()
