"""The fast paths of tagging against the plain functions they replaced, on many real strings: same output, string for
string. Each reference below is the earlier code, kept verbatim."""
import dataclasses
import functools
import re

import numpy as np
import pandas as pd
import pytest

from classifier.columns import detect_columns
from classifier.config import project_path
from classifier.normalize import _expand_aliases, _strip, clean_column, fund_subject, fund_subject_column
from classifier.vocabulary import load_vocabulary

from conftest import ETF_LIST, FUND_LIST

V = load_vocabulary()
SHIPPED = ["data/labeled/labels.csv", "data/labeled/efund/labels.csv", "data/labeled/report_examples.csv",
           "examples/new_listings.csv", "data/dev/not_fund_names_dev.csv"]


# read when a test first asks, not on import: every pytest-xdist worker imports this module to collect it (the fund list
# read into ~75,000 texts: ~0.2 s before the worker's first test), and one of them runs its tests
@functools.cache
def _real_texts() -> list[str]:
    """The names, full names, index names and fund types of the shipped labeled sets, examples and development set
    (and of the fund and ETF lists when the shared raw data is there), cleaned, each once; then variants that reach every branch: class letters, strip words
    and managers put around them, and their prefixes."""
    cells: list[str] = []
    for f in [project_path(f) for f in SHIPPED] + [f for f in (FUND_LIST, ETF_LIST) if f.exists()]:
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        cols = detect_columns(list(frame.columns))
        for fld in ("name", "full_name", "index_name", "fund_type"):
            if fld in cols:
                cells += frame.iloc[:, cols[fld]].tolist()
    base = list(dict.fromkeys(clean_column(pd.Series(cells, dtype=object)).tolist()))
    variants = []
    for i, t in enumerate(base[:4000]):
        w = V.strip_words[i % len(V.strip_words)]
        variants += [t + "A", t + "AC", t + ")C", t + "A" + w, t + w + "C", V.managers[i % len(V.managers)] + t,
                     t[:2], t[-3:], "CS" + t, w, t + "A" + V.currency_words[i % len(V.currency_words)]]
    return list(dict.fromkeys(base + variants + ["", "A", "联接", "ETF联接A(后端)"]))


def _uncurrency_reference(t: str, vocab) -> str:
    """``t`` without the longest run of currency words (common.toml ``currency_words``) that ends it and leaves one
    character or more before it, tried from the left (``fund_subject`` reads it with one regular expression)."""
    def run(rest: str) -> bool:
        return rest == "" or any(w and rest.startswith(w) and run(rest[len(w):]) for w in vocab.currency_words)
    # a tail run(t[i:]) accepts is non-empty and made of currency words, so it ends with one of them: a text ending
    # with none has no such tail, and the search below would try every position of it to find none (this shortcut
    # returns what the search returns; it took ~2 s of the test's ~2.6 s)
    if not any(w and t.endswith(w) for w in vocab.currency_words):
        return t
    return next((t[:i] for i in range(1, len(t)) if run(t[i:])), t)


def fund_subject_reference(name: str, vocab, cleaned: bool = True) -> str:
    """fund_subject before it looked the strip words up by the text's last character (commit 9037b0b), with the
    currency words of a share class removed from the end before and after the strip words (vocab16)."""
    t = _uncurrency_reference(name, vocab)
    for w in sorted(vocab.strip_words, key=len, reverse=True):
        if t.endswith(w) and vocab.share_class.search(t[:-len(w)]):
            t = t[:-len(w)]
            break
    for _ in range(2):
        t = vocab.share_class.sub("", t)
    m = vocab.manager_prefix.match(t)
    if m and len(t) > m.end() + 1:
        t = t[m.end():]
    t = _uncurrency_reference(_strip(t, vocab.strip_words), vocab)
    return _expand_aliases(vocab.share_class.sub("", t), vocab)


def _differences(fast, reference, texts):
    return [(t, a, b) for t, a, b in zip(texts, map(fast, texts), map(reference, texts)) if a != b]


def test_real_texts_are_many_and_reach_every_branch():
    assert len(_real_texts()) > 20000
    # names that end in a strip word after a class letter, that begin with a manager, that end in a class letter
    assert sum(fund_subject(t, V, cleaned=True) != t for t in _real_texts()) > 10000
    assert any(t.endswith("A联接") for t in _real_texts()) and any(V.manager_prefix.match(t) for t in _real_texts())


def test_fund_subject_equals_the_reference_on_real_texts():
    assert _differences(lambda t: fund_subject(t, V, cleaned=True), lambda t: fund_subject_reference(t, V),
                        _real_texts()) == []


@pytest.mark.parametrize("words,share_class", [
    (("联接", "", "ETF", "发起式联接", "C联接"), r"(?<=[\u4e00-\u9fff)])[A-Z]$"),  # unsorted, an empty word
    (("联接", "", "ETF"), r"[A-Z]?$"),  # a class pattern that finds '' too: an empty word then strips everything
    ((), r"(?<=[\u4e00-\u9fff)])[A-Z]$"),  # no strip words
])
def test_fund_subject_equals_the_reference_with_other_strip_words(words, share_class):
    v = dataclasses.replace(V, strip_words=words, share_class=re.compile(share_class))
    assert _differences(lambda t: fund_subject(t, v, cleaned=True), lambda t: fund_subject_reference(t, v),
                        _real_texts()[:5000] + ["ETF联接C", "华夏C联接", "A"]) == []


@pytest.mark.parametrize("share_class", [V.share_class.pattern, r"[A-Z]?$"])
def test_fund_subject_column_equals_fund_subject_on_real_texts(share_class):
    """prepare reads a column's subjects with fund_subject_column, which reads what follows the share class once per
    distinct text left (a fund's share classes share it): the same subjects as fund_subject's, name for name."""
    v = dataclasses.replace(V, share_class=re.compile(share_class))
    texts = _real_texts() + _real_texts()[:3000]  # repeated names too
    column = fund_subject_column(pd.Series(texts, index=range(5, 5 + len(texts)), dtype=object), v)
    assert list(column.index) == list(range(5, 5 + len(texts)))
    assert [(t, a) for t, a in zip(texts, column.tolist()) if a != fund_subject(t, v, cleaned=True)] == []


def code6_column_reference(codes: pd.Series) -> pd.Series:
    """code6_column before it read the column in one Python pass (commit 9037b0b)."""
    from classifier.text import CODE6, code6

    text = pd.Series(["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in codes.tolist()],
                     index=codes.index, dtype=object)
    out = text.str.extract(CODE6, expand=False).fillna("")
    other = ~text.str.fullmatch(r"[!-~]*")
    if other.any():
        out[other] = text[other].map(code6)
    short = text.str.extract(r"^\s*([0-9]{1,5})(?:\.0+)?\s*$", expand=False)
    return out.where(short.isna(), short.str.zfill(6))


def test_code6_column_equals_the_reference_on_real_codes():
    from classifier.text import code6_column

    cells: list = []
    for f in [project_path(f) for f in SHIPPED] + [f for f in (FUND_LIST, ETF_LIST) if f.exists()]:
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        cols = detect_columns(list(frame.columns))
        for fld in ("code", "index_code"):
            if fld in cols:
                cells += frame.iloc[:, cols[fld]].tolist()
    cells = list(dict.fromkeys(cells))
    odd = [None, float("nan"), 4433, 4433.0, 510300, 17040.5, "", " ", "4433.0", " 17040 ", "4433A", "１５９９９５",
           "159 995", "0000012", "12345", "123456\n", "SZ159995", "sz159995 ", "159995.SZ,510300.SH", "\t004433\t",
           "00443３", "4433.00", ".0", "9" * 7, pd.NA]
    codes = pd.Series(cells + odd + [c[1:] for c in cells[:3000]] + [f" {c}." for c in cells[:3000]], dtype=object,
                      index=range(7, 7 + len(cells) + len(odd) + 2 * min(3000, len(cells))))
    fast, reference = code6_column(codes), code6_column_reference(codes)
    assert len(codes) > 5000 and fast.dtype == reference.dtype == object
    assert fast.index.equals(reference.index)
    assert [(c, a, b) for c, a, b in zip(codes, fast, reference) if a != b] == []


def test_word_counts_equal_the_reference_on_real_texts():
    """CompiledTfidf._counts of the shipped model's word vectorizer against the Counter it used before (commit 9037b0b):
    the same columns in the same order, the same counts, on documents made of real subjects."""
    from collections import Counter

    import numpy as np

    from classifier.manifest import load_model
    from classifier.taxonomy import load_taxonomy

    model, _ = load_model(project_path("models/default"), load_taxonomy())
    words = next(obj for name, obj, *_ in model.text_.blocks if name == "words")
    subjects = [fund_subject(t, V, cleaned=True) for t in _real_texts()[:6000]]
    docs = [f"{a}|{b}||{c}" for a, b, c in zip(subjects, subjects[1:] + [""], [""] * 5 + subjects)]
    cols, tf, lengths = words._counts(docs)
    ref_cols, ref_tf, ref_lengths = [], [], []
    for d in docs:
        counts = Counter(map(words.vocab.get, words._terms(d)))
        counts.pop(None, None)
        ref_cols += counts.keys()
        ref_tf += counts.values()
        ref_lengths.append(len(counts))
    assert lengths.sum() > len(docs)  # most documents have words of the vocabulary
    assert np.array_equal(cols, ref_cols) and np.array_equal(tf, ref_tf) and np.array_equal(lengths, ref_lengths)
    # the terms: the words, then every run of two (the general form, as before the model's (1, 2) was written out)
    lo, hi = words.ngram_range
    assert (lo, hi) == (1, 2)
    for d in docs[:2000]:
        toks = words.tokenizer(d)
        ref = list(toks)
        for k in range(max(lo, 2), hi + 1):
            ref += map(" ".join, zip(*(toks[j:] for j in range(k))))
        assert words._terms(d) == ref


@pytest.mark.parametrize("share_class", [V.share_class.pattern, r"[A-Z]?$", r"(?<=[\u4e00-\u9fff)])[A-C]$"])
def test_share_class_removal_is_remembered_per_text_and_pattern_without_changing_it(share_class, monkeypatch):
    """normalize's subjects and linking's family keys take the share-class letter off the same names through one
    remembered removal (without_share_class): the same text as applying the pattern twice, whether the text is met
    for the first time or again, under another vocabulary's pattern, or after the memory was emptied."""
    import classifier.normalize as normalize
    from classifier.linking import family_key

    monkeypatch.setattr(normalize, "MEMO_TEXTS", 7000)  # emptied a few times over the texts
    monkeypatch.setattr(normalize, "_LETTERLESS", {})  # not the memory earlier tests in this process filled
    v = dataclasses.replace(V, share_class=re.compile(share_class))
    texts = _real_texts() + _real_texts()[:3000]

    def reference(t: str) -> str:
        for _ in range(2):
            t = v.share_class.sub("", t)
        return t

    for _ in range(2):  # once for the other pattern, which must not answer for this one
        assert [(t, a) for t, a in zip(texts, (normalize.without_share_class(t, v) for t in texts))
                if a != reference(t)] == []
        assert [(t, a) for t, a in zip(texts, (family_key(t, cleaned=True, vocab=v) for t in texts))
                if a != reference(v.family_noise.sub("", t))] == []
        assert all(len(m) <= 7000 for m in normalize._LETTERLESS.values())
        v = dataclasses.replace(V, share_class=re.compile(r"(?<=[\u4e00-\u9fff])[A-Z]$" if share_class != r"[A-Z]?$"
                                                          else r"[A-Z]{2}$"))


def test_a_flag_of_the_rule_hits_read_once_per_hits_tuple_equals_it_row_by_row():
    """decide reads a flag of each row's rule hits once per hits tuple (_per_hits: rows of one text share it) instead
    of once per row: the same flags as reading every row, on the shipped sets' and the lists' real rows (shared tuples,
    tuples made per row, empty ones)."""
    from classifier.gates import _per_hits
    from classifier.rules import RuleLayer, prepare_and_apply
    from classifier.taxonomy import load_taxonomy

    layer = RuleLayer(load_taxonomy())
    hits = []
    for f in [project_path(f) for f in SHIPPED] + [f for f in (FUND_LIST, ETF_LIST) if f.exists()]:
        hits += prepare_and_apply(pd.read_csv(f, dtype=str, keep_default_na=False), layer)[1].hits
    hits += [tuple(list(hs)) for hs in hits[:2000]]  # equal hits in tuples of their own
    assert len(hits) > 5000 and len({id(hs) for hs in hits}) < len(hits)
    for flag in (lambda hs: any(not h.fuzzy and h.field in ("name", "full_name") for h in hs), bool,
                 lambda hs: len(hs) % 3 == 1):
        assert _per_hits(hits, flag).tolist() == [bool(flag(hs)) for hs in hits]


def _blank_rows_reference(frame: pd.DataFrame) -> pd.Series:
    blank = pd.Series(True, index=frame.index)
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        blank &= col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    return blank


def test_blank_rows_settles_rows_by_a_first_letter_or_digit_as_the_cell_by_cell_check_did():
    """blank_rows settles a row with a cell beginning with a letter or digit at once (11 ms → 1 ms for a 25k-row
    file); every other row is read as before, cell by cell, with pandas' (Arrow's) whitespace: the same answer on
    every pair of odd cells (ideographic and no-break spaces, separators, zero-width space, NaN, None, numbers)."""
    import numpy as np

    from classifier.text import blank_rows

    odd = ["", " ", "\u3000", "\xa0", "\u2028", "\x1c", "\t\n", None, np.nan, "x", " x", "\u3000A", "1", "-", "（",
           "。", 0, 1.5, "\u200b"]
    rows = [(a, b) for a in odd for b in odd]
    frame = pd.DataFrame(rows, columns=["a", "b"], index=[f"r{i}" for i in range(len(rows))], dtype=object)
    got, want = blank_rows(frame), _blank_rows_reference(frame)
    assert got.index.equals(want.index) and got.dtype == bool
    assert got.tolist() == want.tolist()
    assert 0 < int(got.sum()) < len(rows)
    three = pd.DataFrame({"c": ["", "510300", " "], "d": [" ", "", "\x1c"], "e": [None, " ", "\u3000"]})
    assert blank_rows(three).tolist() == _blank_rows_reference(three).tolist() == [True, False, True]
    assert blank_rows(pd.DataFrame(index=range(2))).tolist() == [True, True]  # no column: nothing is filled


def test_model_text_and_subject_texts_equal_the_pandas_expressions_they_replaced():
    """featurize's ``text`` and doubt.subject_texts are built row by row from the prepared columns' Python strings;
    the pandas expressions they replaced (element-wise "+" and ``where``), kept here verbatim, give the same on the
    shipped labeled set and the sample, prepared."""
    from classifier.doubt import subject_texts
    from classifier.features import featurize
    from classifier.prepare import prepare
    from classifier.rules import RuleLayer
    from classifier.taxonomy import load_taxonomy

    layer = RuleLayer(load_taxonomy())
    seen, blanks = set(), 0
    for f in ("data/labeled/labels.csv", "examples/new_listings.csv"):
        frame = pd.read_csv(project_path(f), dtype=str, keep_default_na=False)
        p = prepare(frame, detect_columns(list(frame.columns)), V)
        p.loc[p.index[::3], "s_benchmark"] = "中证500"  # benchmarks beside names, with and without an index
        X = featurize(p, layer.apply_prepared(p))
        text = p["s_index"] + "|" + p["s_name"] + "|" + p["s_full_name"] + "|" + p["s_benchmark"]
        assert X["text"].tolist() == text.tolist()
        s = p["s_index"].where(p["s_index"] != "", p["s_benchmark"])
        ref = s.where(s != "", p["s_name"]).tolist()
        assert subject_texts(p) == ref
        seen |= set(ref)
        blanks += int(((p["s_index"] == "") & (p["s_benchmark"] != "")).sum())
    assert len(seen) > 100 and blanks >= 5  # many subjects, and rows the benchmark's fallback reaches


def test_subject_and_name_keys_equal_the_pandas_expressions_they_replaced():
    """index_key.subject_keys and name_keys build their keys row by row; the pandas expressions they replaced, kept
    here verbatim, give the same keys (values, index and object dtype) on the prepared labeled set, a third of its
    rows stripped of index and benchmark so that their names give the key."""
    from classifier.index_key import _named, name_keys, subject_keys
    from classifier.prepare import prepare

    frame = pd.read_csv(project_path("data/labeled/labels.csv"), dtype=str, keep_default_na=False)
    p = prepare(frame, detect_columns(list(frame.columns)), V)
    p.loc[p.index[::3], ["index_code", "s_index", "s_benchmark"]] = ""
    p.loc[p.index[1::7], "s_benchmark"] = "中证500"
    s_index, s_benchmark = _named(p["s_index"]), _named(p["s_benchmark"])
    idx = ("idx:" + s_index).where(s_index != "", "")
    bench = ("bench:" + s_benchmark).where(s_benchmark != "", "")
    ref = idx.where(idx != "", bench)
    got = subject_keys(p)
    assert got.tolist() == ref.tolist() and got.index.equals(p.index) and got.dtype == object
    assert {k.split(":")[0] for k in ref} == {"idx", "bench", ""}
    names = name_keys(p)
    assert names.index.equals(p.index) and names.dtype == object
    assert (names != "").sum() > 100 and set(names[names != ""].str[:4]) == {"idx:"}
    bare = (p["index_code"] == "") & (p["s_index"] == "") & (p["s_benchmark"] == "")
    assert not (names[~bare] != "").any() and (names[bare.index[::3]] != "").sum() > 100  # rows without either


def test_key_fields_give_the_keys_of_prepare_on_the_shipped_sets_and_rows_without_an_index():
    """classifier.prepare.key_fields (the review import's read of its labeled set's keys) against prepare, the whole
    pass it replaced there: every index and family key the import reads is the same, row for row, on both shipped
    labeled sets and the report's examples (their identifying columns), and on rows giving no index, as a fund list's
    do (names alone, names that give an index's number only, active funds, blank cells, numbers)."""
    from classifier.index_key import code_keys, name_keys, subject_keys
    from classifier.labeled import ID_COLUMNS
    from classifier.linking import family_keys
    from classifier.prepare import key_fields, prepare

    frames = [pd.read_csv(project_path(f), dtype=str, keep_default_na=False) for f in SHIPPED[:3]]
    names = [*frames[0]["fund_name"].tolist()[:400], "华夏中证A500ETF联接C", "平安500ETF联接A", "50ETF", "东财沪深300E",
             "南方沪深300ETF联接A(后端)", "华泰保兴中证A500指数增强A", "易方达蓝筹精选混合", "", "今天天气很好"]
    bare = pd.DataFrame({"fund_code": [f"{990000 + i}" for i in range(len(names))], "fund_name": names,
                         "full_name": ["上证50交易型开放式指数证券投资基金" if n == "50ETF" else "" for n in names],
                         "index_code": "", "index_name": "",
                         "fund_type": ["混合型" if "混合" in n else "指数型-股票" for n in names]})
    numbers = pd.DataFrame({"fund_code": [510300, 17040], "fund_name": ["沪深300ETF", 300], "full_name": [None, ""],
                            "index_code": ["000300.SH", None], "index_name": ["沪深300", ""],
                            "fund_type": ["指数型-股票", "指数型-股票"]}, dtype=object)
    for frame in [f.reindex(columns=ID_COLUMNS, fill_value="") for f in frames] + [bare, numbers]:
        cols = detect_columns(ID_COLUMNS)
        p, k = prepare(frame, cols), key_fields(frame, cols)
        assert k.index.equals(p.index)
        for fn in (code_keys, subject_keys, name_keys):
            assert fn(k).tolist() == fn(p).tolist(), fn.__name__
        assert family_keys(k) == family_keys(p)
        assert (name_keys(p) != "").sum() >= (5 if frame is bare else 0)  # rows that name their index by name alone


def _replaced_reference(h, code, state, upto, columns=None):
    """classifier.review._replaced before it read history.csv through review._History (verbatim, with _is_state).
    ``columns``: ``h[c].to_numpy()`` of each of its columns, taken once by a caller that reads one frame ~6,000 times:
    each call converted six Arrow columns of the whole frame to arrays again, and made a Series of a row or two
    (``h.iloc``), ~2 s of the test's ~2.7 s; a row is then a dict of its cells (the same strings)."""
    import numpy as np

    def column(c):
        return columns[c] if columns is not None else h[c].to_numpy()

    def row(k):
        return {c: v[k] for c, v in columns.items()} if columns is not None else h.iloc[k]

    from classifier.labeled import MIGRATION_BY

    def is_state(r, state):
        return (r["old_secondary"] == state["secondary"] and r["old_source"] == state["source"]
                and r["old_labeled_by"] == state["labeled_by"] and r["old_labeled_at"] == state["labeled_at"]
                and (not r.get("old_propagated_from", "")
                     or r["old_propagated_from"] == (state.get("propagated_from") or "")))

    mine = np.flatnonzero(column("fund_code") == code)
    f = {c: column(c)[mine] for c in ("changed_by", "changed_at", "new_secondary", "old_source",
                                      "old_labeled_by", "old_labeled_at")}
    kept = ((f["changed_by"] == MIGRATION_BY) & (f["old_source"] == state["source"])
            & (f["old_labeled_by"] == state["labeled_by"]) & (f["old_labeled_at"] == state["labeled_at"]))
    m = ((f["new_secondary"] == state["secondary"])
         & (((f["changed_by"] == state["labeled_by"]) & (f["changed_at"] == state["labeled_at"])) | kept))
    hits = mine[m & (mine < upto)]
    if len(hits) > 1:
        made = None
        for k in hits[::-1]:
            if made is not None and k >= made:
                continue
            nxt, prev = mine[mine > k], mine[mine < k]
            if len(nxt) and not is_state(row(nxt[0]), state):
                continue
            if len(prev) and is_state(row(prev[-1]), state):
                made = prev[-1]
                continue
            hits = np.array([k])
            break
    if not len(hits) or not column("old_secondary")[hits[-1]]:
        return None
    r = row(hits[-1])
    return {"primary": r["old_primary"], "secondary": r["old_secondary"], "source": r["old_source"],
            "labeled_by": r["old_labeled_by"], "labeled_at": r["old_labeled_at"],
            "taxonomy_version": r["old_taxonomy_version"], "note": r.get("old_note", ""),
            "propagated_from": r.get("old_propagated_from", "")}, int(hits[-1])


def test_replaced_through_the_history_view_equals_the_frame_reads_it_replaced(tmp_path):
    """review._replaced reads history.csv through review._History (its columns taken once): against the earlier code,
    on the history a series of decisions, a dispute, withdrawals and a decision by one reviewer on one day again
    leave on the 创业板 funds (one fund changed several times: the branch telling apart one reviewer's changes of a
    day), for every state a row of it or the set holds, at every position, with and without old_propagated_from."""
    from classifier.labeled import SHIPPED_LABELS, read_history, read_labels
    from classifier.review import _replaced, _with_history, import_review
    from classifier.taxonomy import load_taxonomy
    from conftest import write_labeled_subset

    tax = load_taxonomy()
    labels = tmp_path / "labels.csv"
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=0,
                         keep=lambda lab: lab["group"].isin(("idx:创业板指", "399006.SZ")) | (lab["source"] == "review"))
    steps = [[("159915", "科技成长主题ETF")], [("110026", "宽基ETF")], [("159915", "撤销")], [("159915", "策略主题ETF")],
             [("110026", "撤销"), ("004744", "科技成长主题ETF")], [("159915", "撤销")], [("159915", "策略主题ETF")]]
    for i, rows in enumerate(steps):
        sheet = tmp_path / f"s{i}.csv"
        pd.DataFrame([{"fund_code": c, "decision": d, "reviewer": "张三", "taxonomy_version": tax.version}
                      for c, d in rows]).to_csv(sheet, index=False)
        import_review(sheet, tax, labels, today="2026-12-01", overrule=True)
    h = _with_history(read_history(labels), [])
    assert h["fund_code"].value_counts().max() >= 5
    held = read_labels(labels).set_index("fund_code", drop=False)
    found = 0
    for frame in (h, h.drop(columns=["old_note", "old_propagated_from"])):
        columns = {c: frame[c].to_numpy() for c in frame.columns}
        for code, rows in h.groupby("fund_code"):
            if code not in ("159915", "110026", "004744") and code not in sorted(set(h["fund_code"]))[:6]:
                continue  # the decided funds and a few the decisions relabeled (each call reads the frame: ~0.1 ms)
            # every state a row of the fund's history made or replaced, and its row in the set, at each of its rows
            states = [{"secondary": r.new_secondary, "source": s, "labeled_by": r.changed_by,
                       "labeled_at": r.changed_at, "propagated_from": p} for r in rows.itertuples()
                      for s in ("review", "propagated", "migrated") for p in ("", "159915")]
            states += [{"secondary": r.old_secondary, "source": r.old_source, "labeled_by": r.old_labeled_by,
                        "labeled_at": r.old_labeled_at, "propagated_from": r.old_propagated_from}
                       for r in rows.itertuples()]
            states += [held.loc[code].to_dict()] if code in held.index else []
            for state in states:
                for upto in sorted({0, len(frame), *(rows.index + 1), *rows.index}):
                    want = _replaced_reference(frame, code, state, upto, columns)
                    assert _replaced(frame, code, state, upto) == want, (code, state, upto)
                    found += want is not None
    assert found > 100
