import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
RAW = Path(os.environ.get("FUNDCLASS_RAW", ROOT.parent / "shared" / "data" / "raw"))
ETF_LIST = RAW / "tushare_etf_basic_2026" / "etf_basic_listed.csv"
FUND_LIST = RAW / "eastmoney_fundcode_20251117" / "fundcode_search_20251117.csv"
HOLDINGS = RAW / "jackluson_anchor_fund_top10" / "fund_top10_holdings_2022Q2_2022Q4.csv"
SW_MAP = RAW / "markzhou_sw2021" / "stock_sw2021_l2_mapping_since_2023.csv"

needs_raw = pytest.mark.skipif(not ETF_LIST.exists(), reason=f"shared raw data not found at {RAW}")


@pytest.fixture(scope="session")
def taxonomy():
    from classifier.taxonomy import load_taxonomy

    return load_taxonomy()


@pytest.fixture(scope="session")
def rules_tagger(taxonomy):
    from classifier.pipeline import Tagger

    return Tagger(taxonomy)


@pytest.fixture(scope="session")
def model_tagger():
    from classifier.pipeline import Tagger

    return Tagger.load()


@pytest.fixture
def small_frame():
    return pd.DataFrame({
        "基金代码": ["159995", "510300", "511880", "000001", "159995"],
        "基金简称": ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF", "银华日利", "华夏成长混合", "华夏国证半导体芯片ETF"],
        "备注": ["a", "b", "c", "d", "e"],
    })
