"""The fast paths of the output steps (name subjects read where needed, evidence, alternatives, CSV text) against
the plain code they replaced, on real decisions and outputs: same output, string for string. Each reference below is
the earlier code, kept verbatim (split from test_fast_paths.py, so that the two files run on two workers)."""
from collections import namedtuple

import numpy as np
import pandas as pd
import pytest

from classifier.columns import detect_columns
from classifier.config import project_path
from classifier.vocabulary import load_vocabulary

from conftest import ETF_LIST, FUND_LIST

SHIPPED = ["data/labeled/labels.csv", "data/labeled/efund/labels.csv", "data/labeled/report_examples.csv",
           "examples/new_listings.csv", "data/dev/not_fund_names_dev.csv"]


@pytest.mark.parametrize("rules_only", [False, True])
def test_tagging_reads_the_name_subjects_of_the_rows_that_need_them_and_tags_as_with_all_of_them(rules_only, once):
    """Tagging reads a row's name subjects (s_name, s_full_name) only where a step reads them (classifier.score.
    name_rows: not on an out-of-scope fund's name that no fund in scope follows, unless an index fund's name may give
    its index key): the shipped sets, the examples, the development set of names that are no funds, the fund and ETF
    lists (when the shared raw data is there), and a fund whose bond share class comes first (its mixed share class
    reads the rules of the bond class's name), are tagged as from the plain prepare, which reads every row's, column
    for column, with the same index keys (the keys review decisions and known heads are found by); the rows read get
    the subjects the plain prepare gives, the others ''."""
    from classifier.linking import link
    from classifier.pipeline import OUTPUT_COLUMNS
    from classifier.prepare import prepare
    from classifier.score import index_keys, name_rows

    tagger = once.tagger(rules_only)
    oos = tagger.taxonomy.out_of_scope
    bond_first = pd.DataFrame({"fund_code": ["000001", "000002"], "fund_short_name": ["华夏消费升级A", "华夏消费升级C"],
                               "fund_type": ["债券型-混合一级", "混合型-偏股"]})
    skipped = 0
    for i, frame in enumerate(once.frames + [bond_first]):
        cols = detect_columns(list(frame.columns))
        plain = once.plain(rules_only, i) if i < len(once.frames) else prepare(frame, cols, tagger.vocab)
        rows = name_rows(plain, link(plain), oos)
        fast = prepare(frame, cols, tagger.vocab, name_rows=lambda q: name_rows(q, link(q), oos))
        assert list(fast.columns) == list(plain.columns)
        for col in ("s_name", "s_full_name"):
            assert fast[col].tolist() == np.where(rows, plain[col].to_numpy(dtype=object), "").tolist(), col
        assert fast.drop(columns=["s_name", "s_full_name"]).equals(plain.drop(columns=["s_name", "s_full_name"]))
        assert index_keys(fast) == index_keys(plain)
        skipped += int((~rows & (plain["s_name"] != "").to_numpy()).sum())
        tagged = (once.tagged(rules_only, i) if i < len(once.frames) else tagger.tag(frame))[OUTPUT_COLUMNS]
        tagged = tagged.reset_index(drop=True)
        pd.testing.assert_frame_equal(tagged, tagger.predict(plain)[OUTPUT_COLUMNS].reset_index(drop=True),
                                      check_dtype=False)
    assert tagger.tag(bond_first)["secondary"].tolist()[1] != ""  # the mixed class read its bond class's rules
    assert skipped > 30  # the fast path is taken: rows' name subjects are left unread (fund list: ~9,200)


@pytest.fixture(scope="module")
def real_frames() -> list[pd.DataFrame]:
    """The shipped sets, the examples, the development set and the fund and ETF lists (when the shared raw data is
    there), each read once for the module."""
    return [pd.read_csv(f, dtype=str, keep_default_na=False)
            for f in [project_path(f) for f in SHIPPED] + [f for f in (FUND_LIST, ETF_LIST) if f.exists()]]


class _Once:
    """What several tests of this module read of the real frames, each made once for the module when first asked
    for: the taggers (the shipped model's, rules only), each frame prepared by the plain prepare (every row's name
    subjects read) and tagged (``Tagger.tag``). The tests read them and change nothing of them."""

    def __init__(self, frames: list[pd.DataFrame]):
        self.frames = frames
        self._made: dict = {}

    def _once(self, key, make):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def tagger(self, rules_only: bool):
        from classifier.pipeline import Tagger

        return self._once(("tagger", rules_only), lambda: Tagger.load(model_dir=None if rules_only else ""))

    def plain(self, rules_only: bool, i: int) -> pd.DataFrame:
        from classifier.prepare import prepare

        frame, vocab = self.frames[i], self.tagger(rules_only).vocab
        return self._once(("plain", rules_only, i), lambda: prepare(frame, detect_columns(list(frame.columns)), vocab))

    def tagged(self, rules_only: bool, i: int, objects: bool = False) -> pd.DataFrame:
        tagger = self.tagger(rules_only)
        return self._once(("tagged", rules_only, i, objects), lambda: tagger.tag(self.frames[i], objects=objects))


@pytest.fixture(scope="module")
def once(real_frames) -> _Once:
    return _Once(real_frames)


@pytest.fixture(scope="module", params=[False, True], ids=["model", "rules_only"])
def decided(request, once):
    """A tagger (with the shipped model, or rules only) and the decisions of every real frame (:func:`_decided`),
    made once for the tests that read them."""
    return once.tagger(request.param), [_decided(once, request.param, i) for i in range(len(once.frames))]


def _decided(once, rules_only, i):
    """The prepared frame, scores and decision a tagger's run writes its evidence from (Tagger._predict's steps)."""
    from classifier.decide import decide, override
    from classifier.score import score

    tagger, p = once.tagger(rules_only), once.plain(rules_only, i)
    s = score(p, tagger.rules, tagger.model, tagger.holdings, out_of_scope=tagger.taxonomy.out_of_scope,
              industry_theme_share=tagger.industry_theme_share)
    d = decide(p, s, tagger.taxonomy, tagger.threshold, tagger.n_alternatives, tagger._rule_contested,
               alternative_min=tagger.alternative_min, term_only_prior=tagger.term_only_prior)
    d = override(p, d, tagger.reviewed, tagger.reviewed_index, tagger.n_alternatives, tagger.reviewed_families,
                 s.links["family"].tolist(), tagger.reviewed_disputes, tagger.reviewed_held, s.index_keys)
    return p, s, d


from classifier.doubt import SIGNALS  # noqa: E402  (the names the reference below reads)
from classifier.explain import (ABSTAIN, ACTIVE_FUND, ACTIVE_NAME_ONLY, DECISION, DOUBT_NEIGHBOURS,  # noqa: E402
                                DOUBT_PATTERN, DOUBT_REASONS, DOUBT_SUBJECT, DOUBTS, DUPLICATE, EVIDENCE_READS,
                                HEAD_AGREE, HEAD_DOUBT, HOLDINGS_THEME, LINKED, NO_RULE, NO_RULE_RULES_ONLY, NO_SIGNAL,
                                NO_TEXT, REVIEW_DISPUTE, REVIEWED, SW_DATE, TERM_ONLY, VIA_INDEX, VIA_LINK)
from classifier.score import Scores  # noqa: E402
from classifier.taxonomy import Taxonomy  # noqa: E402


def evidence_text_reference(p: pd.DataFrame, s: Scores, d: pd.DataFrame, tax: Taxonomy, reviewed: dict,
                  sw_map_as_of: str, industry_theme_share: float, doubt_pattern_rate: float = 0.0) -> list[str]:
    """classifier.explain.evidence_text before it unpacked each row's flags into local names (a named tuple per row
    before), kept verbatim."""
    why_not_name = load_vocabulary().not_a_name.evidence
    asset, reason = p["asset_class"].tolist(), p["asset_reason"].tolist()
    codes = d["code"].tolist()
    # per-row numbers as Python lists (see alternatives_text)
    linked, source_row = d["linked_row"].tolist(), s.source_row.tolist()
    head_agree, head_reads = s.head_agree.tolist(), s.head_reads.tolist()
    doubt, lowers = s.doubt, s.doubt_lowers
    pos = {n: j for j, n in enumerate(SIGNALS)}
    rate = (1.0 / (1.0 + np.exp(-doubt[:, pos["pattern"]]))).tolist() if doubt is not None else None
    # a regression's prediction: it may pass 0 or 1
    subject = np.clip(s.subject_rate, 0.0, 1.0).tolist() if s.subject_rate is not None else None
    neighbours = s.neighbour_rate.tolist() if s.neighbour_rate is not None else None
    # per lowering signal with a reason to give, whether each row has it set (in the order of ``lowers``)
    signal_set = {n: (doubt[:, pos[n]] == 1.0).tolist() for n in lowers if n in DOUBT_REASONS} \
        if doubt is not None else {}
    # the texts that are the same on every row, written once
    no_signal = NO_SIGNAL.format(share=industry_theme_share)
    active_name_only = ACTIVE_NAME_ONLY.format(share=industry_theme_share)
    linked_to = {True: LINKED.format(kind="ETF"), False: LINKED.format(kind="份额")}  # by linked_etf
    heads: dict[tuple[int, int], str] = {}  # the readers' counts said, by (agree, reads): a few distinct ones
    out = []
    # lists: iterating Arrow-backed columns cell by cell is slow; only the columns read here (rows of all the
    # decision's columns, the runners-up too, were half this function's work)
    rows = zip(*(d[c].tolist() for c in EVIDENCE_READS))
    for i, r in enumerate(map(namedtuple("Row", EVIDENCE_READS)._make, rows)):
        src = source_row[i]
        if r.name_problem:
            ev = why_not_name[r.name_problem]
        elif r.no_text:
            ev = NO_TEXT
        elif r.abstain:
            rules = s.rules.evidence(src)
            ev = (ABSTAIN + rules) if rules else NO_RULE_RULES_ONLY
        elif r.out_of_scope:
            ev = f"{tax.out_of_scope[asset[i]]} ({reason[i]})"
        elif r.no_signal:
            ev = no_signal
        else:
            ev = s.rules.evidence(src) or (NO_RULE + (ACTIVE_FUND if r.active else ""))
            if head_reads[i] and not r.reviewed:  # the readers' count is of the model's class, which a decision replaces
                k = (head_agree[i], head_reads[i])
                if k not in heads:
                    heads[k] = (HEAD_AGREE if k[0] == k[1] else HEAD_DOUBT).format(agree=k[0], reads=k[1])
                ev += heads[k]
            if r.active and not r.concentrated and r.needs_review and not r.term_only_name:  # whatever its confidence
                ev += active_name_only
            if r.needs_review and not r.reviewed and doubt is not None:
                reasons = [DOUBT_REASONS[n] for n, is_set in signal_set.items() if is_set[i]
                           and not (n == "no_rule" and ev.startswith(NO_RULE))]
                if rate[i] < doubt_pattern_rate:
                    reasons.append(DOUBT_PATTERN.format(rate=rate[i]))
                if subject is not None and subject[i] < doubt_pattern_rate:
                    reasons.append(DOUBT_SUBJECT.format(rate=subject[i]))
                if neighbours is not None and neighbours[i] < doubt_pattern_rate:
                    reasons.append(DOUBT_NEIGHBOURS.format(rate=neighbours[i]))
                if reasons:
                    ev += DOUBTS.format(reasons=", ".join(reasons))
        if r.reviewed:
            _, by, at = reviewed[r.review_via]
            how = ("" if r.review_how == "fund" else VIA_LINK.format(code=r.review_via) if r.review_how == "linked"
                   else VIA_INDEX.format(index=r.review_key.split(":", 1)[1], code=r.review_via))
            ev = REVIEWED.format(by=by, at=at, how=how) + ev
        if r.review_dispute:
            ev += REVIEW_DISPUTE.format(decisions="、".join(
                DECISION.format(code=c, secondary=reviewed[c][0], by=reviewed[c][1], at=reviewed[c][2])
                for c in r.review_dispute))
        if r.term_only_name and not r.reviewed:
            ev += TERM_ONLY
        if r.duplicate_code:
            ev += DUPLICATE
        if linked[i] >= 0:
            ev += linked_to[r.linked_etf] + codes[linked[i]]
        if r.concentrated and not r.out_of_scope:
            ev += HOLDINGS_THEME.format(industry=s.holdings["holding_industry"].iat[i],
                                        share=s.holdings["holding_industry_share"].iat[i],
                                        threshold=industry_theme_share,
                                        sw_date=SW_DATE.format(date=sw_map_as_of) if sw_map_as_of else "")
        out.append(ev)
    return out



def test_evidence_text_equals_the_reference_on_real_decisions(decided):
    """evidence_text against its earlier code, row for row, on the decisions of the shipped sets, the examples, the
    development set of names that are no funds and the fund and ETF lists (when the shared raw data is there), with the
    shipped labeled set's review decisions (settled rows, disputes) and, with the model, its doubt signals; every
    branch the fund list's rows take is taken."""
    from classifier.explain import evidence_text

    tagger, decisions = decided
    texts = set()
    for p, s, d in decisions:
        args = (p, s, d, tagger.taxonomy, tagger.reviewed, "2021-07-31", tagger.industry_theme_share,
                tagger.doubt_pattern_rate)
        fast = evidence_text(*args)
        assert fast == evidence_text_reference(*args)
        texts.update(fast)
    # the texts of the branches: out of scope, not a name, no signal, settled by a decision, linked, doubts
    assert {"不适用" in t or "不在分类体系内" in t for t in texts} == {True, False}
    assert any("关联" in t for t in texts) and any("复核" in t for t in texts)
    assert len(texts) > 200


def _cell_texts_reference(column: pd.Series) -> list[str]:
    """classifier.io._cell_texts before its number and flag columns were written once per distinct value."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        return column.to_numpy(dtype=object, na_value="<NA>" if dtype.na_value is pd.NA else "").tolist()
    values = column.tolist()
    if set(map(type, values)) <= {str}:
        return values
    return ["" if v is None or (isinstance(v, float) and v != v) else v if isinstance(v, str) else str(v)
            for v in values]


def csv_blocks_reference(frame: pd.DataFrame, sep: str = ",", neutralize_formulas: bool = False,
                         header: bool = True, line_end: str = "\n"):
    """classifier.io.csv_blocks before each column was joined once for its checks."""
    from classifier.io import _FORMULA_CELL, _FORMULA_START, CSV_BLOCK_ROWS, neutralize

    def quoted(t: str) -> bool:
        return sep in t or '"' in t or "\r" in t or "\n" in t

    def cells(out: list[str]) -> list[str]:
        if neutralize_formulas and _FORMULA_CELL.search("\n" + "\n".join(out)):
            out = [neutralize(t) if t.startswith(_FORMULA_START) else t for t in out]
        if quoted("".join(out)):
            out = ['"' + t.replace('"', '""') + '"' if quoted(t) else t for t in out]
        return out

    if header:
        yield sep.join(cells(_cell_texts_reference(pd.Series(frame.columns, dtype=object)))) + line_end
    for s in range(0, len(frame), CSV_BLOCK_ROWS):
        block = frame.iloc[s:s + CSV_BLOCK_ROWS]
        yield line_end.join(map(sep.join, zip(*(cells(_cell_texts_reference(block.iloc[:, j]))
                                                for j in range(block.shape[1]))))) + line_end


def _csv_frames(once):
    """Tagged outputs of the shipped sets and the fund and ETF lists (text, number and flag columns, as a chunk's CSV
    is written from), and frames of the cells where the checks differ: numbers whose text is unusual (-0.0, NaN,
    infinities, exponents, a float's shortest repr), a formula or a line break in the first cell or only in a later
    one, quotes, CR, the separator."""
    frames = [once.tagged(True, i, objects) for i in range(len(once.frames)) for objects in (True, False)]
    nums = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-05, 1e16, 0.1 + 0.2, 0.85, 1 / 3, -1.5, 123456789.125, 5e-324]
    cells = ["=1+1", "x", "a\nb", "-", "+3", "@a", "\tx", "q\"", "c\rd", "1,2", "", "华夏", "\n", "x\t", "'=1"]
    for i, first in enumerate(cells):
        rest = [c for c in cells if c != first]
        frames.append(pd.DataFrame({"t": [first] + rest[:3], "u": ["ok"] * 3 + [first], "f": nums[i % 10:i % 10 + 4],
                                    "b": [True, False, i % 2 == 0, True]}))
    frames.append(pd.DataFrame({"f": pd.Series(nums, dtype="float64"), "g": pd.Series(nums, dtype=object),
                                "b": [i % 3 == 0 for i in range(len(nums))]}))
    return frames


def test_csv_blocks_equal_the_reference_on_tagged_outputs_and_edge_cells(once):
    """A chunk's CSV text (number and flag columns written once per distinct value, each column joined once for its
    formula and quoting checks) is the earlier writer's, piece for piece, with and without neutralisation, for ',' and
    TAB, LF and CRLF, with and without the header."""
    from classifier.io import csv_blocks

    frames = _csv_frames(once)
    assert sum(len(f) for f in frames) > 5000
    for frame in frames:
        for sep, neutralize_formulas, header, line_end in [(",", True, True, "\n"), (",", False, False, "\n"),
                                                           ("\t", True, True, "\r\n"), ("\t", False, True, "\n")]:
            args = (sep, neutralize_formulas, header, line_end)
            assert list(csv_blocks(frame, *args)) == list(csv_blocks_reference(frame, *args)), (args, frame.head())


def alternatives_text_reference(d: pd.DataFrame, classes: list[str], n_alternatives: int) -> list[str]:
    """classifier.explain.alternatives_text before it read only the rows with a runner-up, each distinct one once."""
    cols = [list(zip(d[f"alt_class_{k}"].tolist(), d[f"alt_p_{k}"].tolist())) for k in range(1, n_alternatives + 1)]
    return [";".join(f"{classes[j]}:{q:.3f}" for j, q in row if j >= 0) for row in zip(*cols)]


def test_alternatives_text_equals_the_reference_on_real_decisions(decided):
    """alternatives_text against its earlier code, row for row, on the decisions of the shipped sets, the examples,
    the development set and the fund and ETF lists (when the shared raw data is there), and on a decision whose
    runners-up are shuffled among its alternative columns and rows (a runner-up only in a later column, the same
    numbers under other classes, one and two alternatives)."""
    from classifier.explain import alternatives_text

    tagger, decisions = decided
    n, found = tagger.n_alternatives, 0
    assert n >= 2
    for _, s, d in decisions:
        fast = alternatives_text(d, s.classes, n)
        assert fast == alternatives_text_reference(d, s.classes, n)
        found += sum(t != "" for t in fast)
        rng = np.random.default_rng(len(d))
        shuffled = d.copy()
        for k in range(1, n + 1):
            order = rng.permutation(len(d))
            shuffled[f"alt_class_{k}"] = d[f"alt_class_{(k % n) + 1}"].to_numpy()[order]
            shuffled[f"alt_p_{k}"] = d[f"alt_p_{k}"].to_numpy()[order]
        for m in (1, 2, n):
            assert alternatives_text(shuffled, s.classes, m) == alternatives_text_reference(shuffled, s.classes, m)
    assert found > 100
