import pytest
import pandas as pd

from classifier.columns import detect_columns
from classifier.errors import InputError
from classifier.normalize import benchmark_subject, clean, fund_subject, index_subject
from classifier.vocabulary import load_vocabulary

V = load_vocabulary()


@pytest.mark.parametrize("cols,expected", [
    (["fund_code", "fund_name", "index_code", "index_name"], {"code": 0, "name": 1, "index_code": 2, "index_name": 3}),
    (["证券代码", "证券简称", "跟踪指数代码", "跟踪指数名称", "投资类型"],
     {"code": 0, "name": 1, "index_code": 2, "index_name": 3, "fund_type": 4}),
    (["ts_code", "csname", "cname", "index_code", "index_name"],
     {"code": 0, "name": 1, "full_name": 2, "index_code": 3, "index_name": 4}),
    (["代码", "基金简称", "基金全称", "业绩比较基准", "基金类型"],
     {"code": 0, "name": 1, "full_name": 2, "benchmark": 3, "fund_type": 4}),
    (["ＦＵＮＤ＿ＮＡＭＥ"], {"name": 0}),  # full-width header
])
def test_alias_detection(cols, expected):
    assert detect_columns(cols) == expected


def test_missing_name_column_lists_columns():
    with pytest.raises(InputError, match=r"no fund-name column\. Columns are: 'code', 'x'"):
        detect_columns(["code", "x"], "f.csv")


def test_duplicate_headers_map_to_distinct_positions():
    assert detect_columns(["基金简称", "基金简称"]) == {"name": 0}


@pytest.mark.parametrize("raw,expected", [
    ("华夏沪深３００ＥＴＦ", "华夏沪深300ETF"),          # full-width digits and letters
    ("華夏國證半導體芯片ETF", "华夏国证半导体芯片ETF"),  # traditional → simplified
    (" 易方达 创业板 ETF ", "易方达创业板ETF"),          # spaces
    (None, ""),
])
def test_clean(raw, expected):
    assert clean(raw) == expected


@pytest.mark.parametrize("name,subject", [
    ("华夏沪深300ETF联接A", "沪深300"),
    ("易方达中证海外互联网50ETF(QDII)", "中证海外互联网50"),
    ("申万菱信中证申万证券行业指数(LOF)C", "中证申万证券行业指数"),  # the manager 申万菱信 is removed, the index keeps 申万
    ("富国中证新能源汽车指数发起式E", "中证新能源汽车指数"),
])
def test_fund_subject_drops_manager_structure_and_share_class(name, subject):
    assert fund_subject(name, V) == subject


def test_index_and_benchmark_subjects():
    assert index_subject("CS人工智能", V) == "中证人工智能"
    assert index_subject("SHS云计算", V) == "沪港深云计算"
    assert index_subject("中证半导体产业指数", V) == "中证半导体产业"
    assert benchmark_subject("中证500指数收益率×95%+银行活期存款利率(税后)×5%", V) == "中证500"


def test_an_index_short_name_ending_in_an_abbreviation_of_its_full_name_gives_its_subject():
    """Audit round 12: the labeled set holds 创业板指数 (399006.SZ, its ETFs) and 创业板指 (84 off-exchange feeders)
    apart, as `创业板` and `创业板指`, so a decision on either never reached the other. A short name's closing 指
    (综指, 成指) is read as the word it abbreviates (taxonomy/common.toml `index_abbreviations`): only at the end,
    after two characters or more."""
    same = [("创业板指", "创业板指数", "创业板"),            # 399006: the set's feeders and its ETFs, one index
            ("上证综指", "上证综合指数", "上证综合"),        # 000001
            ("深证成指", "深证成份指数", "深证成份"),        # 399001, not 深证 nor 深证成长
            ("创业板综指", "创业板综合指数", "创业板综合"),  # 399102, not 创业板
            ("中证全指", "中证全指指数", "中证全")]          # 000985: its full name ends in 指 once 指数 is removed
    assert [(index_subject(a, V), index_subject(b, V)) for a, b, _ in same] == [(s, s) for *_, s in same]
    kept = {"纳指": "纳指", "恒指": "恒指",  # 纳斯达克指数, 恒生指数: one character before 指 is kept as it is
            "中证全指证券公司指数": "中证全指证券公司", "深证成长40指数": "深证成长40"}  # 指 inside a name, no abbreviation
    assert {n: index_subject(n, V) for n in kept} == kept


@pytest.mark.parametrize("name,subject", [
    ("人保中证A500指数增强A", "中证A500指数增强"),      # 人保 stayed in: idx:人保中证A500 named a review group
    ("东方红中证500指数增强A", "中证500指数增强"),      # 东方 was stripped, leaving 红中证500
    ("国泰君安中证A500指数增强A", "中证A500指数增强"),
    ("信澳中证红利低波动指数A", "中证红利低波动指数"),
    # managers the script's rules miss: 申万宏源 begins with the index family 申万 (申万电子 stays an index's name);
    # 财达证券, 国元, 新疆前海联合 have fewer than three fund families in the lists
    ("申万宏源天添利货币", "天添利货币"), ("申万电子ETF", "申万电子"), ("财达证券稳达中短债A", "稳达中短债"),
    ("国元元增利货币", "元增利货币"), ("新疆前海联合海盈货币A", "海盈货币"),
])
def test_the_fund_lists_managers_are_stripped_from_a_fund_subject(name, subject):
    """Audit round 12: manager short names of the raw fund lists that the vocabulary lacked (derived by
    scripts/derive_managers.py) stayed at the front of a fund's subject and of the index its name gives."""
    assert fund_subject(name, V) == subject


def test_a_merged_managers_name_is_stripped_from_a_fund_subject():
    """Audit (session 28): 国泰君安 and 海通证券 merged in 2025 and name new funds 国泰海通…; the vocabulary knew 国泰
    and 海通 but not the two in a row, so 国泰 alone was stripped and 国泰海通沪深300指数增强发起A gave its index as
    海通沪深300 (review group `idx:海通沪深300`, no decision on 沪深300 reached it). scripts/derive_managers.py rule 3:
    two managers' names in a row at the start of three fund families or more are one company's name."""
    merged = {"国泰海通沪深300指数增强发起A": "沪深300指数增强", "国泰海通中证500指数增强C": "中证500指数增强",
              "国泰海通君得利短债C": "君得利短债"}
    kept = {"国泰君安中证A500指数增强A": "中证A500指数增强", "国泰中证全指证券公司ETF": "中证全指证券公司",
            "海通安裕中短债A": "安裕中短债", "国泰金鹰增长混合": "金鹰增长混合"}  # one manager each, as before
    assert {n: fund_subject(n, V) for n in {**merged, **kept}} == {**merged, **kept}


def test_derive_managers_reads_two_managers_names_in_a_row_as_a_merged_companys():
    """scripts/derive_managers.py rule 3 (session 28): 国泰 and 海通 begin three fund families of the list one after the
    other: 国泰海通 is a manager's name; one family of 汇添富添富通 is not, nor an exchange short name (华泰柏瑞南方东英
    恒生科技ETF: 南方东英's product, 华泰柏瑞's fund)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "derive_managers.py"
    spec = importlib.util.spec_from_file_location("derive_managers", path)
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    names = ["国泰海通中证500指数增强A", "国泰海通中证500指数增强C", "国泰海通君得利短债C", "国泰海通量化选股混合发起A",
             "汇添富添富通货币A", "汇添富添富通货币B", "华泰柏瑞南方东英恒生科技ETF", "华泰柏瑞南方东英沙特ETF",
             "华泰柏瑞南方东英新交所泛东南亚科技ETF"]
    known = {"国泰", "海通", "汇添富", "添富", "华泰柏瑞", "南方东英", "南方"}
    assert derive.from_merged(names, known, V.share_class) == {"国泰海通"}


def test_a_share_class_currency_is_no_part_of_a_fund_subject():
    """Audit (session 28): 广发纳斯达克100ETF联接美元(QDII)A gave its index as 纳斯达克100美元 (review group
    `idx:纳斯达克100美元`, apart from its 人民币 class's and from every decision on 纳斯达克100): a share class's
    currency word stayed in the fund's subject. taxonomy/common.toml `currency_words`, removed from the end only."""
    named = {"广发纳斯达克100ETF联接美元(QDII)A": "纳斯达克100", "广发纳斯达克100ETF联接人民币(QDII)C": "纳斯达克100",
             "博时纳斯达克100ETF发起式联接(QDII)A人民币": "纳斯达克100",  # the class letter then ends the name
             "建信富时100指数(QDII)A美元现汇": "富时100指数", "嘉实美国成长股票美元现汇": "美国成长股票",
             "易方达全球医药行业混合发起式(QDII)A(美元现汇)": "全球医药行业混合", "华夏恒生ETF联接现钞": "恒生",
             "摩根标普500指数(QDII)美汇": "标普500指数", "工银全球股票(QDII)港币": "全球股票"}
    kept = {"嘉实美元债债券(QDII)A": "美元债债券", "易方达全球美元收益债券(QDII)": "全球美元收益债券"}  # 美元债: a theme
    assert {n: fund_subject(n, V) for n in {**named, **kept}} == {**named, **kept}


def test_a_full_width_code_is_the_same_fund_everywhere():
    # one rule for what a fund code is: the prepared frame's code6 (linking, duplicates) and code6 (holdings) agree
    import pandas as pd

    from classifier.prepare import prepare
    from classifier.text import code6

    cells = ["１５９９９５", "159995.SZ", " 159 995 ", "0000012", "ＳＺ１５９９９５"]
    frame = pd.DataFrame({"基金代码": cells, "基金简称": ["华夏芯片ETF"] * len(cells)})
    p = prepare(frame, detect_columns(list(frame.columns)), V)
    assert p["code6"].tolist() == [code6(c) for c in cells] == ["159995", "159995", "159995", "", "159995"]


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_prepare_reads_every_text_dtype_alike(dtype):
    """The prepared frame holds Python strings whatever the input columns' dtype (a file read gives object columns,
    a caller's frame may hold pandas' string dtypes or numbers); name-only rows without a code are checked as names
    (a key ending in NUL once lost that NUL when pandas 3 joined an object column to an Arrow one)."""
    import pandas as pd

    from classifier.prepare import prepare

    names = ["股票", "N/A", "无", "-", "华夏中证机器人ETF", "张三", "鍗庡�忎笂璇�50ETF"]
    frame = pd.DataFrame({"fund_name": names, "fund_code": ["", "", "", "", "159530", "", ""]})
    expected = prepare(frame, detect_columns(list(frame.columns)), V)
    assert expected["name_problem"].tolist() == ["placeholder", "placeholder", "placeholder", "no_letters", "",
                                                 "fund_words", "mojibake"]
    typed = prepare(frame.astype(dtype), detect_columns(list(frame.columns)), V)
    for c in expected.columns:
        assert typed[c].tolist() == expected[c].tolist(), c
    numbers = pd.DataFrame({"fund_name": ["华夏中证机器人ETF", None], "fund_code": [159530, float("nan")]})
    p = prepare(numbers, detect_columns(list(numbers.columns)), V)
    assert p["code"].tolist() == ["159530.0", ""] and p["code6"].tolist() == ["159530", ""] and p["name"].tolist()[1] == ""


def test_an_abbreviation_before_a_total_return_word_reads_as_the_full_name():
    """上证综指全收益 (the labeled set's index of 华夏上证综合全收益指数增强A) abbreviates 上证综合全收益指数, whose subject
    is 上证综合 (index_strip_words strip 全收益指数), but read as 上证综指全收益: the abbreviation was read only at the
    end. The words index_strip_words strip with 指数 (全收益, 净收益, 价格) may now follow it."""
    assert [index_subject(n, V) for n in ("上证综指全收益", "深证成指价格", "创业板指净收益")] == \
        ["上证综合", "深证成份", "创业板"]
    assert index_subject("中证红利全收益", V) == "中证红利全收益"  # no abbreviation: as before


def test_index_keys_name_an_index_by_its_full_name_under_its_other_names():
    """The synonym table (classifier/reference/index_synonyms.csv) names an index's key by its full name's subject:
    上证指数 is 上证综合指数 (000001), 科创综指 上证科创板综合指数 (000680), 科创50 上证科创板50成份指数 (000688); the
    rules read the subject as the name gives it."""
    from classifier.index_key import row_keys

    names = ["上证指数", "上证综合指数", "科创综指", "上证科创板综合指数", "科创50", "上证科创板50成份指数", "战略新兴成指",
             "中国战略新兴产业成份指数"]
    keys = [s for _, s in row_keys(pd.Series([""] * len(names)), pd.Series(names))]
    assert keys == ["idx:上证综合"] * 2 + ["idx:上证科创板综合"] * 2 + ["idx:上证科创板50成份"] * 2 + \
        ["idx:中国战略新兴产业成份"] * 2
    assert index_subject("上证指数", V) == "上证"  # what the rules read is unchanged
