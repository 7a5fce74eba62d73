"""Accuracy of the rule layer alone against the report's labeled examples (appendix and 图3), beside the bare 表 4
keywords applied naively (most keyword hits wins, over the fund name and tracked index name), and the same two on
the team's labeled set. An abstention counts as wrong.

Usage: python scripts/eval_rules.py [--examples data/labeled/report_examples.csv] [--labeled data/labeled/labels.csv]
"""
from __future__ import annotations

import argparse

import pandas as pd

from classifier.labeled import ID_COLUMNS, read_labels
from classifier.rules import KeywordBaseline, RuleLayer, prepare_and_apply
from classifier.taxonomy import load_taxonomy


def score(frame: pd.DataFrame, gold: pd.Series, tax) -> dict:
    p, rr = prepare_and_apply(frame.reset_index(drop=True), RuleLayer(tax))
    gold = gold.reset_index(drop=True)
    oos = p["asset_class"].isin(tax.out_of_scope)
    rules = pd.Series(rr.labels).where(~oos, tax.not_applicable)
    text = p["n_name"] + " " + p["s_index"]
    naive = pd.Series(KeywordBaseline(tax).predict(text))
    out = {}
    for name, pred in (("naive 表4 keywords", naive), ("rule layer", rules)):
        ok = pred == gold
        out[name] = dict(n=len(gold), correct=int(ok.sum()), accuracy=ok.mean(), abstain=int(pred.isna().sum()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", default="data/labeled/report_examples.csv")
    ap.add_argument("--labeled", default="data/labeled/labels.csv")
    a = ap.parse_args()
    tax = load_taxonomy()
    ex = pd.read_csv(a.examples, dtype=str, keep_default_na=False)
    lab = read_labels(a.labeled)
    rows = []
    for what, frame, gold in (
            ("report examples (附录 + 图3)", ex[["fund_code", "name", "index_name", "index_code"]].rename(
                columns={"name": "fund_name"}), ex["secondary"]),
            ("labeled set, all funds", lab[ID_COLUMNS],
             lab["secondary"]),
            ("labeled set, in-scope funds", lab.loc[lab.secondary != tax.not_applicable,
                                                     ID_COLUMNS], lab.loc[lab.secondary != tax.not_applicable,
                                                                             "secondary"])):
        for method, s in score(frame, gold, tax).items():
            rows.append(dict(data=what, method=method, n=s["n"], correct=s["correct"], accuracy=round(s["accuracy"], 4),
                             abstain=s["abstain"]))
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
