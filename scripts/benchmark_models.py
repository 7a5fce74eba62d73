"""Grouped cross-validation, side by side in one run: bare 表 4 keywords, the rule layer, the text model, the
holdings model (on funds with holdings) and the fused model; calibration, the review threshold's precision and
review rate; fused vs text-only on funds with holdings; determinism and training time.

Folds are grouped by tracked index (off-exchange families by the index read from their name): no index is in both a
training and a test fold. Keywords and rules have no parameters, so they are scored on every row directly.

Usage: python scripts/benchmark_models.py [--labeled data/labeled/labels.csv] [--raw ../shared/data/raw] [--out FILE]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from classifier.config import defaults
from classifier.evaluate import expected_calibration_error, review_threshold
from classifier.holdings import holdings_features, load_sw_map
from classifier.inference import CompiledModel
from classifier.labeled import read_labels
from classifier.rules import KeywordBaseline
from classifier.taxonomy import load_taxonomy
from classifier.train import fit, training_data

HOLDINGS = "jackluson_anchor_fund_top10/fund_top10_holdings_2022Q2_2022Q4.csv"


def row(name, y, pred, conf=None, mask=None):
    m = np.ones(len(y), bool) if mask is None else mask
    yy, pp = y[m], pred[m]
    out = {"method": name, "rows": int(m.sum()), "accuracy": float((yy == pp).mean()),
           "macro_F1": float(f1_score(yy, pp, labels=sorted(set(yy)), average="macro", zero_division=0))}
    out["ECE"] = expected_calibration_error(conf[m], yy == pp) if conf is not None else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labeled", default="data/labeled/labels.csv")
    ap.add_argument("--raw", default=defaults()["paths"]["raw_data"])
    ap.add_argument("--out", default=None, help="also write the tables as markdown to this file")
    a = ap.parse_args()
    tax = load_taxonomy()
    labels = read_labels(a.labeled)
    raw = Path(a.raw)
    H = holdings_features(raw / HOLDINGS, load_sw_map(raw / defaults()["paths"]["sw_map"])) \
        if (raw / HOLDINGS).exists() else None
    td = training_data(labels, tax, H)
    y, na = td.y, tax.not_applicable

    t0 = time.perf_counter()
    model = fit(td, tax)
    train_seconds = time.perf_counter() - t0

    m = td.in_scope
    def full(pred_in, conf_in=None):
        pred = np.array([na] * len(y), dtype=object)
        conf = np.ones(len(y))
        pred[m] = pred_in
        if conf_in is not None:
            conf[m] = conf_in
        rest = ~m & ~td.gate_oos
        pred[rest], conf[rest] = "(gate missed)", 0.0
        return pred, conf

    text = td.prepared["n_name"] + " " + td.prepared["s_index"]
    kw = np.array([k or "(abstain)" for k in KeywordBaseline(tax).predict(text)], dtype=object)
    kw = np.where(td.gate_oos, na, kw)
    rules = np.array([r or "(abstain)" for r in td.rule_labels], dtype=object)
    rules = np.where(td.gate_oos, na, rules)
    cls = model.classes_
    tp, tc = full(cls[model.oof_text_proba_.argmax(1)], model.oof_text_proba_.max(1))
    fp, fc = full(cls[model.oof_proba_.argmax(1)], model.oof_proba_.max(1))
    has = np.zeros(len(y), bool)
    hp = np.array([None] * len(y), dtype=object)
    hc = np.zeros(len(y))
    if H is not None:
        oh = model.oof_hold_proba_
        ok = ~np.isnan(oh).any(axis=1)
        idx = np.flatnonzero(m)[ok]
        has[idx] = True
        hp[idx], hc[idx] = cls[oh[ok].argmax(1)], oh[ok].max(1)

    table = [row("bare 表4 keywords (most hits)", y, kw), row("rule layer", y, rules),
             row("text model", y, tp, tc), row("fused model", y, fp, fc)]
    if has.any():
        table += [row("holdings model (funds with holdings)", y, hp, hc, has),
                  row("text model (funds with holdings)", y, tp, tc, has),
                  row("fused model (funds with holdings)", y, fp, fc, has)]
    t, prec, review = review_threshold(fc, fp == y, float(defaults()["train"]["target_precision"]))
    grid = []
    for target in (0.99, 0.995, 0.998, 0.999):
        tt, pr, rv = review_threshold(fc, fp == y, target)
        grid.append({"target precision": target, "threshold": round(tt, 4), "auto-accepted precision": round(pr, 4),
                     "review rate": round(rv, 4)})

    t1 = time.perf_counter()
    again = fit(td, tax)
    identical = np.array_equal(CompiledModel(model).predict_proba(td.X), CompiledModel(again).predict_proba(td.X))
    second_seconds = time.perf_counter() - t1

    per_class = []
    for c in tax.labels:
        mm = y == c
        if mm.any():
            per_class.append({"class": c, "rows": int(mm.sum()), "groups": int(len(set(td.groups[mm]))),
                              "rules recall": round(float((rules[mm] == c).mean()), 4),
                              "text recall": round(float((tp[mm] == c).mean()), 4),
                              "fused recall": round(float((fp[mm] == c).mean()), 4),
                              "fused precision": round(float((y[fp == c] == c).mean()) if (fp == c).any() else 0, 4)})
    lines = [f"# Grouped {model.n_splits}-fold CV on {a.labeled} ({len(y)} funds, {len(set(td.groups))} index groups, "
             f"{int(has.sum())} with holdings)", "",
             pd.DataFrame(table).round(4).to_markdown(index=False), "",
             f"Review threshold at target precision {defaults()['train']['target_precision']}: {t:.4f} → auto-accepted "
             f"precision {prec:.4f}, review rate {review:.2%}", "", pd.DataFrame(grid).to_markdown(index=False), "",
             f"Fusion weights (log p_text, log p_hold, vote, winner, winner·index, winner·fuzzy): "
             f"{np.round(model.weights_, 3).tolist()}",
             f"Training time: {train_seconds:.1f} s (again: {second_seconds:.1f} s); two trainings give identical "
             f"predictions on all {len(y)} funds: {identical}", "", pd.DataFrame(per_class).to_markdown(index=False)]
    text_out = "\n".join(lines)
    print(text_out)
    if a.out:
        Path(a.out).write_text(text_out + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
