"""Train the fused model from the labeled set and save it with its manifest.

``train()`` is what ``fundclass train`` calls. Training rows are the labeled funds that the asset-class gate keeps in
scope (out-of-scope funds never reach the model: the gate decides them). Folds are grouped by tracked index (or, for
off-exchange families, by the index read from the name), so no index is in both train and test folds. The review
threshold is the lowest out-of-fold confidence at which the accepted rows reach the target precision.

With ``[train] index_reads``, the blind reads of indices no labeled fund tracks (``read:<code>`` heads of
``agreement.csv``) add one training row per index whose readers' majority is a class (:func:`index_rows`): the text
model learns the readers' class of those indices and the second stage is fitted on them too. Every figure of the
labeled set (grouped CV, the review threshold, the agreement figures) is measured on the labeled funds alone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from .config import defaults
from .agreement import agreement_path, head_keys, read_agreement, reads_per_fund
from .doubt import (SIGNALS, AgreementCalibrator, PatternTable, SubjectAgreement, SubjectNeighbours,
                    agreement_threshold, pattern_keys, signals, subject_texts, weighted_ece)
from .evaluate import expected_calibration_error, metrics, review_threshold
from .prepare import nothing_to_read
from .features import featurize
from .holdings import HoldingsFeatures
from .inference import CompiledModel
from .labeled import ID_COLUMNS, check_classes, check_one_row_per_fund, held_still, read_labels
from .manifest import library_versions, save_model, sha256_file
from .fusion import align
from .index_key import code_keys, subject_keys
from .model import FusedModel
from .rules import RuleLayer, RuleResult, prepare_and_apply
from .taxonomy import Taxonomy
from .vocabulary import load_vocabulary

@dataclass
class TrainingData:
    X: pd.DataFrame  # classifier.features.featurize: text, rule and category columns, and hold:: columns
    y: np.ndarray
    groups: np.ndarray
    in_scope: np.ndarray  # rows the gate keeps in scope and whose label is a class (training rows)
    gate_oos: np.ndarray  # rows the gate sends out of scope
    rule_labels: list
    prepared: pd.DataFrame
    rules: RuleResult
    labeled: np.ndarray | None = None  # rows of the labeled set (the others: index rows, after them); None: all

    def __post_init__(self):
        if self.labeled is None:
            self.labeled = np.ones(len(self.y), dtype=bool)


def training_data(labels: pd.DataFrame, tax: Taxonomy, holdings: HoldingsFeatures | None = None,
                  index: pd.DataFrame | None = None) -> TrainingData:
    """The labeled set's rows, then ``index`` (:func:`index_rows`: one row per index read alone), if given."""
    n = len(labels)
    if index is not None and len(index):
        labels = pd.concat([labels, index[labels.columns]], ignore_index=True)
    p, rr = prepare_and_apply(labels[ID_COLUMNS].reset_index(drop=True), RuleLayer(tax), load_vocabulary())
    X = featurize(p, rr, holdings)
    y = labels["secondary"].to_numpy(dtype=object)
    gate_oos = p["asset_class"].isin(tax.out_of_scope).to_numpy()
    # a row with nothing to read (a decision typed on a review sheet by its fund code alone: no name, index nor
    # benchmark) settles its fund by code when tagging, but gives the model nothing to learn a class from
    in_scope = ~gate_oos & (y != tax.not_applicable) & ~nothing_to_read(p)
    groups = labels["group"].where(labels["group"] != "", labels["fund_code"]).to_numpy(dtype=object)
    return TrainingData(X, y, groups, in_scope, gate_oos, rr.labels, p, rr, np.arange(len(y)) < n)


INDEX_SOURCE = "index reads"  # the source of an index row (:func:`index_rows`)


def index_rows(labels: pd.DataFrame, agreement: pd.DataFrame, tax: Taxonomy) -> pd.DataFrame:
    """Training rows of the indices no labeled fund tracks, read alone (``read:<code>`` heads of ``agreement.csv``,
    whose group is no fund's): one row per index whose readers' majority (the head's ``label``) is a class of
    ``tax``, with the index's code and short name as ``index_code``/``index_name`` and no fund name, group its head's.
    A majority of 不适用 stays out, as every 不适用 label does (and so does a head the readers split evenly on: no
    label). Columns: the labeled set's."""
    rows = agreement[~agreement.index.isin(set(labels["group"].tolist())) & agreement["label"].isin(tax.secondaries)
                     & (agreement["label"] != tax.not_applicable)]
    out = pd.DataFrame({c: [""] * len(rows) for c in labels.columns})
    out["index_code"] = rows["index_code"].tolist()
    out["index_name"] = rows["index_name"].tolist()
    out["secondary"] = rows["label"].tolist()
    out["group"] = rows.index.tolist()
    out["source"] = INDEX_SOURCE
    out["primary"] = [tax.primary_of(c) for c in out["secondary"]]
    return out


def data_hash(path: str | Path) -> str:
    return sha256_file(path)


def one_blas_thread():
    """Training's linear algebra on one BLAS thread: a multi-threaded BLAS sums in an order that depends on the
    machine's cores, so the fitted weights differed in the 11th digit between machines; on one thread a training run
    gives the same bytes on every machine whose CPU has the same instruction set (and on a busy 2-core machine it was
    ~4x less CPU: threads waited on each other). Not across instruction sets: numpy's and OpenBLAS's AVX-512 kernels
    round otherwise than their AVX2 ones: a model trained on one differs from one trained on the other around the
    12th digit (the shipped models up to 3e3fd8c were trained on an AVX2 CPU, and `OPENBLAS_CORETYPE=Haswell
    NPY_DISABLE_CPU_FEATURES=X86_V4,AVX512_ICL` makes an AVX-512 CPU train those byte for byte; those of 7bfabcb on,
    on an AVX-512 CPU, which an AVX2 one repeats to ~12 digits, not byte for byte)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def fit(td: TrainingData, tax: Taxonomy, params: dict | None = None) -> FusedModel:
    with one_blas_thread():
        return _fit(td, tax, params)


def _fit(td: TrainingData, tax: Taxonomy, params: dict | None = None) -> FusedModel:
    cfg = {**defaults()["train"], **(params or {})}
    m = td.in_scope
    model = FusedModel(classes=tuple(tax.secondaries), terms=tuple(tax.terms()), n_splits=int(cfg["n_splits"]),
                       C_text=float(cfg["C_text"]), C_hold=float(cfg["C_hold"]),
                       vote_weight=float(cfg["vote_weight"]), min_holdings=int(cfg["min_holdings"]))
    return model.fit(td.X[m], td.y[m], groups=td.groups[m])


def oof_report(model: FusedModel, td: TrainingData, tax: Taxonomy, target_precision: float) -> dict:
    """Cross-validated figures from the model's out-of-fold predictions, over every labeled row (gate rows
    included: an out-of-scope fund the gate catches is correct at confidence 1) and those alone (not the index rows
    trained beside them)."""
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
    lab = td.labeled
    y, pred, conf, m = y[lab], pred[lab], conf[lab], m[lab]
    t, prec, review = review_threshold(conf[m], pred[m] == y[m], target_precision)
    out = metrics(y, pred, conf, labels=tax.labels)
    out.update({"ece_in_scope": expected_calibration_error(conf[m], pred[m] == y[m]), "threshold": t,
                "auto_precision": float((pred == y)[conf >= t].mean()), "review_rate": float((conf < t).mean()),
                "target_precision": target_precision})
    return out


def fit_agreement(model: FusedModel, td: TrainingData, labels: pd.DataFrame, agreement: pd.DataFrame,
                  goal: float, subject_alpha: float = 0.5, subject_min_df: int = 2, neighbour_heads: int = 0,
                  pattern_backoff: bool = False, partitions: int = 1
                  ) -> tuple[AgreementCalibrator, dict]:
    """The second stage: doubt signals of the out-of-fold predictions → the chance a blind reader agrees.

    Rows are the training rows whose head was read; target = share of the head's reads equal to the out-of-fold class;
    each fund weighs min(n, 4)/n of its head's n training funds (a holdout samples at most four funds per head).
    Index rows (``td.labeled`` False) are fitted on as the labeled set's rows are (each its own head, one fund); the
    threshold and the report's figures are the labeled set's rows' alone, with the same figures over every row read
    under ``overall``. The signals fitted on reads (the pattern table, :class:`classifier.doubt.SubjectAgreement`,
    :class:`classifier.doubt.SubjectNeighbours` when ``neighbour_heads`` > 0) are computed for heads they were not
    fitted on: the final calibrator learns from each row's signals with its own head left out, and the reported
    figures and the threshold come from calibrators (folds by head) whose signals never read their test heads, the
    training rows' own signals fitted on the training heads only. With ``partitions`` > 1 those out-of-fold
    confidences are pooled over GroupKFold(5) and ``partitions`` − 1 shuffled partitions of the heads (seeds 1, 2, …):
    one partition's threshold moved the review share by several points with the partition."""
    m, lab = td.in_scope, td.labeled
    # an index row (after the labeled set's rows) is its own head, read alone: never joined to a labeled head by its
    # short name, which may be another index's subject (see index_head_reads)
    extra = td.groups[~lab]
    index_reads = [[x for x in agreement.at[g, "reads"].split(";") if x] if g in agreement.index else []
                   for g in extra]
    reads = [r for r, keep in zip(reads_per_fund(labels, agreement) + index_reads, m) if keep]
    heads = np.concatenate([head_keys(labels).to_numpy(dtype=object), extra])[m]
    own = lab[m]  # training rows of the labeled set: what the threshold and the figures are measured on
    classes = list(model.classes_)
    pred = model.oof_proba_.argmax(axis=1)
    target = np.array([np.mean([x == classes[k] for x in r]) if r else np.nan for r, k in zip(reads, pred)])
    read = ~np.isnan(target)
    n_head = pd.Series(heads[read]).value_counts()
    weight = np.array([min(n_head[h], 4) / n_head[h] if ok else 0.0 for h, ok in zip(heads, read)])
    hits = [h for h, keep in zip(td.rules.hits, m) if keep]
    keys = np.array(pattern_keys(pred, classes, hits), dtype=object)
    texts = np.array(subject_texts(td.prepared[m]), dtype=object)

    def table(rows: np.ndarray) -> PatternTable:
        rows = rows[read[rows]]
        return PatternTable(keys[rows].tolist(), target[rows], weight[rows], heads[rows], backoff=pattern_backoff)

    def subject(rows: np.ndarray) -> SubjectAgreement:
        rows = rows[read[rows]]
        return SubjectAgreement(subject_alpha, subject_min_df).fit(texts[rows].tolist(), target[rows], weight[rows])

    def neighbours(rows: np.ndarray) -> SubjectNeighbours | None:
        rows = rows[read[rows]]
        return (SubjectNeighbours(neighbour_heads).fit(texts[rows].tolist(), heads[rows], target[rows], weight[rows])
                if neighbour_heads > 0 else None)

    def subject_oof(rows: np.ndarray) -> np.ndarray:
        """The subject signal of ``rows``, each from a subject model fitted on the other heads among them."""
        out = np.zeros(len(rows))
        for tr, te in GroupKFold(n_splits=5).split(rows, groups=heads[rows]):
            out[te] = subject(rows[tr]).predict(texts[rows[te]].tolist())
        return out

    def fitted_signals(tr: np.ndarray, te: np.ndarray):
        """Signals of every row (those of ``tr`` with their own head left out of what reads fit, those of ``te``
        from ``tr`` alone) and the read-fitted parts made from ``tr``."""
        tab, nb = table(tr), neighbours(tr)
        rate, subj = np.zeros(len(heads)), np.zeros(len(heads))
        near, agree = np.zeros(len(heads)), np.zeros(len(heads))
        rate[tr] = [tab.rate(k, leave_out_head=h) for k, h in zip(keys[tr], heads[tr])]
        rate[te] = [tab.rate(k) for k in keys[te]]
        subj[tr] = subject_oof(tr)
        if len(te):
            subj[te] = subject(tr).predict(texts[te].tolist())
        if nb is not None:
            near[tr], agree[tr] = nb.predict(texts[tr].tolist(), leave_out_heads=heads[tr].tolist())
            if len(te):
                near[te], agree[te] = nb.predict(texts[te].tolist())
        return oof_signals(model, td, rate, subj, near, agree), tab, nb

    # the calibrator's own out-of-fold confidences (folds by head) fix the threshold and the reported figures
    confs = []
    for seed in range(partitions):
        conf = np.zeros(len(heads))
        folds = GroupKFold(n_splits=5) if seed == 0 else GroupKFold(n_splits=5, shuffle=True, random_state=seed)
        for tr, te in folds.split(heads, groups=heads):
            S, tab, _ = fitted_signals(tr, te)
            tr = tr[read[tr]]
            conf[te] = AgreementCalibrator().fit(S[tr], target[tr], weight[tr], tab).predict(S[te])
        confs.append(conf)
    every = np.arange(len(heads))
    S, tab, nb = fitted_signals(every, every[:0])
    final_subject = subject(every)
    final_subject.check(texts.tolist())
    cal = AgreementCalibrator().fit(S[read], target[read], weight[read], tab, final_subject, nb)
    cal.head_reads_ = head_reads_by_index(td.prepared[lab], reads_per_fund(labels, agreement))
    cal.head_reads_.update({k: r for k, r in index_head_reads(labels, agreement).items()
                            if k not in cal.head_reads_})  # a labeled head's reads come first
    fused = model.oof_proba_.max(axis=1)

    def figures(rows: np.ndarray, t: float | None = None) -> dict:
        """The out-of-fold figures of the read rows among ``rows`` (pooled over the partitions); the threshold for
        the target agreement is theirs, or the review rate and agreement at threshold ``t``."""
        sel = rows & read
        conf = np.concatenate([c[sel] for c in confs])
        t_read, w = np.tile(target[sel], partitions), np.tile(weight[sel], partitions)
        if t is None:
            t, agree, review = agreement_threshold(conf, t_read, w, goal)
        else:
            acc = conf >= t
            agree = float(np.average(t_read[acc], weights=w[acc])) if acc.any() else float("nan")
            review = float(w[~acc].sum() / w.sum())
        return {"rows_read": int(sel.sum()), "heads_read": int(len(set(heads[sel]))), "threshold": t,
                "auto_agreement": agree, "review_rate": review,
                "mean_agreement": float(np.average(target[sel], weights=weight[sel])),
                "ece_vs_readers": weighted_ece(conf, t_read, w),
                "ece_fused_vs_readers": weighted_ece(fused[sel], target[sel], weight[sel]),
                "auc_disagreement": disagreement_auc(conf, t_read, w),
                "agreement_at_review_budget": {f"{b:.2f}": budget_agreement(conf, t_read, w, b)
                                               for b in REVIEW_BUDGETS}}

    rep = figures(own)
    rep = {**{k: rep[k] for k in ("rows_read", "heads_read")}, "partitions": partitions, "threshold": rep["threshold"],
           "target_agreement": goal, **{k: v for k, v in rep.items() if k not in ("rows_read", "heads_read",
                                                                                 "threshold")},
           "coef": dict(zip(SIGNALS, np.round(cal.coef_, 4).tolist())), "intercept": round(cal.intercept_, 4)}
    if not own.all():  # index rows trained beside the labeled set: every read row, at the labeled set's threshold
        alone = figures(np.ones_like(own))  # and at the threshold these rows would give themselves
        rep["overall"] = {**figures(np.ones_like(own), rep["threshold"]), "threshold_own": alone["threshold"],
                          "review_rate_own": alone["review_rate"]}
    return cal, rep


def disagreement_auc(conf: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    """The chance that, of a read disagreeing with the tool and a read agreeing (weighted, each row w·(1−t) of the
    one and w·t of the other), the disagreeing one has the lower confidence (ties count half): how well confidence
    ranks what readers dispute."""
    order = np.argsort(conf, kind="stable")
    c, neg, pos = conf[order], (weight * (1 - target))[order], (weight * target)[order]
    # per distinct confidence: the agreeing weight above it, and half of that at it
    uniq, start = np.unique(c, return_index=True)
    neg_at, pos_at = np.add.reduceat(neg, start), np.add.reduceat(pos, start)
    above = pos_at[::-1].cumsum()[::-1] - pos_at
    return float((neg_at * (above + 0.5 * pos_at)).sum() / (neg.sum() * pos.sum()))


REVIEW_BUDGETS = (0.05, 0.10, 0.15, 0.25)


def head_reads_by_index(prepared: pd.DataFrame, reads: list) -> dict[str, tuple[str, ...]]:
    """Index key (code, and index/benchmark subject) → the blind reads of the labeled head tracking it, so that a
    labeled fund's doubt survives when it is tagged again. A key two heads with different reads share is dropped."""
    return _reads_by_key((code_keys(prepared), subject_keys(prepared)), reads)


def _reads_by_key(key_columns, reads: list) -> dict[str, tuple[str, ...]]:
    """Key → the reads (sorted) of the rows giving it, over each column of keys (one key per row, '' none) and the
    rows' ``reads`` (lists of classes); a key two rows with different reads give is dropped."""
    out: dict[str, tuple[str, ...]] = {}
    clash = set()
    for keys in key_columns:
        for k, r in zip(keys, reads):
            if not k or not r:
                continue
            r = tuple(sorted(r))
            if out.setdefault(k, r) != r:
                clash.add(k)
    return {k: r for k, r in out.items() if k not in clash}


def index_head_reads(labels: pd.DataFrame, agreement: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Index code key → the blind reads of an index no labeled fund tracks, read alone (the rows of ``agreement.csv``
    whose group is no fund's: ``scripts/build_agreement.py``'s ``read:<code>`` heads), so that a fund tracking it has
    the readers' doubt as a labeled head's fund does. By code only: such a head's name is the index list's short name,
    which may be another index's subject (食品饮料 is the CSI's short name of 000807, and a subject of others). A code
    two such heads with different reads share is dropped."""
    rows = agreement[~agreement.index.isin(set(labels["group"].tolist())) & (agreement["reads"] != "")]
    if rows.empty:
        return {}
    keys = code_keys(pd.DataFrame({"index_code": rows["index_code"].tolist()}))
    return _reads_by_key((keys,), [[x for x in r.split(";") if x] for r in rows["reads"]])


def budget_agreement(conf: np.ndarray, target: np.ndarray, weight: np.ndarray, budget: float) -> float:
    """Reader agreement of the accepted rows when the least confident ``budget`` share (by weight) goes to review."""
    order = np.argsort(conf, kind="stable")
    cut = np.cumsum(weight[order]) / weight.sum() > budget
    acc = order[cut]
    return float(np.average(target[acc], weights=weight[acc]))


def oof_signals(model: FusedModel, td: TrainingData, pattern_rate: np.ndarray, subject_rate: np.ndarray,
                nearest: np.ndarray | None = None, neighbours: np.ndarray | None = None) -> np.ndarray:
    """Doubt signals of the training rows' out-of-fold predictions."""
    m = td.in_scope
    classes = list(model.classes_)
    pos = {c: i for i, c in enumerate(classes)}
    winner = [pos.get(w, -1) if w else -1 for w, keep in zip(td.rule_labels, m) if keep]
    hold = model.oof_hold_proba_
    has = ~np.isnan(hold).any(axis=1)
    strength = align(td.rules.strength[m], td.rules.classes_, classes)
    return signals(model.oof_proba_, model.oof_text_proba_, np.nan_to_num(hold), has, strength, winner,
                   td.X["rule_fuzzy"].to_numpy(bool)[m], pattern_rate, subject_rate, nearest, neighbours)


def train(labels_path: str | Path, tax: Taxonomy, out_dir: str | Path, holdings: HoldingsFeatures | None = None,
          params: dict | None = None, holdings_source: str = "") -> dict:
    cfg = {**defaults()["train"], **(params or {})}
    # the labels, the reads beside them and their hashes (which name the model) of one commit: a review import or a
    # migration committed while the model fits is neither half read nor claimed by the manifest
    with held_still(labels_path):
        labels = read_labels(labels_path)
        agreement = read_agreement(labels_path)
        dh = data_hash(labels_path)
        ah = data_hash(agreement_path(labels_path)) if agreement is not None else ""
    check_classes(labels, labels_path, tax)
    check_one_row_per_fund(labels, Path(labels_path))  # two rows of a fund: two labels, or one label counted twice
    extra = index_rows(labels, agreement, tax) if agreement is not None and cfg["index_reads"] else None
    td = training_data(labels, tax, holdings, extra)
    model = fit(td, tax, cfg)
    rep = oof_report(model, td, tax, float(cfg["target_precision"]))
    cal, agree_rep = (None, None)
    if agreement is not None:
        with one_blas_thread():
            cal, agree_rep = fit_agreement(model, td, labels, agreement, float(cfg["target_agreement"]),
                                           float(cfg["subject_alpha"]), int(cfg["subject_min_df"]),
                                           int(cfg["neighbour_heads"]), bool(cfg["pattern_backoff"]),
                                           int(cfg["agreement_partitions"]))
    # the reads the confidence is fitted on are part of what the model is (ah): new reads, a new version
    manifest = {
        "model_version": f"{tax.id}-{dh[:8]}-" + hashlib.sha256(repr((sorted(cfg.items()), holdings_source,
                                                                      model.holdings_columns_, ah)).encode()
                                                                ).hexdigest()[:6],
        "taxonomy": {"id": tax.id, "version": tax.version, "sha256": tax.sha256, "path": Path(tax.path).name},
        "vocabulary_sha256": load_vocabulary().sha256,
        "labeled_data": {"path": str(labels_path), "sha256": dh, "rows": int(len(labels)),
                         "training_rows": int((td.in_scope & td.labeled).sum()),
                         **({"index_rows": int((td.in_scope & ~td.labeled).sum())} if extra is not None else {}),
                         "agreement_sha256": ah},
        "holdings": {"source": holdings_source, "funds": int(holdings.table.shape[0]) if holdings else 0,
                     "columns": model.holdings_columns_},
        "params": {k: cfg[k] for k in sorted(cfg)},
        "threshold": agree_rep["threshold"] if agree_rep else rep["threshold"],
        "confidence": "reader agreement" if agree_rep else "label precision",
        "metrics_agreement": agree_rep,
        "metrics_cv": {k: rep[k] for k in ("n", "accuracy", "macro_f1", "ece", "ece_in_scope", "auto_precision",
                                           "review_rate", "target_precision")},
        "classes": list(model.classes_),
        "libraries": library_versions(),
    }
    compiled = CompiledModel(model, cal)
    check = td.X[td.in_scope].iloc[:500]
    if not np.allclose(compiled.predict_proba(check), model.predict_proba(check), atol=1e-6):
        raise RuntimeError("compiled model disagrees with the fitted model")  # a bug, not a user error
    return save_model(out_dir, compiled, manifest)
