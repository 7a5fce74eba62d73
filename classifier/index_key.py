"""One key per tracked index, shared by review decisions (a decision on one fund settles its index) and by the
review sheet (rows of one index side by side).

A prepared row (see :mod:`classifier.prepare`) yields up to two keys: ``code:<index code without exchange suffix>``
and ``idx:<index subject>`` (the index name with structure words stripped); rows without an index fall back to
``bench:<benchmark subject>``. A subject another name of its index gives is named as the index's full name gives it
(:func:`classifier.normalize.index_key_subject`: 上证指数 and 上证综合指数 are one key, ``idx:上证综合``). A batch row matches a decision by code first, then by subject, so a feeder that names
only its index (上证红利) finds the decision made on the ETF that carries the code (000015.SH); an index fund known
by its name alone matches by the subject its name gives (:func:`name_keys`).
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from .fundtype import ENHANCED, PASSIVE
from .normalize import apply_unique, clean, index_key_subject, index_subject
from .vocabulary import load_vocabulary


def _code_key(index_code: str) -> str:
    """``code:`` and the index code without its exchange, written behind (000300.SH, 000300.CSI) or in front
    (SH000300, sh000300, CSI000300: letters before six digits): one index, one key. Codes that hold letters of their
    own (H30590, HSI) are kept as they are."""
    code = index_code.upper().split(".")[0].strip()
    m = re.fullmatch(r"[A-Z]{2,4}(\d{6})", code)
    code = m.group(1) if m else code
    return "code:" + code if code else ""


def code_keys(p: pd.DataFrame) -> pd.Series:
    """``code:<index code without exchange suffix>`` per row ('' without a code); worked out once per distinct code."""
    return apply_unique(p["index_code"], _code_key)


def _named(subjects: pd.Series) -> pd.Series:
    """Each subject as its index key names it (:func:`classifier.normalize.index_key_subject`)."""
    vocab = load_vocabulary()
    if not vocab.index_synonyms:
        return subjects
    return apply_unique(subjects, lambda t: index_key_subject(t, vocab))


def subject_keys(p: pd.DataFrame) -> pd.Series:
    s_index, s_benchmark = _named(p["s_index"]), _named(p["s_benchmark"])
    # row by row (pandas' element-wise "+" and where make a new column each)
    return pd.Series([("idx:" + i) if i else ("bench:" + b) if b else "" for i, b in
                      zip(s_index.tolist(), s_benchmark.tolist())], index=p.index, dtype=object)


_SHARE_AFTER_NUMBER = re.compile(r"(?<=\d)[A-Z]$")


def name_keys(p: pd.DataFrame) -> pd.Series:
    """``idx:<index subject>`` read from the name of an index fund (passive or enhanced) that gives no index code,
    index or benchmark, '' for every other row. A fund list gives names alone, and 华夏中证A500ETF联接C tracks 中证A500
    as surely as a row whose index column says so: a review decision on that index reaches it. A name beginning with a
    company the vocabulary's managers lack gives the index from its first index family word on (:func:`_unprefixed`)."""
    vocab = load_vocabulary()
    out = np.full(len(p), "", dtype=object)
    # NumPy's comparison of the columns' Python strings (pandas' own costs ~0.6 ms more a column)
    bare = pd.Series((p["index_code"].to_numpy() == "") & (p["s_index"].to_numpy() == "")
                     & (p["s_benchmark"].to_numpy() == "") & (p["s_name"].to_numpy() != ""), index=p.index) \
        & p["management_style"].isin([PASSIVE, ENHANCED])
    if bare.any():
        def named(t: str) -> str:
            # a share-class letter right after the index's number (人保沪深300A, 东财上证50C) is no part of the index:
            # the name reads it as the subject's end, where only one after a Chinese character is taken off; the
            # subject without it is the one the synonym table names (东财A500A: A500, 中证A500)
            t = _unprefixed(_unenhanced(t, vocab.enhanced), vocab.index_families)
            s = _SHARE_AFTER_NUMBER.sub("", index_key_subject(index_subject(t, vocab, cleaned=True), vocab))
            return index_key_subject(s, vocab)

        subject = apply_unique(p.loc[bare, "s_name"], named)
        # a name that gives its index's number alone (50ETF, 平安500ETF联接A: 50, 500) does not name the index: its
        # full name does (上证50交易型开放式指数证券投资基金: 上证50); without one that names it, no key
        number = subject.str.fullmatch(r"[0-9]+").to_numpy(dtype=bool)
        if number.any():
            full = apply_unique(p.loc[bare, "s_full_name"][number], named)
            subject[number] = full.where(~full.str.fullmatch(r"[0-9]*"), "").to_numpy(dtype=object)
        # the bare rows, in order
        out[bare.to_numpy(dtype=bool)] = [("idx:" + t) if t else "" for t in subject.tolist()]
    return pd.Series(out, index=p.index, dtype=object)


def _unprefixed(subject: str, families: tuple[str, ...]) -> str:
    """A fund name's subject from the first index family word on (taxonomy/common.toml ``index_families``: 中证, 上证 …)
    when it does not begin with one: what comes before is a company name the vocabulary's managers lack (华泰保兴中证
    A500指数增强A gives 保兴中证A500 → 中证A500; 招商资管北证50成份指数发起A, 资管北证50成份 → 北证50成份). A subject
    beginning with one, or holding none, is kept as it is."""
    if not families or subject.startswith(families):
        return subject
    at = min((i for i in (subject.find(w, 1) for w in families) if i > 0), default=-1)
    return subject[at:] if at > 0 else subject


def _unenhanced(name: str, words) -> str:
    """The name without a trailing enhanced-fund word (taxonomy/common.toml: 增强, 指增): 中证A500指数增强 → 中证A500指数."""
    for w in sorted(words, key=len, reverse=True):
        if name.endswith(w) and len(name) > len(w):
            return name[:-len(w)]
    return name


def display_key(p: pd.DataFrame) -> pd.Series:
    """The one key a person reads: the index code when there is one, else the index subject, else the subject an index
    fund's name gives (:func:`name_keys`): the name of a review sheet's group (which rows a decision settles is
    read from the labeled set, :mod:`classifier.reach`). Not the benchmark's subject: the
    labeled set keeps no benchmark, so a decision on a fund known by its benchmark alone settles that fund (and its
    share classes and feeders), not the other funds of that benchmark."""
    c, s, n = code_keys(p), subject_keys(p), name_keys(p)
    s = s.where(~s.str.startswith("bench:"), "")
    return c.where(c != "", s).where(lambda k: k != "", n)


def index_aliases(index_code: pd.Series, index_name: pd.Series) -> dict[str, str]:
    """The index code keys and index subject keys a labeled set (its ``index_code`` and ``index_name`` columns) pairs
    one to one, each mapped to the other (``code:399967`` ↔ ``idx:中证军工``): one batch gives an index by code only,
    another by name only, and a decision made on either settles the funds of both. A subject the set gives two codes
    (or a code two subjects) is paired with neither. The pairs of the shipped index synonym table join them where the
    set pairs neither key (:func:`pair_aliases`)."""
    return pair_aliases(index_pairs(index_code, index_name))


def index_pairs(index_code: pd.Series, index_name: pd.Series) -> set[tuple[str, str]]:
    """The (code key, subject key) pairs of the rows that give both (:func:`index_aliases` reads them)."""
    return rows_pairs(row_keys(index_code, index_name))


def rows_pairs(keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """:func:`index_pairs` of the rows' keys already read (:func:`row_keys`)."""
    return {(a, b) for a, b in keys if a and b}


_ROW_KEYS: list = []  # the last (index codes, index names, vocabulary, their row_keys) of text columns


def row_keys(index_code: pd.Series, index_name: pd.Series) -> list[tuple[str, str]]:
    """Per row of a labeled set (its ``index_code`` and ``index_name`` columns), the index code key and the index
    subject key ('' where none) a batch row giving the same index code and name yields (:func:`code_keys`,
    :func:`subject_keys`): the keys a fund the set holds is settled by when its batch row's own keys meet no decision
    (a fund list gives 平安300ETF联接C's index as its name does, the number 300 alone: no key; the set, as `idx:沪深300`).

    The last text columns' keys are given again while the columns and the vocabulary are the same (the list is
    read-only): every load of a tagger with the labeled set's decisions reads them (~20 ms on the shipped set's 5,000
    rows), and so does each review import, which changes labels, not the set's index columns."""
    vocab = load_vocabulary()
    code, name = index_code.reset_index(drop=True), index_name.reset_index(drop=True)
    text = isinstance(code.dtype, pd.StringDtype) and isinstance(name.dtype, pd.StringDtype)  # equals: cell for cell
    if text and _ROW_KEYS and _ROW_KEYS[2] is vocab and _ROW_KEYS[0].equals(code) and _ROW_KEYS[1].equals(name):
        return _ROW_KEYS[3]
    c = apply_unique(index_code, lambda t: _code_key(clean(t)))
    s = apply_unique(index_name, lambda t: index_key_subject(index_subject(t, vocab), vocab))
    keys = [(a, "idx:" + b if b else "") for a, b in zip(c.tolist(), s.tolist())]
    if text:
        _ROW_KEYS[:] = [code.copy(deep=True), name.copy(deep=True), vocab, keys]  # copies: a caller may change its own
    return keys


def pair_aliases(pairs: set[tuple[str, str]]) -> dict[str, str]:
    """The keys of ``pairs`` paired one to one, each mapped to the other (see :func:`index_aliases`), and the pairs of
    the shipped reference (:func:`reference_pairs`) whose keys ``pairs`` gives no pair of: a labeled set pairs no code
    with an index it holds by name alone (招商中证1000…, ``idx:中证1000``), and a batch giving that index by code alone
    (000852.SH) meets its decision only through the reference. The set comes first: a key it pairs with another, or
    with two (paired with neither), keeps that (its own funds say how they name the index)."""
    out = _one_to_one(pairs)
    taken = {k for pair in pairs for k in pair}
    for a, b in reference_pairs():
        if a not in taken and b not in taken:
            out[a], out[b] = b, a
    return out


def _one_to_one(pairs) -> dict[str, str]:
    codes, subjects = pd.Series([a for a, _ in pairs], dtype=object), pd.Series([b for _, b in pairs], dtype=object)
    one = ~codes.duplicated(keep=False) & ~subjects.duplicated(keep=False)
    out = dict(zip(codes[one], subjects[one]))
    out.update(zip(subjects[one], codes[one]))
    return out


def reference_pairs() -> tuple[tuple[str, str], ...]:
    """The (code key, subject key) pairs of the index synonym table shipped with the tool (classifier/reference/
    index_synonyms.csv: each name there names exactly one index code; the subject key is that of the index's full name,
    ``canonical``, which every name of the table reads as; an index whose full name is its only name has a row of its
    own, subject = canonical: 中证1000, 000852), kept one to one (none without a code). Read once per
    vocabulary: the table is part of it (its hash)."""
    vocab = load_vocabulary()
    return _reference_pairs(vocab.sha256)


def reference_aliases() -> dict[str, str]:
    """:func:`reference_pairs` as a mapping each way (``code:931722`` ↔ ``idx:中证国新港股通央企红利``)."""
    return _reference_aliases(load_vocabulary().sha256)


@lru_cache(maxsize=4)
def _reference_aliases(_vocabulary_hash: str) -> dict[str, str]:
    pairs = reference_pairs()
    return {**dict(pairs), **{b: a for a, b in pairs}}


@lru_cache(maxsize=4)
def _reference_pairs(_vocabulary_hash: str) -> tuple[tuple[str, str], ...]:
    from .vocabulary import INDEX_SYNONYMS

    try:
        table = pd.read_csv(INDEX_SYNONYMS, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        return ()
    vocab = load_vocabulary()
    pairs = {(_code_key(clean(c)), "idx:" + index_key_subject(s, vocab))
             for c, s in zip(table["index_code"], table["canonical"]) if clean(c) and s}
    return tuple(sorted((a, b) for a, b in _one_to_one(pairs).items() if a.startswith("code:")))
