"""FusedModel is a scikit-learn classifier over one featurized frame (issue 10): holdings are X's ``hold::`` columns.

scikit-learn's common checks (``sklearn.utils.estimator_checks``) are run in :func:`test_sklearn_common_checks`; the
ones that generate random numeric arrays as X cannot apply to a model whose input is a
:func:`classifier.features.featurize` frame (a ``text`` column, rule and category columns, ``vote::<class>`` per
taxonomy class), so those are re-run below on a real featurized frame, one test per check.
"""
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from classifier.features import HOLD_PREFIX
from classifier.fusion import has_holdings
from classifier.holdings import holdings_features, load_sw_map
from classifier.inference import CompiledModel
from classifier.labeled import read_labels
from classifier.model import FusedModel
from classifier.model_store import model_bytes, model_from_bytes
from classifier.train import training_data

# Checks that feed the estimator random numeric arrays (or sparse matrices, 1-d arrays, memmaps, complex numbers)
# as X. FusedModel's X is a featurized DataFrame; a numeric array has no text, rule or vote columns, so fit refuses
# it (TypeError). What each check verifies is re-run on a featurized frame where it applies (→ test name).
NOT_APPLICABLE = {
    "check_fit_score_takes_y": "numeric X (score(X, y) is ClassifierMixin.score: accuracy of predict)",
    "check_estimators_overwrite_params": "numeric X → test_fit_does_not_change_params",
    "check_dont_overwrite_parameters": "numeric X → test_fit_does_not_change_params",
    "check_estimators_fit_returns_self": "numeric X → test_fit_returns_self_and_is_fitted",
    "check_readonly_memmap_input": "numeric memmap X",
    "check_n_features_in_after_fitting": "numeric X; also asks predict to refuse X of another width, but tagging "
                                         "passes frames with or without hold:: columns → test_n_features_in",
    "check_positive_only_tag_during_fit": "numeric X",
    "check_estimators_dtypes": "numeric X of several dtypes",
    "check_complex_data": "complex-number X",
    "check_dtype_object": "object array of numbers/strings without column names",
    "check_estimators_empty_data_messages": "numeric X; an empty featurized frame has no rows to fold",
    "check_pipeline_consistency": "numeric X → test_fits_in_a_pipeline",
    "check_estimator_sparse_tag": "sparse numeric X",
    "check_estimator_sparse_array": "sparse numeric X",
    "check_estimator_sparse_matrix": "sparse numeric X",
    "check_estimators_pickle": "numeric X → test_pickles",
    "check_f_contiguous_array_estimator": "numeric X",
    "check_methods_sample_order_invariance": "numeric X → test_rows_are_scored_independently",
    "check_methods_subset_invariance": "numeric X → test_rows_are_scored_independently",
    "check_fit2d_1sample": "numeric X (one row cannot be folded either)",
    "check_fit2d_1feature": "numeric X",
    "check_dict_unchanged": "numeric X → test_predict_does_not_change_the_model",
    "check_fit_idempotent": "numeric X → test_fit_is_idempotent",
    "check_fit_check_is_fitted": "numeric X → test_fit_returns_self_and_is_fitted",
    "check_n_features_in": "numeric X → test_n_features_in",
    "check_fit1d": "1-d numeric X",
    "check_fit2d_predict1d": "numeric X",
    "check_classifier_data_not_an_array": "numeric array-like X",
    "check_classifiers_classes": "numeric X → test_classes_and_labels",
    "check_classifiers_train": "numeric X → test_classes_and_labels, test_malformed_input_is_refused",
    "check_supervised_y_2d": "numeric X",
}
# checks that need no fit on numeric data and must pass as they are
MUST_PASS = {"check_estimator_cloneable", "check_estimator_repr", "check_no_attributes_set_in_init",
             "check_do_not_raise_errors_in_init_or_set_params", "check_parameters_default_constructible",
             "check_get_params_invariance", "check_set_params", "check_mixin_order", "check_estimators_unfitted",
             "check_valid_tag_types", "check_estimator_tags_renamed", "check_classifiers_one_label",
             "check_classifiers_regression_target", "check_supervised_y_no_nan", "check_requires_y_none"}

PARAMS = dict(n_splits=3, min_holdings=10)


@pytest.fixture(scope="module")
def data(taxonomy, tmp_path_factory):
    """A featurized frame of 60 labeled groups with synthetic holdings for two thirds of the funds (the shipped
    Shenwan map decodes the stocks), its labels and groups."""
    labels = read_labels()
    groups = sorted(labels["group"].unique())
    rng = np.random.default_rng(1)
    sub = labels[labels["group"].isin(set(rng.choice(groups, size=60, replace=False)))].reset_index(drop=True)
    sw = load_sw_map()
    stocks = sw.index.to_numpy()[:3000]
    rows = []
    for code in sub["fund_code"].iloc[::3].tolist() + sub["fund_code"].iloc[1::3].tolist():
        for s in rng.choice(stocks, size=10, replace=False):
            rows.append({"fund_code": code, "stock_code": s, "weight_pct": f"{rng.uniform(0.5, 9):.2f}"})
    path = tmp_path_factory.mktemp("hold") / "h.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    hf = holdings_features(path, sw)
    td = training_data(sub, taxonomy, hf)
    m = td.in_scope
    return td.X[m], td.y[m], td.groups[m], hf


@pytest.fixture(scope="module")
def first_fit(data, taxonomy):
    """One model made as a user makes it, looked at before and during its fit: what its (unfitted) methods raised,
    its parameters, what fit returned. ``fitted`` is that model; the tests of fit's contract read the record (each
    had fitted a model of its own for it, ~0.8 s a fit)."""
    X, y, g, _ = data
    classes, terms = tuple(taxonomy.secondaries), tuple(taxonomy.terms())
    model = FusedModel(classes=classes, terms=terms, **PARAMS)
    raised = {}
    for what, call in (("check_is_fitted", lambda: check_is_fitted(model)), ("predict", lambda: model.predict(X))):
        try:
            call()
            raised[what] = None
        except Exception as exc:  # noqa: BLE001 (the test says which: NotFittedError is the one expected)
            raised[what] = exc
    before = {"params": joblib.hash(model.get_params()),
              "public": {k for k in vars(model) if not k.endswith("_") and not k.startswith("_")}}
    returned = model.fit(X, y, groups=g)
    return {"model": model, "classes": classes, "terms": terms, "unfitted_raised": raised, "before": before,
            "returned": returned}


@pytest.fixture(scope="module")
def fitted(first_fit):
    return first_fit["model"]


def test_sklearn_common_checks(taxonomy):
    """Every scikit-learn common check is run. Those in MUST_PASS (parameters, cloning, repr, tags, mixin order,
    NotFittedError before fit, y validation: one class, continuous, NaN/inf or missing y is refused) pass. Any other failing check must be one listed in NOT_APPLICABLE, with the reason
    it cannot apply: all of them build random numeric (or sparse, 1-d, complex, memmap) arrays as X, and a
    featurized frame's text, rule and vote columns cannot be made of those. What they check is tested below on a
    featurized frame (the test each entry names)."""
    # imported here, not at the top: ~0.6 s, and every pytest-xdist worker imports every test file to collect it
    from sklearn.utils.estimator_checks import check_estimator

    results = {}

    def record(*, check_name, status, **_):
        results.setdefault(check_name, set()).add(status)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(FusedModel(classes=tuple(taxonomy.secondaries), **PARAMS), on_fail=None, on_skip=None,
                        callback=record)
    failed = {c for c, s in results.items() if "failed" in s}
    passed = {c for c, s in results.items() if s == {"passed"}}
    assert MUST_PASS <= passed, MUST_PASS - passed
    assert failed <= set(NOT_APPLICABLE), failed - set(NOT_APPLICABLE)


def test_fit_returns_self_and_is_fitted(first_fit):
    model = first_fit["model"]
    # before fit, both raised NotFittedError
    assert all(isinstance(e, NotFittedError) for e in first_fit["unfitted_raised"].values()), first_fit["unfitted_raised"]
    assert first_fit["returned"] is model
    check_is_fitted(model)


def test_malformed_input_is_refused(data, taxonomy):
    X, y, g, _ = data
    with pytest.raises(TypeError, match="featurize"):
        FusedModel(**PARAMS).fit(np.zeros((10, 3)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="rows"):
        FusedModel(**PARAMS).fit(X, y[:-1], groups=g)
    with pytest.raises(ValueError, match="2 classes"):
        FusedModel(**PARAMS).fit(X, np.full(len(X), y[0]), groups=g)


def test_classes_and_labels(data, taxonomy, fitted):
    """classes_ are the taxonomy's classes in its order (also those without training rows); without ``classes``
    they are the sorted labels of y. predict returns labels from classes_."""
    X, y, g, _ = data
    assert list(fitted.classes_) == list(taxonomy.secondaries)
    assert fitted.predict_proba(X).shape == (len(X), len(taxonomy.secondaries))
    assert set(fitted.predict(X)) <= set(taxonomy.secondaries)
    assert (fitted.predict(X) == y).mean() > 0.9
    assert list(FusedModel(**PARAMS).fit(X, y, groups=g).classes_) == sorted(set(y))


def test_fit_does_not_change_params(first_fit):
    model, before = first_fit["model"], first_fit["before"]
    assert joblib.hash(model.get_params()) == before["params"]
    assert model.classes is first_fit["classes"] and model.terms is first_fit["terms"]
    # fit adds learned state only (names ending in _)
    assert {k for k in vars(model) if not k.endswith("_") and not k.startswith("_")} == before["public"]


def test_n_features_in(data, fitted):
    X = data[0]
    assert not hasattr(FusedModel(), "n_features_in_")
    assert fitted.n_features_in_ == X.shape[1]
    assert list(fitted.feature_names_in_) == list(X.columns)


def test_clone_is_unfitted_and_refits_to_the_same_probabilities(data, fitted):
    X, y, g, _ = data
    c = clone(fitted)
    assert c.get_params() == fitted.get_params()
    assert not any(k.endswith("_") for k in vars(c))
    assert np.array_equal(c.fit(X, y, groups=g).predict_proba(X), fitted.predict_proba(X))


def test_fit_is_idempotent(data, taxonomy, fitted):
    X, y, g, _ = data
    model = FusedModel(classes=tuple(taxonomy.secondaries), terms=tuple(taxonomy.terms()), **PARAMS)
    model.fit(X.iloc[::2], y[::2], groups=g[::2])
    model.fit(X, y, groups=g)
    assert np.array_equal(model.predict_proba(X), fitted.predict_proba(X))


def test_fits_in_a_pipeline(data, taxonomy, fitted):
    """The issue's aim: a Pipeline step, with the fold groups routed to it as a fit parameter."""
    X, y, g, _ = data
    pipe = Pipeline([("model", FusedModel(classes=tuple(taxonomy.secondaries), terms=tuple(taxonomy.terms()),
                                          **PARAMS))])
    pipe.fit(X, y, model__groups=g)
    assert np.array_equal(pipe.predict_proba(X), fitted.predict_proba(X))
    assert np.array_equal(pipe.predict(X), fitted.predict(X))
    assert list(pipe.classes_) == list(fitted.classes_)


def test_predict_does_not_change_the_model(data, fitted):
    X = data[0]
    before = joblib.hash(vars(fitted))
    fitted.predict(X)
    fitted.predict_proba(X)
    fitted.components(X)
    assert joblib.hash(vars(fitted)) == before


def test_rows_are_scored_independently(data, fitted):
    X = data[0]
    p = fitted.predict_proba(X)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(fitted.predict_proba(X.iloc[order]), p[order], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted.predict_proba(X.iloc[::5]), p[::5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.array_equal(fitted.predict(X), fitted.classes_[p.argmax(axis=1)])


def test_pickles(data, fitted):
    X = data[0]
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_holdings_are_read_from_the_hold_columns(data, fitted, taxonomy):
    """The holdings model is fitted on X's hold:: columns and scores exactly the funds that have holdings; without
    those columns every fund is scored as one without holdings."""
    X, y, g, hf = data
    assert fitted.hold_ is not None and fitted.holdings_columns_ == hf.columns()
    assert [c for c in X.columns if c.startswith(HOLD_PREFIX)] == [HOLD_PREFIX + c for c in hf.columns()]
    fused, p_text, p_hold, has = fitted.components(X)
    H = X[[HOLD_PREFIX + c for c in hf.columns()]]
    assert np.array_equal(has, has_holdings(H, len(X))) and 0 < has.sum() < len(X)
    assert not np.allclose(p_hold[has], 1.0 / len(fitted.classes_))
    bare = X.drop(columns=list(H.columns))
    f2, t2, h2, has2 = fitted.components(bare)
    assert not has2.any() and np.array_equal(t2, p_text)
    assert np.array_equal(f2[~has], fused[~has]) and not np.allclose(f2[has], fused[has])
    # a model fitted without hold:: columns has no holdings model
    nohold = clone(fitted).fit(bare, y, groups=g)
    assert nohold.hold_ is None and nohold.holdings_columns_ == []


def test_a_holdings_feature_the_frame_lacks_counts_as_zero(data, fitted):
    """An industry the Shenwan map in use does not have: 0 for a fund with holdings (fitted and compiled model)."""
    X = data[0]
    col = HOLD_PREFIX + fitted.holdings_columns_[0]
    zero = X.copy()
    zero.loc[zero[col].notna(), col] = 0.0
    lacking = X.drop(columns=[col])
    compiled = CompiledModel(fitted)
    for m in (fitted, compiled):
        a, b = m.components(zero), m.components(lacking)
        for u, v in zip(a, b):
            assert np.array_equal(u, v)


def test_compiled_and_stored_model_read_holdings_from_x(data, fitted):
    X = data[0]
    compiled = CompiledModel(fitted)
    assert compiled.hold_ is not None
    for a, b in zip(compiled.components(X), fitted.components(X)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    files = model_bytes(compiled)
    loaded = model_from_bytes(files["model.npz"], files["model.json"])
    assert loaded.holdings_columns_ == fitted.holdings_columns_  # stored without the hold:: prefix
    for a, b in zip(compiled.components(X), loaded.components(X)):
        assert np.array_equal(a, b)


def test_featurize_puts_nan_holdings_on_funds_without_any(data, taxonomy):
    X, _, _, hf = data
    H = X[[HOLD_PREFIX + c for c in hf.columns()]]
    none = H.isna().all(axis=1)
    assert none.any() and (~none).any()
    assert H[~none].notna().all().all()  # a fund with holdings has every feature
