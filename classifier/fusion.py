"""Fuse rules, text model and holdings model into one calibrated probability per class.

``fuse`` is a conditional logit: for row i and class k,

    score(i, k) = w · f(i, k),    P(k | i) = softmax_k score(i, k)

with class-symmetric features f(i, k):

    log p_text(i, k)                  the text model's probability (floored at 1e-3)
    log p_hold(i, k) · has_holdings   the holdings model's probability, for funds with holdings
    vote(i, k)                        the rule layer's best vote for k (tier/100, 0 when no rule voted for k)
    winner(i, k)                      1 when the rule layer decided k
    winner(i, k) · from_index         … and decided it on the tracked index
    winner(i, k) · fuzzy              … and decided it on a near-miss term

The six weights are shared by all classes (a class with few labels borrows the trust the rules earned on the others)
and are fitted by maximum likelihood on out-of-fold base predictions, which is what makes the probabilities
calibrated. A class with no labels at all is not reachable: the text model is confidently elsewhere; such classes
(e.g. from a taxonomy split) get labels through review before retraining. Tie policy: the class with the highest probability wins; exact
ties go to the class listed first in the taxonomy, and a tie necessarily has confidence ≤ 0.5, which sends it to
review at any threshold above 0.5.
"""
from __future__ import annotations

import numpy as np

FLOOR = 1e-3
N_FEATURES = 6
L2 = 1e-3


def align(proba: np.ndarray, have, classes) -> np.ndarray:
    """Columns of ``proba`` (ordered as ``have``) placed in the order of ``classes``; absent classes get 0."""
    out = np.zeros((proba.shape[0], len(classes)))
    idx = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(have):
        out[:, idx[c]] = proba[:, j]
    return out


def has_holdings(H, n: int) -> np.ndarray:
    """Rows whose holdings features are all present and not all zero."""
    if H is None:
        return np.zeros(n, dtype=bool)
    return H.notna().all(axis=1).values & (H.abs().sum(axis=1).values > 0)


def rule_parts(X, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From a featurized frame (:func:`classifier.features.featurize`): per-class vote strengths, the rule winner one-hot, decided-on-index and fuzzy flags."""
    votes = X[[f"vote::{c}" for c in classes]].to_numpy(float)
    idx = {c: j for j, c in enumerate(classes)}
    winner = np.zeros_like(votes)
    for i, w in enumerate(X["rule_winner"].tolist()):
        if w in idx:
            winner[i, idx[w]] = 1.0
    return votes, winner, (X["rule_field"] == "index").to_numpy(), X["rule_fuzzy"].to_numpy(bool)


def fusion_features(p_text: np.ndarray, p_hold: np.ndarray, has: np.ndarray, votes: np.ndarray,
                    winner: np.ndarray, from_index: np.ndarray, fuzzy: np.ndarray) -> np.ndarray:
    """Stack the per-class features into an (n, K, 6) array. ``winner`` is (n, K) one-hot (all 0 on abstain)."""
    h = has.astype(float)[:, None]
    w = winner.astype(float)
    F = np.empty(p_text.shape + (N_FEATURES,))  # filled in place: no second copy of the six (n, K) planes
    np.log(p_text + FLOOR, out=F[:, :, 0])
    np.multiply(np.log(p_hold + FLOOR), h, out=F[:, :, 1])
    F[:, :, 2] = votes
    F[:, :, 3] = w
    np.multiply(w, from_index.astype(float)[:, None], out=F[:, :, 4])
    np.multiply(w, fuzzy.astype(float)[:, None], out=F[:, :, 5])
    return F


def _log_softmax(s: np.ndarray) -> np.ndarray:
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def _nll(w: np.ndarray, F: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    s = F @ w
    ls = _log_softmax(s)
    n = len(y)
    nll = -ls[np.arange(n), y].sum() / n + L2 * (w @ w)
    p = np.exp(ls)
    grad = (np.einsum("nk,nkf->f", p, F) - F[np.arange(n), y].sum(axis=0)) / n + 2 * L2 * w
    return nll, grad


def fit_fusion(F: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Maximum-likelihood weights (deterministic: fixed start, L-BFGS)."""
    from scipy.optimize import minimize  # training only

    w0 = np.array([1.0, 0.5, 1.0, 1.0, 0.5, -0.5])
    res = minimize(_nll, w0, args=(F, y), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x


def fuse(w: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Calibrated class probabilities (n, K)."""
    return np.exp(_log_softmax(F @ w))
