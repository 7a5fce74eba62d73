"""The gates (classifier.gates): rows out of scope or blank get no class, so the model does not score them. Their
output must not depend on the model's numbers, which the score step leaves as placeholders for them."""
import functools

import numpy as np
import pandas as pd
import pytest

import classifier.pipeline as pipeline
from classifier.config import project_path
from classifier.pipeline import Tagger
from classifier.score import score


def _mixed_frame() -> pd.DataFrame:
    """Labeled funds (index funds, their share classes and feeders) with rows every gate holds: bond, money-market,
    FOF and REIT funds, active funds with and without a class word, a share class of an out-of-scope fund, text that
    is no fund name, a row with a code alone; in an order that puts followers before and after what they follow."""
    labels = pd.read_csv(project_path("data/labeled/labels.csv"), dtype=str, keep_default_na=False)
    funds = labels[["fund_code", "fund_name", "index_code", "index_name", "fund_type"]].iloc[::7].head(400)
    gated = pd.DataFrame([
        # out of scope: bond (two share classes), money-market, FOF, REIT
        ("000003", "中海可转债债券A", "", "", "债券型-混合二级"), ("000004", "中海可转债债券C", "", "", "债券型-混合二级"),
        ("000009", "易方达天天理财货币A", "", "", "货币型-普通货币"), ("005220", "海富通聚优精选混合(FOF)", "", "", "FOF-进取型"),
        ("180101", "博时蛇口产园REIT", "", "", "Reits"),
        # blank: active funds with no class word (no holdings given), text that is no fund name, a code alone
        ("001102", "前海开源国家比较优势混合A", "", "", "混合型-偏股"), ("110011", "易方达优质精选混合(QDII)", "", "", "QDII-混合偏股"),
        ("000", "今天天气很好", "", "", ""), ("123456", "", "", "", ""),
        # classes: active funds with a class word, an ETF and two of its feeders
        ("000001", "华夏成长混合", "", "", "混合型-偏股"), ("000011", "华夏大盘精选混合A", "", "", "混合型-偏股"),
        ("001956", "国联安科技动力股票A", "", "", "股票型"),
        ("510300", "华泰柏瑞沪深300ETF", "000300.SH", "沪深300指数", "指数型-股票"),
        ("000051", "华夏沪深300ETF联接A", "", "", "指数型-股票"), ("110020", "易方达沪深300ETF联接A", "", "", "指数型-股票"),
    ], columns=funds.columns)
    return pd.concat([gated.iloc[:11], funds, gated.iloc[11:]], ignore_index=True)


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


def test_rows_without_a_class_to_choose_come_out_the_same_whether_or_not_the_model_scored_them(tagger, monkeypatch):
    frame = _mixed_frame()
    seen = []
    components = tagger.model.components

    def counting(X):
        seen.append(len(X))
        return components(X)

    monkeypatch.setattr(tagger.model, "components", counting)
    skipped = []
    apply = tagger.rules.apply

    def recording(subjects, skip_fuzzy=None, skip=None):
        skipped.append(0 if skip is None else int(skip.sum()))
        return apply(subjects, skip_fuzzy=skip_fuzzy, skip=skip)

    monkeypatch.setattr(tagger.rules, "apply", recording)
    gated = tagger.tag(frame)
    monkeypatch.setattr(pipeline, "score", functools.partial(score, every_row=True))
    every = tagger.tag(frame)
    # the model scored fewer rows by default (else this test would compare a run with itself) …
    assert len(seen) == 2 and seen[0] < seen[1]
    # … and the rules read no out-of-scope fund's name the first time (the two bond share classes, the money-market
    # fund, the FOF, the REIT and the labeled bond index funds), every row the second
    assert skipped[0] >= 5 and skipped[1] == 0
    # … and every gate is met by some row here, so each way a row goes without a class is compared
    assert (gated["secondary"] == "不适用").sum() >= 5
    assert (gated["secondary"] == "").sum() >= 4
    assert (~gated["secondary"].isin(["", "不适用"])).sum() >= 300
    pd.testing.assert_frame_equal(gated, every)


def test_predict_proba_scores_every_row_out_of_scope_ones_too(tagger):
    frame = _mixed_frame()
    proba = tagger.predict_proba(frame)
    assert proba.shape == (len(frame), len(tagger.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # a bond fund's row is the model's own reading of it, not the placeholder (uniform) a tag leaves it
    assert proba[0].max() > 1.5 / len(tagger.classes_)


def test_a_batch_with_nothing_to_score_is_tagged(tagger):
    frame = _mixed_frame().iloc[:9]
    out = tagger.tag(frame)
    assert out["secondary"].tolist() == ["不适用"] * 5 + [""] * 4
    assert out["confidence"].tolist() == [1.0] * 5 + [0.0] * 4
    assert out["needs_review"].tolist() == [False] * 5 + [True] * 4
