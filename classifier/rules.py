"""The keyword-rule layer, compiled from a taxonomy file, and the naive 表 4 keyword baseline.

Each row is read field by field — tracked index (name and code), benchmark, short name, full name — and the first
field in which any rule fires decides (the tracked index is the most authoritative statement of what a fund holds).
Within that field every firing rule votes; the highest tier wins, then the longest matched term. Two classes tied at
the top make the layer abstain (a tie is reported, not guessed). When no rule fires anywhere, near-miss names are
tried with RapidFuzz (a truncated or variant term such as 中证半导 for 半导体) at a lower weight.

Every vote is kept as evidence: rule id, matched text and field.

Matching is one longest-first alternation over every taxonomy term rather than a jieba segmentation: a segmenter
chooses one path through the whole string and can absorb a term into a neighbouring word, while the rules must see
every term that occurs (科创|新能源, 工业|有色). jieba, with the taxonomy's terms as its dictionary, is used where
segmentation is the point: the text model's word features (:class:`classifier.features.DomainTokenizer`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from .columns import detect_columns
from .prepare import prepare, subjects
from .taxonomy import Taxonomy
from .vocabulary import Vocabulary

FIELDS = ("index", "benchmark", "name", "full_name")
FIELD_LABEL = {"index": "跟踪指数", "benchmark": "业绩基准", "name": "简称", "full_name": "全称",
               "asset_class": "资产类别"}
FUZZY_MIN_LEN = 3
FUZZY_CUTOFF = 80.0
CACHE_TEXTS = 50_000  # texts whose hits are remembered (250k distinct names kept ~100 MB when the bound was 500k)


@dataclass(frozen=True)
class Hit:
    rule: str
    secondary: str
    tier: int
    term: str
    field: str
    fuzzy: bool = False

    @cached_property  # read several times per hit; kept in the instance's dict (not a field: not in eq or hash)
    def strength(self) -> float:
        """Tier first, then term length; a fuzzy hit ranks just below an exact one of the same tier."""
        return self.tier + min(len(self.term), 9) / 10 - (0.05 if self.fuzzy else 0.0)

    def describe(self) -> str:
        mark = "≈" if self.fuzzy else ""
        return f"{self.rule}:{FIELD_LABEL[self.field]}「{mark}{self.term}」→{self.secondary}"


class RuleLayer:
    """Rules compiled from a :class:`Taxonomy`.

    Parameters
    ----------
    taxonomy : Taxonomy
        The taxonomy whose ``[[rule]]`` tables are compiled.

    Examples
    --------
    >>> from classifier.taxonomy import load_taxonomy
    >>> layer = RuleLayer(load_taxonomy())
    >>> [h.secondary for h in layer.match_text("中证机器人", "index")][:1]
    ['科技成长主题ETF']
    """

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self.classes_ = list(taxonomy.secondaries)
        self._col = {c: i for i, c in enumerate(self.classes_)}
        self._term_rules: dict[str, list] = {}
        self._code_rules = []
        for r in taxonomy.rules:
            unless = tuple(r.unless)
            for t in r.terms:
                self._term_rules.setdefault(t.upper(), []).append((r, unless))
            if r.code is not None:
                self._code_rules.append((r, unless))
        self._asset_rules = [r for r in taxonomy.rules if r.asset_class]
        terms = sorted(self._term_rules, key=len, reverse=True)
        self._rx = re.compile("|".join(re.escape(t) for t in terms)) if terms else None
        self._fuzzy_terms = [t for t in terms if sum("\u4e00" <= ch <= "\u9fff" for ch in t) >= FUZZY_MIN_LEN]
        self._cache: dict[tuple[str, str, str], tuple[Hit, ...]] = {}
        self._shared: dict[tuple[Hit, ...], tuple[Hit, ...]] = {}
        self._hits: dict[tuple, Hit] = {}  # one Hit per (rule, term, field): made once, not once per text

    def _hit(self, rule, term: str, field: str) -> Hit:
        key = (rule.id, rule.secondary, rule.tier, term, field)
        hit = self._hits.get(key)
        if hit is None:
            hit = self._hits[key] = Hit(*key)
        return hit

    # ------------------------------------------------------------------ matching
    def match_text(self, text: str, field: str, code: str = "") -> tuple[Hit, ...]:
        """All rule hits in one cleaned text (and index code, for the index field)."""
        key = (field, text, code)
        if key in self._cache:
            return self._cache[key]
        hits: list[Hit] = []
        if text and self._rx is not None:
            for m in self._rx.finditer(text):
                for r, unless in self._term_rules[m.group(0)]:
                    if not any(u in text for u in unless):
                        hits.append(self._hit(r, m.group(0), field))
        if code:
            for r, unless in self._code_rules:
                if r.code.search(code) and not any(u in text for u in unless):
                    hits.append(Hit(r.id, r.secondary, r.tier, code, field))
        out = tuple(hits)
        if len(self._cache) >= CACHE_TEXTS:  # a memo of recent texts: memory stays flat over a long file
            self._cache.clear()
            self._shared.clear()
        # texts with the same hits share one tuple: the later steps' memos (by the tuple's identity) then serve them
        out = self._cache[key] = self._shared.setdefault(out, out)
        return out

    def _fuzzy(self, texts: list[str], field: str) -> list[tuple[Hit, ...]]:
        """Near-miss terms for texts in which nothing matched exactly (one vectorized RapidFuzz call)."""
        if not texts or not self._fuzzy_terms:
            return [()] * len(texts)
        scores = process.cdist(texts, self._fuzzy_terms, scorer=fuzz.partial_ratio, score_cutoff=FUZZY_CUTOFF,
                               dtype=np.uint8, workers=1)
        out = []
        for i, row in enumerate(scores):
            j = int(row.argmax())
            if row[j] == 0:
                out.append(())
                continue
            term = self._fuzzy_terms[j]
            text = texts[i]
            hits = tuple(Hit(r.id, r.secondary, r.tier, term, field, fuzzy=True)
                         for r, unless in self._term_rules[term] if not any(u in text for u in unless))
            out.append(hits)
        return out

    # ------------------------------------------------------------------ decision
    def _strength(self, hits_per_row: list[tuple[Hit, ...]]) -> np.ndarray:
        """n × K: each class's strongest vote per row (0 where the class got none)."""
        strength = np.zeros((len(hits_per_row), len(self.classes_)), dtype=np.float32)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        memo: dict[int, tuple[list, list]] = {}  # by the hits tuple's identity: rows with equal hits share one tuple
        for i, hs in enumerate(hits_per_row):
            if not hs:
                continue
            cv = memo.get(id(hs))
            if cv is None:
                cv = memo[id(hs)] = ([self._col[h.secondary] for h in hs], [h.strength for h in hs])
            rows += [i] * len(hs)
            cols += cv[0]
            vals += cv[1]
        if rows:
            np.maximum.at(strength, (np.array(rows), np.array(cols)), np.array(vals, dtype=np.float32))
        return strength

    def winners(self, strength: np.ndarray) -> tuple[list[str | None], np.ndarray]:
        """Per row of ``strength``: the winning class (None when no class got a vote or the two strongest tie) and
        its margin over the runner-up (0 without a winner)."""
        n, k = strength.shape
        srt = np.sort(strength, axis=1)
        top = srt[:, -1] if k else np.zeros(n, dtype=np.float32)
        margin = top - (srt[:, -2] if k > 1 else np.float32(0.0))
        won = (top != 0) & ~(np.abs(margin) < 1e-6)
        best = strength.argmax(axis=1) if k else np.zeros(n, dtype=np.int64)
        labels = [self.classes_[j] if w else None for j, w in zip(best.tolist(), won.tolist())]
        return labels, np.where(won, margin, np.float32(0.0)).astype(np.float32)

    def apply_prepared(self, p: pd.DataFrame, skip_fuzzy: np.ndarray | None = None,
                       skip: np.ndarray | None = None) -> "RuleResult":
        """:meth:`apply` to a frame :func:`classifier.prepare.prepare` made."""
        return self.apply(subjects(p), skip_fuzzy=skip_fuzzy, skip=skip)

    def apply(self, subjects: pd.DataFrame, skip_fuzzy: np.ndarray | None = None,
              skip: np.ndarray | None = None) -> "RuleResult":
        """Apply the rules to prepared subjects (columns ``index``, ``index_code``, ``benchmark``, ``name``,
        ``full_name``; see :mod:`classifier.prepare`). Rows flagged in ``skip_fuzzy`` (funds already known to be out
        of scope) get no near-miss search; rows flagged in ``skip`` are not read at all (no hits: rows whose rules
        nothing reads)."""
        n = len(subjects)
        hits_per_row: list[tuple[Hit, ...]] = [()] * n
        decided_field = [""] * n
        cols = {f: subjects[f].tolist() for f in FIELDS}
        codes = subjects["index_code"].tolist()
        read = range(n) if skip is None else np.flatnonzero(~np.asarray(skip, dtype=bool)).tolist()
        pending = list(read)
        for f in FIELDS:
            nxt = []
            for i in pending:
                text, code = cols[f][i], codes[i] if f == "index" else ""
                h = self.match_text(text, f, code) if text or code else ()  # an empty field has no hits
                if h:
                    hits_per_row[i], decided_field[i] = h, f
                else:
                    nxt.append(i)
            pending = nxt
        # near misses, on the most authoritative non-empty field of each row still without a hit
        if skip_fuzzy is not None:
            pending = [i for i in pending if not skip_fuzzy[i]]
        for f in FIELDS:
            rows = [i for i in pending if cols[f][i]]
            if not rows:
                continue
            uniq = sorted({cols[f][i] for i in rows})
            fz = dict(zip(uniq, self._fuzzy(uniq, f)))
            for i in rows:
                if fz[cols[f][i]]:
                    hits_per_row[i], decided_field[i] = fz[cols[f][i]], f
            pending = [i for i in pending if not hits_per_row[i]]
        # rules on the declared asset class (e.g. a commodity fund) vote beside whatever field decided the row
        if self._asset_rules and "asset_class" in subjects:
            assets = subjects["asset_class"].tolist()
            for i in read:
                extra = tuple(self._hit(r, assets[i], "asset_class") for r in self._asset_rules
                              if r.asset_class == assets[i])
                if extra:
                    hits_per_row[i] = hits_per_row[i] + extra
                    decided_field[i] = decided_field[i] or "asset_class"
        strength = self._strength(hits_per_row)
        labels, margins = self.winners(strength)
        return RuleResult(self.classes_, labels, margins, strength, hits_per_row, decided_field)


@dataclass
class RuleResult:
    classes_: list[str]
    labels: list[str | None]
    margins: np.ndarray
    strength: np.ndarray  # n × K, per-class vote strength (tier + length), 0 where the class got no vote
    hits: list[tuple[Hit, ...]]
    field: list[str]

    def evidence(self, i: int, limit: int = 3) -> str:
        hits = self.hits[i]
        memo = self.__dict__.setdefault("_evidence", {})  # by the hits tuple's identity: rows of one text share it
        key = (id(hits), limit)
        if key not in memo:
            memo[key] = "; ".join(h.describe() for h in sorted(hits, key=lambda h: -h.strength)[:limit])
        return memo[key]

    def take(self, rows: np.ndarray) -> "RuleResult":
        """The result of the rows ``rows`` (positions), in that order."""
        r = rows.tolist()
        return RuleResult(self.classes_, [self.labels[i] for i in r], self.margins[rows], self.strength[rows],
                          [self.hits[i] for i in r], [self.field[i] for i in r])

    def vote_features(self) -> np.ndarray:
        """Per-class features for a model: the tier-scaled strength of each class's best vote, in [0, 1]."""
        return self.strength / 100.0


def prepare_and_apply(frame: pd.DataFrame, layer: RuleLayer, vocab: Vocabulary | None = None,
                      colmap: dict[str, int] | None = None) -> tuple[pd.DataFrame, RuleResult]:
    """The one prepare → rules sequence: ``frame`` (columns found by :func:`classifier.columns.detect_columns` unless
    ``colmap`` is given) prepared, and the rule layer's result on it. Tagging prepares once and applies the rules
    inside its score step (:meth:`RuleLayer.apply_prepared`, with its own near-miss skips)."""
    p = prepare(frame, colmap if colmap is not None else detect_columns(list(frame.columns)), vocab)
    return p, layer.apply_prepared(p)


class KeywordBaseline:
    """The naive baseline: the bare 表 4 keywords over all of a fund's text; most keyword hits wins, first class on
    ties, abstain when nothing matches. Shows what the rule design adds over the keyword table alone."""

    def __init__(self, taxonomy: Taxonomy):
        self.classes_ = list(taxonomy.secondaries)
        self._kw = [(c.secondary, tuple(k.upper() for k in c.keywords)) for c in taxonomy.classes]

    def predict(self, texts: pd.Series) -> list[str | None]:
        out = []
        for t in texts.fillna("").astype(str):
            counts = [(sum(t.count(k) for k in kws), sec) for sec, kws in self._kw]
            best = max(counts, key=lambda x: x[0])
            out.append(best[1] if best[0] > 0 else None)
        return out
