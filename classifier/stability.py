"""Stable labels on re-tagging (issue 11): ``fundclass tag INPUT -o OUT --previous OLD``.

Users of Morningstar-style categories expect a fund's category not to flicker from one run to the next. With
``--previous``, a post-step after tagging compares each fund (by six-digit fund code) with the class it had in the
previous tagged run of the same taxonomy:

* same class: nothing changes;
* a different class the new run is confident of (``needs_review`` false: confidence at or above the review threshold,
  or a review decision, or an out-of-scope asset class): the new class is taken, and the evidence says so
  (``稳定性: 上次 … 已更新``);
* a different class the new run is not confident of (``needs_review`` true), or no class at all: the previous class is
  kept, with ``primary`` to match, ``confidence`` becomes the chance a reader picks the kept class (its share in this
  run's ``alternatives``, 0 when it is not listed there, i.e. below 0.05); the new class joins ``alternatives`` in
  its place (by probability); the row stays in review, and the evidence starts ``稳定性: 保留上次分类 …``;
* unless the previous class was a review decision's (its ``review_decision`` names the deciding fund; in a file tagged
  before that column existed: it showed at confidence 1, not in review, as a decision shows) and no decision settles
  the fund now (it was withdrawn, or its index is disputed): the person's class is not kept
  without the person, the new one is taken, in review, and the evidence starts ``稳定性: 上次 … 为复核决定 …``.

The step reads only the new frame's flags and numbers (``secondary``, ``confidence``, ``needs_review``,
``alternatives``) and the previous run's ``secondary``, ``review_decision`` (else ``confidence`` and ``needs_review``)
by fund code; it never parses evidence text.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .columns import detect_columns
from .errors import InputError
from .io import check_not_input
from .tagged import read_tagged
from .text import code6_column, counted
from .taxonomy import Taxonomy

KEPT_NOTE = "稳定性: 保留上次分类"
UPDATED_NOTE = "稳定性: 上次"
RELEASED_NOTE = "为复核决定,本次无复核决定适用(已撤销或有分歧),不保留"


@dataclass
class Previous:
    """The classes of a previous run, by fund code (codes whose rows disagree are left out)."""

    path: str
    labels: dict[str, str]
    ambiguous: int = 0
    other_taxonomy: int = 0
    decided: set[str] = field(default_factory=set)  # codes whose previous class was a review decision's


def load_previous(path, tax: Taxonomy) -> Previous:
    """Read the previous tagged run: its ``secondary`` by fund code, for rows tagged with ``tax``.

    Raises
    ------
    InputError
        when the file is not a tagged file, has no fund-code column, was tagged with another taxonomy or does not
        show which (no ``taxonomy_version``), or holds a label that is not one of ``tax`` (the lines are named).
    """
    run = read_tagged(path, ("secondary",))
    if "code" not in run.colmap:
        raise InputError(f"{path}: no fund-code column; --previous matches funds by their code")
    sec = run.column("secondary").str.strip()
    versions = run.versions("taxonomy_version")
    if not versions:  # the column deleted (or emptied): nothing shows the classes are of this taxonomy version
        how = "is empty" if "taxonomy_version" in run.frame.columns else "is missing"
        raise InputError(f"{path}: column 'taxonomy_version' {how}, so the file does not show which taxonomy its "
                         f"classes are of, and --previous keeps a fund's class only within one taxonomy version (this "
                         f"run: {tax.version}); put the column back as `fundclass tag` wrote it (or fill in "
                         f"{tax.version} if the file was tagged with it), or tag without --previous, nothing written")
    same = run.column("taxonomy_version").str.strip() == tax.version
    if not same.any():
        raise InputError(_other_version(path, versions, tax))
    bad = same & (sec != "") & ~sec.isin(tax.labels)
    if bad.any():
        rows = ", ".join(f"line {run.line.iat[i]} ({sec.iat[i]!r})" for i in np.flatnonzero(bad.to_numpy())[:5])
        raise InputError(f"{path}: column 'secondary' holds labels that are not classes of {tax.version}: {rows}")
    use = same & (sec != "") & (run.code != "")
    pairs = pd.DataFrame({"code": run.code[use], "secondary": sec[use]}).drop_duplicates()
    counts = pairs["code"].value_counts()
    clash = set(counts[counts > 1].index)
    labels = {c: s for c, s in zip(pairs["code"], pairs["secondary"]) if c not in clash}
    if "review_decision" in run.frame.columns:  # the flag tagging writes: the code of the deciding fund, '' none
        by_decision = run.column("review_decision").str.strip().replace("nan", "") != ""
    else:  # a file tagged before the flag: a review decision shows at confidence 1, out of review (decide.override)
        by_decision = (run.confidence == 1.0) & ~run.needs_review.astype(bool)
    decided = set(run.code[use & by_decision]) & set(labels)
    return Previous(str(path), labels, len(clash), int((~same).sum()), decided)


def _other_version(path, versions: list[str], tax: Taxonomy) -> str:
    """Why a previous run tagged with another taxonomy version is refused, and what to do: a class is kept only within
    one version, as a class a migration renamed, split or merged has no class of the new version to keep; after a
    migration, tag once without --previous (and `fundclass diff` the two runs); a file of another taxonomy (E Fund's)
    names the --taxonomy to tag with instead."""
    from .taxonomy import shipped_of_version

    found = [shipped_of_version(v) for v in versions]
    other = next((f for f in found if f and f[0] != tax.id), None)
    head = f"{path}: tagged with taxonomy {', '.join(versions)}, this run uses {tax.version} ({tax.path})"
    if other:
        return (f"{head}: another taxonomy ({other[0]}), whose classes are not this one's; tag with "
                f"--taxonomy {other[1]} to keep its classes, or without --previous, nothing written")
    known = all(f and f[0] == tax.id for f in found)
    return (f"{head}{f', another version of {tax.id}' if known else ''}: --previous keeps a fund's class only within "
            f"one taxonomy version (a class a `taxonomy migrate` renamed, split or merged has no class of the new "
            f"version to keep), nothing written; tag once without --previous (that output is the --previous of the "
            f"next run), and `fundclass diff {path} NEW_OUTPUT` shows what moved between the two"
            + ("" if known else "; if the file was tagged with another taxonomy, pass --taxonomy with that file"))


REPORT_COUNTS = ("same", "kept", "updated", "not_before", "released", "no_code")


@dataclass
class StabilityReport:
    previous: str
    same: int = 0
    kept: int = 0
    updated: int = 0
    not_before: int = 0
    released: int = 0  # previous classes a review decision gave that no decision gives now: not kept
    no_code: int = 0  # rows that give no fund code: never matched with the previous run
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"stability (--previous {self.previous}): {self.same} funds kept their class; {self.kept} kept their "
                f"previous class because the new one was not confident (they stay in review, evidence "
                f"'{KEPT_NOTE}'); {self.updated} changed class with confidence; {self.not_before} were not in the "
                f"previous run"
                + (f"; {counted(self.no_code, 'row', verbs=('gives', 'give'))} no fund code, so "
                   f"{'it is not' if self.no_code == 1 else 'none is'} matched with the previous run "
                   f"({'its' if self.no_code == 1 else 'their'} new class stands)" if self.no_code else "")
                + (f"; {self.released} did not keep a previous class that a review decision gave and none gives now "
                   f"(withdrawn or disputed: they stay in review, evidence '{RELEASED_NOTE}')" if self.released else "")
                ] + [f"warning: {w}" for w in self.warnings]


def _alternatives(text: str) -> dict[str, float]:
    """``label:prob;label:prob`` (the ``alternatives`` column) as a dict.

    >>> _alternatives("宽基ETF:0.120;策略主题ETF:0.050")
    {'宽基ETF': 0.12, '策略主题ETF': 0.05}
    """
    out = {}
    for part in str(text).split(";"):
        label, _, prob = part.rpartition(":")
        try:
            out[label.strip()] = float(prob)
        except ValueError:
            continue
    return out


def stabilize(tagged: pd.DataFrame, codes: pd.Series, previous: Previous, tax: Taxonomy,
              report: StabilityReport | None = None) -> tuple[pd.DataFrame, StabilityReport]:
    """Apply the stability rule (module docstring) to a frame ``Tagger.tag`` returned; ``codes`` are the rows'
    six-digit fund codes ('' where none). Returns a new frame and the counts."""
    report = report or StabilityReport(previous.path)
    out = tagged.copy()
    sec = out["secondary"].astype(str).to_numpy(dtype=object).copy()
    prim = out["primary"].astype(str).to_numpy(dtype=object).copy()
    conf = pd.to_numeric(out["confidence"], errors="coerce").to_numpy(dtype=float).copy()
    review = out["needs_review"].astype(bool).to_numpy().copy()
    alts = out["alternatives"].astype(str).to_numpy(dtype=object).copy()
    evidence = out["evidence"].astype(str).to_numpy(dtype=object).copy()
    for i, code in enumerate(codes.to_numpy(dtype=object)):
        before = previous.labels.get(code) if code else None
        if before is None:
            report.not_before += bool(code)
            report.no_code += not code
            continue
        now = sec[i]
        if now == before:
            report.same += 1
            continue
        shown = now or "无分类"
        if not review[i]:
            report.updated += 1
            evidence[i] = f"{UPDATED_NOTE} {before},本次 {shown} 置信度 {conf[i]:.3f} 不需复核,已更新; {evidence[i]}"
            continue
        if code in previous.decided:  # a person's class, which no decision gives now: not kept without the person
            report.released += 1
            evidence[i] = f"{UPDATED_NOTE} {before} {RELEASED_NOTE},本次 {shown} 置信度 {conf[i]:.3f},需复核; {evidence[i]}"
            continue
        report.kept += 1
        probs = _alternatives(alts[i])
        p_before = probs.pop(before, None)
        if now:
            probs[now] = conf[i]
        rest = [f"{k}:{v:.3f}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1])]
        why = f"上次分类在本次备选中的概率 {p_before:.3f}" if p_before is not None else "上次分类不在本次备选中(<0.05)"
        evidence[i] = (f"{KEPT_NOTE} {before}(本次 {shown} 置信度 {conf[i]:.3f},需复核,不替换; {why}); "
                       f"{evidence[i]}")
        sec[i], prim[i], conf[i], alts[i] = before, tax.primary_of(before), p_before or 0.0, ";".join(rest)
    out["secondary"], out["primary"], out["alternatives"], out["evidence"] = sec, prim, alts, evidence
    out["confidence"] = conf
    return out, report


class StableTagger:
    """A :class:`~classifier.pipeline.Tagger` whose ``tag`` applies :func:`stabilize` to each chunk it tags (and
    keeps the run's per-class counts in step), for :func:`classifier.batch.tag_file`."""

    def __init__(self, tagger, previous: Previous):
        self.tagger = tagger
        self.previous = previous
        self.report = StabilityReport(previous.path)
        if previous.ambiguous:
            self.report.warnings.append(f"{previous.path}: {previous.ambiguous} fund codes carry two classes there; "
                                        f"not carried over")
        if previous.other_taxonomy:
            self.report.warnings.append(f"{previous.path}: {previous.other_taxonomy} rows of another taxonomy "
                                        f"ignored")

    def __getattr__(self, name):
        return getattr(self.tagger, name)

    def tag(self, frame: pd.DataFrame, name_column: str | None = None, source: str = "input", summary=None,
            **chunk):  # links, context: see Tagger.tag
        colmap = detect_columns(list(frame.columns), source, name_column)
        if "code" not in colmap:
            raise InputError(f"{source}: no fund-code column; --previous matches funds by their code")
        codes = code6_column(frame.iloc[:, colmap["code"]])
        out = self.tagger.tag(frame, name_column=name_column, source=source, summary=summary, **chunk)
        before = out["secondary"].astype(str).to_numpy(dtype=object)
        part = StabilityReport(self.previous.path)
        out, _ = stabilize(out, codes.reset_index(drop=True), self.previous, self.tagger.taxonomy, part)
        for k in REPORT_COUNTS:  # in the summary when there is one: a chunk tagged in another process reports there
            if summary is not None:
                summary.counts[k] = summary.counts.get(k, 0) + getattr(part, k)
            else:
                setattr(self.report, k, getattr(self.report, k) + getattr(part, k))
        if summary is not None:
            na = self.tagger.taxonomy.not_applicable
            for old, new in zip(before, out["secondary"].to_numpy(dtype=object)):
                if old != new:
                    summary.per_class[old] = summary.per_class.get(old, 0) - 1
                    summary.per_class[new] = summary.per_class.get(new, 0) + 1
                    summary.out_of_scope += (new == na) - (old == na)
            summary.per_class = {k: v for k, v in summary.per_class.items() if v}
        return out


def tag_file_stable(input_path, output_path, previous_path, model_dir=None, taxonomy_path=None, threshold=None,
                    holdings_path=None, sw_map_path=None, name_column=None, progress=True, labels_path="",
                    sheet=None, raw_csv=False, jobs=None, chunk_rows=None):
    """``fundclass tag --previous``: tag ``input_path`` into ``output_path`` keeping the classes of
    ``previous_path`` where the new run is not confident. Returns the tag summary and the stability report."""
    from .batch import tag_file
    from .pipeline import Tagger

    check_not_input(output_path, previous_path)
    tagger = Tagger.load(model_dir, taxonomy_path, threshold, holdings_path, sw_map_path, labels_path)
    stable = StableTagger(tagger, load_previous(previous_path, tagger.taxonomy))
    summary = tag_file(input_path, output_path, progress=progress, name_column=name_column, tagger=stable,
                       sheet=sheet, raw_csv=raw_csv, jobs=jobs, chunk_rows=chunk_rows)
    for k in REPORT_COUNTS:
        setattr(stable.report, k, summary.counts.get(k, 0))
    return summary, stable.report
