"""Steps 2 and 3 of tagging — decide the class, confidence and review flag of every row from its scores, then let
people's review decisions override them. Both return a frame of flags and numbers; no text is written here.

Decision columns: top (class index), secondary, confidence, needs_review; the flags that explain them —
out_of_scope, name_problem (a reason code of :mod:`classifier.name_check`, '' for a fund name), term_only_name (a
name-only row read as a fund's name only through a taxonomy term), no_text, abstain,
active, concentrated (seed 004), held (holdings known), no_signal (an active fund with no class word and no
concentration), duplicate_code, linked_row (-1: follows no other row), linked_etf; the runners-up
alt_class_<k> (class index, -1: none) and alt_p_<k>; after :func:`override`, reviewed, review_via (the reviewed
fund's code), review_how (fund / linked / index), review_key (the index key that matched), review_level (which of
:func:`override`'s ways settled the row, in the order it tries them: :data:`REVIEW_LEVELS`; -1 none).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .index_key import code_keys, name_keys, subject_keys
from .linking import ReviewedFamilies, duplicate_codes, family_keys, fund_codes
from .score import Scores
from .score import index_keys as read_index_keys
from .taxonomy import Taxonomy

# the ways a review decision settles a row, in the order override tries them (review_level is the position)
REVIEW_LEVELS = ("own code", "share class of the same fund", "followed fund", "ETF the feeder follows",
                 "index code key", "index subject key", "index name key", "index of the fund's row in the labeled set")


def _alternative_shares(s: Scores, conf: np.ndarray, top: np.ndarray, contested: np.ndarray) -> np.ndarray:
    """Per row and class, the chance a reader picks that class instead (the chosen class holds the confidence).

    The doubt, 1 − confidence, is shared among the runners-up in proportion to the model's probabilities; where the
    deciding rule encodes a contested convention the class readers also pick gets at least half of it; on a known head
    the readers disputed, half of it goes to the classes they read. No runner-up gets more than the confidence."""
    n, k = s.proba.shape
    rows = np.arange(n)
    rest = np.clip(1.0 - s.proba[rows, top], 1e-12, None)
    alt = s.proba * ((1.0 - conf) / rest)[:, None]
    for i in np.flatnonzero(contested >= 0):
        j = contested[i]
        alt[i, j] = max(alt[i, j], (1.0 - conf[i]) / 2)
        others = np.arange(k) != j
        others[top[i]] = False
        left = max(1.0 - conf[i] - alt[i, j], 0.0)
        alt[i, others] *= left / max(alt[i, others].sum(), 1e-12)
    pos = {c: j for j, c in enumerate(s.classes)}
    for i, reads in s.doubting_reads.items():
        other = [pos[r] for r in reads if r in pos and pos[r] != top[i]]
        if other:
            alt[i] *= 0.5
            for j in other:
                alt[i, j] += 0.5 * (1.0 - conf[i]) / len(other)
    # no runner-up is shown as likelier than the chosen class: where one would be (the doubt is large and the model's
    # runner-up strong), the runners-up are scaled down to at most the confidence and the rest is left unassigned
    alt[rows, top] = 0.0
    high = alt.max(axis=1)
    scale = np.where(high > conf, conf / np.where(high > 0, high, 1.0), 1.0)
    alt *= scale[:, None]
    alt[rows, top] = conf
    return alt


def _contested_class(s: Scores, top: np.ndarray, rule_contested: dict[str, str]) -> np.ndarray:
    """Per row, the index of the class a contested deciding rule names as also defensible (-1: none)."""
    pos = {c: j for j, c in enumerate(s.classes)}
    out = []
    seen: dict[tuple[int, int], int] = {}  # by the hits tuple's identity (rows of one text share it) and class
    # Python lists: reading a NumPy array one element at a time makes a NumPy scalar of each
    for src, t in zip(s.source_row.tolist(), top.tolist()):
        hits = s.rules.hits[src]
        j = seen.get((id(hits), t))
        if j is None:
            own = [h for h in hits if h.secondary == s.classes[t]]
            j = seen[(id(hits), t)] = (pos.get(rule_contested.get(max(own, key=lambda h: h.strength).rule, ""), -1)
                                       if own else -1)
        out.append(j)
    return np.array(out, dtype=np.int64)


def decide(p: pd.DataFrame, s: Scores, tax: Taxonomy, threshold: float, n_alternatives: int,
           rule_contested: dict[str, str], duplicate: np.ndarray | None = None,
           *, alternative_min: float, term_only_prior: float) -> pd.DataFrame:
    """The gates (out of scope, blank: :mod:`classifier.gates`) are the score step's, ``s.gates``.
    ``duplicate``: duplicate_code of every row, found over a whole file; by default within the frame.
    ``alternative_min`` (least share of a listed runner-up): the configuration's ``tag`` key of the same name;
    ``term_only_prior``: the chance that a name-only row without any
    fund word, read as a fund's name only through a taxonomy term, is a fund at all (``tag.term_only_name_prior``)."""
    n = len(p)
    g = s.gates
    problem, term_only, oos, no_text, abstain = g.problem, g.term_only, g.out_of_scope, g.no_text, g.abstain
    active, concentrated, held, no_signal, blank = g.active, g.concentrated, g.held, g.no_signal, g.blank
    top = s.top
    contested = _contested_class(s, top, rule_contested)
    alt = _alternative_shares(s, s.confidence, top, contested)  # among the classes, whether or not it is a fund
    conf = np.where(term_only, s.confidence * term_only_prior, s.confidence)
    order = np.argsort(-alt, axis=1)[:, :n_alternatives]
    cls = np.array(s.classes, dtype=object)
    secondary = np.where(oos, tax.not_applicable, cls[top])
    codes = fund_codes(p)
    dup = duplicate_codes(codes=codes) if duplicate is None else np.asarray(duplicate, dtype=bool)
    # a row that follows a row of its own fund code (its family's first member is that fund's other row) is that fund
    # again, flagged duplicate_code, not a share class or feeder of it: it links to no fund
    code_a = codes.to_numpy(dtype=object)
    follows = (s.source_row != np.arange(n)) & ~((code_a[s.source_row] == code_a) & (code_a != ""))
    # text columns as Python strings (dtype object): the later steps read them value by value
    d = pd.DataFrame({
        "top": top, "code": pd.Series(codes.tolist(), index=p.index, dtype=object),
        "secondary": pd.Series(np.where(blank, "", secondary).tolist(), index=p.index, dtype=object),
        "confidence": np.where(blank, 0.0, np.where(oos, 1.0, np.round(conf, 4))),
        "needs_review": ~oos & ((conf < threshold) | (active & ~concentrated) | blank | term_only),
        "out_of_scope": oos, "name_problem": pd.Series(problem.tolist(), index=p.index, dtype=object), "term_only_name": term_only & ~oos, "no_text": no_text,
        "abstain": abstain, "active": active,
        "concentrated": concentrated, "held": held, "no_signal": no_signal, "duplicate_code": dup,
        "linked_row": np.where(follows, s.source_row, -1),
        "linked_etf": s.links["etf"].to_numpy() >= 0}, index=p.index)
    listed = ~(oos | blank)
    # a row in review always shows its likeliest runner-up, however small its share: where the confidence is low,
    # the runners-up are capped at it (none is shown likelier than the chosen class) and may all fall below
    # alternative_min, which would leave the reviewer no choice to see
    review, shown = d["needs_review"].to_numpy(), np.zeros(n, dtype=bool)
    for k in range(n_alternatives):
        j = order[:, k] if k < order.shape[1] else np.full(n, -1)
        share = alt[np.arange(n), j] if k < order.shape[1] else np.zeros(n)
        keep = listed & (j != top) & ((share >= alternative_min) | (review & ~shown & (share > 0)))
        shown |= keep
        d[f"alt_class_{k + 1}"] = np.where(keep, j, -1)
        d[f"alt_p_{k + 1}"] = np.where(keep, share, 0.0)
    return d


def override(p: pd.DataFrame, d: pd.DataFrame, reviewed: dict[str, tuple[str, str, str]],
             reviewed_index: dict[str, str], n_alternatives: int,
             reviewed_families: ReviewedFamilies | None = None, family: list[str] | None = None,
             reviewed_disputes: dict[str, tuple[str, ...]] | None = None,
             held: dict[str, tuple[str, ...]] | None = None,
             index_keys: tuple[list[str], list[str], list[str]] | None = None) -> pd.DataFrame:
    """People's review decisions settle their fund, the fund's share classes and feeders, and its tracked index
    (``reviewed``: code → (class, reviewer, date); ``reviewed_index``: index key → code of the fund that settles it;
    ``reviewed_families``: the reviewed funds' family keys, which reach share classes and feeders whether or not the
    reviewed fund is in this batch, or first in its family; ``family``: the rows' family keys, as linking found them,
    by default :func:`classifier.linking.family_keys` of ``p``; ``reviewed_disputes``: index key → codes of reviewed
    funds given different classes; ``held``: code of a fund the labeled set holds → the index keys of its row in the set,
    tried after the row's own keys: the import relabels such a fund with a decision on its index in the set, whatever
    its batch calls the index; ``index_keys``: the rows' code, subject and name keys when already read,
    :func:`classifier.score.index_keys`). A row that is not a fund's name is never settled by an index or a link (its own
    code's decision still settles it: the decision was made on that fund). A row
    that no decision settles but whose index or family reviewers decided two ways goes to review, its
    ``review_dispute`` naming those funds' codes: reviewers disagreeing is a dispute."""
    d = d.copy()
    d["reviewed"], d["review_via"], d["review_how"], d["review_key"], d["review_level"] = False, "", "", "", -1
    d["review_dispute"] = pd.Series([()] * len(d), index=d.index, dtype=object)
    if not reviewed:
        return d
    codes = d["code"].tolist()
    linked = d["linked_row"].to_numpy()
    ckeys, skeys, nkeys = index_keys or read_index_keys(p)
    if reviewed_families:
        fam = family_keys(p) if family is None else family
        (own, etf), fam_disputes = reviewed_families.find(fam), reviewed_families.disputes(fam)
    else:
        own, etf, fam_disputes = [""] * len(codes), [""] * len(codes), [()] * len(codes)
    disputes = reviewed_disputes or {}
    held = held or {}
    disputed: list[tuple[str, ...]] = [()] * len(codes)
    problem = d["name_problem"].to_numpy()
    # the rows a decision or a dispute may reach, found column by column: most rows are reached by none, and only
    # these go through the steps below, one by one
    code_a = np.array(codes, dtype=object)
    heads = np.where(linked >= 0, code_a[np.clip(linked, 0, None)], code_a)
    keyed = reviewed_index.keys() | disputes.keys()
    reached = (_among(codes, reviewed) | _among(own, reviewed) | _among(heads, reviewed) | _among(etf, reviewed)
               | _among(ckeys, keyed) | _among(skeys, keyed) | _among(nkeys, keyed) | _among(codes, held)
               | np.fromiter(map(bool, fam_disputes), dtype=bool, count=len(codes)))
    for i in np.flatnonzero(reached).tolist():
        c = codes[i]
        if problem[i] and c not in reviewed:  # the fund's own decision is by its code, whatever its name cell holds
            continue
        via, how, key, level = None, "", "", -1
        head = codes[linked[i]] if linked[i] >= 0 else c
        if c in reviewed:
            via, how, level = c, "fund", 0
        elif own[i] in reviewed:  # a share class of the same fund, before the ETF a feeder follows
            via, how, level = own[i], "linked", 1
        elif head in reviewed:
            via, how, level = head, "linked", 2
        elif etf[i] in reviewed:
            via, how, level = etf[i], "linked", 3
        else:
            ks = (ckeys[i], skeys[i], nkeys[i])
            for j, k in enumerate(ks + held.get(c, ())):
                if k and k in reviewed_index:
                    via, how, key, level = reviewed_index[k], "index", k, 4 + min(j, 3)
                    break
        if via:
            at = d.index[i]
            d.at[at, "secondary"], d.at[at, "confidence"], d.at[at, "needs_review"] = reviewed[via][0], 1.0, False
            d.at[at, "reviewed"], d.at[at, "review_via"], d.at[at, "review_how"] = True, via, how
            d.at[at, "review_key"], d.at[at, "review_level"] = key, level
            for k in range(n_alternatives):
                d.at[at, f"alt_class_{k + 1}"], d.at[at, f"alt_p_{k + 1}"] = -1, 0.0
        elif disputes or fam_disputes[i]:
            dispute = tuple(dict.fromkeys(x for k in (ckeys[i], skeys[i], nkeys[i]) + held.get(c, ()) if k
                                          for x in disputes.get(k, ())))
            dispute = dispute or fam_disputes[i]
            if dispute:
                disputed[i] = dispute
                d.at[d.index[i], "needs_review"] = True
    d["review_dispute"] = pd.Series(disputed, index=d.index, dtype=object)
    return d


def _among(values, keys) -> np.ndarray:
    """Per value, whether ``keys`` (a dict or set) holds it."""
    return np.fromiter(map(keys.__contains__, values), dtype=bool, count=len(values))


@dataclass
class SettlingKeys:
    """What a set of review decisions settles, by the keys tagging matches later funds on: ``index`` (index key →
    the code of the one decision on it), ``disputes`` (index key decided two ways → the deciding codes, in order) and
    ``families`` (share classes and feeders: :class:`classifier.linking.ReviewedFamilies`); ``rank`` (index key of
    ``index`` → (date, row) of the decision that settles it: of the decisions that agree on a key, the earliest, and
    of those made the same day the one first in the labeled set; a later decision that agrees leaves the earlier one
    named, and one that disagrees disputes the key)."""
    index: dict[str, str]
    disputes: dict[str, tuple[str, ...]]
    families: ReviewedFamilies
    rank: dict[str, tuple[str, int]]


def settling_keys(p: pd.DataFrame, codes: list[str], classes: list[str],
                  aliases: dict[str, str] | None = None, dates: list[str] | None = None) -> SettlingKeys:
    """The keys of review decisions: ``p`` the decided funds prepared (:func:`classifier.prepare.prepare`, or only the
    fields these keys read, :func:`classifier.prepare.key_fields`),
    ``codes`` and ``classes`` their codes and decisions, ``dates`` the days they were made (``labeled_at``; None: the
    same day); ``aliases``: the index code and subject keys the labeled set pairs (:func:`classifier.index_key.
    index_aliases`), so a decision on an index given by code alone settles its funds given by name alone, and the
    other way round. Shared by tagging (:meth:`classifier.pipeline.Tagger.use_reviewed`) and by the import, which
    warns of the disputes a decision starts."""
    dates = [str(d) for d in dates] if dates is not None else [""] * len(codes)
    families = ReviewedFamilies(family_keys(p), list(codes), list(classes), dates)
    decided: dict[str, set] = {}
    deciders: dict[str, list] = {}
    rank: dict[str, tuple[str, int]] = {}
    aliases = aliases or {}
    for keys in (code_keys(p), subject_keys(p), name_keys(p)):
        for row, (key, code, sec) in enumerate(zip(keys, codes, classes)):
            for k in _with_alias(key, aliases):
                decided.setdefault(k, set()).add(sec)
                deciders.setdefault(k, []).append(code)
                rank[k] = min(rank.get(k, (dates[row], row)), (dates[row], row))
    one = {k: codes[rank[k][1]] for k in deciders if len(decided[k]) == 1}
    return SettlingKeys(one, {k: tuple(dict.fromkeys(c)) for k, c in deciders.items() if len(decided[k]) > 1},
                        families, {k: rank[k] for k in one})


def _with_alias(key: str, aliases: dict[str, str]) -> list[str]:
    """A decided fund's index key and the key the labeled set pairs it with (none without a key)."""
    return [k for k in (key, aliases.get(key, "")) if k] if key else []


def decision_index_keys(p: pd.DataFrame, aliases: dict[str, str] | list[dict[str, str]] | None = None
                        ) -> list[list[tuple[str, int]]]:
    """Per decided fund of ``p`` (prepared as :func:`settling_keys` reads it), the index keys its decision settles
    (code, subject and name keys, each with its alias), as :func:`settling_keys` records them: what one decision on it
    reaches (``review export``'s ``settles``). ``aliases``: the labeled set's pairs, or one such dict per row of
    ``p`` (a new fund adds its own pair to the set)."""
    rows = zip(code_keys(p).tolist(), subject_keys(p).tolist(), name_keys(p).tolist())
    per_row = aliases if isinstance(aliases, list) else [aliases or {}] * len(p)
    return [[k for key in keys for k in _with_alias(key, a)] for keys, a in zip(rows, per_row)]
