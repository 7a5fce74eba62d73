"""Training: the compiled model equals the fitted one; training is deterministic; the fusion reaches rare classes.

The model these tests read is fitted once per session on a subset of whole labeled groups (``small_model`` in
conftest.py); only the determinism test fits a second one, to compare."""
import json

import numpy as np
import pandas as pd
from click.testing import CliRunner
from conftest import HOLDINGS, TRAINING_GROUPS, needs_raw

from classifier.cli import cli
from classifier.holdings import HoldingsFeatures
from classifier.inference import CompiledModel
from classifier.labeled import read_labels, write_labels
from classifier.pipeline import Tagger
from classifier.train import fit


def test_compiled_model_matches_the_fitted_model(small_model, small_training):
    X = small_training.X[small_training.in_scope]
    np.testing.assert_allclose(CompiledModel(small_model).predict_proba(X), small_model.predict_proba(X), atol=1e-6)


def test_a_freshly_compiled_model_round_trips_bit_identically(tmp_path, small_model, small_training, taxonomy):
    """A model straight from training (no holdings model, no calibrator: the None branches) saves and loads back
    to the same probabilities, bit for bit. (The model store's test, here to read the session's ``small_model``: in
    test_model_store.py it fitted a model of its own, on every seventh labeled row, ~1.5 s.)"""
    from classifier.manifest import load_model, save_model

    compiled = CompiledModel(small_model)
    assert compiled.hold_ is None and compiled.agreement_ is None
    save_model(tmp_path / "fresh", compiled, {"taxonomy": {"sha256": taxonomy.sha256}, "threshold": 0.9})
    loaded, _ = load_model(tmp_path / "fresh", taxonomy)
    assert loaded.hold_ is None and loaded.agreement_ is None
    assert np.array_equal(compiled.predict_proba(small_training.X), loaded.predict_proba(small_training.X))


def test_training_twice_gives_identical_predictions(small_model, small_training, taxonomy):
    again = fit(small_training, taxonomy, {"n_splits": 3})
    assert np.array_equal(CompiledModel(again).predict_proba(small_training.X),
                          CompiledModel(small_model).predict_proba(small_training.X))
    assert np.array_equal(again.weights_, small_model.weights_) and np.array_equal(again.oof_proba_, small_model.oof_proba_)


def _log_loss(proba, y, classes):
    idx = np.array([list(classes).index(v) for v in y])
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), idx], 1e-12, 1))))


def test_fusion_weights_trust_rules_and_text(small_model, small_training):
    w = small_model.weights_
    # log p_text and the rule winner carry positive weight ...
    assert w[0] > 0 and w[3] > 0
    # ... and fusing them with the rules beats the text model alone out of fold, on the rows neither saw
    y = small_training.y[small_training.in_scope]
    fused, text = small_model.oof_proba_, small_model.oof_text_proba_
    assert _log_loss(fused, y, small_model.classes_) < 0.5 * _log_loss(text, y, small_model.classes_)
    acc = lambda p: float(np.mean(small_model.classes_[p.argmax(axis=1)] == y))  # noqa: E731
    assert acc(fused) >= acc(text) and acc(fused) > 0.97


def test_a_class_with_a_single_labeled_index_is_predicted(model_tagger):
    # 民企主题ETF has one labeled index (国证民企领先100); the shared fusion weights still reach it
    out = model_tagger.tag(pd.DataFrame({"name": ["示例国证民企领先100ETF"], "index_name": ["国证民企领先100指数"]}))
    assert out["secondary"].tolist() == ["民企主题ETF"]


@needs_raw
def test_train_and_tag_with_holdings(tmp_path, taxonomy):
    """`fundclass train --holdings` fits a holdings model on the featurized frame's hold:: columns and stores its
    features by name; tagging with --holdings reads them back through featurize (issue 10)."""
    labels = read_labels()
    groups = sorted(labels["group"].unique())
    keep = set(np.random.default_rng(2).choice(groups, size=TRAINING_GROUPS, replace=False))
    sub = labels[labels["group"].isin(keep)].reset_index(drop=True)
    path = tmp_path / "labels.csv"
    write_labels(sub, path)
    # the shared holdings file's rows of these funds, as it has them: train and Tagger.load each build the features
    # of the whole file they are given (~1.4 s on the whole 162k-row file), and only these funds are trained and tagged
    holdings = pd.read_csv(HOLDINGS, dtype=str, keep_default_na=False)
    holdings = holdings[holdings["fund_code"].isin(set(sub["fund_code"]))]
    assert len(holdings) > 1000  # the subset's funds hold stocks: the holdings model has data
    holdings_path = tmp_path / "holdings.csv"
    holdings.to_csv(holdings_path, index=False)
    res = CliRunner().invoke(cli, ["train", "--labeled", str(path), "-o", str(tmp_path / "m"), "--holdings",
                                   str(holdings_path)])
    assert res.exit_code == 0, res.output
    frame = pd.DataFrame({"基金代码": sub["fund_code"], "基金简称": sub["fund_name"], "基金类型": sub["fund_type"]})
    with_h = Tagger.load(tmp_path / "m", labels_path=path, holdings_path=holdings_path)
    # the features Tagger.load built: holdings_features(holdings_path, load_sw_map()), as this test computed them
    # itself before
    hf = with_h.holdings
    assert type(hf) is HoldingsFeatures and hf.table.shape[0] > 0
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["holdings"]["columns"] == hf.columns() and manifest["holdings"]["funds"] == len(hf.table)
    assert with_h.model.hold_ is not None and with_h.model.holdings_columns_ == hf.columns()
    a = with_h.tag(frame)
    b = Tagger.load(tmp_path / "m", labels_path=path).tag(frame)
    held = a["holding_industry"].fillna("").ne("").to_numpy()
    assert held.any() and not b["holding_industry"].fillna("").ne("").any()
    conf_a, conf_b = a["confidence"].to_numpy(float), b["confidence"].to_numpy(float)
    assert not np.allclose(conf_a[held], conf_b[held])  # the holdings model moved the funds with holdings


def test_a_labeled_row_with_nothing_to_read_is_not_trained_on(taxonomy):
    """Audit round 20: a reviewer typed a fund code and a decision on an empty row of the review sheet; the import
    added it to the labeled set with no name, index nor benchmark (it settles that fund by its code when tagging),
    and `fundclass train` trained on it (training rows 4,378 -> 4,379): an empty text taught as a class. Such a row
    is no training row; the same fund with its name is."""
    from classifier.labeled import SHIPPED_LABELS
    from classifier.train import training_data

    labels = read_labels(SHIPPED_LABELS).head(40).reset_index(drop=True)
    blank = {c: "" for c in labels.columns} | {"fund_code": "990001", "secondary": "消费主题ETF",
                                                "primary": taxonomy.primary_of("消费主题ETF"), "source": "review"}
    named = blank | {"fund_code": "990002", "fund_name": "示例中证主要消费ETF"}
    td = training_data(pd.concat([labels, pd.DataFrame([blank, named])], ignore_index=True), taxonomy)
    assert td.in_scope[-2:].tolist() == [False, True]
    assert td.in_scope[:40].tolist() == training_data(labels, taxonomy).in_scope.tolist()
