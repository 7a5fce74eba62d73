"""Step 4 of tagging — explain: the only step that writes text. ``alternatives`` and ``evidence`` are written from
the decision's flags and numbers and the rule layer's hits; nothing after this step reads them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .doubt import SIGNALS
from .score import Scores
from .taxonomy import Taxonomy
from .vocabulary import load_vocabulary

NO_TEXT = "无名称、全称、跟踪指数或业绩基准,无法分类"
ABSTAIN = "规则弃权(票数相同): "
NO_RULE_RULES_ONLY = "无规则命中(仅规则模式)"
NO_RULE = "无规则命中"
NO_SIGNAL = "主动管理基金: 名称无分类词,持仓无单一行业集中(>{share:g}%,seed 004)证据;不猜测分类,请复核或提供持仓"
ACTIVE_FUND = "(主动管理基金)"
ACTIVE_NAME_ONLY = "; 主动管理基金: 持仓未显示单一行业占比>{share:g}%(seed 004),此类别只凭名称,请复核或提供持仓"
TERM_ONLY = "; 名称只凭分类词像基金名(无基金用语、代码、指数或类型),请确认它是基金"
HEAD_DOUBT = "; 该指数的独立盲读有分歧({agree}/{reads} 选此类)"
HEAD_AGREE = "; 该指数的独立盲读一致({agree}/{reads} 选此类)"
REVIEWED = "人工复核: {by} {at}{how}; "
VIA_LINK = "(经关联基金{code})"
VIA_INDEX = "(同一跟踪指数 {index},基金{code}的复核决定)"
REVIEW_DISPUTE = "; 复核决定不一致(同一指数或同一基金的份额): {decisions},请复核"
DECISION = "基金{code} {secondary}({by} {at})"
DOUBTS = "; 疑点: {reasons}"
# what each doubt signal (classifier/doubt.py) says when it is set and lowers the confidence
DOUBT_REASONS = {"two_classes": "规则投票给两个以上类别", "rules_overruled": "模型推翻了规则的类别",
                 "text_vs_rules": "文本模型与规则不一致", "holdings_vs": "持仓指向另一类别", "fuzzy": "分类词为近似匹配",
                 "no_rule": "无规则命中"}
DOUBT_PATTERN = "同一规则与词的判定处读者一致率 {rate:.0%}"
DOUBT_SUBJECT = "名称相近的指数上读者一致率约 {rate:.0%}"
DOUBT_NEIGHBOURS = "最相近的已读指数上读者一致率 {rate:.0%}"
DUPLICATE = "; 基金代码在本批次中重复"
LINKED = "; 关联{kind}:"  # the linked fund's code follows
HOLDINGS_THEME = "; 持仓:{industry} {share:.1f}%>{threshold:g}% 行业主题(seed 004{sw_date})"
SW_DATE = "; 申万2021映射 {date}"


def alternatives_text(d: pd.DataFrame, classes: list[str], n_alternatives: int) -> list[str]:
    """Per row, its runners-up as ``class:probability`` joined by ';' ('' none). Only the rows with a runner-up are
    read (the fund list: ~4,900 of 25,322), and each distinct (classes, probabilities) once (~1,500): a row that
    follows another has its numbers."""
    if n_alternatives < 1:
        return []
    ks = range(1, n_alternatives + 1)
    some = np.logical_or.reduce([d[f"alt_class_{k}"].to_numpy() >= 0 for k in ks])
    rows = np.flatnonzero(some)
    out = [""] * len(d)
    # Python lists: reading a NumPy array one element at a time makes a NumPy scalar of each
    cols = [c for k in ks for c in (d[f"alt_class_{k}"].to_numpy()[rows].tolist(),
                                    d[f"alt_p_{k}"].to_numpy()[rows].tolist())]
    made: dict[tuple, str] = {}
    for i, row in zip(rows.tolist(), zip(*cols)):
        t = made.get(row)
        if t is None:
            t = made[row] = ";".join(f"{classes[row[m]]}:{row[m + 1]:.3f}" for m in range(0, len(row), 2)
                                     if row[m] >= 0)
        out[i] = t
    return out


# the decision columns (classifier/decide.py) the evidence is written from
EVIDENCE_READS = ("name_problem", "no_text", "abstain", "out_of_scope", "no_signal", "active", "concentrated",
                  "needs_review", "term_only_name", "reviewed", "review_via", "review_how", "review_key",
                  "review_dispute", "duplicate_code", "linked_etf")


def evidence_text(p: pd.DataFrame, s: Scores, d: pd.DataFrame, tax: Taxonomy, reviewed: dict,
                  sw_map_as_of: str, industry_theme_share: float, doubt_pattern_rate: float = 0.0) -> list[str]:
    """``industry_theme_share``: the seed-004 threshold decide used (% of NAV), quoted in the evidence;
    ``doubt_pattern_rate``: a review row names the readers' agreement on its rule and term when below it."""
    why_not_name = load_vocabulary().not_a_name.evidence
    asset, reason = p["asset_class"].tolist(), p["asset_reason"].tolist()
    codes = d["code"].tolist()
    # per-row numbers as Python lists (see alternatives_text)
    linked, source_row = d["linked_row"].tolist(), s.source_row.tolist()
    head_agree, head_reads = s.head_agree.tolist(), s.head_reads.tolist()
    doubt, lowers = s.doubt, s.doubt_lowers
    pos = {n: j for j, n in enumerate(SIGNALS)}
    rate = (1.0 / (1.0 + np.exp(-doubt[:, pos["pattern"]]))).tolist() if doubt is not None else None
    # a regression's prediction: it may pass 0 or 1
    subject = np.clip(s.subject_rate, 0.0, 1.0).tolist() if s.subject_rate is not None else None
    neighbours = s.neighbour_rate.tolist() if s.neighbour_rate is not None else None
    # per lowering signal with a reason to give, whether each row has it set (in the order of ``lowers``)
    signal_set = {n: (doubt[:, pos[n]] == 1.0).tolist() for n in lowers if n in DOUBT_REASONS} \
        if doubt is not None else {}
    # the texts that are the same on every row, written once
    no_signal_text = NO_SIGNAL.format(share=industry_theme_share)
    active_name_only = ACTIVE_NAME_ONLY.format(share=industry_theme_share)
    linked_to = {True: LINKED.format(kind="ETF"), False: LINKED.format(kind="份额")}  # by linked_etf
    heads: dict[tuple[int, int], str] = {}  # the readers' counts said, by (agree, reads): a few distinct ones
    out = []
    # lists: iterating Arrow-backed columns cell by cell is slow; only the columns read here (rows of all the
    # decision's columns, the runners-up too, were half this function's work)
    # each row's flags unpacked into local names (a named tuple per row and its attribute reads cost ~10 ms of the
    # fund list's ~35)
    rows = zip(*(d[c].tolist() for c in EVIDENCE_READS))
    for i, (name_problem, no_text, abstain, out_of_scope, no_signal, active, concentrated, needs_review,
            term_only_name, is_reviewed, review_via, review_how, review_key, review_dispute, duplicate_code,
            linked_etf) in enumerate(rows):
        src = source_row[i]
        if name_problem:
            ev = why_not_name[name_problem]
        elif no_text:
            ev = NO_TEXT
        elif abstain:
            rules = s.rules.evidence(src)
            ev = (ABSTAIN + rules) if rules else NO_RULE_RULES_ONLY
        elif out_of_scope:
            ev = f"{tax.out_of_scope[asset[i]]} ({reason[i]})"
        elif no_signal:
            ev = no_signal_text
        else:
            ev = s.rules.evidence(src) or (NO_RULE + (ACTIVE_FUND if active else ""))
            if head_reads[i] and not is_reviewed:  # the readers' count is of the model's class, which a decision replaces
                k = (head_agree[i], head_reads[i])
                if k not in heads:
                    heads[k] = (HEAD_AGREE if k[0] == k[1] else HEAD_DOUBT).format(agree=k[0], reads=k[1])
                ev += heads[k]
            if active and not concentrated and needs_review and not term_only_name:  # whatever its confidence
                ev += active_name_only
            if needs_review and not is_reviewed and doubt is not None:
                reasons = [DOUBT_REASONS[n] for n, is_set in signal_set.items() if is_set[i]
                           and not (n == "no_rule" and ev.startswith(NO_RULE))]
                if rate[i] < doubt_pattern_rate:
                    reasons.append(DOUBT_PATTERN.format(rate=rate[i]))
                if subject is not None and subject[i] < doubt_pattern_rate:
                    reasons.append(DOUBT_SUBJECT.format(rate=subject[i]))
                if neighbours is not None and neighbours[i] < doubt_pattern_rate:
                    reasons.append(DOUBT_NEIGHBOURS.format(rate=neighbours[i]))
                if reasons:
                    ev += DOUBTS.format(reasons=", ".join(reasons))
        if is_reviewed:
            _, by, at = reviewed[review_via]
            how = ("" if review_how == "fund" else VIA_LINK.format(code=review_via) if review_how == "linked"
                   else VIA_INDEX.format(index=review_key.split(":", 1)[1], code=review_via))
            ev = REVIEWED.format(by=by, at=at, how=how) + ev
        if review_dispute:
            ev += REVIEW_DISPUTE.format(decisions="、".join(
                DECISION.format(code=c, secondary=reviewed[c][0], by=reviewed[c][1], at=reviewed[c][2])
                for c in review_dispute))
        if term_only_name and not is_reviewed:
            ev += TERM_ONLY
        if duplicate_code:
            ev += DUPLICATE
        if linked[i] >= 0:
            ev += linked_to[linked_etf] + codes[linked[i]]
        if concentrated and not out_of_scope:
            ev += HOLDINGS_THEME.format(industry=s.holdings["holding_industry"].iat[i],
                                        share=s.holdings["holding_industry_share"].iat[i],
                                        threshold=industry_theme_share,
                                        sw_date=SW_DATE.format(date=sw_map_as_of) if sw_map_as_of else "")
        out.append(ev)
    return out


def output_frame(p: pd.DataFrame, s: Scores, d: pd.DataFrame, tax: Taxonomy, reviewed: dict, n_alternatives: int,
                 sw_map_as_of: str, model_version: str, industry_theme_share: float,
                 doubt_pattern_rate: float = 0.0, objects: bool = False) -> pd.DataFrame:
    """The output columns (see :data:`classifier.pipeline.OUTPUT_COLUMNS`) of a prepared frame. ``objects``: the
    text columns as Python strings (dtype object), for a caller that writes them out as text at once (a CSV chunk);
    else pandas' own text dtype (with pandas 3, Arrow strings)."""

    def text(values):
        return pd.Series(values, index=p.index, dtype=object) if objects else values

    codes = d["code"].tolist()
    untyped = np.array([not t.strip() for t in p["fund_type"].tolist()], dtype=bool)
    unread = d["no_text"].to_numpy(dtype=bool) & untyped
    out = pd.DataFrame({
        "primary": text([tax.primary_of(x) if x else "" for x in d["secondary"].tolist()]),
        "secondary": text(d["secondary"].to_numpy()),
        "confidence": d["confidence"].to_numpy(), "needs_review": d["needs_review"].to_numpy(),
        # the code of the fund whose review decision settled the row ('' none): a flag later steps and users filter on
        "review_decision": text(np.where(d["reviewed"].to_numpy(dtype=bool), d["review_via"].to_numpy(dtype=object),
                                         "")),
        "alternatives": text(alternatives_text(d, s.classes, n_alternatives)),
        "evidence": text(evidence_text(p, s, d, tax, reviewed, sw_map_as_of, industry_theme_share,
                                       doubt_pattern_rate)),
        # a row with nothing to read (no name, index, benchmark or type) has no asset class or style to report
        "asset_class": text(np.where(unread, "", p["asset_class"].to_numpy(dtype=object))),
        "management_style": text(np.where(unread, "", p["management_style"].to_numpy(dtype=object))),
        "linked_fund": text([codes[j] if j >= 0 else "" for j in d["linked_row"].tolist()])}, index=p.index)
    if s.holdings is not None:
        out["holding_industry"] = text(s.holdings["holding_industry"].fillna("").values)
        out["holding_industry_share"] = s.holdings["holding_industry_share"].values
    else:
        out["holding_industry"] = text("")
        out["holding_industry_share"] = np.nan
    out["taxonomy_version"] = text(tax.version)
    out["model_version"] = text(model_version)
    return out

