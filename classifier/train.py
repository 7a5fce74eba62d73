"""Train the fused model from the labeled set and save it with its manifest.

``train()`` is what ``fundclass train`` calls. Training rows are the labeled funds that the asset-class gate keeps in
scope (out-of-scope funds never reach the model: the gate decides them). Folds are grouped by tracked index (or, for
off-exchange families, by the index read from the name), so no index is in both train and test folds. The review
threshold is the lowest out-of-fold confidence at which the accepted rows reach the target precision.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import detect_columns
from .config import defaults
from .evaluate import expected_calibration_error, metrics, review_threshold
from .features import model_frame
from .holdings import HoldingsFeatures
from .inference import CompiledModel
from .labeled import read_labels
from .manifest import library_versions, save_model
from .model import FusedModel
from .prepare import prepare, subjects
from .rules import RuleLayer
from .taxonomy import Taxonomy
from .vocabulary import load_vocabulary

ID_COLUMNS = ["fund_code", "fund_name", "full_name", "index_code", "index_name", "fund_type"]


@dataclass
class TrainingData:
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    H: pd.DataFrame | None
    in_scope: np.ndarray  # rows the gate keeps in scope and whose label is a class (training rows)
    gate_oos: np.ndarray  # rows the gate sends out of scope
    rule_labels: list
    prepared: pd.DataFrame


def training_data(labels: pd.DataFrame, tax: Taxonomy, holdings: HoldingsFeatures | None = None) -> TrainingData:
    ids = labels[ID_COLUMNS].reset_index(drop=True)
    p = prepare(ids, detect_columns(ID_COLUMNS), load_vocabulary())
    rr = RuleLayer(tax).apply(subjects(p))
    X = model_frame(p, rr)
    y = labels["secondary"].to_numpy(dtype=object)
    gate_oos = p["asset_class"].isin(tax.out_of_scope).to_numpy()
    in_scope = ~gate_oos & (y != tax.not_applicable)
    H = None
    if holdings is not None:
        cols = holdings.columns()
        H = holdings.table.reindex(p["code6"].values)[cols].set_axis(p.index)
    groups = labels["group"].where(labels["group"] != "", labels["fund_code"]).to_numpy(dtype=object)
    return TrainingData(X, y, groups, H, in_scope, gate_oos, rr.labels, p)


def data_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fit(td: TrainingData, tax: Taxonomy, params: dict | None = None) -> FusedModel:
    cfg = {**defaults()["train"], **(params or {})}
    m = td.in_scope
    model = FusedModel(classes=tuple(tax.secondaries), terms=tuple(tax.terms()), n_splits=int(cfg["n_splits"]),
                       C_text=float(cfg["C_text"]), C_hold=float(cfg["C_hold"]),
                       vote_weight=float(cfg["vote_weight"]), min_holdings=int(cfg["min_holdings"]))
    return model.fit(td.X[m], td.y[m], td.groups[m], td.H[m] if td.H is not None else None)


def oof_report(model: FusedModel, td: TrainingData, tax: Taxonomy, target_precision: float) -> dict:
    """Cross-validated figures from the model's out-of-fold predictions, over every labeled row (gate rows
    included: an out-of-scope fund the gate catches is correct at confidence 1)."""
    y = td.y
    pred = np.array([tax.not_applicable] * len(y), dtype=object)
    conf = np.ones(len(y))
    m = td.in_scope
    oof = model.oof_proba_
    pred[m] = model.classes_[oof.argmax(axis=1)]
    conf[m] = oof.max(axis=1)
    rest = ~m & ~td.gate_oos  # in scope by the gate but labeled 不适用: the model cannot get these right
    pred[rest] = "(gate missed)"
    conf[rest] = 0.0
    t, prec, review = review_threshold(conf[m], pred[m] == y[m], target_precision)
    out = metrics(y, pred, conf, labels=tax.labels)
    out.update({"ece_in_scope": expected_calibration_error(conf[m], pred[m] == y[m]), "threshold": t,
                "auto_precision": float((pred == y)[conf >= t].mean()), "review_rate": float((conf < t).mean()),
                "target_precision": target_precision})
    return out


def train(labels_path: str | Path, tax: Taxonomy, out_dir: str | Path, holdings: HoldingsFeatures | None = None,
          params: dict | None = None, holdings_source: str = "") -> dict:
    cfg = {**defaults()["train"], **(params or {})}
    labels = read_labels(labels_path)
    td = training_data(labels, tax, holdings)
    model = fit(td, tax, cfg)
    rep = oof_report(model, td, tax, float(cfg["target_precision"]))
    dh = data_hash(labels_path)
    manifest = {
        "model_version": f"{tax.id}-{dh[:8]}-" + hashlib.sha256(repr((sorted(cfg.items()), holdings_source,
                                                                      model.holdings_columns_)).encode()).hexdigest()[:6],
        "taxonomy": {"id": tax.id, "version": tax.version, "sha256": tax.sha256, "path": Path(tax.path).name},
        "vocabulary_sha256": load_vocabulary().sha256,
        "labeled_data": {"path": str(labels_path), "sha256": dh, "rows": int(len(labels)),
                         "training_rows": int(td.in_scope.sum())},
        "holdings": {"source": holdings_source, "funds": int(holdings.table.shape[0]) if holdings else 0,
                     "columns": model.holdings_columns_},
        "params": {k: cfg[k] for k in sorted(cfg)},
        "threshold": rep["threshold"],
        "metrics_cv": {k: rep[k] for k in ("n", "accuracy", "macro_f1", "ece", "ece_in_scope", "auto_precision",
                                           "review_rate", "target_precision")},
        "classes": list(model.classes_),
        "libraries": library_versions(),
    }
    compiled = CompiledModel(model)
    check = td.X[td.in_scope].iloc[:500]
    hcheck = td.H[td.in_scope].iloc[:500] if td.H is not None else None
    if not np.allclose(compiled.predict_proba(check, hcheck), model.predict_proba(check, hcheck), atol=1e-6):
        raise RuntimeError("compiled model disagrees with the fitted model")  # a bug, not a user error
    return save_model(out_dir, compiled, manifest)
