"""Holdings features from a long holdings file and the Shenwan 2021 industry map.

Input (long format, one row per fund × stock): fund code, stock code, weight in % of NAV, optional quarter and
market. Per fund (latest quarter): Shenwan level-1 weights as a share of the disclosed holdings, concentration (HHI
over industries, top-industry share), Hong Kong share and board shares (科创板/创业板/北交所). Seed 004's rule is
reported in its own columns: ``holding_industry`` is the top Shenwan L1 industry and ``holding_industry_share`` its
weight in % of NAV; a share above ``tag.industry_theme_share`` (30%, seed 004) marks an industry-theme fund (only the top ten holdings are disclosed, so the
share is a lower bound).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .text import code6_column
from .vocabulary import load_vocabulary

SHIPPED_SW_MAP = Path(__file__).resolve().parent / "reference" / "sw2021_l1_map.csv"  # scripts/build_sw_map.py
# What `fundclass train` uses when no holdings file is given: the per-fund industry weights of the 2022 top-10 holdings
# file of the raw data (named here, the source the model's manifest names), shipped so that every machine trains the
# same model (scripts/build_holdings_table.py; classifier/reference/SOURCE.md)
SHIPPED_HOLDINGS = SHIPPED_SW_MAP.with_name("fund_industry_weights_2022.csv")
SHIPPED_HOLDINGS_SOURCE = "fund_top10_holdings_2022Q2_2022Q4.csv"
SHIPPED_HOLDINGS_RAW = "jackluson_anchor_fund_top10/" + SHIPPED_HOLDINGS_SOURCE  # under the raw data folder
HOLDING_ALIASES = {
    "fund_code": ("fund_code", "基金代码", "代码"),
    "stock_code": ("stock_code", "股票代码", "证券代码"),
    "weight": ("weight_pct", "weight", "占净值比例", "仓位占比", "持仓占比"),
    "quarter": ("quarter", "报告期", "季度"),
    "market": ("stock_market", "market", "市场"),
}


@dataclass
class HoldingsFeatures:
    """Per-fund features (index: 6-digit fund code) and the Shenwan L1 names they use."""

    table: pd.DataFrame
    industries: list[str]
    sw_map_as_of: str = ""  # date of the Shenwan map's latest mapping update ('' when the map does not say)

    def columns(self) -> list[str]:
        return [f"sw::{n}" for n in self.industries] + ["hhi", "top_share", "hk_share", "star_share", "chinext_share",
                                                        "bse_share", "top10_weight"]


def load_sw_map(path: str | Path | None = None) -> pd.Series:
    """stock code (6 digits) → Shenwan 2021 level-1 name, from the open-ended rows of a mapping file (default: the
    map shipped with the package). ``attrs["as_of"]`` is the date of its latest mapping update, when it has one."""
    p = Path(path) if path else SHIPPED_SW_MAP
    try:
        m = pd.read_csv(p, dtype=str, usecols=lambda c: c in ("stock_code", "effective_end_date", "sw_l1_name",
                                                               "mapping_update_time"))
        m = m[(m["effective_end_date"] == "99991231") & m["sw_l1_name"].notna()]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{p}: cannot read Shenwan map (stock_code, effective_end_date, sw_l1_name): {exc}") from exc
    out = m.drop_duplicates("stock_code", keep="last").set_index("stock_code")["sw_l1_name"]
    out.attrs["as_of"] = str(m["mapping_update_time"].max())[:10] if "mapping_update_time" in m and len(m) else ""
    return out


def _find(cols: list[str], field: str, path: str, required: bool = True) -> str | None:
    low = {c.lower(): c for c in cols}
    for a in HOLDING_ALIASES[field]:
        if a.lower() in low:
            return low[a.lower()]
    if required:
        raise InputError(f"{path}: holdings file has no {field} column (one of {HOLDING_ALIASES[field]}); "
                         f"columns are {cols[:15]}")
    return None


WEIGHT_COLUMNS = ("weight_total", "weight_hk", "weight_star", "weight_chinext", "weight_bse")  # then industries


def holdings_weights(path: str | Path, sw_map: pd.Series) -> pd.DataFrame:
    """What the holdings features are computed from, per fund (index: 6-digit code, sorted; latest quarter): the
    summed weight (% of NAV) of its disclosed holdings (``weight_total``), of those in Hong Kong, on 科创板, 创业板 and
    北交所 (``weight_hk`` …, NaN when it has none), then one column per industry its holdings fall in (Shenwan L1, and
    the vocabulary's Hong Kong and other-industry words), 0 when it holds none. No stock is named: this aggregate is
    what the shipped holdings table (:data:`SHIPPED_HOLDINGS`, ``scripts/build_holdings_table.py``) holds, and
    :func:`features_from_weights` gives the same features, bit for bit, from it or from the file it was made of."""
    p = Path(path)
    try:
        h = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read holdings file: {exc}") from exc
    cols = list(h.columns)
    fc, sc, wc = (_find(cols, f, str(p)) for f in ("fund_code", "stock_code", "weight"))
    qc, mc = _find(cols, "quarter", str(p), False), _find(cols, "market", str(p), False)
    raw_w = h[wc].astype(str).str.strip().str.rstrip("%").str.replace(",", "", regex=False)
    w = pd.to_numeric(raw_w, errors="coerce")
    bad = w.isna() & (raw_w != "")
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{p}: column '{wc}' row {i + 2}: weight '{h[wc].iat[i]}' is not a number "
                         f"({int(bad.sum())} such rows); give weights in % of NAV, e.g. 10.1 or 10.1%")
    # a fund has many holding rows: each distinct code is read once
    d = pd.DataFrame({"fund": code6_column(h[fc]), "stock": h[sc].str.strip(), "w": w.fillna(0.0).clip(lower=0.0)})
    d["q"] = h[qc] if qc else ""
    d["mkt"] = h[mc] if mc else ""
    d = d[d.fund != ""]
    if qc:  # latest quarter per fund
        latest = d.groupby("fund").q.transform("max")
        d = d[d.q == latest]
    v = load_vocabulary()  # market word, industry names of non-A-share holdings, board prefixes: common.toml [holdings]
    stock6 = d.stock.str.extract(r"(\d{5,6})")[0].fillna("")
    is_hk = d.mkt.str.contains(v.hong_kong_market, regex=False) | (stock6.str.len() == 5)
    d["industry"] = np.where(is_hk, v.hong_kong, stock6.str.zfill(6).map(sw_map).fillna(v.other_industry))
    flags = {"weight_hk": is_hk, "weight_star": stock6.str.startswith(v.star_prefixes),
             "weight_chinext": stock6.str.startswith(v.chinext_prefixes),
             "weight_bse": stock6.str.startswith(v.bse_prefixes) & ~is_hk}
    w_ind = d.pivot_table(index="fund", columns="industry", values="w", aggfunc="sum", fill_value=0.0)
    out = pd.DataFrame({"weight_total": d.groupby("fund").w.sum()})
    for col, flag in flags.items():
        out[col] = d[flag].groupby("fund").w.sum().reindex(out.index)
    out = pd.concat([out, w_ind], axis=1)
    out.index.name = "fund_code"
    out.columns.name = None
    return out


def features_from_weights(weights: pd.DataFrame, industries: list[str], sw_map_as_of: str = "") -> HoldingsFeatures:
    """The per-fund holdings features of :func:`holdings_weights`'s table; ``industries``: the Shenwan map's L1
    names (one ``sw::`` feature each)."""
    v = load_vocabulary()
    w_ind = weights.drop(columns=list(WEIGHT_COLUMNS))
    total = weights["weight_total"]
    denom = total.replace(0, np.nan)
    t = pd.DataFrame(index=w_ind.index.rename("fund"))
    for name in industries:
        t[f"sw::{name}"] = (w_ind[name] / denom).fillna(0.0) if name in w_ind else 0.0
    a_only = w_ind.drop(columns=[c for c in (v.hong_kong, v.other_industry) if c in w_ind], errors="ignore")
    # the sum over industries in numpy, over each fund's row of a row-major array: pandas adds in an order its frame's
    # memory layout gives, which differs between a pivot_table (the file) and a frame read from the shipped table;
    # this order is the one pivot_table's frame gives, so models trained before the table came are trained again
    shares = np.ascontiguousarray(w_ind.to_numpy(dtype="float64") / denom.to_numpy(dtype="float64")[:, None])
    shares[np.isnan(shares)] = 0.0
    t["hhi"] = (shares ** 2).sum(axis=1)
    t["top_share"] = shares.max(axis=1) if shares.shape[1] else np.nan
    for col in ("hk_share", "star_share", "chinext_share", "bse_share"):
        t[col] = (weights["weight_" + col[:-len("_share")]] / denom).fillna(0.0)
    t["top10_weight"] = (total / 100.0).clip(upper=1.5)
    if a_only.shape[1]:
        t["holding_industry"] = a_only.idxmax(axis=1).where(a_only.max(axis=1) > 0, "")
        t["holding_industry_share"] = a_only.max(axis=1).round(2)
    else:
        t["holding_industry"], t["holding_industry_share"] = "", 0.0
    return HoldingsFeatures(t, industries, sw_map_as_of)


def holdings_features(path: str | Path, sw_map: pd.Series) -> HoldingsFeatures:
    """Per-fund holdings features of a long holdings file, industries from ``sw_map`` (:func:`load_sw_map`)."""
    return features_from_weights(holdings_weights(path, sw_map), sorted(set(sw_map.unique())),
                                 sw_map.attrs.get("as_of", ""))


def weights_csv(weights: pd.DataFrame) -> str:
    """:func:`holdings_weights`'s table as the CSV the tool ships: each weight as Python writes a float (the shortest
    text that reads back to the same bits); an industry the fund does not hold, and a board it has no holding on,
    left empty."""
    from .io import csv_text

    keep = (weights != 0) | np.signbit(weights) | weights.columns.isin(WEIGHT_COLUMNS)  # -0.0 is kept as written
    w = weights.astype(object).where(weights.notna() & keep, "")
    w = w.map(lambda x: repr(float(x)) if x != "" else "")
    return csv_text(w.reset_index())


def read_weights(path: str | Path) -> pd.DataFrame:
    """The table :func:`weights_csv` wrote, with the bits it was written from (an empty industry cell: 0)."""
    p = Path(path)
    try:
        t = pd.read_csv(p, dtype=str, keep_default_na=False)
        if list(t.columns[:1 + len(WEIGHT_COLUMNS)]) != ["fund_code", *WEIGHT_COLUMNS]:
            raise ValueError(f"columns should begin with fund_code, {', '.join(WEIGHT_COLUMNS)}")
        t = t.set_index("fund_code")
        # Python's float() reads each cell: the exact inverse of repr, whatever pandas' own parser does
        out = t.apply(lambda c: pd.Series([float(x) if x else np.nan for x in c.tolist()], index=t.index,
                                           dtype="float64"))
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the holdings table: {exc}") from exc
    industry = [c for c in out.columns if c not in WEIGHT_COLUMNS]
    out[industry] = out[industry].fillna(0.0)
    out.columns.name = None
    return out


def load_shipped_holdings() -> HoldingsFeatures:
    """The holdings features of the table shipped with the package (:data:`SHIPPED_HOLDINGS`), with the shipped
    Shenwan map's industries: the features :func:`holdings_features` gives of the file it was built from."""
    sw_map = load_sw_map()
    return features_from_weights(read_weights(SHIPPED_HOLDINGS), sorted(set(sw_map.unique())),
                                 sw_map.attrs.get("as_of", ""))
