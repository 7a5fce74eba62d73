"""Confidence as the chance that an independent careful reader picks the tool's class (issue 12).

The fused model's probability is calibrated against the team's own labels; careful readers dispute some of those
conventions. This second stage turns the signals of doubt each row carries into the probability that a reader
agrees, fitted on the labeled set's blind reads (``agreement.csv``) with the fused model's out-of-fold predictions:

  logit_p        logit of the fused probability of the chosen class
  margin         its lead over the runner-up
  pattern        logit of the reader agreement seen where the same rule and term decided against the same runner-up
                 (smoothed towards the overall agreement; e.g. a factor rule beating an ownership vote is contested)
  subject        the reader agreement predicted from the characters of the fund's subject (its index, else its
                 benchmark, else its name, structure words stripped): a ridge regression over character 1–3-grams,
                 fitted on the reads of other heads, so 新能源车 learns from the split on 新能源 and 智能汽车
  two_classes    rules voted for two or more classes
  rules_overruled the model chose another class than the rule layer
  text_vs_rules  the text model's favourite differs from the rule layer's class
  holdings_vs    the fund's holdings point to another class
  no_rule        no rule voted at all
  fuzzy          the deciding rule matched a near-miss term
  nearest        how close the subject is to the nearest read head's (cosine of character 1–3-gram tf-idf; 1: the
                 same subject, 0: no n-gram in common): an index far from every head read is one the calibrator
                 has seen no reader on
  neighbours     the reader agreement of the ``neighbour_heads`` read heads whose subjects are nearest, weighted by
                 that similarity (:class:`SubjectNeighbours`; a head's own reads never count for it in training)

The pattern rate of a key seen on few heads is smoothed towards the rate of its rule (``pattern_backoff``: an unseen
term of a contested rule, 中证细分机械 after 中证细分化工, starts from the rule's split), not the overall rate.

Every signal is a number computed from flags, probabilities and the row's input text, never from evidence text.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .inference import CompiledTfidf, sparse_scores

SIGNALS = ("logit_p", "margin", "pattern", "subject", "two_classes", "rules_overruled", "text_vs_rules",
           "holdings_vs", "no_rule", "fuzzy", "nearest", "neighbours")
# a model saved before a signal existed has fewer coefficients: loaded with 0 for the signals it lacks (so it gives
# the confidences it gave), the layout told by the number of coefficients
SIGNALS_BEFORE_NEIGHBOURS = tuple(n for n in SIGNALS if n not in ("nearest", "neighbours"))
SIGNALS_BEFORE_SUBJECT = tuple(n for n in SIGNALS_BEFORE_NEIGHBOURS if n != "subject")
NONE = "-"
CLIP = 6.0


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.clip(np.log(p / (1 - p)), -CLIP, CLIP)


def pattern_keys(pred: np.ndarray, classes, hits: list) -> list[str]:
    """Per row: '<rule>:<term> that voted for the chosen class|<strongest other class voted for>' ('-' for none).

    The term matters: within one rule some words are settled (芯片 → 科技成长) and some contested (通信)."""
    out = []
    seen: dict[tuple[int, int], str] = {}  # by the hits tuple's identity (rows of one text share it) and class
    for k, hs in zip(pred, hits):
        key = seen.get((id(hs), k))
        if key is None:
            chosen = classes[k]
            own = [h for h in hs if h.secondary == chosen]
            other = [h for h in hs if h.secondary != chosen]
            best = max(own, key=lambda h: h.strength) if own else None
            runner = max(other, key=lambda h: h.strength).secondary if other else NONE
            key = seen[(id(hs), k)] = (f"{best.rule}:{best.term if not best.fuzzy else '~'}|{runner}" if best
                                       else f"{NONE}|{runner}")
        out.append(key)
    return out


def pattern_rule(key: str) -> str:
    """The rule of a :func:`pattern_keys` key ('-' for none): 'industry.cyclicals:机械|-' → 'industry.cyclicals'."""
    return key.split("|", 1)[0].split(":", 1)[0]


def _add(table: dict, key, w: float, t: float) -> None:
    s = table.setdefault(key, [0.0, 0.0])
    s[0] += w * t
    s[1] += w


class PatternTable:
    """Reader agreement per decision pattern, smoothed with ``prior_weight`` pseudo-reads at the overall rate, or,
    with ``backoff``, at the rate of the pattern's rule (itself smoothed at the overall rate)."""

    def __init__(self, keys, targets, weights, heads, prior_weight: float = 3.0, backoff: bool = False):
        self.prior_weight = prior_weight
        self.backoff = bool(backoff)
        self.prior = float(np.average(targets, weights=weights))
        self.sums: dict[str, list[float]] = {}
        self._by_head: dict[tuple[str, str], list[float]] = {}
        for k, t, w, h in zip(keys, targets, weights, heads):
            _add(self.sums, k, w, t)
            _add(self._by_head, (k, h), w, t)
        self._rules()

    def _rules(self) -> None:
        """The per-rule sums (and per rule and head), summed from the per-key ones."""
        self._rule_sums: dict[str, list[float]] = {}
        self._rule_by_head: dict[tuple[str, str], list[float]] = {}
        for k, (a, b) in self.sums.items():
            s = self._rule_sums.setdefault(pattern_rule(k), [0.0, 0.0])
            s[0] += a
            s[1] += b
        for (k, h), (a, b) in self._by_head.items():
            s = self._rule_by_head.setdefault((pattern_rule(k), h), [0.0, 0.0])
            s[0] += a
            s[1] += b

    @staticmethod
    def _sums(table: dict, by_head: dict, key: str, leave_out_head: str | None) -> tuple[float, float]:
        s, n = table.get(key, (0.0, 0.0))
        if leave_out_head is not None:
            b = by_head.get((key, leave_out_head), (0.0, 0.0))
            s, n = s - b[0], n - b[1]
        return s, n

    def rate(self, key: str, leave_out_head: str | None = None) -> float:
        m = self.prior_weight
        prior = self.prior
        if self.backoff:
            s, n = self._sums(self._rule_sums, self._rule_by_head, pattern_rule(key), leave_out_head)
            prior = (s + m * prior) / (n + m)
        s, n = self._sums(self.sums, self._by_head, key, leave_out_head)
        return (s + m * prior) / (n + m)

    def to_arrays(self) -> tuple[dict, dict]:
        """The saved table: pattern keys (sorted) in the JSON fields, their [Σ w·t, Σ w] sums as one array (the
        per-head sums are for training only)."""
        keys = sorted(self.sums)
        sums = np.array([[float(x) for x in self.sums[k]] for k in keys], dtype=np.float64).reshape(len(keys), 2)
        fields = {"prior_weight": float(self.prior_weight), "prior": float(self.prior), "keys": keys}
        if self.backoff:  # absent: a table saved before the back-off existed, or one without it (the same file)
            fields["backoff"] = True
        return {"sums": sums}, fields

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "PatternTable":
        self = cls.__new__(cls)
        self.prior_weight, self.prior = float(fields["prior_weight"]), float(fields["prior"])
        keys, sums = fields["keys"], arrays["sums"]
        if sums.dtype != np.float64 or sums.shape != (len(keys), 2) or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"pattern table: {len(keys)} keys but sums of shape {sums.shape} ({sums.dtype})")
        self.sums = {k: [float(a), float(b)] for k, (a, b) in zip(keys, sums.tolist())}
        self.backoff = bool(fields.get("backoff", False))
        self._by_head = {}
        self._rules()
        return self

    def __getstate__(self):  # the per-head sums are for training only
        return {"prior_weight": self.prior_weight, "backoff": self.backoff, "prior": self.prior, "sums": self.sums,
                "_by_head": {}, "_rule_sums": self._rule_sums, "_rule_by_head": {}}


def signals(proba: np.ndarray, p_text: np.ndarray, p_hold: np.ndarray, has_holdings: np.ndarray,
            strength: np.ndarray, rule_winner: list, fuzzy: np.ndarray, pattern_rate: np.ndarray,
            subject_rate: np.ndarray, nearest: np.ndarray | None = None,
            neighbours: np.ndarray | None = None) -> np.ndarray:
    """The doubt signals (n × len(SIGNALS)) for rows whose chosen class is ``proba.argmax(1)``.

    ``strength`` is the rule layer's per-class vote strength (0 where a class got no vote), ``rule_winner`` its class
    index per row (-1 when it abstained or nothing fired), ``pattern_rate`` the pattern table's rate per row,
    ``subject_rate`` :class:`SubjectAgreement`'s prediction per row, ``nearest`` and ``neighbours``
    :class:`SubjectNeighbours`' (0 when not given: a model without them).
    """
    n = len(proba)
    pred = proba.argmax(axis=1)
    srt = np.sort(proba, axis=1)
    p1, p2 = srt[:, -1], srt[:, -2] if proba.shape[1] > 1 else np.zeros(n)
    winner = np.asarray(rule_winner)
    has_rule = winner >= 0
    voted = (strength > 0).sum(axis=1)
    return np.column_stack([
        _logit(p1), p1 - p2, _logit(pattern_rate), np.asarray(subject_rate, dtype=float), (voted >= 2).astype(float),
        (has_rule & (winner != pred)).astype(float),
        (has_rule & (p_text.argmax(axis=1) != winner)).astype(float),
        (has_holdings & (p_hold.argmax(axis=1) != pred)).astype(float),
        (voted == 0).astype(float), np.asarray(fuzzy, dtype=float),
        np.zeros(n) if nearest is None else np.asarray(nearest, dtype=float),
        np.zeros(n) if neighbours is None else np.asarray(neighbours, dtype=float)])


def subject_texts(p: pd.DataFrame) -> list[str]:
    """Per prepared row, the subject :class:`SubjectAgreement` reads: the index subject, else the benchmark's, else
    the name's."""
    return [i or b or n for i, b, n in zip(p["s_index"].tolist(), p["s_benchmark"].tolist(), p["s_name"].tolist())]


class SubjectAgreement:
    """Reader agreement predicted from a subject's characters: tf-idf of character 1–3-grams (terms in at least
    ``min_df`` subjects), then a ridge regression (penalty ``alpha``) on the rows' agreement, weighted."""

    def __init__(self, alpha: float = 0.5, min_df: int = 2):
        self.alpha, self.min_df = alpha, min_df

    def fit(self, texts: list[str], target: np.ndarray, weight: np.ndarray) -> "SubjectAgreement":
        from sklearn.feature_extraction.text import TfidfVectorizer  # training only
        from sklearn.linear_model import Ridge

        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=False,
                              min_df=self.min_df)
        X = vec.fit_transform(texts)
        ridge = Ridge(alpha=self.alpha).fit(X, target, sample_weight=weight)
        self.tfidf_ = CompiledTfidf(vec, "chars")
        self.coef_ = np.asarray(ridge.coef_, dtype=np.float64)
        self.intercept_ = float(ridge.intercept_)
        self.fitted_ = (vec, ridge)  # for the check below; not saved
        return self

    def check(self, texts: list[str]) -> None:
        """Raise if the compiled prediction differs from scikit-learn's on ``texts`` (a bug, not a user error)."""
        vec, ridge = self.fitted_
        if not np.allclose(self.predict(texts), ridge.predict(vec.transform(texts)), atol=1e-9):
            raise RuntimeError("compiled subject agreement disagrees with the fitted one")

    def predict(self, texts: list[str]) -> np.ndarray:
        # each distinct text once, numbered in the order it first occurs (a dict: sorting Python strings, as
        # np.unique does, cost more than the prediction); each row's number is its own whatever the others
        ids: dict[str, int] = {}
        back = np.fromiter((ids.setdefault(t, len(ids)) for t in texts), np.int64, len(texts))
        rows, cols, vals = self.tfidf_.transform(list(ids))
        pred = sparse_scores(len(ids), rows, cols, vals, self.coef_[:, None])[:, 0] + self.intercept_
        return pred[back]

    def to_arrays(self) -> tuple[dict, dict]:
        ta, tf = self.tfidf_.to_arrays()
        return ({"coef": self.coef_, **{f"tfidf.{k}": v for k, v in ta.items()}},
                {"alpha": float(self.alpha), "min_df": int(self.min_df), "intercept": self.intercept_, "tfidf": tf})

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "SubjectAgreement":
        self = cls(alpha=float(fields["alpha"]), min_df=int(fields["min_df"]))
        self.tfidf_ = CompiledTfidf.from_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("tfidf.")},
                                                fields["tfidf"])
        coef = arrays["coef"]
        if coef.dtype != np.float64 or coef.shape != (len(self.tfidf_.idf),):
            raise ValueError(f"subject agreement: {len(self.tfidf_.idf)} terms but coefficients of shape {coef.shape}")
        self.coef_, self.intercept_ = coef, float(fields["intercept"])
        return self


class SubjectNeighbours:
    """The read heads whose subjects are nearest a row's: how near the nearest is, and their reader agreement.

    Subjects are compared by the cosine of their character 1–3-gram tf-idf vectors (the idf of the read heads'
    distinct subjects). A head's similarity is that of its nearest subject; the ``k`` nearest heads' agreements are
    averaged with their similarities as weights, with ``prior_weight`` of similarity at the overall agreement (so
    a subject sharing no n-gram with any read head gets the overall agreement).
    """

    BLOCK = 256  # query subjects compared at once (a block × subjects dense array)

    def __init__(self, k: int = 5, prior_weight: float = 0.1):
        self.k, self.prior_weight = k, prior_weight

    def fit(self, texts, heads, target: np.ndarray, weight: np.ndarray) -> "SubjectNeighbours":
        """``texts``, ``heads``, ``target``, ``weight``: per read row, its subject, head, agreement and weight."""
        from sklearn.feature_extraction.text import TfidfVectorizer  # training only

        heads = np.asarray(heads, dtype=object)
        names = sorted(set(heads.tolist()))
        pos = {h: i for i, h in enumerate(names)}
        hi = np.array([pos[h] for h in heads.tolist()], dtype=np.int64)
        w = np.asarray(weight, dtype=np.float64)
        self.head_agreement_ = (np.bincount(hi, weights=w * target, minlength=len(names))
                                / np.bincount(hi, weights=w, minlength=len(names)))
        self.prior_ = float(np.average(target, weights=w))
        pairs = sorted(set(zip(hi.tolist(), (str(t) for t in texts))))  # each head's distinct subjects
        self.subjects_ = [t for _, t in pairs]
        self.subject_head_ = np.array([h for h, _ in pairs], dtype=np.int64)
        self.head_names_ = names  # for training's leave-own-head-out only; not saved
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=False)
        vec.fit(self.subjects_)
        self.tfidf_ = CompiledTfidf(vec, "chars")
        self._matrix = None
        return self

    def _stored(self):
        """The read heads' subjects as a term → subjects index (CSR arrays: indptr by term, subject numbers and
        tf-idf weights, each term's subjects in ascending order)."""
        if self._matrix is None:
            r, c, v = self.tfidf_.transform(self.subjects_)
            order = np.lexsort((r, c))
            indptr = np.zeros(len(self.tfidf_.idf) + 1, dtype=np.int64)
            np.cumsum(np.bincount(c, minlength=len(self.tfidf_.idf)), out=indptr[1:])
            self._matrix = (indptr, np.asarray(r)[order], np.asarray(v, dtype=np.float64)[order])
        return self._matrix

    @staticmethod
    def _similarities(r, c, v, n: int, stored, n_subjects: int) -> np.ndarray:
        """Dense ``n × n_subjects`` dot products of the query triplets (row, term, weight) with the stored subjects:
        each product added in the order of the query row's terms, ascending, then of the term's subjects (as a
        sparse matrix product sums them), so the figures do not depend on how the triplets came."""
        indptr, subj, data = stored
        order = np.lexsort((c, r))
        r, c, v = np.asarray(r)[order], np.asarray(c)[order], np.asarray(v, dtype=np.float64)[order]
        counts = indptr[c + 1] - indptr[c]
        rep = np.repeat(np.arange(len(c)), counts)
        pos = np.repeat(indptr[c] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
        return np.bincount(r[rep] * n_subjects + subj[pos], weights=v[rep] * data[pos],
                           minlength=n * n_subjects).reshape(n, n_subjects)

    def predict(self, texts, leave_out_heads=None) -> tuple[np.ndarray, np.ndarray]:
        """(nearest, neighbours) per text; ``leave_out_heads`` (training): per text, a head whose subjects do not
        count for it."""
        ids: dict = {}
        keyed = texts if leave_out_heads is None else list(zip(texts, leave_out_heads))
        back = np.fromiter((ids.setdefault(t, len(ids)) for t in keyed), np.int64, len(keyed))
        uniq = list(ids)
        qt = uniq if leave_out_heads is None else [t for t, _ in uniq]
        pos = {h: i for i, h in enumerate(getattr(self, "head_names_", []))}
        out = (np.zeros(len(uniq)), np.full(len(uniq), self.prior_))
        n_heads = len(self.head_agreement_)
        head = self.subject_head_
        _, first = np.unique(head, return_index=True)  # each head's first subject; its others are maxed in below
        extra = np.setdiff1d(np.arange(len(head)), first)
        k = min(self.k, n_heads)
        stored = self._stored()
        for b in range(0, len(uniq), self.BLOCK):
            part = qt[b:b + self.BLOCK]
            r, c, v = self.tfidf_.transform(part)
            sim = self._similarities(r, c, v, len(part), stored, len(self.subjects_))
            H = np.zeros((len(part), n_heads))  # a head's similarity: that of its nearest subject
            H[:, head[first]] = sim[:, first]
            for j in extra.tolist():
                np.maximum(H[:, head[j]], sim[:, j], out=H[:, head[j]])
            if leave_out_heads is not None:
                own = np.array([pos.get(h, -1) for _, h in uniq[b:b + self.BLOCK]])
                hit = own >= 0
                H[np.flatnonzero(hit), own[hit]] = -1.0  # below every other head
            # the k nearest heads, ties taken in head order: every head above the k-th similarity, then those at it
            kth = -np.partition(-H, k - 1, axis=1)[:, k - 1:k]
            chosen = H >= kth
            tied = np.flatnonzero(chosen.sum(axis=1) > k)  # rows with more than k heads at or above the k-th
            if len(tied):
                T, t = H[tied], kth[tied]
                above, at = T > t, T == t
                chosen[tied] = above | (at & (np.cumsum(at, axis=1) <= k - above.sum(axis=1, keepdims=True)))
            s_ = np.where(chosen, np.clip(H, 0.0, None), 0.0)
            out[0][b:b + len(part)] = np.clip(H.max(axis=1), 0.0, None)
            out[1][b:b + len(part)] = (s_ @ self.head_agreement_ + self.prior_weight * self.prior_
                                       ) / (s_.sum(axis=1) + self.prior_weight)
        return out[0][back], out[1][back]

    def to_arrays(self) -> tuple[dict, dict]:
        ta, tf = self.tfidf_.to_arrays()
        return ({"head_agreement": self.head_agreement_, "subject_head": self.subject_head_,
                 **{f"tfidf.{k}": v for k, v in ta.items()}},
                {"k": int(self.k), "prior_weight": float(self.prior_weight), "prior": self.prior_,
                 "subjects": list(self.subjects_), "tfidf": tf})

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "SubjectNeighbours":
        self = cls(k=int(fields["k"]), prior_weight=float(fields["prior_weight"]))
        self.prior_ = float(fields["prior"])
        self.subjects_ = [str(t) for t in fields["subjects"]]
        self.tfidf_ = CompiledTfidf.from_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("tfidf.")},
                                                fields["tfidf"])
        agree, head = arrays["head_agreement"], arrays["subject_head"]
        if (agree.dtype != np.float64 or agree.ndim != 1 or head.dtype != np.int64
                or head.shape != (len(self.subjects_),) or (len(head) and not 0 <= head.min() <= head.max() < len(agree))):
            raise ValueError(f"subject neighbours: {len(self.subjects_)} subjects, heads {head.shape} ({head.dtype}), "
                             f"agreements {agree.shape} ({agree.dtype})")
        self.head_agreement_, self.subject_head_ = agree, head
        self._matrix = None
        return self


class AgreementCalibrator:
    """Logistic regression from doubt signals to the chance a reader agrees, fitted on soft targets (each row
    enters twice: as agreeing with weight w·t and as disagreeing with weight w·(1−t))."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def fit(self, S: np.ndarray, target: np.ndarray, weight: np.ndarray, patterns: PatternTable,
            subject: SubjectAgreement | None = None, neighbours: SubjectNeighbours | None = None):
        from sklearn.linear_model import LogisticRegression  # training only

        X = np.vstack([S, S])
        y = np.r_[np.ones(len(S)), np.zeros(len(S))]
        w = np.r_[weight * target, weight * (1 - target)]
        lr = LogisticRegression(C=self.C, max_iter=2000).fit(X, y, sample_weight=w)
        self.coef_ = lr.coef_[0].astype(np.float64)
        self.intercept_ = float(lr.intercept_[0])
        self.patterns_ = patterns
        self.subject_ = subject
        self.neighbours_ = neighbours
        return self

    FIELDS = ("C", "coef_", "intercept_", "patterns_", "subject_", "neighbours_", "head_reads_")

    def subject_rate(self, texts: list[str]) -> np.ndarray:
        """The ``subject`` signal of rows with these subjects (0 for a model saved before it existed)."""
        return self.subject_.predict(texts) if self.subject_ is not None else np.zeros(len(texts))

    def neighbour_signals(self, texts: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The ``nearest`` and ``neighbours`` signals of rows with these subjects (None: a model without them)."""
        neighbours = getattr(self, "neighbours_", None)
        return neighbours.predict(texts) if neighbours is not None else (None, None)

    def to_arrays(self) -> tuple[dict, dict]:
        """(arrays, JSON fields) of the fitted calibrator, its pattern table and ``head_reads_`` (index key → the
        blind reads of the labeled head tracking it, attached by training; None when absent)."""
        extra = set(vars(self)) - set(self.FIELDS)
        if extra:  # a new attribute would be silently lost on save
            raise ValueError(f"AgreementCalibrator.to_arrays does not know the attributes {sorted(extra)}")
        pa, pf = self.patterns_.to_arrays()
        sa, sf = self.subject_.to_arrays() if self.subject_ is not None else ({}, None)
        neighbours = getattr(self, "neighbours_", None)
        na, nf = neighbours.to_arrays() if neighbours is not None else ({}, None)
        reads = getattr(self, "head_reads_", None)
        fields = {"C": float(self.C), "intercept": float(self.intercept_), "patterns": pf, "subject": sf,
                  "head_reads": None if reads is None else {k: list(v) for k, v in reads.items()}}
        coef = np.asarray(self.coef_, dtype=np.float64)
        if nf is not None:  # absent: a model without neighbours (and every model saved before they existed)
            fields["neighbours"] = nf
        elif len(coef) == len(SIGNALS) and not coef[[SIGNALS.index(n) for n in SIGNALS
                                                      if n not in SIGNALS_BEFORE_NEIGHBOURS]].any():
            # without them, the layout of a model saved before they existed: such a model saved again is the same bytes
            coef = coef[[SIGNALS.index(n) for n in SIGNALS_BEFORE_NEIGHBOURS]]
        return {"coef": coef, **{f"patterns.{k}": v for k, v in pa.items()},
                **{f"subject.{k}": v for k, v in sa.items()}, **{f"neighbours.{k}": v for k, v in na.items()}}, fields

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "AgreementCalibrator":
        self = cls(C=float(fields["C"]))
        coef = arrays["coef"]
        subject, neighbours = fields.get("subject"), fields.get("neighbours")
        # saved before the subject signal existed (no subject part), or before the neighbour signals (10 signals)
        older = (SIGNALS_BEFORE_SUBJECT,) if subject is None else ()
        older += (SIGNALS_BEFORE_NEIGHBOURS,) if neighbours is None else ()
        for layout in older:
            if coef.dtype == np.float64 and coef.shape == (len(layout),):
                full = np.zeros(len(SIGNALS))
                full[[SIGNALS.index(n) for n in layout]] = coef
                coef = full
                break
        if coef.dtype != np.float64 or coef.shape != (len(SIGNALS),):
            raise ValueError(f"agreement coefficients: shape {coef.shape} ({coef.dtype}), expected ({len(SIGNALS)},)")
        self.coef_ = coef
        self.neighbours_ = (SubjectNeighbours.from_arrays(
            {k[11:]: v for k, v in arrays.items() if k.startswith("neighbours.")}, neighbours)
            if neighbours is not None else None)
        self.subject_ = (SubjectAgreement.from_arrays({k[8:]: v for k, v in arrays.items() if k.startswith("subject.")},
                                                      subject) if subject is not None else None)
        self.intercept_ = float(fields["intercept"])
        self.patterns_ = PatternTable.from_arrays({k[9:]: v for k, v in arrays.items() if k.startswith("patterns.")},
                                                  fields["patterns"])
        reads = fields["head_reads"]
        if reads is not None:
            self.head_reads_ = {str(k): tuple(str(x) for x in v) for k, v in reads.items()}
        return self

    def predict(self, S: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(S @ self.coef_ + self.intercept_)))


def agreement_threshold(conf: np.ndarray, target: np.ndarray, weight: np.ndarray, goal: float) -> tuple[float, float, float]:
    """Lowest threshold t at which the rows with confidence ≥ t agree with the readers on ≥ ``goal`` (weighted).

    Returns (t, agreement of the accepted rows, weighted share sent to review)."""
    order = np.argsort(-conf, kind="stable")
    cw = np.cumsum(weight[order])
    cum = np.cumsum((weight * target)[order]) / cw
    good = np.flatnonzero(cum >= goal)
    if len(good) == 0:
        return 1.01, float("nan"), 1.0
    k = good.max()
    t = float(conf[order][k])
    acc = conf >= t
    return t, float(np.average(target[acc], weights=weight[acc])), float(weight[~acc].sum() / weight.sum())


def weighted_ece(conf: np.ndarray, target: np.ndarray, weight: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of ``conf`` against soft targets, equal-width bins, weighted."""
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    tot, err = weight.sum(), 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            w = weight[m]
            err += w.sum() / tot * abs(np.average(conf[m], weights=w) - np.average(target[m], weights=w))
    return float(err)
