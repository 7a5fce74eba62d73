"""Asset class (股票/债券/货币/商品/QDII/REITs/FOF/混合) and management style (被动指数/指数增强/主动管理, seed 001).

Both are read from the fund's declared type when it has one, else from words in its names and tracked index; the
words live in ``taxonomy/common.toml``.
"""
from __future__ import annotations

import re

import pandas as pd

from .text import clean
from .vocabulary import Vocabulary

PASSIVE, ENHANCED, ACTIVE = "被动指数", "指数增强", "主动管理"


def _any_of(words: tuple[str, ...]) -> re.Pattern | None:
    """One pattern that finds any of ``words`` (None for no words): ``rx.search(t)`` ⇔ ``any(w in t for w in words)``."""
    return re.compile("|".join(re.escape(w) for w in words)) if words else None


class WordReader:
    """The vocabulary's asset-class and management-style words, compiled once for a frame: each word list is one
    pattern, and what depends on the declared fund type alone is worked out once per distinct type."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.names = [(ac, _any_of(ac.names), _any_of(ac.unless)) for ac in vocab.asset_classes]
        # every class's names at once: most texts hold none, and are then done with one search instead of one a class
        self.any_name = _any_of(tuple(w for ac in vocab.asset_classes for w in ac.names))
        self.passive_names = _any_of(vocab.passive_names)
        self.enhanced = _any_of(vocab.enhanced)
        self._types: dict[str, tuple] = {}

    def declared(self, fund_type: str) -> tuple:
        """(the first asset class whose type words the cleaned type holds or None, passive by type, enhanced by type)."""
        r = self._types.get(fund_type)
        if r is None:
            v, ft = self.vocab, clean(fund_type)
            ac = next((a for a in v.asset_classes if any(t in ft for t in a.fund_types)), None) if ft else None
            r = self._types[fund_type] = (ac, any(w in ft for w in v.passive_types), any(w in ft for w in v.enhanced))
        return r

    def by_name(self, text: str, only: tuple[str, ...] | None = None) -> tuple[str, str] | None:
        """The first asset class (in the vocabulary's order) one of whose names ``text`` holds, unless it also holds
        one of that class's exceptions; the reason names the class's first word found."""
        if self.any_name is None or not self.any_name.search(text):
            return None
        for ac, names, unless in self.names:
            if (only and ac.name not in only) or names is None or not names.search(text):
                continue
            hit = next((w for w in ac.names if w in text), None)
            if hit and not (unless is not None and unless.search(text)):
                return ac.name, f"名称含「{hit}」"
        return None

    def asset_class(self, fund_type: str, text: str) -> tuple[str, str]:
        """(asset class, reason). ``text`` is the fund's names and index name, already cleaned."""
        declared = self.declared(fund_type)[0]
        if declared is not None:
            # a declared type may still yield to an unmistakable name (common.toml [asset_class_precedence])
            if declared.name in self.vocab.declared_yields:
                named = self.by_name(text, only=self.vocab.names_override)
                if named:
                    return named
            return declared.name, f"基金类型 {fund_type}"
        return self.by_name(text) or (self.vocab.default_asset_class, "默认: 未识别出其他资产类别")

    def management_style(self, fund_type: str, text: str, has_index: bool) -> str:
        _, passive_type, enhanced_type = self.declared(fund_type)
        passive = has_index or passive_type or (self.passive_names is not None and bool(self.passive_names.search(text)))
        if not passive:  # 增强 alone is also an active fund's word (研究增强混合): enhanced needs an index
            return ACTIVE
        enhanced = enhanced_type or (self.enhanced is not None and bool(self.enhanced.search(text)))
        return ENHANCED if enhanced else PASSIVE


def classify_frame(fund_type: pd.Series, text: pd.Series, has_index: pd.Series, vocab: Vocabulary) -> pd.DataFrame:
    """Asset class, its reason and management style for every row; computed once per distinct input.
    ``text`` must already be cleaned (see :func:`classifier.normalize.clean`)."""
    reader = WordReader(vocab)
    seen: dict[tuple, tuple[str, str, str]] = {}
    rows = []
    for k in zip(fund_type.tolist(), text.tolist(), has_index.tolist()):
        r = seen.get(k)
        if r is None:
            t, x, i = k
            ac, why = reader.asset_class(t, x)
            r = seen[k] = (ac, why, reader.management_style(t, x, bool(i)))
        rows.append(r)
    return pd.DataFrame(rows, columns=["asset_class", "asset_reason", "management_style"], index=fund_type.index,
                        dtype=object)
