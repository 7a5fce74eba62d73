"""Share-class and feeder links, and duplicate codes: the blocked fuzzy search finds what scoring every ETF finds,
without scoring every ETF; and a file tagged in chunks links and flags across chunks as if tagged at once."""
import random

import numpy as np
import pandas as pd
import pytest
from rapidfuzz import fuzz, process

import classifier.linking as linking
from classifier.batch import tag_file
from classifier.columns import detect_columns
from classifier.linking import FileLinks, NearKeys, family_key, family_keys, feeder_cutoff, file_links, link_keys
from classifier.prepare import prepare
from classifier.vocabulary import load_vocabulary

from conftest import ETF_LIST, FUND_LIST, needs_raw

DUPLICATE = "基金代码在本批次中重复"


def _variant(rng: random.Random, key: str, alphabet: str, edits: int) -> str:
    t = list(key)
    for _ in range(edits):
        if t and rng.random() < 0.5:
            del t[rng.randrange(len(t))]
        else:
            t.insert(rng.randrange(len(t) + 1), rng.choice(alphabet))
    return "".join(t)


@pytest.mark.parametrize("alphabet", ["中证沪深港股通科技医药红利ETF0123456789", "AB"])
def test_near_keys_pick_what_scoring_every_key_picks(alphabet):
    # near variants of the keys (0-4 insertions/deletions), ties, duplicates, short and repetitive keys (alphabet AB)
    rng = random.Random(7)
    keys = list(dict.fromkeys("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(600)))
    near = NearKeys(keys)
    queries = [_variant(rng, rng.choice(keys), alphabet, rng.randint(0, 4)) for _ in range(1500)]
    for q in queries:
        m = process.extractOne(q, keys, scorer=fuzz.ratio, score_cutoff=feeder_cutoff())
        assert near.best(q) == (m[2] if m is not None else -1), q


def test_links_are_today_links_on_variant_spellings():
    names = ["华夏中证机器人ETF", "华安黄金易ETF", "华夏中证机器人ETF发起式联接A", "华安黄金ETF联接C", "华安黄金ETF联接A",
             "某某成长混合A", "某某成长混合C", "国泰中证煤炭联接A"]
    head, etf = link_keys([family_key(n) for n in names])
    assert etf.tolist() == [-1, -1, 0, 1, 1, -1, -1, -1]  # 华安黄金ETF ↔ 华安黄金易ETF: ratio 94
    assert head.tolist() == [0, 1, 2, 3, 3, 5, 5, 7]


def test_a_feeder_does_not_follow_an_etf_of_other_numbers_market_or_asset_class():
    """A feeder's fuzzy match must keep the ETF's scope: one character turns 中证500 into 中证A500, 上证50 into 上证580,
    沪深300 into 沪港深300, 黄金 (a commodity) into 黄金股 (the fund list linked 富国中证500ETF发起式联接A to
    富国中证A500ETF, 国寿安保沪港深300ETF联接A to 国寿安保沪深300ETF); a variant spelling of the same scope still links
    (鹏华上证科创100ETF联接A ↔ 鹏华上证科创板100ETF)."""
    names = ["富国中证A500ETF", "富国中证500ETF发起式联接A", "华夏上证50ETF", "华夏上证580ETF联接A", "工银中证A500ETF",
             "工银中证A50ETF联接A", "鹏华上证科创板100ETF", "鹏华上证科创100ETF联接A",
             "国寿安保沪深300ETF", "国寿安保沪港深300ETF联接A", "国泰黄金ETF", "国泰黄金股ETF联接A"]
    head, etf = link_keys([family_key(n) for n in names])
    assert etf.tolist() == [-1, -1, -1, -1, -1, -1, -1, 6, -1, -1, -1, -1]
    # the manager's own 沪港深300 ETF, spelt with 中证, is found
    head, etf = link_keys([family_key(n) for n in names[8:10] + ["国寿安保中证沪港深300ETF"]])
    assert etf.tolist() == [-1, 2, -1]


def _links_scoring_every_etf(fam: list[str]) -> list[int]:
    """The feeder links as they were found before blocking: exact key, else every ETF of the same scope scored."""
    FEEDER = load_vocabulary().feeder
    is_etf = [("ETF" in k.split("#")[0] and FEEDER not in k) for k in fam]
    etf_keys = {fam[i]: i for i in np.flatnonzero(is_etf)[::-1]}
    scope = linking.EtfFinder(fam).scope  # what a fuzzy match may not change (numbers, market, asset class)
    by_scope: dict[tuple, list[str]] = {}  # the ETF keys (in extractOne's order) per scope
    for e in etf_keys:
        by_scope.setdefault(scope(e), []).append(e)
    out = [-1] * len(fam)
    for i, k in enumerate(fam):
        if FEEDER in k:
            t = k.replace(FEEDER, "")
            t = t if "ETF" in t else t + "ETF"
            if t in etf_keys:
                out[i] = etf_keys[t]
                continue
            same = by_scope.get(scope(t), [])
            m = process.extractOne(t, same, scorer=fuzz.ratio, score_cutoff=feeder_cutoff())
            out[i] = etf_keys[m[0]] if m is not None else -1
    return out


@needs_raw
@pytest.mark.parametrize("path, linked", [(FUND_LIST, 1545), (ETF_LIST, 0)])
def test_real_lists_link_as_when_every_etf_was_scored(path, linked):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    fam = family_keys(prepare(frame, detect_columns(list(frame.columns))))
    head, etf = link_keys(fam)
    assert etf.tolist() == _links_scoring_every_etf(fam)
    assert (etf >= 0).sum() == linked


@pytest.mark.parametrize("shape", ["random", "same index, other serial"])
def test_unmatched_feeders_are_not_scored_against_every_etf(monkeypatch, shape):
    # 20,000 ETFs and 20,000 feeders none of them follows: scoring every pair would be 4e8 comparisons. "same index":
    # a few index names shared by 400 ETFs and 400 feeders each, told apart only by three characters
    scored = []

    class Counting:
        @staticmethod
        def extractOne(query, choices, **kw):
            scored.append(len(choices))
            return process.extractOne(query, choices, **kw)

    monkeypatch.setattr(linking, "process", Counting)
    rng = np.random.default_rng(0)
    # an array, not a list: rng.choice converts a list to an array on every call (20 s of the test's 23 s); and all
    # of a list's characters drawn in one call, n rows at once: the same draws in the same order as one call per name
    # (the same names), without 40,000 calls (~2.5 s of the two cases' ~5 s)
    chars = np.array([chr(c) for c in range(0x4E00, 0x4E00 + 3000)])
    if shape == "random":
        def names(pool, n):
            return sorted({"".join(r) for r in rng.choice(pool, (n, 6))})

        etfs, feeders = names(chars, 20000), names(chars, 20000)
    else:
        indices = ["中证机器人", "沪深300", "中证半导体产业", "恒生科技", "科创板50成份"] * 10
        indices = [f"{x}{i}" for i, x in enumerate(indices)]

        def names(pool, n):
            return sorted({"".join(r) + indices[i % len(indices)] for i, r in enumerate(rng.choice(pool, (n, 3)))})

        etfs, feeders = names(chars[:1500], 20000), names(chars[1500:], 20000)
    fam = [f"易方达{x}ETF" for x in etfs] + [f"易方达{x}ETF联接" for x in feeders]
    head, etf = link_keys(fam)
    assert (etf == -1).all()
    assert len(scored) <= len(feeders) and sum(scored) < 0.001 * len(etfs) * len(feeders)


def _file_links(fam, duplicate):
    return file_links([(fam, pd.Series([f"{i:06d}" for i in range(len(fam))], dtype=object))]) if duplicate is None \
        else FileLinks(fam, linking.head_positions(fam).astype(np.int32), np.array(duplicate))


@pytest.mark.parametrize("alphabet", ["中证沪深港股通科技医药红利ETF0123456789", "AB"])
def test_near_keys_index_every_character_and_bigram_of_every_key(alphabet):
    rng = random.Random(3)
    keys = ["", "a", "ETF", "甲乙甲乙", "𠀀𠀁"] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                                           for _ in range(400)]
    nk = NearKeys(keys)
    chars, grams = {}, {}
    for j, k in enumerate(keys):  # the plain reading of the index
        for c in set(k):
            chars.setdefault(c, []).append(j)
        for g in linking._bigrams(k):
            grams.setdefault(g, []).append(j)
    for built, want in ((nk._chars, chars), (nk._grams, grams)):
        assert built.keys() == want.keys()
        assert all(v.dtype == np.int64 and v.tolist() == want[k] for k, v in built.items())
    assert NearKeys([])._chars == {} and NearKeys([]).best("ETF") == -1


def test_chunk_links_map_file_rows_to_chunk_and_context():
    # rows 0-5; row 4 (a feeder) follows ETF row 1, row 5 follows head row 2; rows 0 and 5 share a code
    fam = ["甲混合", "机器人ETF", "成长混合", "乙混合", "机器人ETF联接", "成长混合"]
    fl = _file_links(fam, [True, False, False, False, False, True])
    assert fl.head.tolist() == [0, 1, 2, 3, 4, 2]
    c = fl.chunk(4, 6)
    assert c.context.tolist() == [1, 2]  # appended after the chunk's two rows: local 2 and 3
    assert c.links["etf"].tolist() == [2, -1, -1, -1]
    assert c.links["head"].tolist() == [0, 3, 2, 3]
    assert c.duplicate.tolist() == [False, True, False, False]
    own = fl.chunk(0, 3)
    assert len(own.context) == 0 and own.links["head"].tolist() == [0, 1, 2]
    # a feeder whose family head is elsewhere follows its ETF; the head is not brought in
    fl = _file_links(["半导体ETF联接", "甲混合", "半导体ETF联接", "半导体ETF"], [False] * 4)
    c = fl.chunk(2, 4)
    assert c.context.tolist() == [] and c.links["head"].tolist() == [0, 1] and c.links["etf"].tolist() == [1, -1]
    # codes: duplicates over the whole file
    assert _file_links(fam, None).duplicate.tolist() == [False] * 6


def test_a_chunk_finds_its_feeders_etfs_as_the_whole_file_does():
    v = load_vocabulary()
    etfs = [f"{c}{d}{v.etf}" for c in "甲乙丙丁" for d in "一二三"]
    feeders = [k.replace(v.etf, f"{v.etf}{v.feeder}") for k in etfs] + ["甲一二ETF发起联接", "无此ETF联接"]
    fam = [k for pair in zip(feeders, etfs) for k in pair] + feeders[len(etfs):]
    _, etf = link_keys(fam)
    assert (etf[:2 * len(etfs):2] == np.arange(1, 2 * len(etfs), 2)).all() and etf[-1] == -1
    fl = _file_links(fam, [False] * len(fam))
    for s in range(0, len(fam), 5):  # each chunk's links, as file rows, are the whole file's
        c = fl.chunk(s, min(s + 5, len(fam)))
        n = len(c.links) - len(c.context)
        rows = np.concatenate([np.arange(s, s + n), c.context])  # the file row of each local position
        assert [int(rows[j]) if j >= 0 else -1 for j in c.links["etf"].to_numpy()[:n]] == etf[s:s + n].tolist()


@pytest.fixture
def chunked_file(tmp_path):
    rows = [("562500", "华夏中证机器人ETF", "中证机器人"),
            ("000001", "华夏成长混合A", ""),
            ("159995", "华夏国证半导体芯片ETF", "国证半导体芯片"),
            ("000002", "某某稳健债券A", ""),
            ("014880", "华夏中证机器人ETF发起式联接A", "中证机器人"),   # chunk 3: its ETF is in chunk 1
            ("014881", "华夏中证机器人ETF发起式联接C", "中证机器人"),
            ("000003", "华夏成长混合C", ""),                            # chunk 4: its head is in chunk 1
            ("159995", "华夏国证半导体芯片ETF", "国证半导体芯片")]      # chunk 4: code of a row in chunk 2
    src = tmp_path / "funds.csv"
    pd.DataFrame(rows, columns=["基金代码", "基金简称", "跟踪指数"]).to_csv(src, index=False)
    return src


def test_links_and_duplicates_cross_chunks(model_tagger, chunked_file, tmp_path):
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    tag_file(chunked_file, whole, progress=False, tagger=model_tagger)
    summary = tag_file(chunked_file, chunked, progress=False, tagger=model_tagger, chunk_rows=2)
    assert whole.read_bytes() == chunked.read_bytes()
    out = pd.read_csv(chunked, dtype=str, keep_default_na=False)
    # the last row is 159995 again (a duplicate row, flagged): not a share class of itself, it links to no fund
    assert out["linked_fund"].tolist() == ["", "", "", "", "562500", "562500", "000001", ""]
    assert "关联ETF:562500" in out.at[4, "evidence"] and "关联份额:000001" in out.at[6, "evidence"]
    assert "关联" not in out.at[7, "evidence"]
    assert out.at[4, "secondary"] == out.at[0, "secondary"] == "科技成长主题ETF"
    assert [DUPLICATE in e for e in out["evidence"]] == [False, False, True, False, False, False, False, True]
    assert summary.rows == 8


def test_a_file_tagged_in_chunks_is_the_file_tagged_at_once(model_tagger, tmp_path):
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    tag_file("examples/new_listings.csv", whole, progress=False, tagger=model_tagger)
    tag_file("examples/new_listings.csv", chunked, progress=False, tagger=model_tagger, chunk_rows=3)
    assert whole.read_bytes() == chunked.read_bytes()
