"""Runs on the real shared data; skipped when ../shared/data/raw is absent.

The ETF list and the whole fund list are tagged once per session (``tagged_etf_list``, ``tagged_fund_list`` in
conftest.py) and read by every test here; the XLSX and GBK variants of the ETF list are tagged on their own, since
reading those formats is what they test, and must give the CSV's result. The summary of the tagged ETF list
(`fundclass summary`, test_summary.py's subject) is here too: with `--dist loadfile` a file runs on one worker, and
the list is then tagged once, not once in each worker."""
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.pipeline import OUTPUT_COLUMNS
from classifier.summary import summary_file

from conftest import ETF_LIST, FUND_LIST, needs_raw

pytestmark = needs_raw


@pytest.fixture(scope="module")
def etf():
    return pd.read_csv(ETF_LIST, dtype=str, keep_default_na=False)


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("variant", ["csv", "xlsx", "gbk"])
def test_tag_the_etf_list(tmp_path, etf, tagged_etf_list, variant):
    if variant == "csv":
        got = _read(tagged_etf_list)
    else:
        src = tmp_path / ("etf.xlsx" if variant == "xlsx" else "etf_gbk.csv")
        if variant == "xlsx":
            etf.to_excel(src, index=False)
        else:
            etf.to_csv(src, index=False, encoding="gbk")
        out = tmp_path / "tagged.csv"
        r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"])
        assert r.exit_code == 0, r.output
        got = _read(out)
        # the same rows read from XLSX or GBK are tagged exactly as the UTF-8 CSV (tagging time is not an output)
        pd.testing.assert_frame_equal(got, _read(tagged_etf_list))
    assert len(got) == len(etf)
    assert list(got.columns) == list(etf.columns) + OUTPUT_COLUMNS
    assert got[list(etf.columns)].equals(etf)  # every input cell comes back as it was, row for row
    assert got["secondary"].ne("").all()


def test_money_and_bond_etfs_are_out_of_scope(tagged_etf_list):
    got = _read(tagged_etf_list)
    money = got[got["cname"].str.contains("货币市场基金")]
    assert len(money) >= 20 and (money["secondary"] == "不适用").all() and (money["asset_class"] == "货币").all()
    bonds = got[got["index_name"].str.contains("国债")]
    assert len(bonds) >= 5  # the list has 8 treasury-index ETFs: the test is not vacuous
    assert (bonds[["primary", "secondary", "asset_class", "needs_review"]].drop_duplicates().values.tolist()
            == [["不适用", "不适用", "债券", "False"]])
    assert bonds["evidence"].str.contains("不在分类体系内").all()


def test_tag_the_whole_fund_universe_keeps_every_row(tagged_fund_list):
    src = pd.read_csv(FUND_LIST, dtype=str, keep_default_na=False)
    got = pd.read_parquet(tagged_fund_list)
    assert got["fund_code"].tolist() == src["fund_code"].tolist()
    assert got[list(src.columns)].equals(src)
    oos = got[got["fund_type"].str.startswith(("债券", "货币"))]
    assert (oos["secondary"] == "不适用").mean() > 0.99


def test_summary_of_the_listed_etfs(tmp_path, tagged_etf_list):
    s = summary_file(tagged_etf_list, tmp_path / "s.xlsx")  # the list tagged once per session (conftest.py)
    in_scope = s.in_scope
    assert (in_scope["indices"] > 0).sum() >= 12
    assert 300 < in_scope["indices"].sum() < 900
    assert s.indices["index_from"].eq("index_code").mean() > 0.9


def test_every_manager_short_name_of_the_raw_fund_lists_is_in_the_vocabulary():
    """Audit round 12: 人保, 信澳, 宏利, 泓德, 东方红 … (45 short names the raw fund lists use) were missing from
    taxonomy/common.toml's managers, so they stayed at the front of a fund's subject (人保中证A500指数增强A gave its index
    as 人保中证A500). scripts/derive_managers.py derives them from the lists; none may be missing."""
    import importlib.util
    from pathlib import Path

    from conftest import RAW

    path = Path(__file__).resolve().parent.parent / "scripts" / "derive_managers.py"
    spec = importlib.util.spec_from_file_location("derive_managers", path)
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    assert derive.missing_managers(RAW) == []


def test_the_index_synonym_table_is_the_one_the_raw_lists_give():
    """classifier/reference/index_synonyms.csv is derived by scripts/build_index_synonyms.py from the CSI index list,
    the Tushare ETF and fund lists and the labeled sets' index names (never copied): rebuilt from them it is the
    shipped table byte for byte, and it names no subject two index codes it did not name before (the script drops such
    entries). The cases that split one index into two review keys are in it."""
    import importlib.util
    from pathlib import Path

    from conftest import RAW
    from classifier.vocabulary import INDEX_SYNONYMS

    path = Path(__file__).resolve().parent.parent / "scripts" / "build_index_synonyms.py"
    spec = importlib.util.spec_from_file_location("build_index_synonyms", path)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    table, _ = build.derive(build.Names(RAW))
    assert table.to_csv(index=False, lineterminator="\n") == INDEX_SYNONYMS.read_text(encoding="utf-8")
    syn = dict(zip(table["subject"], table["canonical"]))
    assert {s: syn.get(s) for s in ("上证", "科创综合", "战略新兴成份", "军工", "大湾区")} == {
        "上证": "上证综合", "科创综合": "上证科创板综合", "战略新兴成份": "中国战略新兴产业成份",
        "军工": None, "大湾区": None}  # 军工, 大湾区: official short names other indices' funds use too
    # code rows (an index's full name, its own canonical): 000852 ↔ 中证1000; not a bare short name (机器人), nor a name
    # a labeled fund of another index gives (申万菱信沪深300优选指数增强发起A tracks 沪深300, not 930767)
    codes = dict(zip(table["subject"], table["index_code"]))
    assert {s: (syn.get(s), codes.get(s)) for s in ("中证1000", "国证机器人", "机器人", "沪深300优选")} == {
        "中证1000": ("中证1000", "000852"), "国证机器人": ("国证机器人产业", "980022"), "机器人": (None, None),
        "沪深300优选": (None, None)}
    # rule 4, an index's name without the family word it begins with: 央企创新驱动 (广发央企创新驱动ETF联接A) is 000861's;
    # not a name several indices' names are after a family word (医药卫生, 成长), nor one funds give beside another
    # index (信息技术: 广发信息技术联接A feeds 中证全指信息技术's ETF), an official name of its own (食品饮料) or a number
    assert {s: (syn.get(s), codes.get(s)) for s in ("央企创新驱动", "医药卫生", "成长", "信息技术", "食品饮料", "500")} == {
        "央企创新驱动": ("中证央企创新驱动", "000861"), "医药卫生": (None, None), "成长": (None, None),
        "信息技术": (None, None), "食品饮料": (None, None), "500": (None, None)}
