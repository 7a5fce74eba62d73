"""Metrics for a labeled comparison: accuracy, macro-F1, per-class precision/recall, confusion matrix, expected
calibration error, the review threshold for a target precision, a reliability diagram and a markdown report."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from .io import atomic_write_bytes

N_BINS = 15


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE over equal-width confidence bins: Σ (n_b / n) · |accuracy_b − mean confidence_b|."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if len(confidence) == 0:
        return float("nan")
    bins = np.clip((confidence * n_bins).astype(int), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - confidence[m].mean())
    return float(ece)


def review_threshold(confidence: np.ndarray, correct: np.ndarray, target_precision: float) -> tuple[float, float, float]:
    """Lowest threshold t such that rows with confidence ≥ t are correct at ≥ ``target_precision``.

    Returns (t, precision of the accepted rows, share sent to review).
    """
    c, ok = np.asarray(confidence, float), np.asarray(correct, bool)
    order = np.argsort(-c, kind="stable")
    cum_prec = np.cumsum(ok[order]) / np.arange(1, len(c) + 1)
    good = np.flatnonzero(cum_prec >= target_precision)
    if len(good) == 0:
        return 1.01, float("nan"), 1.0
    k = good.max()  # accept as many as possible while the precision holds
    t = float(c[order][k])
    accepted = c >= t
    return t, float(ok[accepted].mean()), float(1 - accepted.mean())


def metrics(gold, pred, confidence=None, labels=None) -> dict:
    gold, pred = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    labels = list(labels) if labels is not None else sorted(set(gold) | set(p for p in pred if p is not None))
    out = {"n": int(len(gold)), "accuracy": float((gold == pred).mean()) if len(gold) else float("nan"),
           "macro_f1": float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))}
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    out["per_class"] = {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                        for i, lab in enumerate(labels)}
    if confidence is not None:
        out["ece"] = expected_calibration_error(confidence, gold == pred)
    return out


def confusion_table(gold, pred, labels) -> pd.DataFrame:
    pred = ["(弃权)" if p is None else p for p in pred]
    labs = list(labels) + (["(弃权)"] if "(弃权)" in pred else [])
    return pd.DataFrame(confusion_matrix(gold, pred, labels=labs), index=labs, columns=labs)


def reliability_diagram(confidence, correct, path: str | Path, title: str = "Reliability") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c, ok = np.asarray(confidence, float), np.asarray(correct, float)
    edges = np.linspace(0, 1, N_BINS + 1)
    bins = np.clip((c * N_BINS).astype(int), 0, N_BINS - 1)
    xs, ys, ns = [], [], []
    for b in range(N_BINS):
        m = bins == b
        if m.any():
            xs.append(c[m].mean())
            ys.append(ok[m].mean())
            ns.append(int(m.sum()))
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.bar(edges[:-1], [0] * N_BINS, width=1 / N_BINS, align="edge")
    ax.plot(xs, ys, "o-", label="observed accuracy")
    for x, y, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}  (ECE {expected_calibration_error(c, ok):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper left")
    fig.tight_layout()
    atomic_write_bytes(path, lambda t: fig.savefig(t, format="png"))
    plt.close(fig)


def markdown_report(title: str, m: dict, confusion: pd.DataFrame, extra: list[str] | None = None) -> str:
    lines = [f"# {title}", "", f"- rows: {m['n']}", f"- accuracy: {m['accuracy']:.4f}", f"- macro-F1: {m['macro_f1']:.4f}"]
    if "ece" in m:
        lines.append(f"- expected calibration error: {m['ece']:.4f}")
    lines += list(extra or []) + ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab, v in m["per_class"].items():
        lines.append(f"| {lab} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    lines += ["", "## Confusion matrix (rows: gold, columns: predicted)", "", confusion.to_markdown()]
    return "\n".join(lines) + "\n"
