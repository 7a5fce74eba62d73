"""Model features: a domain tokenizer (jieba over the taxonomy's terms) and the frame the model reads.

The tokenizer is a private ``jieba.Tokenizer`` whose dictionary is only the taxonomy's terms: it starts in under a
millisecond (the default dictionary takes ~0.6 s), never touches jieba's process-wide state, and keeps terms such as
沪深300 or 5G whole. It pickles by its terms and rebuilds itself on first use.
"""
from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd

from .rules import RuleResult
from .vocabulary import load_vocabulary

TERM_FREQ = 1000
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

    def _build(self):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        tk = jieba.Tokenizer()
        data = "\n".join(f"{t} {TERM_FREQ}" for t in self.terms if " " not in t).encode("utf-8")
        tk.FREQ, tk.total = tk.gen_pfdict(io.BytesIO(data))
        tk.initialized = True
        return tk

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
                words = [w for w in self._tk.lcut(part, HMM=False) if w.strip()]
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


def model_frame(p: pd.DataFrame, rr: RuleResult) -> pd.DataFrame:
    """The columns the text model reads: one text column, rule votes, the field that decided, asset class/style."""
    text = p["s_index"] + "|" + p["s_name"] + "|" + p["s_full_name"] + "|" + p["s_benchmark"]
    votes = pd.DataFrame(rr.vote_features(), index=p.index, columns=[f"vote::{c}" for c in rr.classes_])
    out = pd.DataFrame({"text": text.values, "rule_field": [f or "none" for f in rr.field],
                        "asset_class": p["asset_class"].values, "style": p["management_style"].values,
                        "has_index": np.where(p["s_index"] != "", "yes", "no"),
                        "rule_winner": [w or "" for w in rr.labels],
                        "rule_fuzzy": [bool(h) and all(x.fuzzy for x in h) for h in rr.hits]}, index=p.index)
    return pd.concat([out, votes], axis=1)


def per_distinct_row(X: pd.DataFrame, score) -> np.ndarray:
    """``score`` applied once per distinct (text, rule field, asset class, style) row, spread back to every row:
    share classes of a fund repeat the same text."""
    key = X["text"] + "\x1f" + X["rule_field"] + X["asset_class"] + X["style"]
    first = (~key.duplicated()).to_numpy()
    out = score(X[first])
    pos = pd.Series(np.arange(int(first.sum())), index=key[first].values)
    return out[pos.loc[key.values].values]


def vote_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("vote::")]


__all__ = ["DomainTokenizer", "model_frame", "per_distinct_row", "vote_columns"]
