"""Training: the compiled model equals the fitted one; training is deterministic; the fusion reaches rare classes."""
import numpy as np
import pandas as pd
import pytest

from classifier.inference import CompiledModel
from classifier.labeled import read_labels
from classifier.train import fit, training_data


@pytest.fixture(scope="module")
def small(taxonomy):
    labels = read_labels()
    # a reproducible subset of whole groups keeps the test fast and the folds grouped
    groups = sorted(labels["group"].unique())
    rng = np.random.default_rng(0)
    keep = set(rng.choice(groups, size=260, replace=False))
    sub = labels[labels["group"].isin(keep)].reset_index(drop=True)
    return sub, training_data(sub, taxonomy)


def test_compiled_model_matches_the_fitted_model(small, taxonomy):
    _, td = small
    model = fit(td, taxonomy, {"n_splits": 3})
    X = td.X[td.in_scope]
    np.testing.assert_allclose(CompiledModel(model).predict_proba(X), model.predict_proba(X), atol=1e-6)


def test_training_twice_gives_identical_predictions(small, taxonomy):
    _, td = small
    a = CompiledModel(fit(td, taxonomy, {"n_splits": 3})).predict_proba(td.X)
    b = CompiledModel(fit(td, taxonomy, {"n_splits": 3})).predict_proba(td.X)
    assert np.array_equal(a, b)


def test_fusion_weights_trust_rules_and_text(small, taxonomy):
    _, td = small
    w = fit(td, taxonomy, {"n_splits": 3}).weights_
    # log p_text and the rule winner carry positive weight
    assert w[0] > 0 and w[3] > 0


def test_a_class_with_a_single_labeled_index_is_predicted(model_tagger):
    # 民企主题ETF has one labeled index (国证民企领先100); the shared fusion weights still reach it
    out = model_tagger.tag(pd.DataFrame({"name": ["示例国证民企领先100ETF"], "index_name": ["国证民企领先100指数"]}))
    assert out["secondary"].tolist() == ["民企主题ETF"]
