"""The workspace remembers the taxonomy its labeled set was migrated to (audit round 14): after `fundclass taxonomy
migrate --to NEW.toml`, every later command of the workspace defaults to NEW.toml, per taxonomy id."""
import tomllib

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.config import project_path
from classifier.errors import InputError
from classifier.labeled import SHIPPED_LABELS
from classifier.manifest import read_manifest
from classifier.taxonomy import DEFAULT_TAXONOMY
from conftest import TRAINING_GROUPS, write_labeled_subset

RENAME = '[migration]\nfrom = "{old}"\nto = "{new}"\n\n[map]\n"{a}" = "{b}"\n'


def _renamed(src, dest, old_version, new_version, a, b):
    t = src.read_text(encoding="utf-8")
    assert f'version = "{old_version}"' in t and a in t
    dest.write_text(t.replace(f'version = "{old_version}"', f'version = "{new_version}"').replace(a, b),
                    encoding="utf-8")
    return dest


def _efund_rename(ws):
    """E Fund's set (40 groups) in workspace ``ws``, its taxonomy renaming its first class (``ef2.toml``) and the
    migration file that renames it (``m.toml``): (the set's labels.csv, E Fund's version, the class renamed)."""
    ef = ws / "data" / "labeled" / "efund" / "labels.csv"
    ef.parent.mkdir()
    write_labeled_subset(project_path("data/labeled/efund/labels.csv"), ef, n_groups=40)
    efund = project_path("taxonomy/efund2025.toml")
    version = tomllib.loads(efund.read_text(encoding="utf-8"))["taxonomy"]["version"]
    cls = sorted(set(pd.read_csv(ef, dtype=str)["secondary"]) - {"不适用"})[0]
    _renamed(efund, ws / "ef2.toml", version, "efund-2026.1-r2", f'"{cls}"', f'"{cls}2"')
    (ws / "m.toml").write_text(RENAME.format(old=version, new="efund-2026.1-r2", a=cls, b=f"{cls}2"),
                               encoding="utf-8")
    return ef, version, cls


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    (ws / "data" / "labeled").mkdir(parents=True)
    write_labeled_subset(SHIPPED_LABELS, ws / "data" / "labeled" / "labels.csv", n_groups=TRAINING_GROUPS)
    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(ws))
    monkeypatch.delenv("FUNDCLASS_CONFIG", raising=False)
    monkeypatch.chdir(ws)
    return ws


def test_after_a_migration_tag_train_and_audit_without_taxonomy_use_the_migrated_taxonomy(workspace):
    """After `taxonomy migrate --to r2.toml` in a workspace, `fundclass labels audit`, `train` and `tag` still read
    the shipped taxonomy unless given `--taxonomy r2.toml` every time: the audit counted the renamed class as an error,
    train and tag refused the migrated set. The migration now records r2.toml in the workspace's fundclass.toml
    ([taxonomies], by taxonomy id), says so and how to undo it, and every command given no --taxonomy uses it; an
    explicit --taxonomy (E Fund's) and a --config that sets [paths].taxonomy still win."""
    r = CliRunner()
    r2 = _renamed(DEFAULT_TAXONOMY, workspace / "r2.toml", "jrj-2026.01-r1", "jrj-2026.02-r2", "资源主题ETF",
                  "资源能源主题ETF")
    (workspace / "m.toml").write_text(RENAME.format(old="jrj-2026.01-r1", new="jrj-2026.02-r2", a="资源主题ETF",
                                                    b="资源能源主题ETF"), encoding="utf-8")
    res = r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", str(DEFAULT_TAXONOMY), "--to", "r2.toml",
                         "-o", "q.csv"])
    assert res.exit_code == 0, res.output
    settings = workspace / "fundclass.toml"
    assert tomllib.loads(settings.read_text(encoding="utf-8"))["taxonomies"] == {"jrj2026": "r2.toml"}
    assert f"this workspace now uses r2.toml for every command given no --taxonomy (recorded in {settings}" in \
        res.output and "to undo, delete that line" in res.output, res.output
    assert "`fundclass train`" in res.output and "--taxonomy r2.toml" not in res.output, res.output

    res = r.invoke(cli, ["labels", "audit"])
    assert res.exit_code == 0 and ", 0 errors" in res.output and "资源能源主题ETF" in res.output, res.output

    res = r.invoke(cli, ["train", "--no-holdings"])
    assert res.exit_code == 0, res.output
    assert read_manifest(workspace / "models" / "default")["taxonomy"]["version"] == "jrj-2026.02-r2"

    sample = project_path("examples/new_listings.csv")
    res = r.invoke(cli, ["tag", str(sample), "-o", "t.csv", "-s"])
    assert res.exit_code == 0, res.output
    out = pd.read_csv(workspace / "t.csv", dtype=str)
    assert set(out["taxonomy_version"]) == {"jrj-2026.02-r2"} and "资源主题ETF" not in set(out["secondary"])

    # an explicit --taxonomy of the other taxonomy id is not redirected to the jrj file
    res = r.invoke(cli, ["tag", str(sample), "-o", "e.csv", "-s", "--taxonomy", "taxonomy/efund2025.toml"])
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(workspace / "e.csv", dtype=str)["taxonomy_version"]) == {"efund-2025.1-r1"}

    # a --config that names the taxonomy itself wins: the shipped file, which the migrated set refuses
    (workspace / "c.toml").write_text(f'[paths]\ntaxonomy = "{DEFAULT_TAXONOMY.as_posix()}"\n', encoding="utf-8")
    res = r.invoke(cli, ["--config", "c.toml", "labels", "audit"])
    assert res.exit_code == 1 and "资源能源主题ETF" in res.output, res.output
    assert r2.exists()


def test_a_migration_of_e_funds_set_is_remembered_for_its_taxonomy_id_only(workspace):
    """E Fund's set migrated in the same workspace: the record is under its own id (efund2025), so commands given no
    --taxonomy keep the jrj taxonomy, and the jrj record is not replaced."""
    r = CliRunner()
    ef, version, cls = _efund_rename(workspace)
    (workspace / "fundclass.toml").write_text('# mine\n[tag]\nalternatives = 3\n\n[taxonomies]\njrj2026 = "r2.toml"\n',
                                              encoding="utf-8")
    _renamed(DEFAULT_TAXONOMY, workspace / "r2.toml", "jrj-2026.01-r1", "jrj-2026.01-r1", "x", "x")
    res = r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", "taxonomy/efund2025.toml", "--to", "ef2.toml",
                         "-o", "q.csv"])
    assert res.exit_code == 0, res.output
    text = (workspace / "fundclass.toml").read_text(encoding="utf-8")
    assert text.startswith("# mine\n[tag]\nalternatives = 3\n")
    assert tomllib.loads(text)["taxonomies"] == {"jrj2026": "r2.toml", "efund2025": "ef2.toml"}
    assert "pass --taxonomy ef2.toml" in res.output and "now uses" not in res.output, res.output
    res = r.invoke(cli, ["labels", "audit"])  # the jrj set, with the jrj file the workspace names
    assert res.exit_code == 0 and ", 0 errors" in res.output, res.output
    res = r.invoke(cli, ["labels", "audit", "--taxonomy", "ef2.toml"])
    assert res.exit_code == 0 and f"{cls}2" in res.output, res.output


def test_the_record_keeps_every_other_line_and_replaces_its_own():
    """The workspace's fundclass.toml may hold the user's own settings and comments: the migration's record changes
    its one line (or adds it under [taxonomies]), and a form it cannot edit safely is refused, naming the line."""
    from classifier.config import with_taxonomy_file

    text = '# notes\r\n[taxonomies]\r\n"efund2025" = "old.toml"  # was\r\njrj2026 = "a.toml"\r\n[tag]\r\nalternatives = 5\r\n'
    out = with_taxonomy_file(text, "jrj2026", "b.toml", "fundclass.toml")
    assert out == text.replace('jrj2026 = "a.toml"', 'jrj2026 = "b.toml"')
    out = with_taxonomy_file(text, "efund2025", "new.toml", "fundclass.toml")
    assert tomllib.loads(out)["taxonomies"] == {"efund2025": "new.toml", "jrj2026": "a.toml"}
    with pytest.raises(InputError, match="add it by hand"):
        with_taxonomy_file('taxonomies = { jrj2026 = "a.toml" }\n', "jrj2026", "b.toml", "fundclass.toml")


def test_init_says_where_the_workspace_configuration_is_and_what_it_records(workspace):
    """`fundclass init` run again in a migrated workspace listed the labeled sets it kept and said nothing of
    fundclass.toml, though that file decides which taxonomy every command uses. It now names the file and the
    taxonomy it records; a workspace with no such file gets no such line."""
    r = CliRunner()
    res = r.invoke(cli, ["init"])
    assert res.exit_code == 0 and "fundclass.toml" not in res.output, res.output
    _renamed(DEFAULT_TAXONOMY, workspace / "r2.toml", "jrj-2026.01-r1", "jrj-2026.02-r2", "资源主题ETF", "资源能源主题ETF")
    (workspace / "m.toml").write_text(RENAME.format(old="jrj-2026.01-r1", new="jrj-2026.02-r2", a="资源主题ETF",
                                                    b="资源能源主题ETF"), encoding="utf-8")
    assert r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", str(DEFAULT_TAXONOMY), "--to", "r2.toml",
                          "-o", "q.csv"]).exit_code == 0
    before = (workspace / "fundclass.toml").read_bytes()
    for args in (["init"], ["init", str(workspace)]):
        res = r.invoke(cli, args)
        assert res.exit_code == 0, res.output
        assert f"kept as it is: {workspace / 'fundclass.toml'} (the workspace's configuration" in res.output and \
            '[taxonomies] jrj2026 = "r2.toml": the taxonomy file `taxonomy migrate` moved the labeled set to' in \
            res.output, res.output
    assert (workspace / "fundclass.toml").read_bytes() == before


def test_init_says_a_recorded_e_fund_file_is_not_used_by_commands_given_no_taxonomy(workspace):
    """After E Fund's set was migrated (fundclass.toml: efund2025 = "e2.toml"), `fundclass init` run again said
    e2.toml was the file "which commands given no --taxonomy use", though those commands use the default taxonomy
    (jrj2026) and E Fund's commands still need --taxonomy e2.toml (audit round 16). It now says so, and keeps its
    sentence for the default taxonomy's record."""
    _renamed(project_path("taxonomy/efund2025.toml"), workspace / "e2.toml", "efund-2025.1-r1", "efund-2026.1", '"医药"', '"医药卫生"')
    (workspace / "fundclass.toml").write_text('[taxonomies]\nefund2025 = "e2.toml"\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["init"])
    assert res.exit_code == 0, res.output
    assert "which commands given no --taxonomy use" not in res.output, res.output
    assert ('efund2025 = "e2.toml": the taxonomy file `taxonomy migrate` moved the efund2025 labeled set to; '
            'commands given no --taxonomy use jrj2026, so pass --taxonomy e2.toml to commands of efund2025') in \
        res.output, res.output


def test_a_sheet_exported_before_e_funds_migration_is_not_sent_to_a_file_the_set_refuses(workspace):
    """A FOF team exported a review sheet of E Fund's taxonomy, then migrated E Fund's set (audit round 16).
    Imported with --taxonomy NEW, the sheet was answered "pass --taxonomy taxonomy/efund2025.toml (after a taxonomy
    migration to NEW: tag and export the sheet again)"; with that file, the set refused it ("pass the matching
    --taxonomy or --labeled"): a circle. Both now say the set was migrated from the sheet's version since and to tag
    again with the new file and export a new sheet. A sheet of E Fund's new version imported with no --taxonomy (the
    jrj taxonomy) no longer speaks of a migration to jrj's version."""
    r = CliRunner()
    ef, version, cls = _efund_rename(workspace)
    code = pd.read_csv(ef, dtype=str)["fund_code"].iat[0]
    sheet = "fund_code,decision,reviewer,taxonomy_version\n{code},{cls},fof,{v}\n"
    (workspace / "old.csv").write_text(sheet.format(code=code, cls=cls, v=version), encoding="utf-8")
    res = r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", "taxonomy/efund2025.toml", "--to", "ef2.toml",
                         "-o", "q.csv"])
    assert res.exit_code == 0, res.output
    before = ef.read_bytes()
    since = (f"the labeled set was migrated from {version} to efund-2026.1-r2 since: a sheet of {version} can no "
             f"longer be imported; tag the funds again with --taxonomy ef2.toml")
    for tax in ("ef2.toml", "taxonomy/efund2025.toml"):
        res = r.invoke(cli, ["review", "import", "old.csv", "--taxonomy", tax])
        assert res.exit_code != 0 and since in res.output, (tax, res.output)
        assert "pass --taxonomy taxonomy/efund2025.toml" not in res.output and "matching --taxonomy" not in \
            res.output, res.output
    (workspace / "new.csv").write_text(sheet.format(code=code, cls=f"{cls}2", v="efund-2026.1-r2"), encoding="utf-8")
    res = r.invoke(cli, ["review", "import", "new.csv"])
    assert res.exit_code != 0 and "pass --taxonomy ef2.toml" in res.output, res.output
    assert "migration to jrj" not in res.output and "migrated from" not in res.output, res.output
    assert ef.read_bytes() == before


def test_review_export_of_an_e_fund_tagged_file_without_taxonomy_names_the_file_to_pass(workspace):
    """A FOF team exports its E Fund-tagged file and forgets --taxonomy: the refusal said "pass the --taxonomy the
    file was tagged with", naming no file, where `summary`, `tag --previous` and `review import` name it (audit round
    16). It now names the shipped taxonomy/efund2025.toml."""
    r = CliRunner()
    (workspace / "in.csv").write_text("基金代码,基金简称\n512560,易方达中证军工ETF\n", encoding="utf-8")
    res = r.invoke(cli, ["tag", "in.csv", "-o", "t.csv", "-s", "--taxonomy", "taxonomy/efund2025.toml"])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["review", "export", "t.csv", "-o", "r.xlsx"])
    assert res.exit_code == 2 and "pass --taxonomy taxonomy/efund2025.toml, nothing written" in res.output, res.output
    assert not (workspace / "r.xlsx").exists()


def test_review_export_refuses_a_sheet_of_the_version_e_funds_set_was_migrated_from(workspace):
    """A FOF team tagged with E Fund's taxonomy, then migrated E Fund's set; `review export` of the earlier tagged
    file with its --taxonomy taxonomy/efund2025.toml wrote a sheet the reviewers could fill in, which no import then
    takes back (the set is of the new version) (audit round 16). It is refused before anything is written, naming
    the file to tag with again."""
    r = CliRunner()
    ef, version, cls = _efund_rename(workspace)
    (workspace / "in.csv").write_text("基金代码,基金简称\n512560,易方达中证军工ETF\n", encoding="utf-8")
    res = r.invoke(cli, ["tag", "in.csv", "-o", "t.csv", "-s", "--threshold", "1", "--taxonomy",
                         "taxonomy/efund2025.toml"])
    assert res.exit_code == 0, res.output
    assert r.invoke(cli, ["review", "export", "t.csv", "-o", "before.xlsx", "--taxonomy",
                          "taxonomy/efund2025.toml"]).exit_code == 0  # before the migration: a sheet
    res = r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", "taxonomy/efund2025.toml", "--to", "ef2.toml",
                         "-o", "q.csv"])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["review", "export", "t.csv", "-o", "r.xlsx", "--taxonomy", "taxonomy/efund2025.toml"])
    assert res.exit_code == 2 and f"the labeled set was migrated from {version} to efund-2026.1-r2 since" in \
        res.output and "tag the funds again with --taxonomy ef2.toml" in res.output, res.output
    assert not (workspace / "r.xlsx").exists()


def test_a_next_migration_given_the_file_e_funds_set_came_from_names_the_next_from(workspace):
    """After E Fund's set was migrated to ef2.toml, the team writes the next migration (a keyword added:
    [migration] from = ef2's version) and passes --from taxonomy/efund2025.toml by habit. The answer was the file's
    problems against efund2025 ("[migration] from = … but the old taxonomy is efund-2025.1-r1", "[map] class … map
    it (to [] if removed)"), which sends the team to edit a correct file (audit round 16). The set's own refusal now
    comes first: it was migrated from that file already, and the next --from is ef2.toml; nothing is written."""
    r = CliRunner()
    ef, version, cls = _efund_rename(workspace)
    assert r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", "taxonomy/efund2025.toml", "--to", "ef2.toml",
                          "-o", "q.csv"]).exit_code == 0
    _renamed(workspace / "ef2.toml", workspace / "ef3.toml", "efund-2026.1-r2", "efund-2026.1-r3", "x", "x")
    (workspace / "kw.toml").write_text('[migration]\nfrom = "efund-2026.1-r2"\nto = "efund-2026.1-r3"\n\n[map]\n',
                                       encoding="utf-8")
    before = ef.read_bytes()
    res = r.invoke(cli, ["taxonomy", "migrate", "kw.toml", "--from", "taxonomy/efund2025.toml", "--to", "ef3.toml",
                         "-o", "q2.csv"])
    assert res.exit_code != 0 and f"it was migrated from {version} already; a next migration of it takes --from " \
        "ef2.toml" in res.output, res.output
    assert "[map]" not in res.output and "[migration]" not in res.output, res.output
    assert ef.read_bytes() == before


def test_after_a_second_migration_the_undo_line_names_the_file_commands_would_use(workspace):
    """taxhunt: after a second migration (r2 → r3) the command said 'to undo, delete that line (commands then use
    r2.toml again …)', but with the line deleted commands use [paths].taxonomy, the shipped taxonomy/jrj2026.toml, as
    they did before the first migration. It now names that file."""
    r = CliRunner()
    _renamed(DEFAULT_TAXONOMY, workspace / "r2.toml", "jrj-2026.01-r1", "jrj-2026.02-r2", "资源主题ETF", "资源能源主题ETF")
    (workspace / "m.toml").write_text(RENAME.format(old="jrj-2026.01-r1", new="jrj-2026.02-r2", a="资源主题ETF",
                                                    b="资源能源主题ETF"), encoding="utf-8")
    res = r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", str(DEFAULT_TAXONOMY), "--to", "r2.toml",
                         "-o", "q.csv"])
    assert res.exit_code == 0, res.output
    _renamed(workspace / "r2.toml", workspace / "r3.toml", "jrj-2026.02-r2", "jrj-2026.03-r3", "资源能源主题ETF",
             "能源资源主题ETF")
    (workspace / "m3.toml").write_text(RENAME.format(old="jrj-2026.02-r2", new="jrj-2026.03-r3", a="资源能源主题ETF",
                                                     b="能源资源主题ETF"), encoding="utf-8")
    res = r.invoke(cli, ["taxonomy", "migrate", "m3.toml", "--from", "r2.toml", "--to", "r3.toml", "-o", "q.csv"])
    assert res.exit_code == 0, res.output
    assert "this workspace now uses r3.toml" in res.output, res.output
    assert "commands then use taxonomy/jrj2026.toml unless given --taxonomy" in res.output, res.output
    assert "commands then use r2.toml" not in res.output
    # and so they do, once the line is deleted: the shipped file, which the migrated set refuses
    (workspace / "fundclass.toml").write_text("[taxonomies]\n", encoding="utf-8")
    from classifier.taxonomy import default_taxonomy_path
    assert default_taxonomy_path().resolve() == DEFAULT_TAXONOMY.resolve()
