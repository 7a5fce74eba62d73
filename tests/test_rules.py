"""Rule layer: evidence, precedence, and regressions named after the funds that broke."""
import pandas as pd
import pytest

from classifier.prepare import prepare, subjects
from classifier.columns import detect_columns
from classifier.rules import KeywordBaseline, RuleLayer


@pytest.fixture(scope="module")
def layer(taxonomy):
    return RuleLayer(taxonomy)


def decide(layer, index_name="", name="", index_code=""):
    df = pd.DataFrame({"fund_name": [name], "index_name": [index_name], "index_code": [index_code]})
    p = prepare(df, detect_columns(list(df.columns)))
    rr = layer.apply(subjects(p))
    return rr.labels[0], rr


def test_evidence_names_rule_term_and_field(layer):
    label, rr = decide(layer, index_name="中证机器人指数", name="华夏中证机器人ETF")
    assert label == "科技成长主题ETF"
    hit = rr.hits[0][0]
    assert (hit.rule, hit.term, hit.field) == ("tech.core", "机器人", "index")
    assert rr.evidence(0) == "tech.core:跟踪指数「机器人」→科技成长主题ETF"


@pytest.mark.parametrize("fund,index_name,index_code,expected", [
    # the report's own conventions (appendix / 图3) that the bare keywords get wrong
    ("562500 华夏中证机器人ETF", "中证机器人指数", "H30590.CSI", "科技成长主题ETF"),
    ("588700 嘉实上证科创板生物医药ETF", "上证科创板生物医药指数", "000683.SH", "制造业主题ETF"),
    ("588850 嘉实上证科创板工业机械ETF", "上证科创板工业机械指数", "000693.SH", "(申万)行业ETF"),
    ("159616 建信中证农牧主题ETF", "中证农牧主题指数", "931778.CSI", "(申万)行业ETF"),
    ("159967 华夏创成长ETF", "创业板动量成长指数", "399296.SZ", "科技成长主题ETF"),
    ("515750 富国中证科技50策略ETF", "中证科技50策略指数", "931186.CSI", "科技成长主题ETF"),
    # regressions found on the labeled set
    ("159201 华夏国证自由现金流ETF", "国证自由现金流指数", "980092.SZ", "策略主题ETF"),  # 现金 is not money here
    ("588830 科创新能源ETF", "上证科创板新能源指数", "000692.SH", "绿色主题ETF"),  # 科创|新能源, not 科|创新
    ("159326 电网设备ETF", "恒生A股电网设备指数", "HSCAUPG.HI", "制造业主题ETF"),  # Hang Seng code, A-share index
    ("515760 浙江国资ETF", "中证浙江国资创新发展指数", "931372.CSI", "地域经济主题ETF"),
    ("513180 恒生科技指数ETF", "恒生科技指数", "HSTECH.HI", "跨境主题ETF"),
    ("518880 黄金ETF", "黄金9999", "AU99.99.SGE", "商品主题ETF"),
    ("517520 黄金股ETF", "中证沪深港黄金产业股票指数", "931238.CSI", "资源主题ETF"),
    ("159786 绿电ETF", "国证绿色电力指数", "399438.SZ", "绿色主题ETF"),
    ("512010 医药ETF", "沪深300医药卫生指数", "000913.SH", "(申万)行业ETF"),
])
def test_fund_regressions(layer, fund, index_name, index_code, expected):
    label, _ = decide(layer, index_name=index_name, name=fund.split()[1], index_code=index_code)
    assert label == expected, fund


def test_index_beats_name(layer):
    label, rr = decide(layer, index_name="中证全指证券公司指数", name="华宝券商ETF新能源")
    assert label == "(申万)行业ETF" and rr.field[0] == "index"


def test_name_is_used_when_there_is_no_index(layer):
    label, rr = decide(layer, name="汇添富中证光伏产业指数增强A")
    assert label == "绿色主题ETF" and rr.field[0] == "name"


def test_near_miss_term_is_found_fuzzily(layer):
    label, rr = decide(layer, index_name="中证半导")
    assert label == "科技成长主题ETF"
    assert rr.hits[0][0].fuzzy and "≈" in rr.evidence(0)


def test_tie_abstains(layer):
    # two classes at the same tier with equally long terms: the layer reports the tie instead of guessing
    label, rr = decide(layer, index_name="光伏军工")
    assert label is None and len({h.secondary for h in rr.hits[0]}) == 2


def test_winners_of_a_strength_matrix(layer):
    import numpy as np

    k = len(layer.classes_)
    s = np.zeros((4, k), dtype=np.float32)
    s[0, 2], s[0, 5] = 3.4, 2.2        # a winner, margin 1.2
    s[1, 1], s[1, 3] = 2.3, 2.3        # a tie: no winner
    s[3, k - 1] = 0.05                 # a lone weak vote still wins
    labels, margins = layer.winners(s)
    assert labels == [layer.classes_[2], None, None, layer.classes_[k - 1]]
    assert margins.dtype == np.float32 and np.allclose(margins, [1.2, 0, 0, 0.05])


def test_nothing_matches_abstains(layer):
    label, rr = decide(layer, name="华夏成长混合XYZ" * 0 + "某某稳健")
    assert label is None and rr.hits[0] == ()


def test_naive_keyword_baseline(taxonomy):
    b = KeywordBaseline(taxonomy)
    assert b.predict(pd.Series(["中证机器人", "无关", "上证50红利"])) == ["制造业主题ETF", None, "宽基ETF"]


def test_rules_report_on_labels_of_another_version_says_so(tmp_path):
    """A FOF team renamed E Fund's 医药 (医药卫生) and migrated the set; `fundclass rules report --taxonomy
    taxonomy/efund2025.toml` (the file it came from) printed industry.health at accuracy 0.000, "249 wrong", with
    nothing saying the labels are of another version (audit round 16). The report now says how many rows hold labels
    of which version, and which --taxonomy their rules are in; on labels of its own version it says nothing."""
    from classifier.config import project_path
    from classifier.labeled import read_labels, write_labels
    from classifier.rules_report import report_text
    from classifier.taxonomy import load_taxonomy

    tax = load_taxonomy(project_path("taxonomy/efund2025.toml"))
    df = read_labels(project_path("data/labeled/efund/labels.csv")).head(300)
    write_labels(df, tmp_path / "same.csv")
    assert "warning" not in report_text(tmp_path / "same.csv", tax)
    df = df.assign(taxonomy_version="efund-2026.1", secondary=df["secondary"].replace("医药", "医药卫生"))
    write_labels(df, tmp_path / "labels.csv")
    text = report_text(tmp_path / "labels.csv", tax)
    assert "warning: 300 of the 300 rows hold labels of taxonomy efund-2026.1 (column taxonomy_version), not " \
           f"{tax.version}: a rule of a class renamed or split between the two is counted wrong on them" in text, text
