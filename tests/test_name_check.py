"""Text that is not a fund name gets no class (issue 12)."""
import pandas as pd
import pytest

from classifier.labeled import SHIPPED_LABELS, read_labels
from classifier.name_check import is_mojibake, name_problem
from classifier.vocabulary import load_vocabulary

REAL = ["华夏上证50ETF", "南方中证500ETF", "易方达创业板ETF", "嘉实沪深300ETF"]


@pytest.mark.parametrize("name", REAL)
def test_every_common_misreading_of_a_utf8_name_is_mojibake(name):
    raw = name.encode("utf-8")
    for wrong in ("gbk", "cp1252", "latin-1"):
        text = raw.decode(wrong, errors="replace")
        assert is_mojibake(text), (wrong, text)
    assert not is_mojibake(name)


@pytest.mark.parametrize("text,reason", [("12345", "no_letters"), ("510300.SH", "no_letters"), ("2025-01-01", "no_letters"),
                                         ("@#$%", "no_letters"), ("N/A", "placeholder"), ("待定", "placeholder"),
                                         ("null", "placeholder"), ("苹果公司", "fund_words"), ("hello world", "fund_words"),
                                         ("华夏回报", ""), ("同辉100A", ""), ("示例中证机器人ETF", ""),
                                         # one character that fund names often hold is no fund word by itself
                                         ("国寿鑫享宝年金保险", "fund_words"), ("长安街", "fund_words")])
def test_reasons(text, reason):
    assert name_problem(text, load_vocabulary(), check_words=True) == reason


def test_with_a_fund_code_everyday_words_are_not_judged():
    assert name_problem("苹果公司", load_vocabulary(), check_words=False) == ""
    assert name_problem("N/A", load_vocabulary(), check_words=False) == "placeholder"


def test_real_fund_names_alone_are_almost_never_flagged(model_tagger):
    names = read_labels(SHIPPED_LABELS)["fund_name"]
    out = model_tagger.tag(pd.DataFrame({"基金简称": names}))
    flagged = names[out["evidence"].str.startswith("不是基金名称").to_numpy()].tolist()
    assert len(flagged) / len(names) < 0.005, flagged[:20]  # exchange short names (光伏50) included


def test_tagging_gives_no_class_and_says_why(model_tagger):
    frame = pd.DataFrame({"基金简称": ["华夏上证50ETF".encode("utf-8").decode("gbk", errors="replace"), "今天天气很好",
                                   "N/A", "华夏上证50ETF"]})
    out = model_tagger.tag(frame)
    assert out["secondary"].tolist()[:3] == ["", "", ""] and out["secondary"].iloc[3] == "宽基ETF"
    assert out["confidence"].tolist()[:3] == [0.0, 0.0, 0.0]
    assert out["needs_review"].tolist()[:3] == [True, True, True]
    assert out["evidence"].iloc[0].startswith("不是基金名称: 乱码")
    assert out["evidence"].iloc[2].startswith("不是基金名称: 占位词")


def test_a_row_with_an_index_is_classified_by_its_index(model_tagger):
    # the name is a placeholder, but the tracked index says what the fund holds
    out = model_tagger.tag(pd.DataFrame({"基金简称": ["N/A"], "跟踪指数名称": ["中证半导体产业指数"]}))
    assert out["secondary"].iloc[0] == "科技成长主题ETF"


def test_a_name_that_reads_as_a_fund_only_through_a_term_is_asked_about(model_tagger):
    # 上海市 has no fund word; only the region term 上海 makes it look like a fund: the class is given, but its confidence
    # is at most the configured chance that it is a fund at all, and a person decides
    import copy

    from classifier.explain import TERM_ONLY

    frame = pd.DataFrame({"基金简称": ["上海市", "百万医疗险", "华夏上证50ETF"]})
    out = model_tagger.tag(frame)
    assert out["secondary"].tolist() == ["地域经济主题ETF", "(申万)行业ETF", "宽基ETF"]
    assert out["needs_review"].tolist()[:2] == [True, True]
    assert (out["confidence"].iloc[:2] < 0.5).all() and out["confidence"].iloc[2] > 0.9
    assert [TERM_ONLY in e for e in out["evidence"]] == [True, True, False]
    sure = copy.copy(model_tagger)
    sure.term_only_prior = 1.0  # the prior is what scales the class's confidence
    full = sure.tag(frame)["confidence"].iloc[:2].to_numpy()
    assert abs(full - out["confidence"].iloc[:2].to_numpy() * 2).max() <= 2e-4 and (full > 0.9).all()
    # with a fund code the cell is a fund's name whatever its words
    coded = model_tagger.tag(pd.DataFrame({"基金代码": ["000001"], "基金简称": ["上海市"]}))
    assert TERM_ONLY not in coded["evidence"].iloc[0]
