"""Which rows get no class to choose among, as flags: read from the prepared fields, the rule hits and the holdings,
before any model runs (the score step scores only the other rows; the decide step blanks these or marks them out of
scope). One job: the gates of tagging, computed once per batch.

A row gets no class when its asset class is out of the taxonomy's scope (bond, money market, REITs, FOF: it is
``不适用``), or it is blank: it is not a fund's name (:mod:`classifier.name_check`), it gives nothing to read, no rule
decided it when there is no model (rules only), or it is an actively managed fund whose names carry no class word and
whose holdings show no industry concentration (seed 004).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .fundtype import ACTIVE
from .prepare import nothing_to_read
from .rules import RuleResult


@dataclass
class Gates:
    """Per row (arrays in row order): the flags that decide whether and how a row gets a class."""

    problem: np.ndarray  # a reason code of classifier.name_check ('' a fund name), after the term-only clearing
    term_only: np.ndarray  # a name-only row read as a fund's name only through a taxonomy term
    out_of_scope: np.ndarray
    no_text: np.ndarray
    abstain: np.ndarray  # rules only: no rule decided the row (or the row it follows)
    active: np.ndarray
    concentrated: np.ndarray  # holdings show an industry over the seed-004 share
    held: np.ndarray  # holdings known
    no_signal: np.ndarray  # an active fund with no class word and no concentration

    @property
    def not_name(self) -> np.ndarray:
        return self.problem != ""

    @property
    def blank(self) -> np.ndarray:
        """Rows left without a class (and sent to review)."""
        return self.no_text | self.abstain | self.not_name | self.no_signal

    @property
    def classless(self) -> np.ndarray:
        """Rows whose output reads no class probability: out of scope or blank."""
        return self.out_of_scope | self.blank


def _per_hits(hits: list[tuple], flag) -> np.ndarray:
    """``flag`` of each row's rule hits, once per hits tuple (by identity: the rows of one text share it)."""
    seen: dict[int, bool] = {}
    out = []
    for hs in hits:
        f = seen.get(id(hs))
        if f is None:
            f = seen[id(hs)] = flag(hs)
        out.append(f)
    return np.array(out, dtype=bool)


def gates(p: pd.DataFrame, rr: RuleResult, source_row: np.ndarray, holdings: pd.DataFrame | None,
          out_of_scope, industry_theme_share: float, rules_only: bool) -> Gates:
    """The gates of a prepared frame ``p`` given its rules' result ``rr``, the row each row follows (``source_row``:
    share classes and feeders take the rule hits of the fund they follow), its holdings features (None: none given),
    the taxonomy's out-of-scope asset classes and the seed-004 industry share (% of NAV)."""
    n = len(p)
    problem = p["name_problem"].to_numpy(dtype=object)
    # a name without fund words is still a fund's name when a term of the taxonomy occurs in it (光伏50)
    term_hit = _per_hits(rr.hits, lambda hs: any(not h.fuzzy and h.field in ("name", "full_name") for h in hs))
    # ... but text that reads as a fund's name only through such a term may be no fund at all (上海市, 百万医疗险): the
    # chance a reader picks the class is at most the chance it is a fund (``term_only_name_prior``), and a person
    # decides
    term_only = (problem == "fund_words") & term_hit
    problem = np.where(term_only, "", problem)
    not_name = problem != ""
    oos = p["asset_class"].isin(out_of_scope).to_numpy() & ~not_name
    active = (p["management_style"] == ACTIVE).to_numpy()
    no_text = nothing_to_read(p) & ~oos & ~not_name
    # without a model, a row no rule decided is left blank for review (a tie abstains, it is not guessed)
    abstain = (np.array([lab is None for lab in rr.labels], dtype=bool)[source_row] & ~oos & ~no_text) \
        if rules_only else np.zeros(n, dtype=bool)
    # The model is calibrated on index funds. An active fund's name is weaker evidence of what it holds, so it is
    # accepted without review only when its holdings show an industry concentration above industry_theme_share
    # (seed 004).
    concentrated, held = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if holdings is not None:
        concentrated = (holdings["holding_industry_share"] > industry_theme_share).fillna(False).to_numpy()
        held = holdings["holding_industry_share"].notna().to_numpy()
    # an active fund whose names carry no class word and whose holdings show no industry concentration gives nothing
    # to classify by: the model's guess there is noise (it flips with every retraining), so no class is given
    no_rule = np.array([not hs for hs in rr.hits], dtype=bool)[source_row]
    no_signal = active & ~concentrated & no_rule & ~oos & ~not_name & ~no_text & ~abstain
    return Gates(problem, term_only, oos, no_text, abstain, active, concentrated, held, no_signal)
