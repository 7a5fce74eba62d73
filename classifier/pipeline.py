"""Tag funds: read → normalize → rules + model → fuse → write. One object, :class:`Tagger`, does the middle, as
four named steps over a frame of flags and numbers: :func:`classifier.score.score` (rules, holdings, model,
confidence) → :func:`classifier.decide.decide` (class, review flag, runners-up) → :func:`classifier.decide.override`
(people's review decisions) → :func:`classifier.explain.output_frame` (the only step that writes text).

Output columns added beside every original column (an original column that already has one of these names is kept,
renamed ``<name>_previous``):

primary, secondary, confidence, needs_review, alternatives, evidence, asset_class, management_style, linked_fund,
holding_industry, holding_industry_share, taxonomy_version, model_version
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .columns import detect_columns, is_alias
from .config import DEFAULTS_FILE, config_file, defaults, shipped_defaults
from .decide import decide, override, settling_keys
from .errors import DecisionsNotApplied, FundClassifierError, InputError
from .index_key import pair_aliases, row_keys, rows_pairs
from .explain import output_frame
from .holdings import HoldingsFeatures, holdings_features, load_sw_map
from .linking import ChunkLinks, ReviewedFamilies, link
from .manifest import load_model
from .prepare import key_fields, prepare
from .rules import RuleLayer
from .score import name_rows as score_name_rows, score
from .taxonomy import Taxonomy, load_taxonomy
from .text import blank_rows, code6_column, counted
from .vocabulary import load_vocabulary
from .workspace import data_path, for_taxonomy

OUTPUT_COLUMNS = ["primary", "secondary", "confidence", "needs_review", "review_decision", "alternatives", "evidence",
                  "asset_class", "management_style", "linked_fund", "holding_industry", "holding_industry_share",
                  "taxonomy_version", "model_version"]
# the output columns that are not text (the others are)
OUTPUT_DTYPES = {"confidence": "float64", "needs_review": "bool", "holding_industry_share": "float64"}
RULES_ONLY = "rules-only"


def taxonomy_default(key: str, tax: Taxonomy) -> str:
    """The configured ``[paths].key`` (``model_dir`` or ``labeled``) when it was made for ``tax``, else the model
    folder or labeled set made for it beside it (by the manifest's taxonomy hash, the set's taxonomy version: E Fund's
    in ``models/efund`` and ``data/labeled/efund``; :func:`classifier.workspace.for_taxonomy`; with no model made for
    it, the folder of a model of the same taxonomy id, which a training after a migration replaces), relative to the
    workspace: what ``fundclass tag --taxonomy`` and :meth:`Tagger.load` read, and what ``review import`` and
    ``train`` write."""
    if key == "model_dir":
        from .manifest import manifest_taxonomy

        return for_taxonomy(key, lambda path: manifest_taxonomy(path) == tax.sha256,
                            lambda path: manifest_taxonomy(path, "id") == tax.id)
    from .labeled import labels_version, migrated_from

    # none of its version: the set a migration took from it (E Fund's, migrated: not the default taxonomy's set)
    return for_taxonomy(key, lambda path: labels_version(path) == tax.version,
                        lambda path: path.exists() and tax.version in migrated_from(path))


@dataclass
class TagSummary:
    rows: int = 0
    seconds: float = 0.0
    per_class: dict = field(default_factory=dict)
    review: int = 0
    review_without_holdings: int = 0  # of review: actively managed funds the run had no holdings of
    blank: int = 0  # of review: input rows with no cell filled (a blank line; a row Excel kept, formatted or cleared)
    holdings: bool = False  # the run had a holdings file
    out_of_scope: int = 0
    warnings: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # a wrapping tagger's own counts (e.g. --previous's), summed by add
    settled: int = 0  # rows a review decision settled (the fund's own, a linked fund's or the index's)
    decisions: int = 0  # review decisions the tagger knew
    decisions_from: str = ""  # the labeled set they came from ('' when none was read)
    decisions_not_applied: int = 0  # the set's review decisions the tagger could not apply (its warnings say why)

    def add(self, part: "TagSummary") -> None:
        """Count ``part`` (one chunk's summary) in, its warnings after these."""
        self.rows += part.rows
        for k, v in part.per_class.items():
            self.per_class[k] = self.per_class.get(k, 0) + v
        self.review += part.review
        self.review_without_holdings += part.review_without_holdings
        self.blank += part.blank
        self.out_of_scope += part.out_of_scope
        self.settled += part.settled
        self.warnings += part.warnings
        for k, v in part.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v

    def lines(self) -> list[str]:
        out = [f"rows: {self.rows}  review: {self.review} ({self.review / max(self.rows, 1):.1%})  "
               f"out of scope: {self.out_of_scope}  time: {self.seconds:.2f}s"]
        if self.review_without_holdings:
            where = "the holdings file has none of" if self.holdings else \
                "with no holdings in this run (tag with --holdings FILE: one whose top industry is over the seed-004 " \
                "share may then leave review)"
            out.append(f"  of the review: {counted(self.review_without_holdings, 'actively managed fund')} {where}; `review "
                       f"export` lists them after the others")
        if self.blank:
            out.append(f"  of the review: {counted(self.blank, 'blank row')} of the input (no cell filled, no fund): kept in "
                       f"the output in their place; `review export` leaves them out")
        # most rows first, ties by name: the same lines whatever order the chunks (or forked processes) came in
        out += [f"  {k or '(no class)'}: {v}"
                for k, v in sorted(self.per_class.items(), key=lambda kv: (-kv[1], kv[0]))]
        if self.decisions_from:
            more = f" ({self.decisions_not_applied} more there not applied: see the warning above)" \
                if self.decisions_not_applied else ""
            out.append(f"review decisions: {self.decisions} in {self.decisions_from}{more}; "
                       f"{counted(self.settled, 'row')} settled by them")
        return out


def _reading_index_code(frame: pd.DataFrame, body: pd.DataFrame,
                        colmap: dict[str, int]) -> tuple[pd.DataFrame, dict[str, int]]:
    """``body`` (``frame``'s rows, 0…n-1) and ``colmap`` as the tagger reads them: when no column gives the fund code
    and a level of ``frame``'s index is named like a code column (a notebook's ``df.set_index('fund_code')``), that
    level's codes are read as the code column (the fund's review decision, holdings, links and duplicate flags find
    the fund by it, as from a column); otherwise as they are. The output keeps ``frame``'s own columns and index."""
    if "code" in colmap:
        return body, colmap
    level = next((i for i, n in enumerate(frame.index.names) if n is not None and is_alias(n, "code")), None)
    if level is None:
        return body, colmap
    read = body.copy(deep=False)
    read.insert(len(read.columns), frame.index.names[level], frame.index.get_level_values(level).to_numpy(),
                allow_duplicates=True)
    return read, {**colmap, "code": len(body.columns)}


class Tagger:
    """Tag a DataFrame of fund listings with a taxonomy's classes.

    Parameters
    ----------
    taxonomy : Taxonomy
    model : FusedModel or None
        Without a model the rule layer alone decides (``model_version`` = ``rules-only``; its confidences are
        tier-based, not calibrated).
    manifest : dict or None
        The model's manifest (threshold, version).
    threshold : float or None
        Review threshold; default: the manifest's, else ``tag.review_threshold`` of the configuration.
    holdings : HoldingsFeatures or None
        Per-fund holdings features, joined on the 6-digit fund code.

    Examples
    --------
    >>> import pandas as pd
    >>> t = Tagger(load_taxonomy())
    >>> t.tag(pd.DataFrame({"基金简称": ["华夏中证机器人ETF"]}))["secondary"].tolist()
    ['科技成长主题ETF']
    """

    def __init__(self, taxonomy: Taxonomy, model=None, manifest: dict | None = None, threshold: float | None = None,
                 holdings: HoldingsFeatures | None = None):
        self.taxonomy = taxonomy
        self.vocab = load_vocabulary()
        self.rules = RuleLayer(taxonomy)
        self._rule_contested = {r.id: r.contested for r in taxonomy.rules if r.contested}
        self.model = model
        self.manifest = manifest or {}
        cfg = defaults()["tag"]
        self.threshold = float(threshold if threshold is not None else
                               self.manifest.get("threshold", cfg["review_threshold"]))
        self.n_alternatives = int(cfg["alternatives"])
        self.alternative_min = float(cfg["alternative_min"])
        self.industry_theme_share = float(cfg["industry_theme_share"])
        self.doubt_pattern_rate = float(cfg["doubt_pattern_rate"])
        self.term_only_prior = float(cfg["term_only_name_prior"])
        self.head_prior_reads = float(cfg["head_prior_reads"])
        if not self.head_prior_reads >= 0:  # negative (or nan): a confidence outside 0–1, or a division by zero
            raise InputError(f"{config_file() or DEFAULTS_FILE}: tag.head_prior_reads = {self.head_prior_reads}: give "
                             f"the reads the model's confidence counts as, 0 or more (default "
                             f"{shipped_defaults()['tag']['head_prior_reads']})")
        self.holdings = holdings
        self.model_version = self.manifest.get("model_version", RULES_ONLY) if model is not None else RULES_ONLY
        self.reviewed: dict[str, tuple[str, str, str]] = {}
        self.reviewed_index: dict[str, str] = {}  # index key → code of the reviewed fund that settles it
        self.reviewed_families = ReviewedFamilies([], [], [])  # their share classes and feeders, in any batch
        self.reviewed_disputes: dict[str, tuple[str, ...]] = {}  # index key → codes of reviewed funds that disagree
        self.reviewed_rank: dict[str, tuple[str, int]] = {}  # index key → (date, row) of the decision that settles it
        self.reviewed_held: dict[str, tuple[str, ...]] = {}  # code of a fund the set holds → its row's decided keys
        self.decisions_from = ""  # the labeled set whose review decisions use_reviewed was given by load ('' none)
        self.reviewed_ignored: list[str] = []  # why review decisions of the labeled set read are not applied
        self.reviewed_not_applied = 0  # how many are not

    def use_reviewed(self, labels: pd.DataFrame) -> "Tagger":
        """Remember people's review decisions (source=review, current taxonomy): a reviewed fund keeps its decision,
        and so do its share classes and feeders and every fund tracking the same index, in this batch and later ones
        (when two decisions on one index or family disagree, neither settles it: each still settles its own fund, and
        the index's or family's other funds go to review, their evidence naming both decisions)."""
        review = labels["source"] == "review"
        other = review & (labels["taxonomy_version"] != self.taxonomy.version)
        unknown = review & ~other & ~labels["secondary"].isin(self.taxonomy.labels)
        # decisions this run cannot apply, said in the run's warnings (else their funds go back to review in silence)
        self.reviewed_ignored = []
        blank = other & (labels["taxonomy_version"].astype(str).str.strip() == "")
        if (other & ~blank).any():
            versions = sorted(set(labels.loc[other & ~blank, "taxonomy_version"]))
            n = int((other & ~blank).sum())
            applied = "none of them is applied" if n == int(review.sum()) else "they are not applied"
            self.reviewed_ignored.append(
                f"the labeled set's {n} review decisions are of taxonomy {', '.join(versions)} and this run is of "
                f"{self.taxonomy.version}, so {applied}; {self._decisions_hint(versions)}")
        if blank.any():  # a row typed into the set by hand, its version left out
            lines = ", ".join(f"line {i + 2} ({labels.at[i, 'fund_code']})" for i in labels.index[blank][:5])
            self.reviewed_ignored.append(
                f"{int(blank.sum())} review decisions have no taxonomy_version and are not applied: {lines}"
                f"{' …' if blank.sum() > 5 else ''}; fill in {self.taxonomy.version} if they were made for it")
        if unknown.any():
            lines = ", ".join(f"line {i + 2} ({labels.at[i, 'fund_code']}: {labels.at[i, 'secondary']!r})"
                              for i in labels.index[unknown][:5])
            self.reviewed_ignored.append(f"{int(unknown.sum())} review decisions carry a label that is not a class "
                                         f"of {self.taxonomy.version} and are not applied: {lines} (`fundclass "
                                         f"labels audit` lists them)")
        self.reviewed_not_applied = int((other | unknown).sum())
        for w in self.reviewed_ignored:  # an API user sees them too, not only the command's run summary
            warnings.warn(w, DecisionsNotApplied, stacklevel=2)
        r = labels[review & ~other & ~unknown].reset_index(drop=True)
        self.reviewed = {c: (s, b, a) for c, s, b, a in zip(r["fund_code"], r["secondary"], r["labeled_by"],
                                                             r["labeled_at"]) if c}
        self.reviewed_index, self.reviewed_disputes, self.reviewed_rank, self.reviewed_held = {}, {}, {}, {}
        self.reviewed_families = ReviewedFamilies([], [], [])
        if len(r):
            from .labeled import ID_COLUMNS

            # the fields the decisions' keys read (settling_keys: index and family keys), as prepare makes them
            p = key_fields(r[ID_COLUMNS], detect_columns(ID_COLUMNS), self.vocab)
            held = row_keys(labels["index_code"], labels["index_name"])  # the set's index keys, read once
            keys = settling_keys(p, r["fund_code"].tolist(), r["secondary"].tolist(), pair_aliases(rows_pairs(held)),
                                 r["labeled_at"].tolist())
            self.reviewed_index, self.reviewed_disputes, self.reviewed_families, self.reviewed_rank = \
                keys.index, keys.disputes, keys.families, keys.rank
            # the funds the set holds on a decided (or disputed) index: the import relabels them with the decision,
            # and tagging settles them by their row in the set when their batch row's own keys meet no decision
            wanted = set(keys.index) | set(keys.disputes)
            for c, ks in zip(labels["fund_code"].tolist(), held):
                mine = tuple(k for k in ks if k in wanted)
                if c and mine:
                    self.reviewed_held.setdefault(c, mine)
        return self

    def _decisions_hint(self, versions: list[str]) -> str:
        """What to run to apply review decisions of ``versions`` (not this run's taxonomy version): tag with their
        version's file when it is a version of this run's taxonomy (a set migrated since: the file `taxonomy migrate`
        recorded, which a run given no --taxonomy may use already), else pass a labeled set of this run's version."""
        from .taxonomy import default_taxonomy_path, located_version

        found = located_version(versions) if len(versions) == 1 else None
        if found is None or found[2] != self.taxonomy.id:
            migrated = "" if found is not None else \
                " (after a taxonomy migration: tag with the taxonomy file the set was migrated to)"
            return f"pass a labeled set of {self.taxonomy.version} with --labeled{migrated}"
        shown, path, _ = found
        try:
            default = Path(default_taxonomy_path()).resolve() == Path(path).resolve()
        except (OSError, FundClassifierError):
            default = False
        how = ", which this workspace uses when given no --taxonomy: " if default else ": --taxonomy "
        return f"to apply them, tag with the taxonomy the set was migrated to{how}{shown}"

    @classmethod
    def load(cls, model_dir: str | Path | None = "", taxonomy_path: str | Path | None = None,
             threshold: float | None = None, holdings_path: str | Path | None = None,
             sw_map_path: str | Path | None = None, labels_path: str | Path | None = "") -> "Tagger":
        """Load the taxonomy, the model (checked against its manifest and the taxonomy), optional holdings, and the
        review decisions of the labeled set at ``labels_path``. ``model_dir=""`` is the workspace's model for the
        taxonomy, else the shipped one; ``None`` tags with the rules alone. ``labels_path=""`` is the workspace's
        labeled set of the taxonomy, else the shipped one, as `fundclass tag --taxonomy` reads them
        (:func:`taxonomy_default`: E Fund's model and set for ``taxonomy/efund2025.toml``); ``None`` applies no
        decisions. ``decisions_from`` names the file
        read ('' when none)."""
        tax = load_taxonomy(taxonomy_path)
        if model_dir == "":  # the workspace's model for this taxonomy, else the shipped one, as `fundclass tag`'s
            model_dir = data_path(taxonomy_default("model_dir", tax))
        model, manifest = (None, None)
        if model_dir is not None:
            from .labeled import labels_version

            # the set's version, to name a migrated set's taxonomy when the model is of it (its first row; cheap)
            read = data_path(taxonomy_default("labeled", tax)) if labels_path == "" else labels_path
            model, manifest = load_model(model_dir, tax, labels_version(read) if read else "")
        holdings = None
        if holdings_path:
            holdings = holdings_features(holdings_path, load_sw_map(sw_map_path))
        tagger = cls(tax, model, manifest, threshold, holdings)
        if labels_path == "":  # the workspace's set for this taxonomy, else the shipped one: none when neither is there
            labels_path = data_path(taxonomy_default("labeled", tax))
            labels_path = labels_path if labels_path.exists() else None
        if labels_path:
            from .labeled import read_labels

            if not Path(labels_path).exists():  # a set given but not there holds decisions nobody would apply
                raise InputError(f"{labels_path}: no labeled set here; pass the labeled set whose review decisions "
                                 f"this run applies (or none: the workspace's, else the shipped one)")
            tagger.use_reviewed(read_labels(labels_path))
            tagger.decisions_from = str(labels_path)
        return tagger

    # ------------------------------------------------------------------ prediction
    def _predict(self, p: pd.DataFrame, links: ChunkLinks | None = None, objects: bool = False,
                 linked: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """score → decide → override → explain; returns (output columns, the decision's flags and numbers).
        ``links``: the rows' links and duplicate flags over their whole file (default: found within ``p``, or
        ``linked``, :func:`classifier.linking.link` of ``p`` already found); ``objects``: text columns of Python
        strings (:func:`classifier.explain.output_frame`)."""
        s = score(p, self.rules, self.model, self.holdings, out_of_scope=self.taxonomy.out_of_scope,
                  industry_theme_share=self.industry_theme_share, links=links.links if links is not None else linked,
                  head_prior_reads=self.head_prior_reads)
        d = decide(p, s, self.taxonomy, self.threshold, self.n_alternatives, self._rule_contested,
                   duplicate=links.duplicate if links is not None else None, alternative_min=self.alternative_min,
                   term_only_prior=self.term_only_prior)
        d = override(p, d, self.reviewed, self.reviewed_index, self.n_alternatives, self.reviewed_families,
                     s.links["family"].tolist(), self.reviewed_disputes, self.reviewed_held, s.index_keys)
        as_of = self.holdings.sw_map_as_of if self.holdings is not None else ""
        out = output_frame(p, s, d, self.taxonomy, self.reviewed, self.n_alternatives, as_of, self.model_version,
                           self.industry_theme_share, self.doubt_pattern_rate, objects=objects)
        return out, d

    def predict(self, p: pd.DataFrame) -> pd.DataFrame:
        """Output columns for a prepared frame (see :func:`classifier.prepare.prepare`)."""
        return self._predict(p)[0]

    @property
    def classes_(self):
        """The classes, in the column order of :meth:`predict_proba`."""
        import numpy as np

        return np.array(self.model.classes_ if self.model is not None else self.rules.classes_, dtype=object)

    def predict_proba(self, frame: pd.DataFrame, name_column: str | None = None):
        """Class probabilities (n × len(classes_)) of the model (or, rules only, of the tier-weighted votes) for every
        row of ``frame``; linked rows carry the probabilities of the fund they follow. Out-of-scope gates and review
        decisions are not applied here: :meth:`tag` applies them."""
        body = frame.reset_index(drop=True)
        if len(body) == 0:  # nothing to score: no rows, every class's column
            import numpy as np

            detect_columns(list(frame.columns), "input", name_column)  # a frame without a name column is still refused
            return np.zeros((0, len(self.classes_)))
        body, colmap = _reading_index_code(frame, body, detect_columns(list(frame.columns), "input", name_column))
        p = prepare(body, colmap, self.vocab)
        return score(p, self.rules, self.model, self.holdings, out_of_scope=self.taxonomy.out_of_scope,
                     industry_theme_share=self.industry_theme_share, every_row=True).proba

    # ------------------------------------------------------------------ frames
    def tag(self, frame: pd.DataFrame, name_column: str | None = None, source: str = "input",
            summary: TagSummary | None = None, links: ChunkLinks | None = None,
            context: pd.DataFrame | None = None, objects: bool = False) -> pd.DataFrame:
        """Return ``frame`` with every original row and column, in order, and its index, plus the output columns.
        With no code column, an index level named like one (``df.set_index('fund_code')``) gives the fund codes.

        ``frame`` may be one chunk of a file: ``links`` (:meth:`classifier.linking.FileLinks.chunk`) then gives its
        rows' links and duplicate flags over the whole file, and ``context`` the rows of the file they follow
        (``links.context``), which are scored with the chunk and not returned. ``objects``: the output's text
        columns as Python strings (dtype object), for a chunk written out as CSV text at once (pandas 3 would copy
        them into Arrow strings and out again); the text is the same."""
        t0 = time.perf_counter()
        columns = list(frame.columns)
        colmap = detect_columns(columns, source, name_column)
        body = frame.reset_index(drop=True)
        ndup = 0
        if len(body) == 0:
            # the types a tagged row's columns have (a filter on needs_review selects rows, not columns)
            pred = pd.DataFrame({c: pd.Series(dtype=OUTPUT_DTYPES.get(c, str)) for c in OUTPUT_COLUMNS})
        else:
            if context is None:  # a notebook's frame: its fund codes may be its index
                work, colmap = _reading_index_code(frame, body, colmap)
            else:  # a chunk of a file, with the rows it follows
                work = pd.concat([body, context.set_axis(body.columns, axis=1)], ignore_index=True)
            # the name subjects only of the rows that read them (score.name_rows), found from the rows' links (a
            # frame's own, found once here for the score step too)
            linked = links.links if links is not None else None

            def name_rows(q: pd.DataFrame):
                nonlocal linked
                if linked is None:
                    linked = link(q)
                return score_name_rows(q, linked, self.taxonomy.out_of_scope)

            p = prepare(work, colmap, self.vocab, name_rows=name_rows)
            pred, decision = self._predict(p, links, objects=objects, linked=linked)
            if len(work) > len(body):
                pred, decision = pred.iloc[:len(body)], decision.iloc[:len(body)]
            ndup = int(decision["duplicate_code"].sum())
            if summary is not None:
                summary.settled += int(decision["reviewed"].sum())
                # not a row with nothing to read nor a fund code to find holdings by (a blank row, a Wind footer
                # '数据来源：Wind' in the code column): `review export` puts the same rows last
                counted = (decision["needs_review"] & decision["active"] & ~decision["held"]).to_numpy(dtype=bool,
                                                                                                       copy=True)
                unread = counted & decision["no_text"].to_numpy(dtype=bool)
                if unread.any():
                    counted[unread] = code6_column(decision["code"][unread]).to_numpy() != ""
                summary.review_without_holdings += int(counted.sum())
        out = body.copy()
        # each input column named like an output column gets a free name, occurrence by occurrence (a name the input
        # repeats: secondary_previous, then secondary_previous_2 …)
        names, renamed, taken = [], [], set(columns) | set(OUTPUT_COLUMNS)
        for c in columns:
            if c in OUTPUT_COLUMNS:
                new, k = f"{c}_previous", 2
                while new in taken:
                    new, k = f"{c}_previous_{k}", k + 1
                renamed.append((c, new))
                taken.add(new)
                c = new
            names.append(c)
        if renamed:
            out.columns = names
            if summary is not None:
                summary.warnings.append(f"{source}: input already had {sorted({c for c, _ in renamed})}; kept as "
                                        f"*_previous")
                summary.warnings += [f"{source}: input column '{c}' kept as '{n}' ('{c}_previous' was taken)"
                                     for c, n in renamed if n != f"{c}_previous"]
        for c in OUTPUT_COLUMNS:
            # an object column's values would be read as text again (pandas 3: into Arrow strings); as a Series, its
            # dtype stays
            out[c] = pd.Series(pred[c].values, index=out.index, dtype=object) if objects and \
                pred[c].dtype == object else pred[c].values
        if summary is not None:
            if ndup:
                summary.warnings.append(f"{source}: {ndup} rows share a fund code with another row (all kept, "
                                        f"flagged in evidence)")
            summary.rows += len(out)
            for k, v in pred["secondary"].value_counts().items():
                summary.per_class[k] = summary.per_class.get(k, 0) + int(v)
            summary.review += int(pred["needs_review"].sum())
            summary.blank += int(blank_rows(body).sum())
            summary.out_of_scope += int((pred["secondary"] == self.taxonomy.not_applicable).sum())
            summary.seconds += time.perf_counter() - t0
        out.index = frame.index  # the caller's index (a notebook's fund codes, say), as its rows and columns
        return out
