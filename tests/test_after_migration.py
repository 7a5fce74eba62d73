"""What a workspace says after its labeled sets were migrated (session 28, round 16): a run given the taxonomy file a
set was migrated from, a migration run again with that file, a migration that moved no class."""
import shutil

from click.testing import CliRunner

from classifier.agreement import ReadsMigration
from classifier.cli import cli
from classifier.config import project_path
from classifier.labeled import SHIPPED_LABELS
from classifier.taxonomy import DEFAULT_TAXONOMY
from conftest import write_labeled_subset


def _workspace(tmp_path, monkeypatch):
    """A workspace with a part of each shipped set (every review decision kept), its jrj set migrated by a rename
    (资源主题ETF → 资源能源主题ETF, r2.toml) and its E Fund set by one (国际 → 全球, ef2.toml), as a user runs them."""
    ws = tmp_path / "ws"
    (ws / "data" / "labeled" / "efund").mkdir(parents=True)
    review = lambda lab: lab["source"] == "review"  # noqa: E731
    write_labeled_subset(SHIPPED_LABELS, ws / "data" / "labeled" / "labels.csv", n_groups=20, keep=review)
    write_labeled_subset(project_path("data/labeled/efund/labels.csv"), ws / "data" / "labeled" / "efund" /
                         "labels.csv", n_groups=20, keep=review)
    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(ws))
    monkeypatch.delenv("FUNDCLASS_CONFIG", raising=False)
    monkeypatch.chdir(ws)
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"', 'version = "jrj-2026.02-r2"')
    (ws / "r2.toml").write_text(t.replace("资源主题ETF", "资源能源主题ETF"), encoding="utf-8")
    (ws / "m.toml").write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.02-r2"\n\n[map]\n'
                               '"资源主题ETF" = "资源能源主题ETF"\n', encoding="utf-8")
    t = project_path("taxonomy/efund2025.toml").read_text(encoding="utf-8")
    t = t.replace('version = "efund-2025.1-r1"', 'version = "efund-2025.2-r2"')
    assert t.count('"国际"') == 2
    (ws / "ef2.toml").write_text(t.replace('"国际"', '"全球"'), encoding="utf-8")
    (ws / "mef.toml").write_text('[migration]\nfrom = "efund-2025.1-r1"\nto = "efund-2025.2-r2"\n\n[map]\n'
                                 '"国际" = "全球"\n', encoding="utf-8")
    r = CliRunner()
    for args in (["m.toml", "--from", str(DEFAULT_TAXONOMY), "--to", "r2.toml"],
                 ["mef.toml", "--from", "taxonomy/efund2025.toml", "--to", "ef2.toml"]):
        res = r.invoke(cli, ["taxonomy", "migrate", *args, "-o", "q.csv"])
        assert res.exit_code == 0, res.output
    return ws


def test_tagging_with_the_file_a_set_was_migrated_from_says_its_decisions_are_of_the_new_version(tmp_path,
                                                                                                monkeypatch):
    """After `taxonomy migrate`, `fundclass tag --taxonomy <the old file>` applied none of the set's review decisions
    (they are of the new version) and told the reviewer to 'pass the labeled set of <old version> with --labeled',
    a set that no longer exists, and the run summary ended 'review decisions: 0 in …': a reviewer's decisions looked
    lost. The run now says the set's N decisions are of the new version and this run of the old one, so none is
    applied, and what to do: tag with the file the set was migrated to (for jrj, what a run given no --taxonomy
    uses; for E Fund, --taxonomy ef2.toml, the file fundclass.toml records). The same for E Fund's set."""
    ws = _workspace(tmp_path, monkeypatch)
    (ws / "few.csv").write_text("fund_code,fund_name\n510300,华泰柏瑞沪深300ETF\n", encoding="utf-8")
    r = CliRunner()
    for given, tid, n, old, new, do in (
            (str(DEFAULT_TAXONOMY), "jrj", 5, "jrj-2026.01-r1", "jrj-2026.02-r2",
             "tag with the taxonomy the set was migrated to, which this workspace uses when given no --taxonomy: "
             "r2.toml (the file fundclass.toml records for jrj2026)"),
            ("taxonomy/efund2025.toml", "efund", 3, "efund-2025.1-r1", "efund-2025.2-r2",
             "tag with the taxonomy the set was migrated to: --taxonomy ef2.toml (the file fundclass.toml records "
             "for efund2025)")):
        res = r.invoke(cli, ["tag", "few.csv", "-o", f"t_{tid}.csv", "--rules-only", "--taxonomy", given])
        assert res.exit_code == 0, res.output
        out = " ".join(res.output.split())
        assert (f"the labeled set's {n} review decisions are of taxonomy {new} and this run is of {old}, so none of "
                f"them is applied; to apply them, {do}") in out, out
        assert "with --labeled" not in out, out
        assert f"(0 in " not in out and f"({n} more there not applied: see the warning above)" in out, out


def test_a_migration_run_again_with_the_file_the_set_was_migrated_from_names_the_file_to_start_from(tmp_path,
                                                                                                  monkeypatch):
    """`taxonomy migrate --from taxonomy/efund2025.toml` run again after E Fund's set was migrated is refused on the
    version check (it reads E Fund's set since e14dc1d, not the jrj set), but said only 'holds labels of taxonomy
    efund-2025.2-r2, not efund-2025.1-r1 (--from)'. It now says the set was migrated from that version already and
    names the file a next migration starts from, the one fundclass.toml records; nothing is written."""
    ws = _workspace(tmp_path, monkeypatch)
    ef = ws / "data" / "labeled" / "efund" / "labels.csv"
    before = {p: p.read_bytes() for p in (ws / "data").rglob("*") if p.is_file()}
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", "mef.toml", "--from", "taxonomy/efund2025.toml", "--to",
                                   "ef2.toml", "-o", "q2.csv"])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert (f"{ef}: holds labels of taxonomy efund-2025.2-r2, not efund-2025.1-r1 (--from): it was migrated from "
            f"efund-2025.1-r1 already; a next migration of it takes --from ef2.toml (the file fundclass.toml records "
            f"for efund2025); nothing migrated") in out, out
    assert {p: p.read_bytes() for p in (ws / "data").rglob("*") if p.is_file()} == before
    assert not (ws / "q2.csv").exists()


def test_a_migration_that_moved_no_class_says_nothing_about_the_blind_reads(tmp_path):
    """A keyword-only migration printed 'agreement.csv: 0 heads' blind reads follow the renamed or merged classes
    (agreement recomputed)': nothing was renamed, merged or recomputed. It now prints nothing about agreement.csv
    when no head changed."""
    assert ReadsMigration().lines() == []
    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=20)
    shutil.copyfile(SHIPPED_LABELS.parent / "agreement.csv", labels.parent / "agreement.csv")
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"', 'version = "jrj-2026.01-kw"')
    (tmp_path / "kw.toml").write_text(t.replace('keywords = ["消费", "消费升级",', 'keywords = ["消费", "旅游", "消费升级",'),
                                      encoding="utf-8")
    (tmp_path / "m.toml").write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.01-kw"\n\n[map]\n',
                                     encoding="utf-8")
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(tmp_path / "m.toml"), "--from", str(DEFAULT_TAXONOMY),
                                   "--to", str(tmp_path / "kw.toml"), "--labeled", str(labels), "-o",
                                   str(tmp_path / "q.csv")])
    assert res.exit_code == 0, res.output
    assert "agreement.csv" not in res.output, res.output
    assert "jrj-2026.01-kw" in (labels.parent / "agreement.csv").read_text(encoding="utf-8")
