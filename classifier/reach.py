"""What one review decision on a row of a tagged file settles at the next tag of that file: ``review export``'s
``group`` and ``settles``, read from the code that settles, not from the file's own reading of the index.

`review import` puts the decided fund into the labeled set (a fund the set holds keeps the set's identifying
fields; a new one takes the sheet's); the next tag settles by that row of the set (:func:`classifier.decide.override`
with the keys of :func:`classifier.decide.settling_keys`): the fund's own code, the rows that follow it (share
classes and feeders, ``linked_fund``), its share-class family in any batch (:class:`classifier.linking.
ReviewedFamilies`), then the index code, subject and name keys of its row in the set, each with the key the labeled
set pairs it with (:func:`classifier.index_key.index_aliases`, over the set with the fund's row), which reach a row of
the file by the row's own keys, else, for a fund the set holds, by the keys of its row in the set
(:func:`classifier.index_key.row_keys`: the import relabels it there with the decision). The set's index name
may say more than the file: 平安300ETF联接C, whose name gives the file only the number 300 (no key), is 沪深300 in
the set, and its decision settles the file's 沪深300 funds.

A row another decision of the set settles stays with it unless the new decision comes first in the order
:func:`~classifier.decide.override` tries them (own code, followed fund, a share class of the same fund, the ETF a
feeder follows, index code key, subject key, name key); an index key or family another decision already settles stays
with it whatever the new decision's class: one of another class disputes it (its rows go to review, settled by
neither), and one that agrees leaves the earlier one named (:func:`~classifier.decide.settling_keys` gives a key to the
earliest of the decisions that agree on it). So ``settles`` is what a decision settles whichever class it is; the one
exception is not counted: a decision made the same day as the one that settles a row, agreeing with it and first in
the labeled set (a fund the set holds keeps its row), takes that row over at the next tag (the order of one day's
decisions is the set's), its class unchanged. A family another decision settles reaches, through the new one, its
rows that decision does not.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from .columns import detect_columns
from .decide import REVIEW_LEVELS, decision_index_keys, override
from .index_key import code_keys, index_pairs, name_keys, pair_aliases, row_keys, subject_keys
from .labeled import ID_COLUMNS
from .linking import EtfFinder, NearKeys, family_keys, feeder_cutoff, fund_codes
from .prepare import prepare
from .taxonomy import Taxonomy

_NONE = len(REVIEW_LEVELS)  # the level of a row no decision settles (the others: decide.REVIEW_LEVELS)


def _existing(p: pd.DataFrame, codes: list[str], linked_row: np.ndarray, problem: np.ndarray, fam: list[str],
              labels: pd.DataFrame | None, tax: Taxonomy):
    """The decisions of the labeled set as the next tag applies them (:meth:`classifier.pipeline.Tagger.
    use_reviewed`, :func:`~classifier.decide.override`): per row, the deciding fund ('' none), the level it settles
    the row at and the index key it settles it by ('' none); the index keys already decided (key → code), those and
    the family names in dispute."""
    from .pipeline import Tagger

    n = len(codes)
    via, level, by = [""] * n, np.full(n, _NONE), [""] * n
    if labels is None or labels.empty:
        return via, level, by, {}, set(), set()
    t = Tagger(tax)
    with warnings.catch_warnings():  # decisions of another taxonomy are not applied: the tag run says so
        warnings.simplefilter("ignore")
        t.use_reviewed(labels)
    taken, families = set(t.reviewed_disputes), set(t.reviewed_families.disputed)
    if not t.reviewed:
        return via, level, by, t.reviewed_index, taken, families
    d = pd.DataFrame({"code": codes, "linked_row": linked_row, "name_problem": np.where(problem, "x", ""),
                      "secondary": "", "confidence": 0.0, "needs_review": False}, index=p.index)
    d = override(p, d, t.reviewed, t.reviewed_index, 0, t.reviewed_families, fam, t.reviewed_disputes,
                 t.reviewed_held)
    for i, (v, how, key, at) in enumerate(zip(d["review_via"], d["review_how"], d["review_key"], d["review_level"])):
        if v:
            via[i], level[i], by[i] = v, at, key if how == "index" else ""
    return via, level, by, t.reviewed_index, taken, families


def decision_reach(tagged_p: pd.DataFrame, linked: list[str], problem: np.ndarray, rows: np.ndarray,
                   ids: pd.DataFrame, labels: pd.DataFrame | None, tax: Taxonomy,
                   on: list | None = None) -> list[np.ndarray]:
    """Per row position of ``rows``, the positions of the rows of the file a review decision on it settles at the next
    tag of the file (its own among them). ``tagged_p``: the file prepared (:func:`classifier.prepare.prepare`, index
    0…n−1); ``linked``: per row, the code of the fund it follows (``linked_fund``, '' none); ``problem``: rows that
    are not a fund's name (only their own code's decision settles them); ``ids``: the identifying fields
    (:data:`classifier.labeled.ID_COLUMNS`) the review sheet gives the decided rows, in the order of ``rows``;
    ``labels``: the labeled set the import writes to and the tag reads (None: none). ``on``, when given, is filled
    with, per row of ``rows``, what its decision is a decision on: the index keys it settles by (with their aliases,
    as tagging reads them) and its share-class family (the fund it follows, its family key), none for a row that is
    not a fund's name or gives no fund code. Two rows with one of them in common decide one index or family, though
    an earlier decision there leaves each decision settling its own fund alone (a later one that agrees settles no
    other row; one that disagrees disputes it)."""
    n = len(tagged_p)
    codes = fund_codes(tagged_p).tolist()
    six = tagged_p["code6"].tolist()  # '' where the code cell holds no fund code (数据来源：Wind, a Wind footer)
    first = {}
    for i, c in enumerate(codes):
        first.setdefault(c, i)
    linked_row = np.array([first.get(lk, -1) if lk else -1 for lk in linked], dtype=np.int64)
    head = [codes[j] if j >= 0 else c for j, c in zip(linked_row, codes)]
    fam = family_keys(tagged_p)
    via, level, by, decided, disputed, fam_disputed = _existing(
        tagged_p, codes, linked_row, problem, fam, labels, tax)

    # the decided funds as the labeled set will hold them: the set's row of a fund it holds, else the sheet's fields
    ids = ids.reset_index(drop=True).astype(str).apply(lambda s: s.str.strip())
    ids["fund_code"] = [codes[r] for r in rows]
    have = labels is not None and not labels.empty
    if have:
        at = {c: i for i, c in enumerate(labels["fund_code"].tolist())}
        known = [at.get(c) for c in ids["fund_code"]]
        held = [k for k, j in enumerate(known) if j is not None]
        if held:
            ids.loc[held, ID_COLUMNS] = labels[ID_COLUMNS].iloc[[known[k] for k in held]].astype(str).to_numpy()
    else:
        known = [None] * len(ids)
    cand = prepare(ids[ID_COLUMNS], detect_columns(ID_COLUMNS))
    set_codes = labels["index_code"] if have else pd.Series([], dtype=object)
    set_names = labels["index_name"] if have else pd.Series([], dtype=object)
    pairs = index_pairs(set_codes, set_names)  # the set's pairs, read once
    aliases = pair_aliases(pairs)
    # a new fund that gives an index code and name adds that pair to the set, which may unpair either: its keys then
    # take the aliases of the set with its row (a fund the set holds is already in them)
    row_aliases: list[dict[str, str]] = [aliases] * len(ids)
    paired: dict[tuple[str, str], dict[str, str]] = {}
    for k, (ic, iname) in enumerate(zip(ids["index_code"].tolist(), ids["index_name"].tolist())):
        if known[k] is None and ic and iname:
            pair = (ic, iname)
            if pair not in paired:
                own = index_pairs(pd.Series([ic]), pd.Series([iname]))
                paired[pair] = aliases if own <= pairs else pair_aliases(pairs | own)
            row_aliases[k] = paired[pair]
    keys = decision_index_keys(cand, row_aliases)
    cand_fam = family_keys(cand)

    # the rows of the file by what a decision may reach them by
    by_code: dict[str, list[int]] = {}
    by_head: dict[str, list[int]] = {}
    by_key: dict[str, list[tuple[int, int]]] = {}
    by_name: dict[str, list[int]] = {}
    for i in range(n):
        by_code.setdefault(codes[i], []).append(i)
        if linked_row[i] >= 0:
            by_head.setdefault(head[i], []).append(i)
    for lv, ks in enumerate((code_keys(tagged_p).tolist(), subject_keys(tagged_p).tolist(),
                             name_keys(tagged_p).tolist())):
        for i, k in enumerate(ks):
            if k:
                by_key.setdefault(k, []).append((i, 4 + lv))
    if have:  # a fund the set holds, also by its row's index keys there (after its own: level 7)
        in_file = labels[labels["fund_code"].isin(set(codes))]
        for c, ks in zip(in_file["fund_code"].tolist(), row_keys(in_file["index_code"], in_file["index_name"])):
            for i in by_code.get(c, ()):
                for k in ks:
                    if k:
                        by_key.setdefault(k, []).append((i, 7))
    split = [k.partition("#")[::2] for k in fam]
    for i, (name, _) in enumerate(split):
        if name:
            by_name.setdefault(name, []).append(i)
    # feeders by the ETF family names of the decided funds they would follow (linking.EtfFinder of one ETF: its
    # name exactly, else within tag.feeder_ratio in the same scope)
    finder = EtfFinder([])
    etf_names = sorted({k.partition("#")[0] for k in cand_fam
                        if k and finder.etf_word in k.partition("#")[0] and finder.feeder not in k})
    feeds: dict[str, list[int]] = {}
    if etf_names:
        exact, near, cutoff = set(etf_names), None, feeder_cutoff()
        for i, (name, _) in enumerate(split):
            if finder.feeder not in name:
                continue
            target = finder._target(name)
            hits = {target} & exact
            near = near or NearKeys(etf_names)
            for j in near.candidates(target):
                e = etf_names[j]
                if e != target and finder.scope(e) == finder.scope(target) and fuzz.ratio(target, e) >= cutoff:
                    hits.add(e)
            for e in hits:
                feeds.setdefault(e, []).append(i)
    settled_by: dict[str, list[int]] = {}
    for i, v in enumerate(via):
        if v:
            settled_by.setdefault(v, []).append(i)

    out = []
    for k, r in enumerate(rows):
        x = codes[r]
        if not six[r]:  # a row without a fund code (none, or text that is none): the import refuses its decision,
            # which settles nothing
            out.append(np.array([], dtype=np.int64))
            if on is not None:
                on.append(set())
            continue
        if on is not None:  # the index and family the decision is on, whatever it settles there
            on.append(set() if problem[r] else
                      set(keys[k]) | ({by[r]} - {""}) | {f"family:{f}" for f in (fam[r], head[r] if linked_row[r] >= 0
                                                                                 else "") if f})
        lv: dict[int, int] = {}

        def reach(i: int, at: int) -> None:
            if at < lv.get(i, _NONE) and (at == 0 or not problem[i]):
                lv[i] = at

        for i in by_code.get(x, ()):
            reach(i, 0)
        name, _, subject = cand_fam[k].partition("#")
        if name and name not in fam_disputed:
            for i in by_name.get(name, ()):
                if not subject or not split[i][1] or split[i][1] == subject:
                    reach(i, 1)
        for i in by_head.get(x, ()):
            reach(i, 2)
        if name and name not in fam_disputed:
            for i in feeds.get(name, ()):
                if not subject or not split[i][1] or split[i][1] == subject:
                    reach(i, 3)
        for key in keys[k]:
            if key in disputed or decided.get(key, x) != x:
                continue  # another decision keeps the key if the two agree; if not, they dispute it
            for i, at in by_key.get(key, ()):
                reach(i, at)
        # a row another decision settles stays with it whatever this one's class: a decision of another class
        # disputes its index or family (the row goes to review), one of the same class leaves it with the other (or,
        # made the same day and first in the set, takes it over, its class unchanged: not counted, see above)
        hit = {i for i, at in lv.items() if at < level[i]} | set(settled_by.get(x, ()))
        out.append(np.array(sorted(hit), dtype=np.int64))
    return out
