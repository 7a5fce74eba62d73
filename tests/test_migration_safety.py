"""The review loop's migration and data-safety path (session 28): what a withdrawal after two migrations says, a
migration that queues nothing, the E Fund set's migration record, a migration or import killed part way, and model
saves under a lock."""
import pandas as pd
from click.testing import CliRunner

from classifier.cli import cli
from classifier.labeled import SHIPPED_LABELS
from classifier.taxonomy import DEFAULT_TAXONOMY
from conftest import write_labeled_subset


def _subset(tmp_path, n_groups=30):
    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=n_groups)
    return labels


def test_a_keyword_only_migration_writes_no_empty_review_queue(tmp_path):
    """A taxonomy change that only adds a keyword moves no class: `taxonomy migrate … -o q.xlsx` still wrote q.xlsx,
    a sheet with a header alone, beside the message 'nothing to review (q.xlsx holds no rows)'. It now writes no
    queue and says so."""
    labels = _subset(tmp_path)
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"', 'version = "jrj-2026.01-kw"')
    assert t.count('keywords = ["消费", "消费升级",') == 1
    (tmp_path / "kw.toml").write_text(t.replace('keywords = ["消费", "消费升级",', 'keywords = ["消费", "旅游", "消费升级",'),
                                      encoding="utf-8")
    (tmp_path / "m.toml").write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.01-kw"\n\n[map]\n',
                                     encoding="utf-8")
    for queue in ("q.xlsx", "q.csv"):
        res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(tmp_path / "m.toml"), "--from", str(DEFAULT_TAXONOMY),
                                       "--to", str(tmp_path / "kw.toml"), "--labeled", str(labels), "-o",
                                       str(tmp_path / queue)])
        assert res.exit_code == 0, res.output
        assert "queued 0 for review" in res.output and "no review queue was written" in res.output, res.output
        assert not (tmp_path / queue).exists()
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert set(pd.read_csv(labels, dtype=str)["taxonomy_version"]) == {"jrj-2026.01-kw"}
        labels.unlink()
        (labels.parent / "history.csv").unlink()
        write_labeled_subset(SHIPPED_LABELS, labels, n_groups=30)

