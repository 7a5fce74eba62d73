"""Is a cell a fund's name at all? Mojibake, placeholders, digits and everyday words get no class (issue 12).

The words (placeholders, fund words) and the evidence texts live in ``taxonomy/common.toml`` ``[not_a_name]``; this
module returns a reason code per name ('' when the text reads as a fund name).
"""
from __future__ import annotations

import re

from .vocabulary import Vocabulary

REASONS = ("mojibake", "no_letters", "placeholder", "fund_words")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN1_LETTERS = re.compile(r"[\u00c0-\u00ff]")
_NO_LETTERS = re.compile(r"[\d\W_]*(?:\.(?:SH|SZ|OF|HK|BJ))?[\d\W_]*", re.IGNORECASE)
# the encodings a UTF-8 file is most often misread as, in the order they are tried
_MISREAD_AS = ("gbk", "cp1252", "latin-1")
_NO_CJK = {"cp1252", "latin-1"}  # of those, the ones with no Chinese characters


def is_mojibake(text: str) -> bool:
    """UTF-8 text decoded with the wrong codec: replacement characters, bytes that re-decode as Chinese, or a run of
    Latin-1 letters (å, ä, è …) where a Chinese name would be."""
    if "\ufffd" in text:
        return True
    has_cjk = _CJK.search(text) is not None
    for enc in _MISREAD_AS:
        if has_cjk and enc in _NO_CJK:  # cannot encode: the attempt would fail
            continue
        try:
            fixed = text.encode(enc).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != text and _CJK.search(fixed):
            return True
    return not has_cjk and len(_LATIN1_LETTERS.findall(text)) >= 3


def name_problem(name: str, vocab: Vocabulary, check_words: bool) -> str:
    """Reason code why ``name`` is not a fund's name, or ''. ``check_words``: also require a fund word.

    'fund_words' is provisional: the tagger withdraws it when a taxonomy rule term occurs in the name."""
    t = name.strip()
    if not t:
        return ""
    words = vocab.not_a_name
    if is_mojibake(t):
        return "mojibake"
    if _NO_LETTERS.fullmatch(t):
        return "no_letters"
    up = t.upper()
    if up in words.placeholders:
        return "placeholder"
    if check_words and not (any(w in up for w in words.fund_words) or _manager_named(t, vocab)
                            or words.share_class.search(t)):
        return "fund_words"
    return ""


def _manager_named(t: str, vocab: Vocabulary) -> bool:
    """Whether ``t`` begins with a manager's name followed by a fund's own name: two characters or more, as
    :func:`classifier.normalize.fund_subject` strips a manager's name (长安鑫利 is 长安基金's; 长安街 is a street)."""
    m = vocab.manager_prefix.match(t)
    return bool(m) and len(t) > m.end() + 1
