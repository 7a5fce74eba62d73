"""The confidence stage's discrimination, out of fold on the labeled sets' blind reads, for two settings side by side.

For each taxonomy the fused model is trained as ``fundclass train`` trains it (its out-of-fold predictions are grouped
by index), then the second stage (:func:`classifier.train.fit_agreement`) is fitted and evaluated out of fold by head
(no head in both the calibrator's training and test rows; every signal fitted on reads, the pattern table, the
subject ridge and the subject neighbours, fitted on the training heads only) under each setting:

  current   the second stage without the neighbour signals or the pattern back-off (neighbour_heads = 0,
            pattern_backoff = false, agreement_partitions = 1), as the models up to c83a337 were fitted
  new       the settings of classifier/defaults.toml ([train])

Per taxonomy and setting it prints, for GroupKFold(5) alone (as models up to c83a337 chose their threshold) and for the
out-of-fold confidences pooled over it and four shuffled head partitions (as training now does, agreement_partitions;
one partition's review share moves by several points with the partition): the weighted share
of rows sent to review for the accepted rows to agree with the readers on ≥ the target (0.99), the agreement of the
accepted rows at 10% and 15% review budgets, the ECE of the confidence against reader agreement, and the AUC of reader
disagreement against confidence (1: every disputed read below every agreed one). Rows are weighted as training
weighs them (≤ 4 funds per head). With ``--set index_reads=true`` the models are trained with the index rows
(:func:`classifier.train.index_rows`) and each figure is printed for the labeled set's heads alone and, below it
(``+index``), over every head read. It never reads the holdout (data/holdout/).

Usage
-----
FUNDCLASS_RAW=/work/shared/data/raw python scripts/eval_doubt_oof.py [--taxonomy jrj|efund ...] \
    [--set KEY=VALUE ...]   # a [train] key of the 'new' setting, e.g. --set neighbour_heads=10
"""
from __future__ import annotations

import argparse
import json
import time
import tomllib

import numpy as np
from classifier.agreement import read_agreement
from classifier.config import defaults
from classifier.labeled import read_labels
from classifier.taxonomy import load_taxonomy
from classifier.train import fit, fit_agreement, index_rows, one_blas_thread, training_data
from classifier.workflows import _holdings

TAXONOMIES = {"jrj": ("taxonomy/jrj2026.toml", "data/labeled/labels.csv", "models/default"),
              "efund": ("taxonomy/efund2025.toml", "data/labeled/efund/labels.csv", "models/efund")}
CURRENT = {"neighbour_heads": 0, "pattern_backoff": False, "agreement_partitions": 1}
PARTITIONS = 5  # GroupKFold's own and four shuffled ones
FIGURES = (("review", "review for 0.99"), ("a10", "agree @10%"), ("a15", "agree @15%"), ("ece", "ECE"),
           ("auc", "AUC disagr."))


def figures(rep: dict) -> dict:
    b = rep["agreement_at_review_budget"]
    return {"review": rep["review_rate"], "a10": b["0.10"], "a15": b["0.15"], "ece": rep["ece_vs_readers"],
            "auc": rep["auc_disagreement"]}


def evaluate(model, td, labels, agreement, cfg: dict) -> tuple[dict, dict]:
    """(figures of GroupKFold(5) alone, figures of the confidences pooled over it and four shuffled partitions) for
    the [train] settings ``cfg``."""
    out = []
    for partitions in (1, PARTITIONS):
        with one_blas_thread():
            _, rep = fit_agreement(model, td, labels, agreement, float(cfg["target_agreement"]),
                                   float(cfg["subject_alpha"]), int(cfg["subject_min_df"]),
                                   int(cfg["neighbour_heads"]), bool(cfg["pattern_backoff"]), partitions)
        # every head read: at the threshold of its own rows (the labeled set's figure is at the labeled set's)
        out.append((figures(rep), {**figures(rep["overall"]), "review": rep["overall"]["review_rate_own"]}
                    if "overall" in rep else None))
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--taxonomy", action="append", choices=sorted(TAXONOMIES))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    cfg = dict(defaults()["train"])
    for kv in args.set:
        k, v = kv.split("=", 1)
        if k not in cfg:
            raise SystemExit(f"--set {kv}: no [train] key {k!r}")
        cfg[k] = tomllib.loads(f"x = {v}")["x"]
    settings = {"current": {**cfg, **CURRENT}, "new": cfg}
    print("new:", {k: cfg[k] for k in sorted(CURRENT)})
    for name in args.taxonomy or sorted(TAXONOMIES, reverse=True):
        t0 = time.process_time()
        tax_path, labels_path, model_dir = TAXONOMIES[name]
        tax = load_taxonomy(tax_path)
        labels, agreement = read_labels(labels_path), read_agreement(labels_path)
        holdings, _, _ = _holdings(None, None, True)
        td = training_data(labels, tax, holdings, index_rows(labels, agreement, tax) if cfg["index_reads"] else None)
        model = fit(td, tax, cfg)
        shipped = json.load(open(f"{model_dir}/manifest.json", encoding="utf-8"))["metrics_agreement"]
        print(f"\n{name}: {labels_path}, {int((td.in_scope & td.labeled).sum())} training rows "
              f"(+{int((td.in_scope & ~td.labeled).sum())} index rows); {model_dir}/manifest.json says: "
              f"review {shipped['review_rate']:.4f}, ECE {shipped['ece_vs_readers']:.4f} "
              f"({shipped.get('partitions', 1)} partition(s))")
        rows = {s: evaluate(model, td, labels, agreement, c) for s, c in settings.items()}
        print(f"{'':22}" + "".join(f"{label:>16}" for _, label in FIGURES))
        for part, i in (("GroupKFold(5)", 0), (f"pooled over {PARTITIONS}", 1)):
            for s in settings:
                own, every = rows[s][i]
                print(f"{s:<8}{part[:14]:<14}" + "".join(f"{own[k]:>16.4f}" for k, _ in FIGURES))
                if every:
                    print(f"{'+index':<8}{part[:14]:<14}" + "".join(f"{every[k]:>16.4f}" for k, _ in FIGURES))
        print(f"({time.process_time() - t0:.0f} s CPU)")


if __name__ == "__main__":
    main()
