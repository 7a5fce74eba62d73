"""Build the holdings table that ships with the package: what `fundclass train` uses when no holdings file is given.

Reads the 2022 top-10 holdings file of the raw data (``jackluson_anchor_fund_top10/fund_top10_holdings_2022Q2_2022Q4.csv``
under the raw data folder, never copied) with the shipped Shenwan map (``classifier/reference/sw2021_l1_map.csv``)
and the shared vocabulary's holdings words, and writes the derived table
``classifier/reference/fund_industry_weights_2022.csv``: per fund (its latest quarter), the summed weight in % of NAV
of its disclosed holdings, of those in Hong Kong and on each board, and of each industry they fall in
(:func:`classifier.holdings.holdings_weights`). No stock is named. The features computed from it are the ones
computed from the raw file, bit for bit (tests/test_holdings_table.py checks it when the raw data is there), so a
model trained on it is the model trained on the raw file. Its section of ``SOURCE.md`` names the source.

Rebuild it when the raw file, the Shenwan map or the vocabulary's ``[holdings]`` words change.

Usage: python scripts/build_holdings_table.py [--raw ../shared/data/raw]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from reference_source import write_section

from classifier.config import raw_data_dir
from classifier.holdings import (SHIPPED_HOLDINGS, SHIPPED_HOLDINGS_RAW, SHIPPED_SW_MAP, WEIGHT_COLUMNS,
                                 holdings_weights, load_sw_map, weights_csv)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default=None, help="raw data folder (default: the configured one)")
    a = ap.parse_args()
    src = (Path(a.raw) if a.raw else raw_data_dir()) / SHIPPED_HOLDINGS_RAW
    sw_map = load_sw_map()
    w = holdings_weights(src, sw_map)
    SHIPPED_HOLDINGS.write_text(weights_csv(w), encoding="utf-8", newline="")
    industries = [c for c in w.columns if c not in WEIGHT_COLUMNS]
    size = SHIPPED_HOLDINGS.stat().st_size
    write_section(SHIPPED_HOLDINGS.with_name("SOURCE.md"), SHIPPED_HOLDINGS.name, f"""\
## Fund industry weights of the 2022 top-10 holdings (derived)

`{SHIPPED_HOLDINGS.name}` ({size:,} bytes): {len(w)} funds, each at its latest disclosed quarter (2022-Q2 to
2022-Q4): the summed weight in % of NAV of its top-10 holdings (`weight_total`), of those in Hong Kong and on 科创板,
创业板 and 北交所 (`weight_hk`, `weight_star`, `weight_chinext`, `weight_bse`; empty: none), and of each of
{len(industries)} industries they fall in (Shenwan 2021 level 1 by `{SHIPPED_SW_MAP.name}`, as of
{sw_map.attrs.get("as_of", "")}; 港股 and 其他 from `taxonomy/common.toml` `[holdings]`; empty: none). No stock is named. Each weight is written as the shortest text
that reads back to the same float, so the holdings features computed from it are bit for bit those computed from the
source file, and `fundclass train` trains the same model on either.

- Derived from `{SHIPPED_HOLDINGS_RAW}` of the shared raw data (jackluson's fund
  top-10 holdings, 2022-Q2 to 2022-Q4), by `classifier.holdings.holdings_weights`. The model's manifest names the source file
  (`holdings.source`) whichever of the two it was trained on.
- `fundclass train` uses it when no `--holdings FILE` is given (`--no-holdings`: none); rebuild it when the source,
  the Shenwan map or the `[holdings]` words change: `python scripts/build_holdings_table.py`.
""")
    print(f"{len(w)} funds, {len(industries)} industries, {size:,} bytes -> {SHIPPED_HOLDINGS}")


if __name__ == "__main__":
    main()
