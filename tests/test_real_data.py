"""Runs on the real shared data; skipped when ../shared/data/raw is absent."""
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.pipeline import OUTPUT_COLUMNS

from conftest import ETF_LIST, FUND_LIST, needs_raw

pytestmark = needs_raw


@pytest.fixture(scope="module")
def etf():
    return pd.read_csv(ETF_LIST, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("variant", ["csv", "xlsx", "gbk"])
def test_tag_the_etf_list(tmp_path, etf, variant):
    src = {"csv": ETF_LIST, "xlsx": tmp_path / "etf.xlsx", "gbk": tmp_path / "etf_gbk.csv"}[variant]
    if variant == "xlsx":
        etf.to_excel(src, index=False)
    elif variant == "gbk":
        etf.to_csv(src, index=False, encoding="gbk")
    out = tmp_path / "tagged.csv"
    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(got) == len(etf)
    assert list(got.columns) == list(etf.columns) + OUTPUT_COLUMNS
    assert got["ts_code"].tolist() == etf["ts_code"].tolist()
    assert got["secondary"].ne("").all()


def test_money_and_bond_etfs_are_out_of_scope(tmp_path, etf):
    out = tmp_path / "t.csv"
    CliRunner().invoke(cli, ["tag", str(ETF_LIST), "-o", str(out), "-s"])
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    money = got[got["cname"].str.contains("货币市场基金")]
    assert len(money) >= 20 and (money["secondary"] == "不适用").all() and (money["asset_class"] == "货币").all()
    bonds = got[got["index_name"].str.contains("国债")]
    assert len(bonds) > 0 and (bonds["asset_class"] == "债券").all()


def test_tag_the_whole_fund_universe_keeps_every_row(tmp_path):
    out = tmp_path / "all.parquet"
    r = CliRunner().invoke(cli, ["tag", str(FUND_LIST), "-o", str(out), "-s"])
    assert r.exit_code == 0, r.output
    src = pd.read_csv(FUND_LIST, dtype=str, keep_default_na=False)
    got = pd.read_parquet(out)
    assert got["fund_code"].tolist() == src["fund_code"].tolist()
    oos = got[got["fund_type"].str.startswith(("债券", "货币"))]
    assert (oos["secondary"] == "不适用").mean() > 0.99
