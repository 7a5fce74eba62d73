"""Build the Shenwan 2021 stock → level-1 industry map that ships with the package (issue 13).

Reads the raw mapping file (``markzhou_sw2021/stock_sw2021_l2_mapping_since_2023.csv`` under the raw data folder,
never copied) and writes the compact derived table ``classifier/reference/sw2021_l1_map.csv``: one row per stock with
an open-ended mapping (effective_end_date 99991231) and a level-1 name — stock_code, effective_end_date, sw_l1_name,
mapping_update_time (the columns ``classifier.holdings.load_sw_map`` reads) — and its section of ``SOURCE.md`` beside it,
naming the source and its date.

Usage: python scripts/build_sw_map.py [--raw ../shared/data/raw]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from reference_source import write_section

from classifier.config import raw_data_dir
from classifier.holdings import SHIPPED_SW_MAP
from classifier.io import csv_text

RAW_REL = "markzhou_sw2021/stock_sw2021_l2_mapping_since_2023.csv"
COLUMNS = ["stock_code", "effective_end_date", "sw_l1_name", "mapping_update_time"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default=None, help="raw data folder (default: the configured one)")
    a = ap.parse_args()
    src = (Path(a.raw) if a.raw else raw_data_dir()) / RAW_REL
    m = pd.read_csv(src, dtype=str, keep_default_na=False)
    m = m[(m.effective_end_date == "99991231") & (m.sw_l1_name != "")]
    m = m.drop_duplicates("stock_code", keep="last").sort_values("stock_code")[COLUMNS]
    SHIPPED_SW_MAP.write_text(csv_text(m), encoding="utf-8")
    as_of = m.mapping_update_time.max()[:10]
    write_section(SHIPPED_SW_MAP.with_name("SOURCE.md"), SHIPPED_SW_MAP.name, f"""\
## Shenwan 2021 stock → level-1 industry map (derived)

`sw2021_l1_map.csv`: {len(m)} A-share stocks, each with its current Shenwan 2021 level-1 industry
({m.sw_l1_name.nunique()} industries); mappings updated up to {as_of}.

- Derived from `{RAW_REL}` of the shared raw data: GitHub markzhou-github/h5m80d50_priority,
  `stock_sw_l2_mapping_since_2023.csv` (commit c61586a4, 2026-07-14), level-1 names looked up from the SW2021 level-2
  parent codes. Rows kept: open-ended mappings (effective_end_date 99991231) with a level-1 name; one row per stock.
- Classification © Shenwan Hongyuan (申万宏源研究); the source repository states no license.
- Rebuild: `python scripts/build_sw_map.py`. Override at run time with `--sw-map FILE` (same columns; at least
  stock_code, effective_end_date, sw_l1_name).
""")
    print(f"{len(m)} stocks, as of {as_of} -> {SHIPPED_SW_MAP}")


if __name__ == "__main__":
    main()
