"""Step 1 of tagging — score: rules, holdings and model for every row, as numbers.

Linked rows (share classes, feeders) take the scores of the fund they follow. Confidence is the chance an independent
reader agrees (the model's agreement calibrator, :mod:`classifier.doubt`) when the model carries one, capped by the
blind reads of a known head the readers disputed; else the chosen class's probability.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .doubt import SIGNALS, pattern_keys, signals, subject_texts
from .features import featurize
from .fundtype import ACTIVE, ENHANCED, PASSIVE
from .fusion import align
from .gates import Gates, gates
from .index_key import code_keys, name_keys, reference_aliases, subject_keys
from .linking import link
from .rules import RuleLayer, RuleResult



@dataclass
class Scores:
    """What the score step knows about each row (all arrays in row order)."""

    rules: RuleResult
    gates: Gates  # which rows get no class to choose among (out of scope, blank), read before the model
    holdings: pd.DataFrame | None  # holdings features per row, or None when no holdings were given
    proba: np.ndarray  # n × K class probabilities (of the row the row follows)
    classes: list[str]
    links: pd.DataFrame  # linking.link: family (key), head (share-class family) and etf (feeder → ETF), row numbers
    source_row: np.ndarray  # the row whose scores a row took (itself when it follows none)
    confidence: np.ndarray
    head_agree: np.ndarray  # reads agreeing with the chosen class on a known head (one the labeled set's readers read)
    head_reads: np.ndarray  # reads of that head (0 for a fund of no known head)
    doubting_reads: dict = field(default_factory=dict)  # row → the readers' classes, where they split
    doubt: np.ndarray | None = None  # n × len(doubt.SIGNALS): the signals the agreement calibrator read (None: none)
    doubt_lowers: tuple = ()  # the signals whose calibrator coefficient is negative (being set lowers confidence)
    subject_rate: np.ndarray | None = None  # readers' agreement predicted from the row's subject (None: not modelled)
    neighbour_rate: np.ndarray | None = None  # readers' agreement on the read heads nearest its subject (None: none)
    # per row, its index code key, subject key and name key (index_key.code_keys, subject_keys, name_keys) as lists,
    # when this step read them (None: it did not); decide.override reads the same keys
    index_keys: tuple[list[str], list[str], list[str]] | None = None

    @property
    def top(self) -> np.ndarray:
        return self.proba.argmax(axis=1)


def _rule_proba(rr: RuleResult) -> np.ndarray:
    """Rules-only confidences: the winner's share of tier-weighted votes (not calibrated)."""
    s = rr.strength.astype(float)
    w = np.where(s > 0, np.exp((s - s.max(axis=1, keepdims=True)) / 5.0), 0.0)
    tot = w.sum(axis=1, keepdims=True)
    k = s.shape[1]
    return np.where(tot > 0, w / np.where(tot > 0, tot, 1), 1.0 / k)


def _spread(values: np.ndarray, scored: np.ndarray, back: np.ndarray, fill: float) -> np.ndarray:
    """Per row, the value of the scored row it takes (``back``: position among the scored rows' sources, for the
    rows ``scored``), ``fill`` for a row not scored."""
    out = np.full((len(scored),) + values.shape[1:], fill, dtype=float)
    out[scored] = values[back]
    return out


def _model_numbers(p: pd.DataFrame, rr: RuleResult, holdings, model, own: np.ndarray):
    """The model's numbers of the rows ``own`` (positions in ``p``): probabilities, confidence and, when the model
    carries an agreement calibrator, its doubt signals and the subject and neighbour rates (else None)."""
    classes = list(model.classes_)
    cal = getattr(model, "agreement_", None)
    if not own.size:  # nothing to score (every row out of scope or blank)
        none = np.zeros(0)
        return (np.zeros((0, len(classes))), none, np.zeros((0, len(SIGNALS))) if cal is not None else None,
                none if cal is not None and cal.subject_ is not None else None,
                none if getattr(cal, "neighbours_", None) is not None else None)
    p_own = p.iloc[own]
    X = featurize(p_own, rr.take(own), holdings)
    proba, p_text, p_hold, has = model.components(X)
    if cal is None:
        return proba, proba.max(axis=1), None, None, None
    pos = {c: j for j, c in enumerate(classes)}
    winner = np.array([pos.get(rr.labels[s], -1) if rr.labels[s] else -1 for s in own.tolist()], dtype=int)
    keys = pattern_keys(proba.argmax(axis=1), classes, [rr.hits[s] for s in own.tolist()])
    rate = np.array([cal.patterns_.rate(k) for k in keys])
    texts = subject_texts(p_own)
    subject = cal.subject_rate(texts)
    nearest, neighbours = cal.neighbour_signals(texts)
    S = signals(proba, p_text, p_hold, has, align(rr.strength[own], rr.classes_, classes), winner,
                X["rule_fuzzy"].to_numpy(bool), rate, subject, nearest, neighbours)
    return proba, cal.predict(S), S, subject, neighbours


def index_keys(p: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Per row of a prepared frame, its index code key, subject key and name key ('' none): the keys a known head's
    reads and a review decision are found by."""
    return code_keys(p).tolist(), subject_keys(p).tolist(), name_keys(p).tolist()


def _head_doubt(p: pd.DataFrame, conf: np.ndarray, top: np.ndarray, classes: list, head_reads: dict | None,
                keys: tuple[list[str], list[str], list[str]] | None = None, prior_reads: float = 2.0,
                src: np.ndarray | None = None):
    """A fund of an index the labeled set holds (by its index code or name, or, for an index fund known by its name
    alone, by the index that name gives: :func:`classifier.index_key.name_keys`) has that head's blind reads: its
    confidence becomes the readers' agreement with the chosen class, with the model's confidence counted as
    ``prior_reads`` reads (``[tag] head_prior_reads``; a beta posterior's mean). Readers who all chose the class raise it; a split lowers it, or
    (the model being less sure still) raises it no higher than the split allows: with four reads, 3/4 gives at most
    5/6, never the review threshold. A row that follows another (``src``: :func:`sources`; a feeder its ETF, a share
    class its family's first member) takes the class of that row, and so its reads when that row's keys find any (the
    same index, which a feeder's name may give in words that find no head or another one); its own otherwise. Keys
    that find no head are read again through the shipped index synonym table's code ↔ name pairs
    (:func:`classifier.index_key.reference_aliases`), as a review decision's keys are: an index read by the readers
    under its code (``code:931722``) is the one a row giving its name alone (中证国新港股通央企红利) tracks."""
    agree, n_reads = np.zeros(len(conf), dtype=int), np.zeros(len(conf), dtype=int)
    doubting: dict[int, tuple[str, ...]] = {}
    if not head_reads:
        return conf, agree, n_reads, doubting
    conf = conf.copy()
    alias = reference_aliases()
    found = [head_reads.get(ck) or head_reads.get(sk) or head_reads.get(nk) or head_reads.get(alias.get(ck, ""))
             or head_reads.get(alias.get(sk, "")) or head_reads.get(alias.get(nk, ""))
             for ck, sk, nk in zip(*(keys or index_keys(p)))]
    for i, own in enumerate(found):
        reads = found[src[i]] or own if src is not None else own
        if not reads:
            continue
        k = sum(r == classes[top[i]] for r in reads)
        conf[i] = (k + prior_reads * conf[i]) / (len(reads) + prior_reads)
        agree[i], n_reads[i] = k, len(reads)
        if k < len(reads):
            doubting[i] = reads
    return conf, agree, n_reads, doubting


def sources(links: pd.DataFrame) -> np.ndarray:
    """Per row, the row whose scores it takes: the ETF a feeder follows when it is in the file, else its share-class
    family's first member (itself when it follows none)."""
    return np.where(links["etf"].values >= 0, links["etf"].values, links["head"].values)


def out_of_scope_names(p: pd.DataFrame, out_of_scope) -> np.ndarray:
    """Per row, whether it is a fund's name of an out-of-scope asset class (whose rules :func:`score` reads only when a
    row in scope follows it)."""
    return p["asset_class"].isin(out_of_scope).to_numpy() & (p["name_problem"] == "").to_numpy()


def rules_read(oos_name: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Per row, whether :func:`score` reads its rules: every row but an out-of-scope fund's name (``oos_name``:
    :func:`out_of_scope_names`) that no row in scope follows (``src``: :func:`sources`)."""
    read = ~oos_name
    read[src[read]] = True
    return read


def name_rows(p: pd.DataFrame, links: pd.DataFrame, out_of_scope) -> np.ndarray:
    """Per row of a prepared frame, whether tagging reads its name subjects (``s_name``, ``s_full_name``; see
    :func:`classifier.prepare.prepare`'s ``name_rows``), given its ``links`` (:func:`link`): the rows whose rules
    :func:`score` reads (all but the out-of-scope funds' names no row in scope follows), which hold the rows the model
    scores and the doubt signals read; and every index fund (passive or enhanced), whose name may give its index key
    (:func:`classifier.index_key.name_keys`). The other rows' name subjects are read by nothing: their gates do not
    (an out-of-scope fund's name has nothing to read or not), nor does any later step."""
    read = rules_read(out_of_scope_names(p, out_of_scope), sources(links))
    return read | p["management_style"].isin([PASSIVE, ENHANCED]).to_numpy()


def score(p: pd.DataFrame, rules: RuleLayer, model, holdings, out_of_scope, industry_theme_share: float,
          links: pd.DataFrame | None = None, every_row: bool = False, head_prior_reads: float = 2.0) -> Scores:
    """Scores of a prepared frame. ``out_of_scope`` (the taxonomy's out-of-scope asset classes) and
    ``industry_theme_share`` (seed 004, % of NAV): what the gates read (:mod:`classifier.gates`). ``links``: head and
    etf of every row, found over a whole file (:meth:`classifier.linking.FileLinks.chunk`); by default the frame's
    own (:func:`link`). A fund's name of an out-of-scope asset class gets no rule read (and no near-miss search:
    nor does an active fund, the search is for index products' names) unless a row in scope follows it, and the
    model scores only the rows the gates leave a class to choose for (and the rows those follow); the other rows'
    numbers are placeholders no later step reads (no rule hit, a uniform ``proba``, confidence 0): with
    ``every_row`` the rules read and the model scores every row (:meth:`classifier.pipeline.Tagger.predict_proba`).
    ``head_prior_reads``: the model's confidence counted as this many reads against a known head's blind reads."""
    links = link(p) if links is None else links.set_axis(p.index)
    # share classes follow their family's first member; feeders follow their ETF when it is in the file
    src = sources(links)
    oos_name = out_of_scope_names(p, out_of_scope)
    unread = None if every_row else ~rules_read(oos_name, src)
    rr = rules.apply_prepared(p, skip_fuzzy=oos_name | (p["management_style"] == ACTIVE).values, skip=unread)
    hrows = holdings.table.reindex(p["code6"].values).set_axis(p.index) if holdings is not None else None
    g = gates(p, rr, src, hrows, out_of_scope, industry_theme_share, rules_only=model is None)
    S, lowers, subject, neighbours = None, (), None, None
    if model is None:
        proba, classes = _rule_proba(rr)[src], list(rr.classes_)
        conf = proba.max(axis=1)
    else:
        # the model scores only the rows others follow (each row is scored on its own: the numbers do not depend on
        # which other rows are scored with it); every row then takes its source's
        scored = np.ones(len(p), dtype=bool) if every_row else ~g.classless
        own, back = np.unique(src[scored], return_inverse=True)
        classes = list(model.classes_)
        cal = getattr(model, "agreement_", None)
        proba, conf, S, subject, neighbours = _model_numbers(p, rr, holdings, model, own)
        if cal is not None:
            lowers = tuple(n for n, c in zip(SIGNALS, cal.coef_) if c < 0)
            S = _spread(S, scored, back, 0.0)
            subject = _spread(subject, scored, back, 1.0) if cal.subject_ is not None else None
            neighbours = _spread(neighbours, scored, back, 1.0) if neighbours is not None else None
        proba, conf = _spread(proba, scored, back, 1.0 / len(classes)), _spread(conf, scored, back, 0.0)
    head_reads = getattr(getattr(model, "agreement_", None), "head_reads_", None)
    keys = index_keys(p) if head_reads else None  # read once, here and by decide.override
    conf, agree, n_reads, doubting = _head_doubt(p, conf, proba.argmax(axis=1), classes, head_reads, keys,
                                                 head_prior_reads, src)
    return Scores(rr, g, hrows, proba, classes, links, src, conf, agree, n_reads, doubting, S, lowers, subject,
                  neighbours, keys)
