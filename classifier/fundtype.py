"""Asset class (股票/债券/货币/商品/QDII/REITs/FOF/混合) and management style (被动指数/指数增强/主动管理, seed 001).

Both are read from the fund's declared type when it has one, else from words in its names and tracked index; the
words live in ``taxonomy/common.toml``.
"""
from __future__ import annotations

import pandas as pd

from .text import clean
from .vocabulary import Vocabulary

PASSIVE, ENHANCED, ACTIVE = "被动指数", "指数增强", "主动管理"


def asset_class(fund_type: str, text: str, vocab: Vocabulary, ft: str | None = None) -> tuple[str, str]:
    """Return (asset class, reason). ``text`` is the fund's names and index name, already cleaned; ``ft`` the
    cleaned fund type when the caller has it."""
    ft = clean(fund_type) if ft is None else ft
    if ft:
        for ac in vocab.asset_classes:
            if any(t in ft for t in ac.fund_types):
                # a declared type may still yield to an unmistakable name (common.toml [asset_class_precedence])
                if ac.name in vocab.declared_yields:
                    named = _by_name(text, vocab, only=vocab.names_override)
                    if named:
                        return named
                return ac.name, f"基金类型 {fund_type}"
    named = _by_name(text, vocab)
    return named or (vocab.default_asset_class, "默认: 未识别出其他资产类别")


def _by_name(text: str, vocab: Vocabulary, only: tuple[str, ...] | None = None) -> tuple[str, str] | None:
    for ac in vocab.asset_classes:
        if only and ac.name not in only:
            continue
        hit = next((w for w in ac.names if w in text), None)
        if hit and not any(u in text for u in ac.unless):
            return ac.name, f"名称含「{hit}」"
    return None


def management_style(fund_type: str, text: str, has_index: bool, vocab: Vocabulary, ft: str | None = None) -> str:
    ft = clean(fund_type) if ft is None else ft
    passive = has_index or any(w in ft for w in vocab.passive_types) or any(w in text for w in vocab.passive_names)
    if not passive:  # 增强 alone is also an active fund's word (研究增强混合): enhanced needs an index
        return ACTIVE
    return ENHANCED if any(w in text or w in ft for w in vocab.enhanced) else PASSIVE


def classify_frame(fund_type: pd.Series, text: pd.Series, has_index: pd.Series, vocab: Vocabulary) -> pd.DataFrame:
    """Asset class, its reason and management style for every row; computed once per distinct input.
    ``text`` must already be cleaned (see :func:`classifier.normalize.clean`)."""
    key = fund_type + "\x1f" + text + "\x1f" + has_index.astype(str)
    seen: dict[str, tuple[str, str, str]] = {}
    rows = []
    for k, t, x, i in zip(key.tolist(), fund_type.tolist(), text.tolist(), has_index.tolist()):
        r = seen.get(k)
        if r is None:
            ft = clean(t)
            ac, why = asset_class(t, x, vocab, ft)
            r = seen[k] = (ac, why, management_style(t, x, bool(i), vocab, ft))
        rows.append(r)
    return pd.DataFrame(rows, columns=["asset_class", "asset_reason", "management_style"], index=fund_type.index)
