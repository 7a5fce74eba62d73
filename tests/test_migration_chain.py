"""Taxonomy changes one after another, as a team makes them (audit round 14): a migration while the previous one's
review queue is still being decided, training and tagging between them."""
import hashlib

import pandas as pd
from click.testing import CliRunner

from classifier.cli import cli
from classifier.labeled import SHIPPED_LABELS, migration_pending, read_labels
from classifier.taxonomy import DEFAULT_TAXONOMY
from conftest import split_migrate, write_labeled_subset

def _keyword_taxonomy(split, path):
    """The split taxonomy's next version: a keyword added to 消费主题ETF, no class moved."""
    t = split.read_text(encoding="utf-8").replace('version = "jrj-2026.02-split"', 'version = "jrj-2026.03-kw"')
    t = t.replace('keywords = ["消费", "消费升级",', 'keywords = ["消费", "旅游", "消费升级",', 1)
    path.write_text(t, encoding="utf-8")
    return path


def _labels(tmp_path):
    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, p, n_groups=40,
                         keep=lambda lab: lab["index_code"].str.startswith("H30590") | (lab["source"] == "review"))
    return p


def test_a_second_migration_while_the_first_ones_queue_is_undecided_is_refused_naming_them(tmp_path):
    """A team splits 科技成长主题ETF (its rows go to the review queue), decides part of the queue, then makes the next
    taxonomy change. That migration went through: the first queue, a sheet of the split version, could no longer be
    imported ('exported for taxonomy jrj-2026.02-split … importing against jrj-2026.03-kw'), the new queue did not hold
    its funds, and every later import kept saying 'decide them in the migration's review queue and import it again':
    the undecided funds were out of the labeled set for good, and no command said so. The second migration is now
    refused, nothing written, naming how many funds and which, the queue to finish and the taxonomy to import it
    with; --drop-undecided leaves them out knowingly, the report counts them, and they are no longer called pending."""
    labels = _labels(tmp_path)
    r = CliRunner()
    split, _, res = split_migrate(r, tmp_path, labels, "q1.csv")
    assert res.exit_code == 0, res.output
    pending = migration_pending(labels, set(read_labels(labels)["fund_code"]))
    assert len(pending) > 1
    kw = _keyword_taxonomy(split, tmp_path / "kw.toml")
    (tmp_path / "m2.toml").write_text('[migration]\nfrom = "jrj-2026.02-split"\nto = "jrj-2026.03-kw"\n\n[map]\n',
                                      encoding="utf-8")
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in labels.parent.iterdir()}
    args = ["taxonomy", "migrate", str(tmp_path / "m2.toml"), "--from", str(split), "--to", str(kw), "--labeled",
            str(labels), "-o", str(tmp_path / "q2.csv")]
    res = r.invoke(cli, args)
    assert res.exit_code == 2, res.output
    assert f"{len(pending)} funds the taxonomy migration to jrj-2026.02-split" in res.output
    assert pending[0] in res.output and "--drop-undecided" in res.output and "nothing migrated" in res.output
    assert f"--taxonomy {split}" in res.output
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in labels.parent.iterdir()} == files
    assert not (tmp_path / "q2.csv").exists()
    # told to leave them out: migrated, the report counts them, and no import calls them pending any more
    res = r.invoke(cli, args + ["--drop-undecided"])
    assert res.exit_code == 0, res.output
    assert f"warning: {len(pending)} funds the taxonomy migration to jrj-2026.02-split queued for review were never " \
           f"decided" in res.output
    assert set(read_labels(labels)["taxonomy_version"]) == {"jrj-2026.03-kw"}
    assert migration_pending(labels, set(read_labels(labels)["fund_code"])) == []


def test_training_while_the_migration_queue_is_undecided_says_the_model_learned_nothing_of_its_funds(tmp_path):
    """After a split, a team trains before its review queue is decided (as `taxonomy migrate` suggests: review
    import, then train). `fundclass train` said nothing of the queued funds: the model was fitted without every fund of
    the split class, and its report read as any other. It now warns, counting and naming them, and says how to bring
    them in."""
    from conftest import TRAINING_GROUPS

    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=TRAINING_GROUPS,
                         keep=lambda lab: lab["index_code"].str.startswith("H30590"))
    r = CliRunner()
    split, _, res = split_migrate(r, tmp_path, labels, "q1.csv")
    assert res.exit_code == 0, res.output
    pending = migration_pending(labels, set(read_labels(labels)["fund_code"]))
    q = pd.read_csv(tmp_path / "q1.csv", dtype=str, keep_default_na=False)
    assert sorted(q["fund_code"]) == pending
    # a class of the split has to be learned from something: decide one group of the queue
    robot = q.loc[q["group"] == "H30590.CSI", "fund_code"].iloc[0]
    q["decision"] = q["fund_code"].map({robot: "科技主题ETF"}).fillna("")
    q["reviewer"] = "张三"
    q.to_csv(tmp_path / "q1.csv", index=False, encoding="utf-8")
    res = r.invoke(cli, ["review", "import", str(tmp_path / "q1.csv"), "--labeled", str(labels), "--taxonomy",
                         str(split)])
    assert res.exit_code == 0, res.output
    left = migration_pending(labels, set(read_labels(labels)["fund_code"]))
    assert 0 < len(left) < len(pending)
    res = r.invoke(cli, ["train", "--labeled", str(labels), "--taxonomy", str(split), "-o", str(tmp_path / "m"),
                         "--no-holdings"])
    assert res.exit_code == 0, res.output
    assert f"warning: {len(left)} funds the taxonomy migration to jrj-2026.02-split took out of the labeled set are " \
           f"still undecided in its review queue ({left[0]}" in res.output
    assert f"--taxonomy {split}" in res.output
    # the split's other class, 成长风格ETF, has no fund in the set yet: the model's classes list it, but it learned
    # nothing of it (taxhunt: a split left half decided gave a model that overruled the new class's own rule, no
    # warning); the decided one is not named
    assert "成长风格ETF" not in set(read_labels(labels)["secondary"])
    warned = [line for line in res.output.splitlines() if line.startswith("warning: no fund of the labeled set holds")]
    assert len(warned) == 1 and "this model learned nothing of them" in warned[0], res.output
    named = warned[0].split(": ")[2].split(";")[0].split(", ")  # the subset of 40 groups lacks other classes too
    assert "成长风格ETF" in named and "科技主题ETF" not in named, warned


def test_a_model_of_the_migrated_version_refused_for_the_default_taxonomy_says_to_pass_the_migrated_file(tmp_path):
    """After a migration and `train --taxonomy NEW`, a `fundclass tag` that forgot --taxonomy was refused with 'Retrain
    it: `fundclass train -o models/default`' (which train refuses: the set is of the new version) or 'move the folder
    out … and the shipped model is used' (whose taxonomy no longer applies the set's decisions). The refusal now says
    the labeled set is of the model's version and to pass that version's taxonomy file, naming the one the model was
    trained with."""
    from conftest import TRAINING_GROUPS

    from classifier.errors import ModelError
    from classifier.pipeline import Tagger

    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=TRAINING_GROUPS)
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"', 'version = "jrj-2026.02-r2"')
    (tmp_path / "r2.toml").write_text(t.replace("资源主题ETF", "资源能源主题ETF"), encoding="utf-8")
    (tmp_path / "m.toml").write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.02-r2"\n\n[map]\n'
                                     '"资源主题ETF" = "资源能源主题ETF"\n', encoding="utf-8")
    r = CliRunner()
    res = r.invoke(cli, ["taxonomy", "migrate", str(tmp_path / "m.toml"), "--from", str(DEFAULT_TAXONOMY), "--to",
                         str(tmp_path / "r2.toml"), "--labeled", str(labels), "-o", str(tmp_path / "q.csv")])
    assert res.exit_code == 0, res.output
    model = tmp_path / "model"
    res = r.invoke(cli, ["train", "--labeled", str(labels), "--taxonomy", str(tmp_path / "r2.toml"), "-o", str(model),
                         "--no-holdings"])
    assert res.exit_code == 0, res.output
    try:
        Tagger.load(model, labels_path=labels)
    except ModelError as exc:
        msg = str(exc)
    else:
        raise AssertionError("a model of jrj-2026.02-r2 loaded against jrj-2026.01-r1")
    assert "The labeled set is of jrj-2026.02-r2 too: pass that version's taxonomy file (--taxonomy FILE)" in msg, msg
    assert "the model was trained with one named r2.toml" in msg and "Retrain it" not in msg, msg



def test_a_migration_that_queues_nothing_does_not_send_the_reviewer_to_import_an_empty_queue(tmp_path):
    """A rename (资源主题ETF → 资源能源主题ETF) queues no row, yet the command ended 'review queue: q.xlsx; then
    `fundclass review import q.xlsx …`', sending a reviewer to open and import a sheet with a header alone. It now
    says there is nothing to review and names the retraining."""
    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=30)
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"', 'version = "jrj-2026.02-r2"')
    (tmp_path / "r2.toml").write_text(t.replace("资源主题ETF", "资源能源主题ETF"), encoding="utf-8")
    (tmp_path / "m.toml").write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.02-r2"\n\n[map]\n'
                                     '"资源主题ETF" = "资源能源主题ETF"\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(tmp_path / "m.toml"), "--from", str(DEFAULT_TAXONOMY),
                                   "--to", str(tmp_path / "r2.toml"), "--labeled", str(labels), "-o",
                                   str(tmp_path / "q.csv")])
    assert res.exit_code == 0, res.output
    assert "queued 0 for review" in res.output
    assert "review import" not in res.output and "nothing to review" in res.output, res.output
    assert f"fundclass train --taxonomy {tmp_path / 'r2.toml'}" in res.output


def test_labels_audit_says_which_funds_the_migration_queue_still_holds(tmp_path):
    """After a split, `fundclass labels audit` said '0 errors' and counted the set's classes, silent on the funds the
    migration took out of the set for its review queue, which no count held (audit round 14). It now warns, counting
    and naming them and saying how to bring them in; the audit still passes (they are not errors of the set's
    rows)."""
    labels = _labels(tmp_path)
    r = CliRunner()
    split, _, res = split_migrate(r, tmp_path, labels, "q1.csv")
    assert res.exit_code == 0, res.output
    pending = migration_pending(labels, set(read_labels(labels)["fund_code"]))
    res = r.invoke(cli, ["labels", "audit", str(labels), "--taxonomy", str(split)])
    assert res.exit_code == 0, res.output
    assert f"warning: {len(pending)} funds the latest taxonomy migration took out of the labeled set are still " \
           f"undecided in its review queue ({pending[0]}" in res.output
    assert f"--taxonomy {split}" in res.output


def test_a_migration_that_moves_classes_under_the_same_version_is_refused(tmp_path):
    """taxhunt: a team renamed a class in a copy of the taxonomy but kept its [taxonomy] version, and wrote the
    migration file from = to = that version. The migration went through; run again by mistake, it was not refused as
    'migrated already' but migrated the set again (a second migration row in history.csv); commands given the old file
    read the renamed labels as errors and dropped the renamed review decisions, while the command had said 'the
    migrated labeled set refuses it'. A label names its taxonomy by version alone, so such a migration is refused
    before any change, saying to give the new file a new version; a map-less one (a keyword added) still runs."""
    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=40,
                         keep=lambda lab: lab["secondary"] == "周期主题ETF")
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8")
    new = tmp_path / "same.toml"
    new.write_text(t.replace("周期主题ETF", "周期行业ETF"), encoding="utf-8")
    mig = tmp_path / "m.toml"
    mig.write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.01-r1"\n\n[map]\n"周期主题ETF" = ["周期行业ETF"]\n',
                   encoding="utf-8")
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in labels.parent.iterdir()}
    r = CliRunner()
    res = r.invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to", str(new),
                         "--labeled", str(labels), "-o", str(tmp_path / "q.csv")])
    assert res.exit_code == 2, res.output
    assert f"{new} keeps the version of {DEFAULT_TAXONOMY}, jrj-2026.01-r1, but [map] moves classes" in res.output
    assert "give the new file a new [taxonomy] version" in res.output, res.output
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in labels.parent.iterdir()} == files
    # a keyword added under the same version moves no label: still migrated (nothing to review)
    kw = tmp_path / "kw.toml"
    kw.write_text(t.replace('keywords = ["周期", "上游",', 'keywords = ["周期", "基建", "上游",', 1), encoding="utf-8")
    mig.write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.01-r1"\n\n[map]\n', encoding="utf-8")
    res = r.invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to", str(kw),
                         "--labeled", str(labels), "-o", str(tmp_path / "q.csv")])
    assert res.exit_code == 0 and "nothing to review" in res.output, res.output
