"""Per-rule coverage, overlaps, conflicts and accuracy on a labeled file (after Snorkel's ``LFAnalysis.lf_summary``).

A rule *fires* on a row when it votes in the field that decided the row. *Overlap*: another rule also fired.
*Conflict*: another rule fired for a different class. *Accuracy*: among in-scope rows where it fired, the share whose
gold class is the rule's class. *Decides* / *decisive accuracy*: the same for rows where the rule's vote won.
"""
from __future__ import annotations

from collections import defaultdict

import pandas as pd

from .labeled import ID_COLUMNS, read_labels
from .rules import RuleLayer, prepare_and_apply
from .taxonomy import Taxonomy, taxonomy_hint
from .vocabulary import load_vocabulary


def rule_summary(labels: pd.DataFrame, tax: Taxonomy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per rule with its statistics, one row per (rule, wrong row))."""
    p, rr = prepare_and_apply(labels[ID_COLUMNS].reset_index(drop=True), RuleLayer(tax), load_vocabulary())
    gold = labels["secondary"].reset_index(drop=True)
    in_scope = ~p["asset_class"].isin(tax.out_of_scope) & (gold != tax.not_applicable)
    n = len(labels)
    stats = defaultdict(lambda: dict(fires=0, overlaps=0, conflicts=0, correct=0, scored=0, decides=0,
                                     decisive_correct=0))
    wrong = []
    for i in range(n):
        hits = rr.hits[i]
        fired = {h.rule: h for h in hits}
        classes = {h.secondary for h in hits}
        for rid, h in fired.items():
            s = stats[rid]
            s["fires"] += 1
            s["overlaps"] += len(fired) > 1
            s["conflicts"] += len(classes) > 1
            if in_scope.iat[i]:
                s["scored"] += 1
                ok = gold.iat[i] == h.secondary
                s["correct"] += ok
                if rr.labels[i] == h.secondary:
                    s["decides"] += 1
                    s["decisive_correct"] += ok
                    if not ok:
                        wrong.append(dict(rule=rid, fund_code=labels["fund_code"].iat[i],
                                          fund_name=labels["fund_name"].iat[i], index_name=labels["index_name"].iat[i],
                                          gold=gold.iat[i], rule_class=h.secondary, term=h.term))
    rows = []
    for r in tax.rules:
        s = stats[r.id]
        rows.append(dict(rule=r.id, cls=r.secondary, tier=r.tier_name, coverage=s["fires"] / n, fires=s["fires"],
                         overlaps=s["overlaps"] / max(s["fires"], 1), conflicts=s["conflicts"] / max(s["fires"], 1),
                         accuracy=s["correct"] / s["scored"] if s["scored"] else float("nan"),
                         decides=s["decides"],
                         decisive_accuracy=s["decisive_correct"] / s["decides"] if s["decides"] else float("nan"),
                         wrong=s["decides"] - s["decisive_correct"]))
    abstain = sum(1 for i in range(n) if in_scope.iat[i] and rr.labels[i] is None)
    summary = pd.DataFrame(rows).set_index("rule")
    summary.attrs["abstain_in_scope"] = abstain
    summary.attrs["in_scope"] = int(in_scope.sum())
    return summary, pd.DataFrame(wrong)


def report_text(path, tax: Taxonomy, show_errors: int = 5) -> str:
    labels = read_labels(path)
    summary, wrong = rule_summary(labels, tax)
    fmt = summary.copy()
    for c in ("coverage", "overlaps", "conflicts", "accuracy", "decisive_accuracy"):
        fmt[c] = fmt[c].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    lines = [f"Rules of {tax.id} {tax.version} on {path} ({len(labels)} rows, {summary.attrs['in_scope']} in scope; "
             f"rules abstain on {summary.attrs['abstain_in_scope']})", "", fmt.to_string(), ""]
    # labels of another version (a set migrated since, or the set before a draft taxonomy's migration): a rule of a
    # class renamed or split between the two is counted wrong on every row it fires on; said, not hidden
    version = labels["taxonomy_version"].astype(str).str.strip() if "taxonomy_version" in labels.columns else None
    other = sorted(set(version) - {"", tax.version}) if version is not None else []
    if other:
        n = int(version.isin(other).sum())
        lines[1:1] = ["", f"warning: {n} of the {len(labels)} rows hold labels of taxonomy {', '.join(other)} (column "
                          f"taxonomy_version), not {tax.version}: a rule of a class renamed or split between the two "
                          f"is counted wrong on them; for the rules those labels were made with, pass "
                          f"{taxonomy_hint(other, 'labeled')}"]
    if show_errors and not wrong.empty:
        lines.append(f"Rows a rule decided wrongly (up to {show_errors} per rule):")
        for rid, g in wrong.groupby("rule", sort=False):
            lines.append(f"  {rid}: {len(g)} wrong")
            for r in g.head(show_errors).itertuples():
                lines.append(f"    {r.fund_code} {r.fund_name} [{r.index_name}] 「{r.term}」→{r.rule_class}, gold {r.gold}")
    return "\n".join(lines)
