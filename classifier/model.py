"""The trained classifier: a text model and a holdings model, stacked on out-of-fold predictions.

- :class:`TextModel` — logistic regression over character n-grams and domain-tokenizer words of the fund's
  normalized texts, the rule layer's per-class votes (so it learns when to trust which rule), the field that decided
  the rules, asset class and management style.
- :class:`HoldingsModel` — logistic regression over Shenwan L1 weights, concentration and board shares.
- :class:`FusedModel` — both fused with the rule layer by :func:`classifier.fusion.fuse`, whose weights are fitted
  on out-of-fold predictions from folds grouped by tracked index (base models scored on data they were not trained
  on). Its probabilities are the reported confidence; their calibration is measured on the fusion's own out-of-fold
  predictions (``oof_proba_``), which also fix the review threshold.
All follow the scikit-learn estimator contract: ``__init__`` stores parameters, learned state ends in ``_``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .features import DomainTokenizer, holdings_matrix, per_distinct_row, text_part, vote_columns
from .fusion import N_FEATURES, align as _align, fit_fusion, fuse, fusion_features, has_holdings, rule_parts

CATEGORICAL = ["rule_field", "asset_class", "style", "has_index"]


class TextModel(ClassifierMixin, BaseEstimator):
    """Text and rule-vote classifier over the text, rule and category columns of a
    :func:`classifier.features.featurize` frame."""

    def __init__(self, terms=(), C=20.0, vote_weight=3.0):
        self.terms = terms
        self.C = C
        self.vote_weight = vote_weight

    def _pipeline(self, votes: list[str]) -> Pipeline:
        ct = ColumnTransformer([
            ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=False), "text"),
            ("words", TfidfVectorizer(tokenizer=DomainTokenizer(self.terms), token_pattern=None, lowercase=False,
                                      ngram_range=(1, 2), sublinear_tf=True), "text"),
            ("votes", "passthrough", votes),
            ("cats", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ], transformer_weights={"chars": 1.0, "words": 1.0, "votes": self.vote_weight, "cats": 1.0})
        return Pipeline([("features", ct), ("clf", LogisticRegression(C=self.C, max_iter=5000))])

    def fit(self, X: pd.DataFrame, y):
        self.votes_ = vote_columns(X)
        self.pipeline_ = self._pipeline(self.votes_).fit(X, np.asarray(y))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return per_distinct_row(X, self.pipeline_.predict_proba)

    def predict(self, X):
        proba = self.predict_proba(X)  # first: an unfitted model raises NotFittedError, not AttributeError
        return self.classes_[proba.argmax(axis=1)]


class HoldingsModel(ClassifierMixin, BaseEstimator):
    """Classifier over holdings features (funds that disclose holdings)."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, H: pd.DataFrame, y):
        self.columns_ = list(H.columns)
        self.pipeline_ = Pipeline([("scale", StandardScaler()),
                                   ("clf", LogisticRegression(C=self.C, max_iter=5000))]).fit(H.values, np.asarray(y))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, H: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return self.pipeline_.predict_proba(H[self.columns_].values)


class FusedModel(ClassifierMixin, BaseEstimator):
    """Text + holdings models fused with the rule layer by :func:`classifier.fusion.fuse`.

    A scikit-learn classifier over one frame X from :func:`classifier.features.featurize`: the text model reads its
    text, rule and category columns, the holdings model its ``hold::`` columns (none: no holdings model). It fits in a
    :class:`sklearn.pipeline.Pipeline`; the folds' groups are a fit parameter (``fit(X, y, groups=g)``, in a pipeline
    ``pipe.fit(X, y, model__groups=g)``; metadata routing is not used).

    Parameters
    ----------
    classes : sequence of str
        Every class of the taxonomy (also those with few or no training rows: the rules can still reach them).
        Empty: the classes of ``y``.
    terms : sequence of str
        The taxonomy's terms, for the domain tokenizer.
    n_splits : int
        Folds (grouped by ``groups``, e.g. the tracked index) that produce the out-of-fold predictions the fusion is
        fitted on.
    C_text, C_hold : float
        Inverse regularization of the two logistic regressions.
    vote_weight : float
        Weight of the rule votes beside the text features in the text model.
    min_holdings : int
        Fewest training funds with holdings needed to fit the holdings model at all.
    """

    def __init__(self, classes=(), terms=(), n_splits=5, C_text=20.0, C_hold=1.0, vote_weight=3.0, min_holdings=50):
        self.classes = classes
        self.terms = terms
        self.n_splits = n_splits
        self.C_text = C_text
        self.C_hold = C_hold
        self.vote_weight = vote_weight
        self.min_holdings = min_holdings

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # the text column
        tags.input_tags.categorical = True  # rule field, asset class, style
        tags.input_tags.allow_nan = True  # holdings columns of funds without holdings
        return tags

    def _text(self):
        return TextModel(self.terms, self.C_text, self.vote_weight)

    def _fit_hold(self, H, y, has):
        if H is None or has.sum() < self.min_holdings or len(np.unique(y[has])) < 2:
            return None
        return HoldingsModel(self.C_hold).fit(H[has], y[has])

    def _features(self, text_m, hold_m, X, H, has):
        p_text = _align(text_m.predict_proba(X), text_m.classes_, self.classes_)
        p_hold = np.full_like(p_text, 1.0 / len(self.classes_))
        if hold_m is not None and has.any():
            p_hold[has] = _align(hold_m.predict_proba(H[has]), hold_m.classes_, self.classes_)
        return fusion_features(p_text, p_hold, has, *rule_parts(X, self.classes_)), p_text, p_hold

    def fit(self, X: pd.DataFrame, y, groups=None):
        """Fit on a featurized frame. ``groups``: fold groups (rows of one group never split between train and
        test folds); None: every row its own group."""
        check_classification_targets(y)  # ValueError for a continuous, NaN/inf or multi-output target
        y = np.asarray(y, dtype=object)
        if len(np.unique(y)) < 2:
            raise ValueError("FusedModel needs labels of at least 2 classes to fit")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"FusedModel reads a DataFrame from classifier.features.featurize, not {type(X).__name__}")
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows, y has {len(y)}")
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.classes_ = np.array(list(self.classes) or sorted(set(y)), dtype=object)
        yi = np.array([list(self.classes_).index(v) for v in y])
        T, H = text_part(X), holdings_matrix(X)
        has = has_holdings(H, len(y))
        folds = list(GroupKFold(n_splits=min(self.n_splits, len(np.unique(groups)))).split(T, y, groups))
        F = np.zeros((len(y), len(self.classes_), N_FEATURES))
        self.oof_text_proba_ = np.zeros((len(y), len(self.classes_)))
        self.oof_hold_proba_ = np.full_like(self.oof_text_proba_, np.nan)
        for tr, te in folds:
            tm = self._text().fit(T.iloc[tr], y[tr])
            hm = self._fit_hold(H.iloc[tr] if H is not None else None, y[tr], has[tr])
            F[te], pt, ph = self._features(tm, hm, T.iloc[te], H.iloc[te] if H is not None else None, has[te])
            self.oof_text_proba_[te] = pt
            if hm is not None:
                self.oof_hold_proba_[te[has[te]]] = ph[has[te]]
        self.weights_ = fit_fusion(F, yi)
        # the fusion's own out-of-fold probabilities: honest confidences for calibration and the review threshold
        self.oof_proba_ = np.zeros_like(self.oof_text_proba_)
        for tr, te in folds:
            self.oof_proba_[te] = fuse(fit_fusion(F[tr], yi[tr]), F[te])
        self.text_ = self._text().fit(T, y)
        self.hold_ = self._fit_hold(H, y, has)
        # the holdings features the model reads (names without the hold:: prefix), [] without a holdings model
        self.holdings_columns_ = list(H.columns) if (H is not None and self.hold_ is not None) else []
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.components(X)[0]

    def components(self, X: pd.DataFrame):
        """(fused, text-model and holdings-model probabilities, has-holdings flags) of a featurized frame."""
        check_is_fitted(self)
        H = holdings_matrix(X, self.holdings_columns_) if self.hold_ is not None else None
        has = has_holdings(H, len(X))
        F, p_text, p_hold = self._features(self.text_, self.hold_, text_part(X), H, has)
        return fuse(self.weights_, F), p_text, p_hold, has

    def predict(self, X):
        proba = self.predict_proba(X)  # first: an unfitted model raises NotFittedError, not AttributeError
        return self.classes_[proba.argmax(axis=1)]
