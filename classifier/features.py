"""Model features: a domain tokenizer (jieba over the taxonomy's terms) and :func:`featurize`, the one frame the model
reads, built the same way for training (:mod:`classifier.train`) and tagging (:mod:`classifier.score`).

The tokenizer cuts as jieba's accurate mode (no HMM) does, with a dictionary of the taxonomy's terms alone: it starts
in about a millisecond (jieba's default dictionary takes ~0.6 s, importing jieba 0.35 s), never touches jieba's
process-wide state, and keeps terms such as 沪深300 or 5G whole. The tests check it against jieba itself. It pickles
by its terms and rebuilds itself on first use.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .rules import RuleResult
from .vocabulary import load_vocabulary

TERM_FREQ = 1000
# jieba's word alphabet and whitespace (``jieba.re_han_default``, ``jieba.re_skip_default``); the tests check they are
# still jieba's
RE_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
RE_SKIP = re.compile("(\r\n|\\s)", re.U)
MEMO_FIELDS = 200_000  # distinct fields whose words are remembered


class DomainTokenizer:
    """Callable tokenizer for a vectorizer: jieba words from a dictionary of the taxonomy's terms.

    Examples
    --------
    >>> DomainTokenizer(["半导体", "沪深300"])("中证半导体沪深300")
    ['中证', '半导体', '沪深300']
    """

    def __init__(self, terms):
        # with the shared vocabulary's structure words (taxonomy/common.toml [model]); a trained model keeps its own
        self.terms = tuple(sorted(set(terms) | set(load_vocabulary().structure_words)))
        self._tk = None

    def _build(self) -> "_Cutter":
        freq, total = prefix_dict(self.terms)
        return _Cutter(freq, total, RE_HAN, RE_SKIP)

    def __call__(self, text: str) -> list[str]:
        """The words of ``text``, cut once per distinct ``|``-separated field: jieba cuts at every character outside
        its word alphabet (``|`` among them) anyway, so the fields' words joined are the whole text's words, and a
        field shared by many texts (an index name, a benchmark) is cut once."""
        if self._tk is None:
            self._tk, self._memo = self._build(), {}
        out: list[str] = []
        for part in text.split("|"):
            words = self._memo.get(part)
            if words is None:
                words = [w for w in self._tk.cut(part) if w.strip()]
                if len(self._memo) >= MEMO_FIELDS:  # bounded: memory stays flat over a long file
                    self._memo.clear()
                self._memo[part] = words
            out += words
        return out

    def __getstate__(self):
        return {"terms": self.terms}

    def __setstate__(self, state):
        self.terms = state["terms"]
        self._tk = None


def prefix_dict(terms) -> tuple[dict[str, int], int]:
    """The prefix dictionary jieba builds (``jieba.Tokenizer.gen_pfdict``) from the lines ``<term> 1000``: each term's
    frequency, 0 for each of its prefixes that is no term, and the total. Built here, not by importing jieba (0.35 s of
    every start-up for one function); the tests check it equals jieba's."""
    freq: dict[str, int] = {}
    total = 0
    data = "\n".join(f"{t} {TERM_FREQ}" for t in terms if " " not in t)
    for lineno, line in enumerate(data.encode("utf-8").split(b"\n"), 1):
        try:
            word, f = line.strip().decode("utf-8").split(" ")[:2]
            freq[word] = int(f)
        except ValueError:
            raise ValueError(f"invalid tokenizer term at line {lineno}: {line!r}") from None
        total += int(f)
        for ch in range(len(word)):
            freq.setdefault(word[:ch + 1], 0)
    return freq, total


class _Cutter:
    """jieba's accurate mode without HMM (``jieba.Tokenizer.lcut(text, HMM=False)``) over a prefix dictionary built
    by jieba (``gen_pfdict``), in one function per block: the same blocks, the same word graph, the same scores added
    in the same order and the same tie-breaking, so the same words (checked against jieba in the tests); only jieba's
    generator layers and per-call set-up are gone.
    """

    def __init__(self, freq: dict[str, int], total: int, re_han, re_skip):
        self.freq = freq
        logtotal = math.log(total)
        self.score = {w: math.log(f) - logtotal for w, f in freq.items() if f}  # a dictionary word's score
        self.single = math.log(1) - logtotal  # any other one-character step
        self.re_han, self.re_skip = re_han, re_skip

    def cut(self, sentence: str) -> list[str]:
        out: list[str] = []
        for blk in self.re_han.split(sentence):
            if not blk:
                continue
            if self.re_han.match(blk):
                out += self._block(blk)
            else:
                for x in self.re_skip.split(blk):
                    if self.re_skip.match(x):
                        out.append(x)
                    else:
                        out += x
        return out

    def _block(self, s: str) -> list[str]:
        freq, score, single = self.freq, self.score, self.single
        n = len(s)
        val = [0.0] * (n + 1)
        nxt = list(range(n + 1))
        for k in range(n - 1, -1, -1):
            frag = s[k]
            if frag not in freq:  # most characters begin no dictionary word
                val[k] = single + val[k + 1]
                continue
            ends = []
            i = k
            while i < n and frag in freq:
                if freq[frag]:
                    ends.append(i)
                i += 1
                frag = s[k:i + 1]
            if not ends:
                val[k] = single + val[k + 1]  # s[k] is no dictionary word: log(1) - log(total)
            elif len(ends) == 1:
                x = ends[0]
                val[k], nxt[k] = score[s[k:x + 1]] + val[x + 1], x
            else:
                val[k], nxt[k] = max((score[s[k:x + 1]] + val[x + 1], x) for x in ends)
        words: list[str] = []
        buf = ""
        x = 0
        while x < n:
            y = nxt[x] + 1
            w = s[x:y]
            if y - x == 1 and w in _ASCII_ALNUM:  # single Latin letters and digits run together
                buf += w
            else:
                if buf:
                    words.append(buf)
                    buf = ""
                words.append(w)
            x = y
        if buf:
            words.append(buf)
        return words


_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


HOLD_PREFIX = "hold::"  # holdings feature columns of a featurized frame: ``hold::`` + the feature's name


def featurize(p: pd.DataFrame, rr: RuleResult, holdings=None) -> pd.DataFrame:
    """The model input X of a prepared frame: one row per row of ``p``, indexed like ``p``.

    Columns: ``text`` (index, name, full name, benchmark joined by ``|``), ``rule_field`` (the field that decided the
    rules, ``none`` on abstain), ``asset_class``, ``style``, ``has_index``, ``rule_winner``, ``rule_fuzzy``,
    ``vote::<class>`` (the rule layer's vote per class) and, when ``holdings``
    (:class:`classifier.holdings.HoldingsFeatures`) is given, ``hold::<feature>`` for each of its feature columns
    (Shenwan L1 weights, concentration, board shares), NaN on every holdings column of a fund that has none.
    """
    # one f-string per row (pandas' element-wise "+" of text columns makes a new column per operand)
    text = [f"{i}|{n}|{f}|{b}" for i, n, f, b in zip(p["s_index"].tolist(), p["s_name"].tolist(),
                                                     p["s_full_name"].tolist(), p["s_benchmark"].tolist())]
    votes = pd.DataFrame(rr.vote_features(), index=p.index, columns=[f"vote::{c}" for c in rr.classes_])

    def texts(values) -> pd.Series:  # Python strings, as the model reads them (pandas 3 would make Arrow strings)
        return pd.Series(values, index=p.index, dtype=object)

    out = pd.DataFrame({"text": texts(text), "rule_field": texts([f or "none" for f in rr.field]),
                        "asset_class": texts(p["asset_class"].tolist()),
                        "style": texts(p["management_style"].tolist()),
                        "has_index": texts(np.where(p["s_index"].to_numpy() != "", "yes", "no").tolist()),
                        "rule_winner": texts([w or "" for w in rr.labels]),
                        "rule_fuzzy": [bool(h) and all(x.fuzzy for x in h) for h in rr.hits]}, index=p.index)
    parts = [out, votes]
    if holdings is not None:
        cols = holdings.columns()
        H = holdings.table.reindex(p["code6"].values).reindex(columns=cols).set_axis(p.index)
        parts.append(H.astype(np.float64).add_prefix(HOLD_PREFIX))
    return pd.concat(parts, axis=1)


def holdings_columns(X: pd.DataFrame) -> list[str]:
    """Names (prefix removed) of the holdings feature columns of a featurized frame, in column order."""
    return [c[len(HOLD_PREFIX):] for c in X.columns if isinstance(c, str) and c.startswith(HOLD_PREFIX)]


def holdings_matrix(X: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame | None:
    """The holdings features of a featurized frame as their own frame (prefix removed), or None when X has none.

    ``columns``: the features a fitted model reads, in its order. A feature X lacks (an industry the Shenwan map in
    use does not have) counts as 0 for a fund with holdings; a fund with no holdings keeps NaN everywhere."""
    have = holdings_columns(X)
    if not have or (columns is not None and not columns):
        return None
    H = X[[HOLD_PREFIX + c for c in have]].set_axis(have, axis=1)
    if columns is not None:
        H = H.reindex(columns=list(columns))
    no_holdings = H.isna().all(axis=1)
    H = H.fillna(0.0)
    H.loc[no_holdings] = np.nan
    return H


def text_part(X: pd.DataFrame) -> pd.DataFrame:
    """X without its holdings columns: what the text model reads."""
    hold = [HOLD_PREFIX + c for c in holdings_columns(X)]
    return X.drop(columns=hold) if hold else X


def per_distinct_row(X: pd.DataFrame, score) -> np.ndarray:
    """``score`` applied once per distinct (text, rule field, asset class, style) row, spread back to every row:
    share classes of a fund repeat the same text."""
    # in Python: the columns are Python strings, and a dict numbers the keys in the order they first occur (pandas 3
    # would copy the joined keys into Arrow strings twice, for ``duplicated`` and for the lookup)
    ids: dict[str, int] = {}
    row = np.fromiter((ids.setdefault(t + "\x1f" + f + a + s, len(ids)) for t, f, a, s in
                       zip(X["text"].tolist(), X["rule_field"].tolist(), X["asset_class"].tolist(),
                           X["style"].tolist())), np.int64, len(X))
    first = np.zeros(len(X), dtype=bool)
    first[np.unique(row, return_index=True)[1]] = True  # each key's first row
    return score(X[first])[row]


def vote_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("vote::")]


__all__ = ["DomainTokenizer", "HOLD_PREFIX", "featurize", "holdings_columns", "holdings_matrix", "per_distinct_row",
           "text_part", "vote_columns"]
