"""The review loop keeps every decision and says what a sheet would do (session 29, review17): one index is one group
of the sheet, `settles` counts what the next tag settles, a labeled set of another taxonomy is refused by export as by
import, queued rows come back in place, `tag --previous` proves its taxonomy, and `--overrule` can name its rows."""
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.labeled import SHIPPED_LABELS
from classifier.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
LISTINGS = str(ROOT / "examples" / "new_listings.csv")
EFUND = "taxonomy/efund2025.toml"
EFUND_LABELS = SHIPPED_LABELS.parent / "efund" / "labels.csv"


def test_review_export_refuses_a_labeled_set_of_another_taxonomy(tmp_path):
    """`review export --labeled` given E Fund's set for a file tagged with the default taxonomy (or the default set
    for an E Fund file) wrote a sheet whose `settles` read decisions the next tag never applies, and whose import that
    set refuses; it is refused, naming the set, its version, the file's and the way out."""
    r = CliRunner()
    jrj, ef = load_taxonomy(), load_taxonomy(ROOT / EFUND)
    for extra, labeled, held, used in (([], EFUND_LABELS, ef.version, jrj.version),
                                       (["--taxonomy", str(ROOT / EFUND)], SHIPPED_LABELS, jrj.version, ef.version)):
        tagged, sheet = tmp_path / "tagged.csv", tmp_path / "review.csv"
        res = r.invoke(cli, ["tag", LISTINGS, "-o", str(tagged), "-s", *extra])
        assert res.exit_code == 0, res.output
        res = r.invoke(cli, ["review", "export", str(tagged), "-o", str(sheet), "--labeled", str(labeled), *extra])
        assert res.exit_code != 0 and not sheet.exists(), res.output
        assert f"{labeled}: this labeled set holds labels of taxonomy {held}, not {used}" in res.output
        assert f"pass --labeled a labeled set of {used}" in res.output and "nothing written" in res.output
