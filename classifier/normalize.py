"""Text normalization before matching: one function per field kind, each applied once per distinct value.

Full-width to half-width (NFKC), traditional to simplified (OpenCC), no spaces, upper-case Latin; then, per field,
the fund-structure words (联接, 发起式, LOF, ETF, share-class letters) or index-name words (指数, 价格指数) are removed
and Wind/Choice abbreviations (CS → 中证, SHS → 沪港深) expanded.
"""
from __future__ import annotations

import re

import pandas as pd

from .text import MAX_CHARS, clean, clean_many  # noqa: F401  (clean lives in .text, below the vocabulary)
from .vocabulary import Vocabulary


def _strip(t: str, words: tuple[str, ...]) -> str:
    for w in words:
        if w in t:
            t = t.replace(w, "")
    return t


def _expand_aliases(t: str, vocab: Vocabulary) -> str:
    if t[:1] not in vocab.alias_starts:  # most subjects begin with no abbreviation at all
        return t
    for short, full in vocab.aliases.items():
        if t.startswith(short) and not t[len(short):len(short) + 1].isascii():
            return full + t[len(short):]
    return t


def _uncurrency(t: str, vocab: Vocabulary) -> str:
    """``t`` without the share-class currency words it ends with (taxonomy/common.toml ``currency_words``), where
    something is left: 嘉实美国成长股票美元现汇 → 嘉实美国成长股票; …联接(QDII)A人民币 → …联接(QDII)A, whose class letter
    is then read as at the end. A currency is not a fund's theme."""
    rx = vocab.currency_tail_words
    # its match ends where the text does (or before a last newline): a text ending in none of the words has none,
    # which ``endswith`` says without the pattern's try at every character
    if rx is None or not (t.endswith(vocab.currency_words) or t.endswith("\n")):
        return t
    m = rx.search(t)
    return t[:m.start()] if m else t


def fund_subject(name: str, vocab: Vocabulary, cleaned: bool = False) -> str:
    """A fund name reduced to what it says about its theme: no manager, structure words or share class."""
    return _subject_of_classless(_classless(name if cleaned else clean(name), vocab), vocab)


def fund_subject_column(series: pd.Series, vocab: Vocabulary) -> pd.Series:
    """:func:`fund_subject` of a column of cleaned names, once per distinct name, and what follows the share class's
    removal once per distinct name without it: a fund's share classes (…联接A, …联接C) leave the same text, which is
    read once (the fund list: 25,312 names, 13,762 without their class)."""
    subjects: dict[str, str] = {}

    def subject(name: str) -> str:
        t = _classless(name, vocab)
        s = subjects.get(t)
        if s is None:
            s = subjects[t] = _subject_of_classless(t, vocab)
        return s

    return apply_unique(series, subject)


def _classless(t: str, vocab: Vocabulary) -> str:
    """The first half of :func:`fund_subject`: a cleaned name without its currency words and share-class letter."""
    t = _uncurrency(t, vocab)
    # a class letter before a trailing structure word (南方沪深300ETF联接A(后端)) is the share class too: stripped
    # with the word, it would follow a digit (沪深300A), where no class letter is read
    for w in vocab.strip_suffixes.get(t[-1:], vocab.strip_suffixes[""]):  # the words t may end with, longest first
        if t.endswith(w) and vocab.share_class.search(t[:-len(w)]):
            t = t[:-len(w)]
            break
    return without_share_class(t, vocab)


MEMO_TEXTS = 50_000  # texts whose letter removal is remembered: memory stays flat over a long file
_LETTERLESS: dict[re.Pattern, dict[str, str]] = {}  # per share-class pattern: text → the text without its letter


def without_share_class(t: str, vocab: Vocabulary) -> str:
    """``t`` without its share-class letter (taxonomy/common.toml [normalize] ``share_class``), the pattern applied
    twice, the second time only where the first took a letter off. Remembered per text: a name's family key
    (:func:`classifier.linking.family_key`) takes the letter off the same cleaned name its subject (:func:`_classless`)
    did, and the pattern's look-behind is tried at every character (~5k instructions a name)."""
    memo = _LETTERLESS.setdefault(vocab.share_class, {})
    r = memo.get(t)
    if r is None:
        r, n = vocab.share_class.subn("", t)
        if n:
            r = vocab.share_class.sub("", r)
        if len(memo) >= MEMO_TEXTS:
            memo.clear()
        memo[t] = r
    return r


def _subject_of_classless(t: str, vocab: Vocabulary) -> str:
    """The second half of :func:`fund_subject`: the subject of a text :func:`_classless` gave."""
    m = vocab.manager_prefix.match(t)
    if m and len(t) > m.end() + 1:
        t = t[m.end():]
    if vocab.strip_any.search(t):  # most names hold none of the words: one scan instead of one per word
        t = _strip(t, vocab.strip_words)
    # a share class's currency the words stripped brought to the end (广发纳斯达克100ETF联接美元(QDII)A → 纳斯达克100美元)
    t = _uncurrency(t, vocab)
    return _expand_aliases(vocab.share_class.sub("", t), vocab)


def index_subject(name: str, vocab: Vocabulary, cleaned: bool = False) -> str:
    """An index name reduced to its subject: 中证半导体产业指数 → 中证半导体产业; CS人工智能 → 中证人工智能; a short name's
    closing abbreviation read as the word it abbreviates (taxonomy/common.toml ``index_abbreviations``): 创业板指 →
    创业板, as 创业板指数; 上证综指 → 上证综合."""
    t = _strip(name if cleaned else clean(name), vocab.index_strip_words)
    for short, full in vocab.index_abbreviations:  # longest first
        for tail in vocab.index_tails:  # '' first, then 全收益, 价格 …: 上证综指全收益 is 上证综合全收益指数, 上证综合
            if t.endswith(short + tail) and len(t) - len(short + tail) >= 2:
                return _expand_aliases(t[:-len(short + tail)] + full, vocab)
    return _expand_aliases(t, vocab)


def index_key_subject(subject: str, vocab: Vocabulary) -> str:
    """The subject an index key is named by: the subject of the index's full name when ``subject`` is another name of
    that index (classifier/reference/index_synonyms.csv: 上证 of 上证指数 → 上证综合, 科创综合 of 科创综指 → 上证科创板综合,
    科创50 → 上证科创板50成份), else ``subject`` itself. Only keys read it (a review decision reaches the index's funds
    under either name); the rules and the model read the subject as the name gives it."""
    return vocab.index_synonyms.get(subject, subject)


def benchmark_subject(text: str, vocab: Vocabulary, cleaned: bool = False) -> str:
    """The main index of a benchmark text: '中证500指数收益率×95%+银行活期存款利率×5%' → '中证500'."""
    t = text if cleaned else clean(text)
    if not t:
        return ""
    parts = [p for p in vocab.benchmark_split.split(t) if p and not re.fullmatch(r"[\d.%()]+", p)]
    for p in parts:
        if any(w in p for w in vocab.benchmark_index_words):
            return index_subject(p, vocab, cleaned=True)
    return index_subject(parts[0], vocab, cleaned=True) if parts else ""


def texts(series: pd.Series) -> list[str]:
    """A column's cells as text, missing ones '' (``series.fillna("").astype(str)``, as a list). A column that holds
    only text, as every column of a file read does, is taken as it is: pandas 3 would copy it into an Arrow string
    array and back, which costs more than the work done on it."""
    values = series.tolist()
    if set(map(type, values)) <= {str}:
        return values
    return series.fillna("").astype(str).tolist()


def apply_unique(series: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value (fund lists repeat names across share classes); the result is a column of
    Python strings (dtype object, as in pandas 2: the prepared frame's columns are read value by value)."""
    values = texts(series)
    mapping = {u: fn(u) for u in dict.fromkeys(values)}  # in the order values first occur
    return pd.Series([mapping[v] for v in values], index=series.index, dtype=object)


def clean_column(series: pd.Series) -> pd.Series:
    """:func:`clean` over a column, once per distinct value, with one OpenCC call (dtype object, see
    :func:`apply_unique`)."""
    values = texts(series)
    uniq = list(dict.fromkeys(values))
    mapping = dict(zip(uniq, clean_many(uniq)))
    return pd.Series([mapping[v] for v in values], index=series.index, dtype=object)
