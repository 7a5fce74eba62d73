"""The blind holdout (issue 12) stays blind: unchanged since it was read, unreadable as training data, disjoint from
the labeled sets it is kept apart from."""
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from classifier.errors import InputError
from classifier.labeled import read_labels
from classifier.normalize import index_subject
from classifier.vocabulary import load_vocabulary

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = ROOT / "data" / "holdout"
pytestmark = pytest.mark.skipif(not HOLDOUT.exists(), reason="not a checkout")


def test_holdout_files_match_their_recorded_hashes():
    recorded = dict(reversed(line.split("  ", 1)) for line in (HOLDOUT / "SHA256SUMS").read_text().splitlines())
    files = {str(p.relative_to(HOLDOUT)) for p in HOLDOUT.rglob("*.csv")}
    assert files == set(recorded)
    for rel, digest in recorded.items():
        assert hashlib.sha256((HOLDOUT / rel).read_bytes()).hexdigest() == digest, rel


@pytest.mark.parametrize("name", ["team_labels.csv", "worklist.csv"])
def test_training_refuses_the_holdout(name):
    with pytest.raises(InputError, match="blind holdout"):
        read_labels(HOLDOUT / name)


@pytest.mark.parametrize("labels", ["data/labeled/labels.csv", "data/labeled/efund/labels.csv"])
def test_labeled_sets_hold_no_holdout_fund_or_index(labels):
    held = pd.read_csv(HOLDOUT / "team_labels.csv", dtype=str, keep_default_na=False)
    lab = read_labels(ROOT / labels)
    assert not set(lab.fund_code) & set(held.fund_code)
    vocab = load_vocabulary()

    def subjects(df):
        return {index_subject(s, vocab) for s in df.index_name if s}

    assert not subjects(lab) & subjects(held)
