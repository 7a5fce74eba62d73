"""What moved between two tagged runs (issue 11): ``fundclass diff OLD NEW -o changes.xlsx``.

The two files may be CSV, XLSX or Parquet, written by different model versions, even under different taxonomies
(said on the first line of the summary). Funds are matched by their six-digit fund code (a row without a code by its
name; a code repeated within one file is matched occurrence by occurrence). The tables:

``summary``  the figures of the one-screen summary, one per row;
``changed``  funds whose class changed: old and new class and confidence, ``new_review_decision`` (the code of the
             fund whose review decision gave the new class, '' none: a file tagged before that column existed shows
             none), and both evidences (the new evidence says why the new class, including ``稳定性`` notes of
             ``tag --previous`` and ``人工复核`` review decisions);
``review``   funds that crossed the review threshold (``needs_review`` false → true or true → false) with their
             confidences;
``flows``    the class changes counted by (old class, new class);
``added``    funds only in NEW; ``gone``: funds only in OLD.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .io import check_not_input, output_files, write_sheets
from .tagged import TaggedRun, read_tagged

DIFF_REQUIRED = ("secondary", "confidence", "needs_review", "evidence")
RUN_COLUMNS = ["fund_code", "fund_name", "primary", "secondary", "confidence", "needs_review", "evidence"]
NONE = "(无)"


def match_keys(run: TaggedRun) -> pd.Series:
    """One key per row: the fund code (else ``name:`` and the name), with ``#2``, ``#3`` … on repeats."""
    base = run.code.where(run.code != "", "name:" + run.name)
    nth = base.groupby(base).cumcount()
    return base.where(nth == 0, base + "#" + (nth + 1).astype(str))


def _view(run: TaggedRun) -> pd.DataFrame:
    sec = run.column("secondary").str.strip()
    prim = run.column("primary").str.strip() if "primary" in run.frame.columns else pd.Series("", index=sec.index)
    return pd.DataFrame({"key": match_keys(run).values, "fund_code": run.code.values, "fund_name": run.name.values,
                         "primary": prim.values, "secondary": sec.values, "confidence": run.confidence.values,
                         "needs_review": run.needs_review.values, "evidence": run.column("evidence").values,
                         "review_decision": run.column("review_decision").str.strip().replace("nan", "").values,
                         "taxonomy_version": run.column("taxonomy_version").str.strip().values,
                         "model_version": run.column("model_version").str.strip().values})


@dataclass
class Changes:
    """The comparison of two tagged runs; ``lines()`` is the one-screen summary."""

    old_path: str
    new_path: str
    n_old: int
    n_new: int
    added: pd.DataFrame
    gone: pd.DataFrame
    changed: pd.DataFrame
    review: pd.DataFrame
    flows: pd.DataFrame
    old_taxonomies: list[str]
    new_taxonomies: list[str]
    old_models: list[str]
    new_models: list[str]
    warnings: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def taxonomy_changed(self) -> bool:
        """Whether the two runs name different taxonomies; a run with no rows (a header-only file) names none, and
        is no evidence of a change."""
        return bool(self.old_taxonomies) and bool(self.new_taxonomies) and (
            set(self.old_taxonomies) != set(self.new_taxonomies))

    @property
    def primary_changed(self) -> int:
        return int((self.changed["old_primary"] != self.changed["new_primary"]).sum()) if len(self.changed) else 0

    def figures(self) -> pd.DataFrame:
        into = int((self.review["change"] == "into review").sum()) if len(self.review) else 0
        confident = int((~self.changed["new_needs_review"].astype(bool)).sum()) if len(self.changed) else 0
        decided = int((self.changed["new_review_decision"] != "").sum()) if len(self.changed) else 0
        rows = [("old file", self.old_path), ("new file", self.new_path),
                ("old taxonomy", ", ".join(self.old_taxonomies)), ("new taxonomy", ", ".join(self.new_taxonomies)),
                ("taxonomies differ", "yes" if self.taxonomy_changed else "no"),
                ("old model", ", ".join(self.old_models)), ("new model", ", ".join(self.new_models)),
                ("old funds", self.n_old), ("new funds", self.n_new),
                ("in both", self.n_new - len(self.added)), ("added", len(self.added)), ("gone", len(self.gone)),
                ("class changed", len(self.changed)), ("primary class changed", self.primary_changed),
                ("changed to a confident class", confident), ("changed by a review decision", decided),
                ("class changed, in review", len(self.changed) - confident),
                ("into review", into), ("out of review", len(self.review) - into)]
        return pd.DataFrame(rows, columns=["figure", "value"]).astype({"value": str})

    def lines(self, examples: int = 12, width: int = 110) -> list[str]:
        out = [f"{self.old_path} → {self.new_path}"]
        # a run with no rows (a header-only file) records no version: said so, not taken for another taxonomy
        unsaid = [side for side, rows in (("old", self.n_old), ("new", self.n_new)) if not rows]
        none = f" ({' and '.join(unsaid)} run: no rows, no version recorded)" if unsaid else ""
        if self.taxonomy_changed:
            out.append(f"the two runs used different taxonomies: old {', '.join(self.old_taxonomies) or '?'}, new "
                       f"{', '.join(self.new_taxonomies) or '?'}; class changes include the taxonomy's own")
        elif unsaid:
            out.append(f"taxonomy {', '.join(self.new_taxonomies or self.old_taxonomies) or '?'}{none}")
        else:
            out.append(f"taxonomy {', '.join(self.new_taxonomies) or '?'} (same in both)")
        if unsaid:
            models = f"model {', '.join(self.new_models or self.old_models) or '?'}{none}"
        else:
            models = (f"model {', '.join(self.old_models) or '?'} → {', '.join(self.new_models) or '?'}"
                      if self.old_models != self.new_models else f"model {', '.join(self.new_models) or '?'} (same)")
        out.append(models)
        f = dict(self.figures().values.tolist())
        out.append(f"funds: {f['old funds']} → {f['new funds']} ({f['in both']} in both, {f['added']} added, "
                   f"{f['gone']} gone)")
        out.append(f"class changed: {f['class changed']} (primary class: {f['primary class changed']}): "
                   f"{f['changed to a confident class']} to a class the new run is confident of"
                   + (f" ({f['changed by a review decision']} given by a review decision)"
                      if f['changed by a review decision'] != "0" else "") + ", "
                   f"{f['class changed, in review']} in review (needs_review true)")
        out.append(f"review threshold crossed: {f['into review']} into review, {f['out of review']} out of it")
        if len(self.flows):
            out.append("largest moves (old → new: funds):")
            for r in self.flows.head(8).itertuples():
                out.append(f"  {r.old_secondary} → {r.new_secondary}: {r.funds}")
        if len(self.changed):
            out.append(f"changed funds (first {min(examples, len(self.changed))} of {len(self.changed)}), new evidence:")
            for r in self.changed.head(examples).itertuples():
                line = (f"  {r.fund_code or '-'} {r.fund_name}: {r.old_secondary or NONE} → {r.new_secondary or NONE} "
                        f"({_conf(r.new_confidence)}) {r.new_evidence}")
                out.append(line if len(line) <= width else line[: width - 1] + "…")
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _conf(v) -> str:
    return "?" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def compare(old: TaggedRun, new: TaggedRun) -> Changes:
    """Compare two tagged runs fund by fund (see the module docstring)."""
    o, n = _view(old), _view(new)
    warnings = []
    for run, v in ((old, o), (new, n)):
        dup = int(v["key"].str.contains("#", regex=False).sum())
        if dup:
            warnings.append(f"{run.path}: {dup} rows repeat a fund code of the same file; matched occurrence by "
                            f"occurrence")
    both = o.merge(n, on="key", how="inner", suffixes=("_old", "_new"), sort=False)
    added = n[~n["key"].isin(o["key"])][RUN_COLUMNS].reset_index(drop=True)
    gone = o[~o["key"].isin(n["key"])][RUN_COLUMNS].reset_index(drop=True)
    moved = both[both["secondary_old"] != both["secondary_new"]]
    changed = pd.DataFrame({
        "fund_code": moved["fund_code_new"], "fund_name": moved["fund_name_new"],
        "old_primary": moved["primary_old"], "old_secondary": moved["secondary_old"],
        "old_confidence": moved["confidence_old"], "old_needs_review": moved["needs_review_old"],
        "new_primary": moved["primary_new"],
        "new_secondary": moved["secondary_new"], "new_confidence": moved["confidence_new"],
        "new_needs_review": moved["needs_review_new"], "new_review_decision": moved["review_decision_new"],
        "new_evidence": moved["evidence_new"],
        "old_evidence": moved["evidence_old"]})
    # changes to a class the new run is confident of first (they are the ones that stick), then by the size of the move
    size = changed.groupby(["old_secondary", "new_secondary"])["fund_code"].transform("size")
    changed = (changed.assign(_r=changed["new_needs_review"].astype(bool), _n=-size)
               .sort_values(["_r", "_n", "old_secondary", "new_secondary", "fund_code"], kind="stable")
               .drop(columns=["_r", "_n"]).reset_index(drop=True))
    crossed = both[both["needs_review_old"] != both["needs_review_new"]]
    review = pd.DataFrame({
        "fund_code": crossed["fund_code_new"], "fund_name": crossed["fund_name_new"],
        "change": np.where(crossed["needs_review_new"], "into review", "out of review"),
        "old_secondary": crossed["secondary_old"], "new_secondary": crossed["secondary_new"],
        "old_confidence": crossed["confidence_old"], "new_confidence": crossed["confidence_new"],
        "new_evidence": crossed["evidence_new"]})
    review = review.sort_values(["change", "new_confidence", "fund_code"], kind="stable").reset_index(drop=True)
    flows = (changed.assign(old_secondary=changed["old_secondary"].replace("", NONE),
                            new_secondary=changed["new_secondary"].replace("", NONE))
             .groupby(["old_secondary", "new_secondary"]).size().rename("funds").reset_index()
             .sort_values(["funds", "old_secondary", "new_secondary"], ascending=[False, True, True], kind="stable")
             .reset_index(drop=True)) if len(changed) else pd.DataFrame(columns=["old_secondary", "new_secondary",
                                                                                  "funds"])
    return Changes(old.path, new.path, len(o), len(n), added, gone, changed, review, flows,
                   old.versions("taxonomy_version"), new.versions("taxonomy_version"),
                   old.versions("model_version"), new.versions("model_version"),
                   warnings + list(old.warnings) + list(new.warnings))


SHEETS = ("summary", "changed", "review", "flows", "added", "gone")


def write_changes(ch: Changes, out_path: str | Path) -> list[Path]:
    """The tables as ``.xlsx`` sheets, ``.md`` sections or a folder of CSVs."""
    frames = {"summary": ch.figures(), "changed": ch.changed, "review": ch.review, "flows": ch.flows,
              "added": ch.added, "gone": ch.gone}
    ch.written, cut = write_sheets(frames, out_path, title=f"{Path(ch.old_path).name} → {Path(ch.new_path).name}")
    ch.warnings += cut
    return ch.written


def diff_files(old_path, new_path, out_path=None) -> Changes:
    """``fundclass diff``: read both tagged files, compare, and write the tables when ``out_path`` is given."""
    if out_path is not None:
        for target in output_files(out_path, SHEETS):
            check_not_input(target, old_path, new_path)
    ch = compare(read_tagged(old_path, DIFF_REQUIRED), read_tagged(new_path, DIFF_REQUIRED))
    if out_path is not None:
        write_changes(ch, out_path)
    return ch
