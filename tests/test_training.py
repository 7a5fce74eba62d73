"""Training: the compiled model equals the fitted one; training is deterministic; the fusion reaches rare classes.

The model these tests read is fitted once per session on a subset of whole labeled groups (``small_model`` in
conftest.py); only the determinism test fits a second one, to compare."""
import numpy as np
import pandas as pd

from classifier.inference import CompiledModel
from classifier.train import fit


def test_compiled_model_matches_the_fitted_model(small_model, small_training):
    X = small_training.X[small_training.in_scope]
    np.testing.assert_allclose(CompiledModel(small_model).predict_proba(X), small_model.predict_proba(X), atol=1e-6)


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
