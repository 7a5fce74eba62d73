"""Tag funds: read → normalize → rules + model → fuse → write. One object, :class:`Tagger`, does the middle.

Output columns added beside every original column (an original column that already has one of these names is kept,
renamed ``<name>_previous``):

primary, secondary, confidence, needs_review, alternatives, evidence, asset_class, management_style, linked_fund,
holding_industry, holding_industry_share, taxonomy_version, model_version
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import detect_columns
from .config import defaults
from .doubt import pattern_keys, signals
from .features import model_frame
from .fusion import align
from .fundtype import ACTIVE
from .index_key import code_keys, subject_keys
from .holdings import INDUSTRY_THEME_SHARE, HoldingsFeatures, holdings_features, load_sw_map
from .linking import link
from .name_check import not_a_name_words
from .manifest import DEFAULT_MODEL_REL, load_model
from .workspace import data_path
from .prepare import prepare, subjects
from .rules import RuleLayer
from .taxonomy import Taxonomy, load_taxonomy
from .vocabulary import load_vocabulary

OUTPUT_COLUMNS = ["primary", "secondary", "confidence", "needs_review", "alternatives", "evidence", "asset_class",
                  "management_style", "linked_fund", "holding_industry", "holding_industry_share",
                  "taxonomy_version", "model_version"]
RULES_ONLY = "rules-only"
HEAD_PRIOR_READS = 2.0  # weight of the model's confidence, in reads, against a known head's blind reads
ALTERNATIVE_MIN = 0.05  # a runner-up a reader would pick with at least this chance is named in `alternatives`


@dataclass
class TagSummary:
    rows: int = 0
    seconds: float = 0.0
    per_class: dict = field(default_factory=dict)
    review: int = 0
    out_of_scope: int = 0
    warnings: list = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"rows: {self.rows}  review: {self.review} ({self.review / max(self.rows, 1):.1%})  "
               f"out of scope: {self.out_of_scope}  time: {self.seconds:.2f}s"]
        out += [f"  {k}: {v}" for k, v in sorted(self.per_class.items(), key=lambda kv: -kv[1])]
        return out


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
        self.holdings = holdings
        self.model_version = self.manifest.get("model_version", RULES_ONLY) if model is not None else RULES_ONLY
        self.reviewed: dict[str, tuple[str, str, str]] = {}
        self.reviewed_index: dict[str, str] = {}  # index key → code of the reviewed fund that settles it

    def use_reviewed(self, labels: pd.DataFrame) -> "Tagger":
        """Remember people's review decisions (source=review, current taxonomy): a reviewed fund keeps its decision,
        and so does every fund tracking the same index, in this batch and later ones (when two decisions on one index
        disagree, neither settles the index; each still settles its own fund)."""
        r = labels[(labels["source"] == "review") & (labels["taxonomy_version"] == self.taxonomy.version)
                   & labels["secondary"].isin(self.taxonomy.labels)].reset_index(drop=True)
        self.reviewed = {c: (s, b, a) for c, s, b, a in zip(r["fund_code"], r["secondary"], r["labeled_by"],
                                                             r["labeled_at"]) if c}
        self.reviewed_index = {}
        if len(r):
            from .train import ID_COLUMNS

            p = prepare(r[ID_COLUMNS], detect_columns(ID_COLUMNS), self.vocab)
            decided: dict[str, set] = {}
            for keys in (code_keys(p), subject_keys(p)):
                for k, code, sec in zip(keys, r["fund_code"], r["secondary"]):
                    if k:
                        decided.setdefault(k, set()).add(sec)
                        self.reviewed_index.setdefault(k, code)
            self.reviewed_index = {k: c for k, c in self.reviewed_index.items() if len(decided[k]) == 1}
        return self

    @classmethod
    def load(cls, model_dir: str | Path | None = "", taxonomy_path: str | Path | None = None,
             threshold: float | None = None, holdings_path: str | Path | None = None,
             sw_map_path: str | Path | None = None, labels_path: str | Path | None = None) -> "Tagger":
        """Load the taxonomy, the model (checked against its manifest and the taxonomy), optional holdings, and the
        review decisions of the labeled set at ``labels_path`` (if given). ``model_dir=""`` is the workspace's model,
        else the shipped one; ``None`` tags with the rules alone."""
        tax = load_taxonomy(taxonomy_path)
        if model_dir == "":
            model_dir = data_path(DEFAULT_MODEL_REL)
        model, manifest = (None, None)
        if model_dir is not None:
            model, manifest = load_model(model_dir, tax)
        holdings = None
        if holdings_path:
            holdings = holdings_features(holdings_path, load_sw_map(sw_map_path))
        tagger = cls(tax, model, manifest, threshold, holdings)
        if labels_path and Path(labels_path).exists():
            from .labeled import read_labels

            tagger.use_reviewed(read_labels(labels_path))
        return tagger

    # ------------------------------------------------------------------ prediction
    def _rule_proba(self, rr) -> np.ndarray:
        """Rules-only confidences: the winner's share of tier-weighted votes (not calibrated)."""
        s = rr.strength.astype(float)
        w = np.where(s > 0, np.exp((s - s.max(axis=1, keepdims=True)) / 5.0), 0.0)
        tot = w.sum(axis=1, keepdims=True)
        k = s.shape[1]
        return np.where(tot > 0, w / np.where(tot > 0, tot, 1), 1.0 / k)

    def _holdings_rows(self, p: pd.DataFrame) -> pd.DataFrame | None:
        if self.holdings is None:
            return None
        return self.holdings.table.reindex(p["code6"].values).set_axis(p.index)

    def _score(self, p: pd.DataFrame, oos: np.ndarray):
        """Rules, holdings and model for every row, then linked rows take their head's scores.

        Returns (rule result, holdings rows or None, probabilities n × K, class names, links, source row per row,
        confidence per row: the chance a reader agrees when the model carries an agreement calibrator, else the
        chosen class's probability).
        """
        # near-miss search is for index products' names; out-of-scope and active funds skip it
        rr = self.rules.apply(subjects(p), skip_fuzzy=oos | (p["management_style"] == ACTIVE).values)
        hrows = self._holdings_rows(p)
        links = link(p)
        # share classes follow their family's first member; feeders follow their ETF when it is in the batch
        src = np.where(links["etf"].values >= 0, links["etf"].values, links["head"].values)
        if self.model is None:
            proba, classes = self._rule_proba(rr)[src], list(rr.classes_)
            return rr, hrows, proba, classes, links, src, proba.max(axis=1)
        cols = self.model.holdings_columns_
        H = hrows.reindex(columns=cols) if (hrows is not None and cols) else None
        if H is not None:  # an industry the Shenwan map in use lacks counts as 0, not as missing holdings
            no_holdings = H.isna().all(axis=1)
            H = H.fillna(0.0)
            H.loc[no_holdings] = np.nan
        X = model_frame(p, rr)
        proba, p_text, p_hold, has = (a[src] for a in self.model.components(X, H))
        classes = list(self.model.classes_)
        cal = getattr(self.model, "agreement_", None)
        if cal is None:
            return rr, hrows, proba, classes, links, src, proba.max(axis=1)
        pos = {c: j for j, c in enumerate(classes)}
        winner = np.array([pos.get(rr.labels[s], -1) if rr.labels[s] else -1 for s in src])
        hits = [rr.hits[s] for s in src]
        keys = pattern_keys(proba.argmax(axis=1), classes, hits)
        rate = np.array([cal.patterns_.rate(k) for k in keys])
        S = signals(proba, p_text, p_hold, has, align(rr.strength, rr.classes_, classes)[src], winner,
                    X["rule_fuzzy"].to_numpy(bool)[src], rate)
        return rr, hrows, proba, classes, links, src, cal.predict(S)

    def _keep_head_doubt(self, p: pd.DataFrame, conf: np.ndarray, top: np.ndarray, classes: list):
        """A fund of an index the labeled set holds, whose blind readers disputed the label, keeps that doubt: its
        confidence is at most the readers' agreement with the chosen class, shrunk towards the model's confidence by
        HEAD_PRIOR_READS pseudo-reads. Returns (confidence, per row the reads agreeing and the reads of a head whose
        reads lowered the confidence, 0 and 0 elsewhere, and those rows' reads by row)."""
        agree, reads_n = np.zeros(len(conf), dtype=int), np.zeros(len(conf), dtype=int)
        doubting: dict[int, tuple[str, ...]] = {}
        head_reads = getattr(getattr(self.model, "agreement_", None), "head_reads_", None)
        if not head_reads:
            return conf, agree, reads_n, doubting
        conf = conf.copy()
        for i, (ck, sk) in enumerate(zip(code_keys(p), subject_keys(p))):
            reads = head_reads.get(ck) or head_reads.get(sk)
            if not reads:
                continue
            k = sum(r == classes[top[i]] for r in reads)
            capped = (k + HEAD_PRIOR_READS * conf[i]) / (len(reads) + HEAD_PRIOR_READS)
            if capped < conf[i]:
                conf[i], agree[i], reads_n[i] = capped, k, len(reads)
                doubting[i] = reads
        return conf, agree, reads_n, doubting

    def _contested_class(self, rr, src: np.ndarray, top: np.ndarray, classes: list) -> np.ndarray:
        """Per row, the index of the class a contested deciding rule names as also defensible (-1: none)."""
        pos = {c: j for j, c in enumerate(classes)}
        out = np.full(len(src), -1)
        for i, s in enumerate(src):
            own = [h for h in rr.hits[s] if h.secondary == classes[top[i]]]
            if own:
                alt = self._rule_contested.get(max(own, key=lambda h: h.strength).rule, "")
                out[i] = pos.get(alt, -1)
        return out

    def predict(self, p: pd.DataFrame) -> pd.DataFrame:
        """Output columns for a prepared frame (see :func:`classifier.prepare.prepare`)."""
        tax = self.taxonomy
        problem = p["name_problem"].to_numpy(dtype=object)
        not_name = problem != ""
        oos = p["asset_class"].isin(tax.out_of_scope).values & ~not_name
        rr, hrows, proba, classes, links, src, conf = self._score(p, oos)
        # a name without fund words is still a fund's name when a term of the taxonomy occurs in it (光伏50)
        term_hit = np.array([any(not h.fuzzy and h.field in ("name", "full_name") for h in hs) for hs in rr.hits])
        not_name &= ~((problem == "fund_words") & term_hit)
        oos = p["asset_class"].isin(tax.out_of_scope).values & ~not_name
        n = len(p)
        top = proba.argmax(axis=1)
        conf, head_agree, head_reads_n, doubting = self._keep_head_doubt(p, conf, top, classes)
        # the chance a reader picks another class is shared among the runners-up in proportion to the model's
        # probabilities; every runner-up with at least ALTERNATIVE_MIN of it is listed
        rest = np.clip(1.0 - proba[np.arange(n), top], 1e-12, None)
        alt_p = proba * ((1.0 - conf) / rest)[:, None]
        # where the deciding rule encodes a contested convention, the class readers also pick gets at least half of
        # that chance (taxonomy: `contested` on the rule)
        contested = self._contested_class(rr, src, top, classes)
        for i in np.flatnonzero(contested >= 0):
            j = contested[i]
            alt_p[i, j] = max(alt_p[i, j], (1.0 - conf[i]) / 2)
            others = np.arange(len(classes)) != j
            others[top[i]] = False
            left = max(1.0 - conf[i] - alt_p[i, j], 0.0)
            alt_p[i, others] *= left / max(alt_p[i, others].sum(), 1e-12)
        # on a known head the readers disputed, half of the doubt goes to the classes they read
        pos = {c: j for j, c in enumerate(classes)}
        for i, reads in doubting.items():
            other = [pos[r] for r in reads if r in pos and pos[r] != top[i]]
            if other:
                alt_p[i] *= 0.5
                for j in other:
                    alt_p[i, j] += 0.5 * (1.0 - conf[i]) / len(other)
        alt_p[np.arange(n), top] = conf
        order = np.argsort(-alt_p, axis=1)[:, : self.n_alternatives]
        cls = np.array(classes, dtype=object)
        secondary = np.where(oos, tax.not_applicable, cls[top])
        confidence = np.where(oos, 1.0, np.round(conf, 4))
        active = (p["management_style"] == ACTIVE).values
        no_text = ((p["s_index"] == "") & (p["s_name"] == "") & (p["s_full_name"] == "") & (p["s_benchmark"] == "")
                   & (p["index_code"] == "")).values & ~oos & ~not_name
        # without a model, a row no rule decided is left blank for review (a tie abstains, it is not guessed)
        abstain = (np.array([lab is None for lab in rr.labels])[src] & ~oos & ~no_text) if self.model is None \
            else np.zeros(n, dtype=bool)
        # The model is calibrated on index funds. An active fund's name is weaker evidence of what it holds, so it is
        # accepted without review only when its holdings show an industry concentration above 30% (seed 004).
        concentrated = np.zeros(n, dtype=bool)
        if hrows is not None:
            concentrated = (hrows["holding_industry_share"] > INDUSTRY_THEME_SHARE).fillna(False).to_numpy()
        blank = no_text | abstain | not_name
        needs_review = ~oos & ((conf < self.threshold) | (active & ~concentrated) | blank)
        secondary = np.where(blank, "", secondary).astype(object)
        confidence = np.where(blank, 0.0, confidence)
        problems = p["name_problem"].tolist()
        why_not_name = not_a_name_words()["evidence"]
        alternatives, evidence, linked = [], [], []
        codes = p["code6"].where(p["code6"] != "", p["code"]).tolist()
        asset, reason = p["asset_class"].tolist(), p["asset_reason"].tolist()
        dup_codes = pd.Series(codes).where(pd.Series(codes) != "")
        dup = (dup_codes.duplicated(keep=False) & dup_codes.notna()).to_numpy()
        for i in range(n):
            if not_name[i]:
                alternatives.append("")
                evidence.append(why_not_name[problems[i]])
            elif no_text[i]:
                alternatives.append("")
                evidence.append("无名称、全称、跟踪指数或业绩基准,无法分类")
            elif abstain[i]:
                alternatives.append("")
                ev = rr.evidence(src[i])
                evidence.append(("规则弃权(票数相同): " + ev) if ev else "无规则命中(仅规则模式)")
            elif oos[i]:
                alternatives.append("")
                evidence.append(f"{tax.out_of_scope[asset[i]]} ({reason[i]})")
            else:
                alternatives.append(";".join(f"{cls[j]}:{alt_p[i, j]:.3f}" for j in order[i]
                                             if j != top[i] and alt_p[i, j] >= ALTERNATIVE_MIN))
                ev = rr.evidence(src[i])
                if not ev:
                    ev = "无规则命中" + ("(主动管理基金)" if active[i] else "")
                if head_reads_n[i]:
                    ev += f"; 该指数的独立盲读有分歧({head_agree[i]}/{head_reads_n[i]} 选此类)"
                evidence.append(ev)
            linked.append(codes[src[i]] if src[i] != i else "")
        if self.reviewed:  # a person's decision settles its fund, the fund's share classes and feeders, and its index
            ckeys, skeys = code_keys(p).tolist(), subject_keys(p).tolist()
            for i, c in enumerate(codes):
                if not_name[i]:
                    continue
                via, how = None, ""
                if c in self.reviewed:
                    via = c
                elif codes[src[i]] in self.reviewed:
                    via, how = codes[src[i]], f"(经关联基金{codes[src[i]]})"
                else:
                    for k in (ckeys[i], skeys[i]):
                        if k and k in self.reviewed_index:
                            via = self.reviewed_index[k]
                            how = f"(同一跟踪指数 {k.split(':', 1)[1]},基金{via}的复核决定)"
                            break
                if via:
                    hit = self.reviewed[via]
                    secondary[i], confidence[i], needs_review[i] = hit[0], 1.0, False
                    alternatives[i] = ""
                    evidence[i] = f"人工复核: {hit[1]} {hit[2]}{how}; " + evidence[i]
        for i in np.flatnonzero(dup):
            evidence[i] += "; 基金代码在本批次中重复"
        etf_link = links["etf"].to_numpy()
        for i in range(n):
            if linked[i]:
                kind = "ETF" if etf_link[i] >= 0 else "份额"
                evidence[i] += f"; 关联{kind}:{linked[i]}"
        out = pd.DataFrame({
            "primary": [tax.primary_of(s) if s else "" for s in secondary], "secondary": secondary,
            "confidence": confidence,
            "needs_review": needs_review, "alternatives": alternatives, "evidence": evidence,
            "asset_class": p["asset_class"].values, "management_style": p["management_style"].values,
            "linked_fund": linked}, index=p.index)
        if hrows is not None:
            share = hrows["holding_industry_share"]
            out["holding_industry"] = hrows["holding_industry"].fillna("").values
            out["holding_industry_share"] = share.values
            theme = (share > INDUSTRY_THEME_SHARE).fillna(False).values
            sw_date = f"; 申万2021映射 {self.holdings.sw_map_as_of}" if self.holdings.sw_map_as_of else ""
            for i in np.flatnonzero(theme & ~oos):
                out.iat[i, out.columns.get_loc("evidence")] += (
                    f"; 持仓:{out['holding_industry'].iat[i]} {share.iat[i]:.1f}%>30% 行业主题(seed 004{sw_date})")
        else:
            out["holding_industry"] = ""
            out["holding_industry_share"] = np.nan
        out["taxonomy_version"] = tax.version
        out["model_version"] = self.model_version
        return out

    # ------------------------------------------------------------------ frames
    def tag(self, frame: pd.DataFrame, name_column: str | None = None, source: str = "input",
            summary: TagSummary | None = None) -> pd.DataFrame:
        """Return ``frame`` with every original row and column, in order, plus the output columns."""
        t0 = time.perf_counter()
        columns = list(frame.columns)
        colmap = detect_columns(columns, source, name_column)
        body = frame.reset_index(drop=True)
        if len(body) == 0:
            pred = pd.DataFrame({c: pd.Series(dtype=object) for c in OUTPUT_COLUMNS})
        else:
            pred = self.predict(prepare(body, colmap, self.vocab))
        out = body.copy()
        renamed = {c: f"{c}_previous" for c in columns if c in OUTPUT_COLUMNS}
        if renamed:
            out = out.rename(columns=renamed)
            if summary is not None:
                summary.warnings.append(f"{source}: input already had {sorted(renamed)}; kept as *_previous")
        for c in OUTPUT_COLUMNS:
            out[c] = pred[c].values
        if summary is not None:
            ndup = int(pred["evidence"].str.contains("基金代码在本批次中重复", regex=False).sum())
            if ndup:
                summary.warnings.append(f"{source}: {ndup} rows share a fund code with another row (all kept, "
                                        f"flagged in evidence)")
            summary.rows += len(out)
            for k, v in pred["secondary"].value_counts().items():
                summary.per_class[k] = summary.per_class.get(k, 0) + int(v)
            summary.review += int(pred["needs_review"].sum())
            summary.out_of_scope += int((pred["secondary"] == self.taxonomy.not_applicable).sum())
            summary.seconds += time.perf_counter() - t0
        return out
