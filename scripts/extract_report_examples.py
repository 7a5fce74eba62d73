"""Extract the report's labeled examples (appendix and 图3) from seed 002 into data/labeled/report_examples.csv.

The seed is read by path. OCR slips in the seed are repaired and recorded: '(中万)' → '(申万)', spaces removed from
labels and names. Usage: python scripts/extract_report_examples.py [--seed PATH] [--out PATH]
"""
from __future__ import annotations

import argparse
import glob
import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from classifier.taxonomy import load_taxonomy  # noqa: E402

ROW = re.compile(r"<tr>(.*?)(?:</tr>|$)", re.S)  # the seed is cut inside its last row
CELL = re.compile(r"<td[^>]*>(.*?)(?:</td>|<|$)", re.S)


def _clean(s: str) -> str:
    return re.sub(r"\s+", "", s).replace("(中万)", "(申万)")


def extract(text: str) -> pd.DataFrame:
    fig3_at = text.find("图3:国内有ETF")
    fig3_at = text.find("<table>", text.find("图3:国内有ETF", fig3_at + 1))
    app_at = text.rfind("附录(节选")
    rows = []
    for where, start in (("图3", fig3_at), ("附录", app_at)):
        end = text.find("</table>", start)
        end = len(text) if end < 0 else end
        for r in ROW.findall(text[start:end]):
            cells = [_clean(c) for c in CELL.findall(r)]
            if where == "图3" and len(cells) == 7 and re.fullmatch(r"\d{6}\.\w+", cells[3]):
                rows.append(dict(where=where, primary="市场基准与分析框架", secondary=cells[0], code=cells[3],
                                 name=cells[4], index_name=cells[5], index_code=cells[6]))
            elif where == "附录" and len(cells) >= 8 and re.fullmatch(r"\d{6}\.\w+", cells[4]):
                rows.append(dict(where=where, primary=cells[0], secondary=cells[1], code=cells[4], name=cells[5],
                                 index_name=cells[6], index_code=cells[7]))
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", default=(glob.glob("../shared/seeds/002_*.txt") or [""])[0])
    ap.add_argument("--out", default="data/labeled/report_examples.csv")
    a = ap.parse_args()
    df = extract(Path(a.seed).read_text(encoding="utf-8"))
    df.insert(0, "fund_code", df.code.str[:6])
    df = df.drop(columns="code")
    # provenance: these labels are the report authors', as printed in the report (2026-01-01)
    df["source"] = "report"
    df["labeled_by"] = "金融街证券研究所 (seed 002)"
    df["labeled_at"] = "2026-01-01"
    df["taxonomy_version"] = load_taxonomy().version
    df.to_csv(a.out, index=False)
    print(f"{len(df)} examples ({df['where'].value_counts().to_dict()}) -> {a.out}")
    print(df.secondary.value_counts().to_string())


if __name__ == "__main__":
    main()
