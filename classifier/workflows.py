"""What ``fundclass train`` and ``fundclass eval`` do, as library functions returning report lines."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import default_path, raw_data_dir
from .errors import InputError
from .evaluate import confusion_table, markdown_report, metrics, reliability_diagram
from .holdings import holdings_features, load_sw_map
from .io import atomic_write_bytes, read_table
from .manifest import read_manifest
from .pipeline import Tagger
from .taxonomy import load_taxonomy

def _holdings(holdings, sw_map, allow_default: bool):
    """(holdings features or None, the source's file name for the manifest, what the run says of them).

    ``holdings`` given: that file. Else, with ``allow_default`` (``fundclass train``): the file ``[paths].holdings``
    names when a configuration sets it (relative to the raw data folder), else the holdings table shipped with the
    package, on every machine the same, whether or not the raw data folder exists there: the manifest names the file
    it was derived from, whose features it gives bit for bit (:func:`classifier.holdings.load_shipped_holdings`)."""
    from .config import config_file
    from .holdings import SHIPPED_HOLDINGS, SHIPPED_HOLDINGS_SOURCE, load_shipped_holdings

    if not holdings and not allow_default:
        return None, "", "none"
    configured = default_path("holdings") if not holdings else ""
    if holdings or configured:
        path = Path(holdings) if holdings else raw_data_dir() / configured
        if not path.exists():
            raise InputError(f"{holdings}: no such holdings file" if holdings else
                             f"{path}: no such holdings file (paths.holdings = {configured!r} of "
                             f"{config_file() or 'the configuration'}, relative to the raw data folder); set it "
                             f"to '' to train on the holdings table shipped with the tool, or pass --holdings FILE")
        H = holdings_features(path, load_sw_map(sw_map))
        return H, path.name, f"{H.table.shape[0]} funds ({path.name})"
    if sw_map:
        raise InputError(f"--sw-map maps the stocks of a holdings file: pass --holdings FILE with it (the holdings "
                         f"table shipped with the tool, {SHIPPED_HOLDINGS.name}, holds industry weights already "
                         f"computed with the shipped Shenwan map)")
    H = load_shipped_holdings()
    return H, SHIPPED_HOLDINGS_SOURCE, (f"{H.table.shape[0]} funds (the shipped table {SHIPPED_HOLDINGS.name}, "
                                        f"derived from {SHIPPED_HOLDINGS_SOURCE})")


def run_train(labeled, taxonomy_path, out_dir, holdings, sw_map, no_holdings, compare_to, params=None):
    from .train import train

    tax = load_taxonomy(taxonomy_path)
    H, src, held = (None, "", "none (--no-holdings)") if no_holdings else _holdings(holdings, sw_map, True)
    before = None
    if compare_to:  # loaded before training: -o may be the same directory
        from .manifest import load_model

        before = read_manifest(compare_to)
        previous = load_model(compare_to, tax)[0] if before["taxonomy"]["sha256"] == tax.sha256 else None
    m = train(labeled, tax, out_dir, H, params=params, holdings_source=src if H is not None else "")
    cv = m["metrics_cv"]
    lines = [f"model {m['model_version']} for {tax.id} {tax.version} -> {out_dir}",
             f"training rows: {m['labeled_data']['training_rows']} of {m['labeled_data']['rows']}"
             + (f" (and {m['labeled_data']['index_rows']} rows of indices read alone)"
                if "index_rows" in m["labeled_data"] else "") + f"; holdings: {held}",
             f"grouped {m['params']['n_splits']}-fold CV (labeled funds): accuracy {cv['accuracy']:.4f}  "
             f"macro-F1 {cv['macro_f1']:.4f}  ECE {cv['ece']:.4f}",
             f"label-precision cut: auto-accepted precision {cv['auto_precision']:.4f}, "
             f"review rate {cv['review_rate']:.2%}"]
    ag = m.get("metrics_agreement")
    if ag:
        lines += [f"confidence = chance a blind reader agrees ({ag['heads_read']} heads read, out-of-fold mean agreement "
                  f"{ag['mean_agreement']:.4f}): ECE vs readers {ag['ece_vs_readers']:.4f} "
                  f"(fused probability alone {ag['ece_fused_vs_readers']:.4f}), AUC of disagreement "
                  f"{ag['auc_disagreement']:.4f}",
                  f"review threshold {m['threshold']:.3f}: auto-accepted agree with readers {ag['auto_agreement']:.4f}, "
                  f"review rate {ag['review_rate']:.2%} (target agreement {ag['target_agreement']})",
                  "  reader agreement of auto-accepted rows at a review budget of " +
                  ", ".join(f"{float(b):.0%}: {a:.4f}" for b, a in ag["agreement_at_review_budget"].items())]
        if "overall" in ag:
            o = ag["overall"]
            lines.append(f"  with the indices read alone ({o['heads_read']} heads read): ECE vs readers "
                         f"{o['ece_vs_readers']:.4f}, AUC of disagreement {o['auc_disagreement']:.4f}, review rate "
                         f"{o['review_rate']:.2%} at this threshold ({o['review_rate_own']:.2%} at theirs, "
                         f"{o['threshold_own']:.3f})")
    else:
        lines.append(f"review threshold {m['threshold']:.3f} (no agreement.csv beside the labels: confidence is the "
                     f"fused probability, calibrated on the labels)")
    from .labeled import migration_pending, read_labels

    # funds the taxonomy migration queued and no one decided yet are not in the set: the model learned nothing of them
    labels = read_labels(labeled)
    undecided = migration_pending(labeled, set(labels["fund_code"]))
    if undecided:
        lines.append(f"warning: {len(undecided)} funds the taxonomy migration to {tax.version} took out of the labeled "
                     f"set are still undecided in its review queue ({', '.join(undecided[:10])}"
                     f"{' …' if len(undecided) > 10 else ''}): this model learned nothing of them; decide them in the "
                     f"queue, import it (`fundclass review import QUEUE --taxonomy {tax.path}`) and train again")
    # a class of the taxonomy no labeled fund holds (a split's new class left undecided): the model never saw it
    held = set(labels["secondary"].tolist())
    unseen = [c for c in tax.secondaries if c not in held]
    if unseen:
        lines.append(f"warning: no fund of the labeled set holds {len(unseen)} class(es) of {tax.version}: "
                     f"{', '.join(unseen)}; this model learned nothing of them (only the rules give them, and the "
                     f"model may overrule those rules): label or decide funds of them and train again")
    if before:
        lines += compare_models(compare_to, before, previous, out_dir, m, labeled, tax, H)
    return lines


def compare_models(old_dir, old_manifest, old_model, new_dir, new_manifest, labeled, tax, H) -> list[str]:
    """The previous and the new model side by side: their cross-validated figures, and both scored on the same
    rows of the current labeled set (both saw most of them in training: this shows what the retraining changed)."""
    from sklearn.metrics import f1_score

    from .labeled import read_labels
    from .manifest import load_model
    from .train import training_data

    a, b = old_manifest["metrics_cv"], new_manifest["metrics_cv"]
    lines = [f"compared with {old_dir} ({old_manifest['model_version']}):",
             "  cross-validated (each on its own labeled set):"]
    for k in ("accuracy", "macro_f1", "ece", "auto_precision", "review_rate"):
        lines.append(f"    {k:15s} {a.get(k, float('nan')):.4f} -> {b[k]:.4f}")
    if old_model is None:
        lines.append("  the previous model was trained for another taxonomy: no row-by-row comparison")
        return lines
    td = training_data(read_labels(labeled), tax, H)
    y = td.y[td.in_scope]
    prepared = td.prepared[td.in_scope]
    scores = {}
    for name, model, man in (("previous", old_model, old_manifest), ("new", load_model(new_dir, tax)[0], new_manifest)):
        # through the tagger, so each model's confidence and threshold mean what its manifest says
        out = Tagger(tax, model, man, holdings=H).predict(prepared)
        scores[name] = (out["secondary"].to_numpy(dtype=object), out["needs_review"].to_numpy(bool))
    (po, ro), (pn, rn) = scores["previous"], scores["new"]
    lines.append(f"  on the same {len(y)} in-scope labeled funds (current labels):")
    lines.append(f"    accuracy        {(po == y).mean():.4f} -> {(pn == y).mean():.4f}")
    lines.append(f"    review rate     {ro.mean():.4f} -> {rn.mean():.4f}")
    lines.append(f"    predictions changed: {(po != pn).sum()}")
    labs = sorted(set(y))
    fo = f1_score(y, po, labels=labs, average=None, zero_division=0)
    fn = f1_score(y, pn, labels=labs, average=None, zero_division=0)
    better = [f"{c} {x:.3f}→{z:.3f}" for c, x, z in zip(labs, fo, fn) if z > x + 1e-9]
    worse = [f"{c} {x:.3f}→{z:.3f}" for c, x, z in zip(labs, fo, fn) if z < x - 1e-9]
    lines.append(f"    classes better: {', '.join(better) or 'none'}")
    lines.append(f"    classes worse:  {', '.join(worse) or 'none'}")
    return lines


def _check_gold(frame, gold: list[str], header_row: int, gold_path, tax) -> None:
    """Refuse a gold file whose ``secondary`` holds labels that are not classes of ``tax`` (blank: no class, as the
    tool gives a text that is no fund), naming the file, the column and the rows: a gold file of another taxonomy
    (E Fund's labels evaluated without ``--taxonomy``) would otherwise stop on an internal error, and a label typed
    by hand would count as the model's error."""
    from .labeled import _folded

    bad = [i for i, g in enumerate(gold) if g and g not in tax.labels]
    if not bad:
        return
    versions = sorted(set(frame["taxonomy_version"].astype(str).str.strip()) - {"", tax.version}) \
        if "taxonomy_version" in frame.columns else []
    folded = {_folded(lab): lab for lab in tax.labels}
    rows = "; ".join(f"row {header_row + i + 2}: {gold[i]!r}"
                     + (f" (did you mean {folded[_folded(gold[i])]!r}?)" if _folded(gold[i]) in folded else "")
                     for i in bad[:10]) + (" …" if len(bad) > 10 else "")
    raise InputError(f"{gold_path}: column 'secondary' holds {len(bad)} label(s) that are not classes of "
                     f"{tax.version}: {rows}; "
                     + (f"the file's taxonomy_version is {', '.join(versions)}: pass the --taxonomy it was labeled for"
                        if versions else "correct them, or pass the --taxonomy the file was labeled for")
                     + ", nothing evaluated")


def run_eval(gold_path, model_dir, taxonomy_path, holdings, sw_map, out_dir):
    table = read_table(gold_path)
    gold_frame = table.frame
    if "secondary" not in gold_frame.columns:
        raise InputError(f"{gold_path}: gold file needs a 'secondary' column with the true labels")
    tagger = Tagger.load(model_dir, taxonomy_path, labels_path=None)  # the model judged, not the review decisions
    if holdings:
        tagger.holdings = _holdings(holdings, sw_map, allow_default=False)[0]
    gold = gold_frame["secondary"].astype(str).str.replace(" ", "", regex=False).tolist()
    _check_gold(gold_frame, gold, table.header_row, gold_path, tagger.taxonomy)
    inputs = gold_frame.drop(columns=[c for c in ("primary", "secondary") if c in gold_frame.columns])
    tagged = tagger.tag(inputs, source=str(gold_path))
    pred, conf = tagged["secondary"].tolist(), tagged["confidence"].astype(float).to_numpy()
    tax = tagger.taxonomy
    m = metrics(gold, pred, conf, labels=tax.labels)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = [lab for lab in tax.labels if lab in set(gold) | set(pred)]
    cm = confusion_table(gold, pred, labels)
    correct = np.array(gold, dtype=object) == np.array(pred, dtype=object)
    reliability_diagram(conf, correct, out / "reliability.png", title=f"{tagger.model_version}")
    review = tagged["needs_review"].astype(bool).to_numpy()
    extra = [f"- model: {tagger.model_version}; taxonomy: {tax.version}; gold: {gold_path}",
             f"- needs review: {review.mean():.2%}; accuracy of auto-accepted rows: "
             f"{correct[~review].mean() if (~review).any() else float('nan'):.4f}"]
    text = markdown_report(f"Evaluation on {Path(gold_path).name}", m, cm, extra)
    atomic_write_bytes(out / "report.md", lambda t: Path(t).write_text(text, encoding="utf-8"))
    lines = [f"rows {m['n']}  accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  ECE {m['ece']:.4f}",
             extra[1].lstrip("- "), "", "per class (precision / recall / support):"]
    lines += [f"  {k}: {v['precision']:.3f} / {v['recall']:.3f} / {v['support']}" for k, v in m["per_class"].items()
              if v["support"] or v["precision"]]
    lines += ["", "confusion matrix (rows gold, columns predicted):", cm.to_string(), "",
              f"wrote {out / 'report.md'} and {out / 'reliability.png'}"]
    return lines
