"""The review loop and taxonomy changes, end to end (issue: review, feed back, retrain when the taxonomy changes):
review decisions across taxonomy migrations (split, rename, merge; the migration queue; blind reads)."""
import os
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import ChangeRecovered, DecisionsNotApplied, ModelError
from classifier.labeled import SHIPPED_LABELS, migration_pending, read_labels
from classifier.pipeline import Tagger
from classifier.io import csv_text, write_table
from classifier.review import import_review, review_frame
from classifier.taxonomy import DEFAULT_TAXONOMY, load_taxonomy
from conftest import SPLIT_MIGRATION, TRAINING_GROUPS, split_migrate, split_taxonomy, write_labeled_subset
from review_helpers import (RENAMED, RENAME_MERGE_MIGRATION, RENAME_MIGRATION, TECH_RENAME_MIGRATION, _agreement_of,
                            _chinext_list, _decide, _fill, _small_labels_copy, _tagged_frame, _with_agreement,
                            _withdraw_after_split, rename_merge_taxonomy)


def test_a_review_decision_queued_by_a_split_says_who_decided_it(tmp_path, labels_subset):
    """A review decision whose class a migration splits goes to the queue like any row of the class; the queue showed
    only its note, so the reviewer deciding again could not tell it had been decided, by whom or when, and the report
    did not count them (audit round 6). The queue's evidence now names the earlier decision, and the report counts it."""
    lab = pd.read_csv(labels_subset, dtype=str, keep_default_na=False)
    i = lab.index[lab["secondary"] == "科技成长主题ETF"][0]
    lab.loc[i, ["source", "labeled_by", "labeled_at", "note"]] = ["review", "李四", "2026-11-02", "review"]
    lab.to_csv(labels_subset, index=False, encoding="utf-8")
    n_tech = int((lab["secondary"] == "科技成长主题ETF").sum())
    new_tax = split_taxonomy(tmp_path / "split.toml")
    mig = tmp_path / "split_migration.toml"
    mig.write_text(SPLIT_MIGRATION, encoding="utf-8")
    queue = tmp_path / "queue.csv"
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to",
                                   str(new_tax), "--labeled", str(labels_subset), "-o", str(queue)])
    assert res.exit_code == 0, res.output
    assert f"queued {n_tech} for review (1 of them review decisions" in res.output, res.output
    q = pd.read_csv(queue, dtype=str, keep_default_na=False).set_index("fund_code")
    assert q.at[lab.at[i, "fund_code"], "evidence"].startswith("迁移前的人工复核: 李四 2026-11-02 定为 科技成长主题ETF")
    assert not q.drop(index=lab.at[i, "fund_code"])["evidence"].str.contains("人工复核").any()


def test_taxonomy_split_migrate_review_retrain_tag(tmp_path):
    # whole groups: every one holding a fund of the class that splits that the reviewer below moves to the new class
    # 成长风格ETF (a 成长 index or name: 36 funds), and TRAINING_GROUPS drawn from all (34 more funds of the class, which
    # stay 科技主题ETF). Before, every group of the class (544 funds): the queue, the import and the fit cost ~2 s more
    def growth(labels):
        return (labels["secondary"] == "科技成长主题ETF") & (labels["index_name"].str.contains("成长")
                                                           | labels["fund_name"].str.contains("成长"))

    labels_copy = _small_labels_copy(tmp_path, keep=growth)
    r = CliRunner()
    new_tax = split_taxonomy(tmp_path / "split.toml")
    mig = tmp_path / "split_migration.toml"
    mig.write_text(SPLIT_MIGRATION, encoding="utf-8")
    d = r.invoke(cli, ["taxonomy", "diff", str(DEFAULT_TAXONOMY), str(new_tax)])
    assert "- removed class 产业趋势与升级 / 科技成长主题ETF" in d.output
    assert "+ added class   产业趋势与升级 / 成长风格ETF" in d.output and "~ rule growth.style" in d.output
    n_tech = int((read_labels(labels_copy).secondary == "科技成长主题ETF").sum())
    total = len(read_labels(labels_copy))
    queue = tmp_path / "queue.xlsx"
    res = r.invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to", str(new_tax),
                         "--labeled", str(labels_copy), "-o", str(queue)])
    assert res.exit_code == 0, res.output
    assert f"kept {total - n_tech} rows, relabeled 0 automatically, queued {n_tech} for review" in res.output
    # the old model refuses the new taxonomy and says what to run
    with pytest.raises(ModelError, match="fundclass train --taxonomy"):
        Tagger.load(taxonomy_path=new_tax)
    # a reviewer decides the queued rows (here: growth-style indices vs the rest)
    q = pd.read_excel(queue, sheet_name="review", dtype=str).fillna("")
    assert len(q) == n_tech and set(q["alternatives"]) == {"科技主题ETF;成长风格ETF"}
    growth = q["index_name"].str.contains("成长") | q["fund_name"].str.contains("成长")
    _fill(queue, {c: ("成长风格ETF" if g else "科技主题ETF") for c, g in zip(q["fund_code"], growth)})
    res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels_copy), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0, res.output
    assert f"added {n_tech}" in res.output
    audit = r.invoke(cli, ["labels", "audit", str(labels_copy), "--taxonomy", str(new_tax)])
    assert ", 0 errors" in audit.output, audit.output
    model_dir = tmp_path / "model_split"
    res = r.invoke(cli, ["train", "--labeled", str(labels_copy), "--taxonomy", str(new_tax), "-o", str(model_dir),
                         "--no-holdings"])
    assert res.exit_code == 0, res.output
    funds = pd.DataFrame({"name": ["示例创成长ETF", "示例中证人工智能ETF"],
                          "index_name": ["创业板动量成长指数", "中证人工智能主题指数"]})
    out = Tagger.load(model_dir, new_tax).tag(funds)
    assert out["secondary"].tolist() == ["成长风格ETF", "科技主题ETF"]
    assert out["taxonomy_version"].unique().tolist() == ["jrj-2026.02-split"]


def test_a_decision_on_a_renamed_class_still_settles_its_fund_and_index(tmp_path):
    """A migration renames a class: a review decision for it moves to the new name and stays a review decision, so
    the next tag still gives it to the reviewed fund and to every fund tracking the same index."""
    labels_copy = _small_labels_copy(tmp_path)  # the migration reads and rewrites the whole set: whole groups suffice
    new_tax = tmp_path / "rename.toml"
    new_tax.write_text(DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace("周期主题ETF", "周期行业ETF").replace(
        'version = "jrj-2026.01-r1"', 'version = "jrj-2026.02-rename"'), encoding="utf-8")
    mig = tmp_path / "rename_migration.toml"
    mig.write_text(RENAME_MIGRATION, encoding="utf-8")
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990401"], "fund_name": ["示例中证浙江国资ETF"], "index_code": ["931372.CSI"],
                  "index_name": ["中证浙江国资创新发展指数"], "decision": ["周期主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [load_taxonomy().version]}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_copy, today="2026-11-30")
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to",
                                   str(new_tax), "--labeled", str(labels_copy), "-o", str(tmp_path / "queue.xlsx")])
    assert res.exit_code == 0, res.output
    later = pd.DataFrame({"基金代码": ["990401", "990402"], "基金简称": ["示例中证浙江国资ETF", "另一中证浙江国资ETF"],
                          "跟踪指数代码": ["931372.CSI", "931372.CSI"],
                          "跟踪指数名称": ["中证浙江国资创新发展指数", "中证浙江国资创新发展指数"]})
    out = Tagger.load(None, new_tax, labels_path=labels_copy).tag(later)
    assert out["secondary"].tolist() == ["周期行业ETF", "周期行业ETF"]
    assert out["confidence"].tolist() == [1.0, 1.0] and out["evidence"].str.startswith("人工复核: 张三").all()


def test_a_migration_renames_and_merges_the_classes_of_the_blind_reads_too(tmp_path):
    """`taxonomy migrate` renamed a class in labels.csv but not in agreement.csv beside it: the heads' reads still
    named the old class, and a retrain measured reader agreement 0 for every head of the renamed class. The reads
    now follow the map in the same transaction: every class in label, reads, alts and alt_secondary is the new one,
    agreement is recomputed (unchanged where a class was only renamed), every head is of the new version, and a row
    no class of which moved keeps its bytes but for that version."""
    labels = _small_labels_copy(tmp_path)
    ag = _with_agreement(labels)
    old = pd.read_csv(ag, dtype=str, keep_default_na=False)
    # a head one reader read as the class merged into its label: the merge makes the readers unanimous
    merged = old.index[(old["label"] == "资源主题ETF") & (old["alts"] == "") & (old["agreement"] == "1")][0]
    old.loc[merged, ["reads", "agreement", "alt_secondary", "contested"]] = [
        "周期主题ETF;资源主题ETF;资源主题ETF;资源主题ETF", "0.75", "周期主题ETF", "1"]
    ag.write_bytes(csv_text(old).encode("utf-8"))
    before = ag.read_bytes()
    old = old.set_index("group")
    merged = old.index[merged]
    new_tax = rename_merge_taxonomy(tmp_path / "merge.toml")
    mig = tmp_path / "merge_migration.toml"
    mig.write_text(RENAME_MERGE_MIGRATION, encoding="utf-8")
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to",
                                   str(new_tax), "--labeled", str(labels), "-o", str(tmp_path / "queue.xlsx")])
    assert res.exit_code == 0, res.output
    new = pd.read_csv(ag, dtype=str, keep_default_na=False).set_index("group")
    assert new.index.tolist() == old.index.tolist()
    cols = ["label", "reads", "alts", "alt_secondary"]
    text = new[cols].apply(";".join, axis=1)
    assert not text.str.contains("制造业主题ETF|周期主题ETF").any()
    assert set(new["taxonomy_version"]) == {"jrj-2026.02-merge"}

    def moved(s):
        return ";".join(RENAMED.get(x, x) for x in s.split(";")) if s else s

    for c in ("label", "reads", "alts"):
        assert new[c].tolist() == old[c].map(moved).tolist()
    reads = new["reads"].map(lambda s: s.split(";") if s else [])
    assert new["agreement"].tolist() == [_agreement_of(lab, r) for lab, r in zip(new["label"], reads)]
    renamed_only = old["label"].eq("制造业主题ETF") & ~old["reads"].str.contains("周期主题ETF")
    assert renamed_only.sum() > 20
    assert new.loc[renamed_only, ["agreement", "n_reads", "contested"]].equals(
        old.loc[renamed_only, ["agreement", "n_reads", "contested"]])
    assert new.loc[merged, ["reads", "agreement", "alt_secondary", "contested"]].tolist() == [
        ";".join(["资源主题ETF"] * 4), "1", "", "0"]
    untouched = ~old[cols].apply(";".join, axis=1).str.contains("制造业主题ETF|周期主题ETF")
    old_lines, new_lines = before.split(b"\n"), ag.read_bytes().split(b"\n")
    for k in untouched.to_numpy().nonzero()[0]:
        assert new_lines[k + 1] == old_lines[k + 1].replace(b",jrj-2026.01-r1", b",jrj-2026.02-merge")
    assert f"agreement.csv: {int((~untouched).sum())} heads' blind reads follow the renamed or merged classes" \
        in res.output


def test_retraining_after_a_rename_keeps_the_renamed_heads_confidence(tmp_path):
    """End to end: train, migrate a rename and a merge, train again on the new taxonomy. The funds of heads the
    readers read unanimously as the renamed class keep their confidence (before the fix: ~0.01, every one of them in
    review)."""
    labels = _small_labels_copy(tmp_path, keep=lambda lab: lab["secondary"] == "制造业主题ETF")
    ag = pd.read_csv(_with_agreement(labels), dtype=str, keep_default_na=False)
    unanimous = set(ag.loc[ag["reads"] == ";".join(["制造业主题ETF"] * 4), "group"])
    r = CliRunner()
    res = r.invoke(cli, ["train", "--labeled", str(labels), "-o", str(tmp_path / "m_old"), "--no-holdings"])
    assert res.exit_code == 0, res.output
    new_tax = rename_merge_taxonomy(tmp_path / "merge.toml")
    mig = tmp_path / "merge_migration.toml"
    mig.write_text(RENAME_MERGE_MIGRATION, encoding="utf-8")
    res = r.invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to", str(new_tax),
                         "--labeled", str(labels), "-o", str(tmp_path / "queue.xlsx")])
    assert res.exit_code == 0, res.output
    # the model trained before the migration is refused against the new taxonomy (manifest taxonomy hash)
    with pytest.raises(ModelError, match="fundclass train --taxonomy"):
        Tagger.load(tmp_path / "m_old", new_tax)
    res = r.invoke(cli, ["train", "--labeled", str(labels), "--taxonomy", str(new_tax), "-o", str(tmp_path / "m_new"),
                         "--no-holdings"])
    assert res.exit_code == 0, res.output
    lab = read_labels(labels)
    funds = lab.loc[lab["group"].isin(unanimous), ["fund_code", "fund_name", "index_code", "index_name"]]
    funds = funds.rename(columns={"fund_code": "基金代码", "fund_name": "基金简称", "index_code": "跟踪指数代码",
                                  "index_name": "跟踪指数名称"}).reset_index(drop=True)
    assert len(funds) > 20
    before = Tagger.load(tmp_path / "m_old", DEFAULT_TAXONOMY).tag(funds)
    after = Tagger.load(tmp_path / "m_new", new_tax).tag(funds)
    same = (before["secondary"] == "制造业主题ETF") & (after["secondary"] == "高端制造ETF")
    assert same.mean() > 0.9
    assert after.loc[same, "confidence"].median() > 0.9
    assert (after.loc[same, "confidence"] - before.loc[same, "confidence"]).abs().max() < 0.2


def test_a_split_leaves_the_heads_read_as_the_split_class_unread_and_says_so(tmp_path, monkeypatch):
    """A read of a split (or removed) class cannot say which new class its reader would pick, and the head's other
    reads are no fair sample without it: every read of such a head is dropped (the head is unread, so a retrain
    neither trusts nor doubts it), a label of that class becomes '' (its funds are in the review queue), an 'also
    defensible' mention of it is dropped, and the report counts each. A crash between the renames of the commit is
    rolled forward by the next reader of the reads, as of the labels."""
    import classifier.labeled as store
    from classifier.agreement import read_agreement
    from classifier.taxonomy_change import load_migration, migrate

    labels = _small_labels_copy(tmp_path)
    ag = _with_agreement(labels)
    old = pd.read_csv(ag, dtype=str, keep_default_na=False).set_index("group")
    new_tax = split_taxonomy(tmp_path / "split.toml")
    mig = tmp_path / "split_migration.toml"
    mig.write_text(SPLIT_MIGRATION, encoding="utf-8")
    real = os.replace

    def crash_at_the_reads(src, dst):
        if Path(dst).name == "agreement.csv":
            raise KeyboardInterrupt("killed")
        return real(src, dst)

    monkeypatch.setattr(store.os, "replace", crash_at_the_reads)
    o, n = load_taxonomy(DEFAULT_TAXONOMY), load_taxonomy(new_tax)
    with pytest.raises(KeyboardInterrupt):
        migrate(labels, load_migration(mig, o, n), o, n, tmp_path / "queue.xlsx")
    monkeypatch.setattr(store.os, "replace", real)
    assert "科技成长主题ETF" in ag.read_text(encoding="utf-8")  # labels and history replaced, the reads not yet
    with pytest.warns(ChangeRecovered, match="interrupted after it was committed"):
        new = read_agreement(labels)  # rolls the commit forward, and says so
    assert not list(labels.parent.glob(".*journal")) and not list(labels.parent.glob(".*.tmp"))
    assert set(read_labels(labels)["taxonomy_version"]) == {"jrj-2026.02-split"}
    assert new.index.tolist() == old.index.tolist() and set(new["taxonomy_version"]) == {"jrj-2026.02-split"}
    assert not new[["label", "reads", "alts", "alt_secondary"]].apply(";".join, axis=1).str.contains(
        "科技成长主题ETF").any()
    split_read = old["reads"].str.contains("科技成长主题ETF")
    assert split_read.sum() > 50
    assert (new.loc[split_read, ["reads", "alts", "n_reads", "agreement", "contested"]]
            == ["", "", "0", "nan", "0"]).all().all()
    assert (new.loc[old["label"] == "科技成长主题ETF", "label"] == "").all()
    alt_only = ~split_read & old["alts"].str.contains("科技成长主题ETF")
    assert alt_only.any()
    assert new.loc[alt_only, ["reads", "agreement"]].equals(old.loc[alt_only, ["reads", "agreement"]])
    assert new.loc[alt_only, "alts"].tolist() == [
        ";".join(a for a in s.split(";") if a != "科技成长主题ETF") for s in old.loc[alt_only, "alts"]]
    rest = ~split_read & ~alt_only & ~old["label"].eq("科技成长主题ETF")
    assert new.loc[rest].drop(columns="taxonomy_version").equals(old.loc[rest].drop(columns="taxonomy_version"))
    # the report, on a fresh copy
    again = tmp_path / "again"
    again.mkdir()
    labels2 = again / "labels.csv"
    write_labeled_subset(SHIPPED_LABELS, labels2, n_groups=TRAINING_GROUPS)
    _with_agreement(labels2)
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to",
                                   str(new_tax), "--labeled", str(labels2), "-o", str(tmp_path / "queue2.xlsx")])
    assert res.exit_code == 0, res.output
    assert f"agreement.csv: {int(split_read.sum())} heads had a read of a split or removed class" in res.output
    assert "heads are unread" in res.output and "have no label" in res.output


def test_the_reads_keep_their_form_and_heads_of_another_taxonomy_are_left_and_named(tmp_path):
    """agreement.csv saved by Excel (byte-order mark, CRLF, a row quoted): a migration changes only the cells it must,
    each row keeps its line end; a head of another taxonomy version is left as it is and the report warns; a labeled
    set without agreement.csv migrates as before (tested above)."""
    from classifier.agreement import migrate_reads

    text = ("head_id,group,label,reads,alts,n_reads,agreement,alt_secondary,contested,note,taxonomy_version\r\n"
            "A1,g1,周期主题ETF,周期主题ETF;资源主题ETF,,2,0.5,资源主题ETF,1,x,jrj-2026.01-r1\r\n"
            'A2,g2,宽基ETF,宽基ETF;宽基ETF,,2,1,,0,"a, b",jrj-2026.01-r1\r\n'
            "A3,g3,宽基ETF,宽基ETF,,1,1,,0,,jrj-2026.01-r1\r\n"
            "A4,g4,周期主题ETF,周期主题ETF,,1,1,,0,,jrj-2025.12-r9\r\n")
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    out, rep = migrate_reads(data, {"周期主题ETF": ["资源主题ETF"]}, "jrj-2026.01-r1", "jrj-2026.02-merge")
    assert out.startswith(b"\xef\xbb\xbf") and out.count(b"\r\n") == 5 and out.count(b"\n") == 5
    lines = out[3:].decode("utf-8").split("\r\n")
    assert lines[0] == text.split("\r\n")[0]
    assert lines[1] == "A1,g1,资源主题ETF,资源主题ETF;资源主题ETF,,2,1,,0,x,jrj-2026.02-merge"
    assert lines[2] == 'A2,g2,宽基ETF,宽基ETF;宽基ETF,,2,1,,0,"a, b",jrj-2026.02-merge'
    assert lines[3] == "A3,g3,宽基ETF,宽基ETF,,1,1,,0,,jrj-2026.02-merge"
    assert lines[4] == text.split("\r\n")[4]
    assert (rep.moved, rep.unread, rep.other_version) == (1, 0, 1)
    assert "1 heads hold reads of taxonomy jrj-2025.12-r9" in rep.warnings()[0]


def test_review_export_refuses_a_file_tagged_with_another_taxonomy(tmp_path):
    """A file tagged with the E Fund taxonomy, exported without its --taxonomy, would offer the default taxonomy's
    labels in the drop-down, and no import could take the sheet back (wrong labels, or wrong version)."""
    tagged = tmp_path / "tagged.csv"
    _tagged_frame(taxonomy_version="efund-2025.1-r1").to_csv(tagged, index=False)
    res = CliRunner().invoke(cli, ["review", "export", str(tagged), "-o", str(tmp_path / "review.xlsx")])
    assert res.exit_code == 2, res.output
    assert "efund-2025.1-r1" in res.output and "--taxonomy" in res.output
    assert not (tmp_path / "review.xlsx").exists()


def test_a_decision_on_a_head_readers_disputed_drops_their_split_from_the_evidence(tmp_path, labels_subset):
    """The readers' split (0/4 chose the model's class on 沪深300非周期) counts the model's class: once a reviewer
    decides, that count describes a class the fund no longer has, so the evidence leaves it out."""
    _decide(tmp_path, labels_subset, [("990951", "长安沪深300非周期A", "周期主题ETF")])
    frame = pd.DataFrame({"基金代码": ["990951"], "基金简称": ["长安沪深300非周期A"], "跟踪指数名称": ["沪深300非周期"]})
    out = Tagger.load(labels_path=labels_subset).tag(frame)
    assert out["secondary"][0] == "周期主题ETF" and out["evidence"][0].startswith("人工复核: 张三")
    assert "盲读有分歧" not in out["evidence"][0]
    assert "盲读有分歧" in Tagger.load(labels_path=None).tag(frame)["evidence"][0]  # without the decision the split is shown


def test_tagging_says_when_the_labeled_set_holds_no_decision_of_its_taxonomy(tmp_path, labels_subset):
    """A workspace with two taxonomies: tagging with E Fund's against the jrj labeled set (no --labeled, or a
    labeled set migrated away from the run's taxonomy) applies none of its decisions; the run says so and names what
    to pass, instead of sending the reviewed funds back to review in silence. A --labeled file that is not there is
    refused, not read as a set without decisions."""
    _decide(tmp_path, labels_subset, [("990501", "示例中证机器人ETF", "制造业主题ETF")])
    src = tmp_path / "new.csv"
    pd.DataFrame({"基金代码": ["990501"], "基金简称": ["示例中证机器人ETF"]}).to_csv(src, index=False)
    r = CliRunner()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = r.invoke(cli, ["tag", str(src), "-o", str(tmp_path / "t.csv"), "--rules-only", "--taxonomy",
                             "taxonomy/efund2025.toml", "--labeled", str(labels_subset)])
    assert res.exit_code == 0, res.output
    assert "decisions are of taxonomy jrj-2026.01-r1" in res.output and "none of them is applied" in res.output
    # said once, in the run summary: the warning an API user gets (DecisionsNotApplied) is not printed again
    assert not [w for w in caught if issubclass(w.category, DecisionsNotApplied)]
    assert "--labeled" in res.output
    res = r.invoke(cli, ["tag", str(src), "-o", str(tmp_path / "t2.csv"), "--rules-only", "--labeled",
                         str(tmp_path / "no_such_labels.csv")])
    assert res.exit_code == 2 and "no_such_labels.csv" in res.output and not (tmp_path / "t2.csv").exists()


def test_importing_part_of_a_migration_queue_says_which_funds_are_still_out_of_the_labeled_set(tmp_path):
    """`taxonomy migrate` takes the rows of a split class out of the labeled set into a queue. An import that decides
    only some of them said 'added 1' and nothing of the rest, which were silently no longer labeled (and `labels
    audit` found nothing): it now counts and names them, and says how to bring them back."""
    labels_copy = _small_labels_copy(tmp_path)
    r = CliRunner()
    new_tax, queue, res = split_migrate(r, tmp_path, labels_copy, "queue.xlsx")
    assert res.exit_code == 0, res.output
    q = pd.read_excel(queue, sheet_name="review", dtype=str).fillna("")
    first = q["fund_code"].iloc[0]
    _fill(queue, {first: "科技主题ETF"})
    res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels_copy), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0, res.output
    # the decision settles its group's other queued rows (the set has no earlier review decision of the class here)
    rest = q.loc[q["group"] != q["group"].iloc[0], "fund_code"]
    assert "added 1" in res.output and f"; {len(q) - len(rest) - 1} more funds" in res.output
    assert f"{len(rest)} funds the taxonomy migration took out of the labeled set are still undecided" in res.output
    assert min(rest) in res.output
    # deciding the rest (the queue imported again) brings them back; then nothing is pending
    _fill(queue, dict.fromkeys(q["fund_code"], "科技主题ETF"))
    res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels_copy), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0 and "still undecided" not in res.output, res.output


def test_labels_audit_of_a_migrated_set_with_the_old_taxonomy_names_the_version(tmp_path, labels_subset):
    """After `taxonomy migrate` (here a keyword added: every class kept, every label of the new version), `fundclass
    labels audit` run without --taxonomy checked the migrated set against the old taxonomy and said '0 errors' (audit
    round 8: it checked only that each class was one of the taxonomy's), though training refuses that pair. It now
    names the version the labels are of, with their rows, and exits 1."""
    new_path = tmp_path / "kw.toml"
    new_path.write_text(DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace(
        'version = "jrj-2026.01-r1"', 'version = "jrj-2026.02-kw"'), encoding="utf-8")
    mig = tmp_path / "kw_migration.toml"
    mig.write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.02-kw"\n\n[map]\n', encoding="utf-8")
    r = CliRunner()
    out = r.invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to", str(new_path),
                         "--labeled", str(labels_subset), "-o", str(tmp_path / "q.csv")])
    assert out.exit_code == 0, out.output
    n = len(read_labels(labels_subset))
    res = r.invoke(cli, ["labels", "audit", str(labels_subset)])
    assert res.exit_code == 1 and f"error: {n} rows hold labels of taxonomy jrj-2026.02-kw (column taxonomy_version)" \
        f", not jrj-2026.01-r1: rows [2, 3," in res.output, res.output
    res = r.invoke(cli, ["labels", "audit", str(labels_subset), "--taxonomy", str(new_path)])
    assert res.exit_code == 0 and ", 0 errors" in res.output, res.output


def test_one_decision_on_a_group_of_the_migration_queue_settles_the_group(tmp_path, labels_subset):
    """The migration queue left group_size and settles empty, kept the labeled set's order (a review decision's row
    far from its index's other rows) and a decision on one queued fund settled that fund alone: deciding the report
    row 562500 left its index's 5 propagated rows (H30590.CSI) undecided, out of the set (audit round 8). Now the queue
    is grouped as `review export` groups (a group's rows together, the earlier review decision first, group_size,
    settles) and the import relabels the group's other queued rows with its decision, as it relabels an index's rows
    in the set; the earlier review decision (159213) is decided on its own row; withdrawing the decision puts the
    rows it settled back into the queue."""
    lab = pd.read_csv(labels_subset, dtype=str, keep_default_na=False)
    i = lab.index[lab["fund_code"] == "159213"][0]
    lab.loc[i, ["source", "propagated_from", "labeled_by", "labeled_at", "note"]] = ["review", "", "李四",
                                                                                     "2026-11-02", "review"]
    lab.to_csv(labels_subset, index=False, encoding="utf-8")
    followers = ["159526", "159551", "159770", "560630", "562360"]
    r = CliRunner()
    new_tax, queue, res = split_migrate(r, tmp_path, labels_subset, "queue.csv")
    assert res.exit_code == 0, res.output
    q = pd.read_csv(queue, dtype=str, keep_default_na=False)
    for g, rows in q.groupby("group"):  # each group's rows together, its size and what one decision settles
        assert list(rows.index) == list(range(rows.index[0], rows.index[0] + len(rows))), g
        assert set(rows["group_size"]) == {str(len(rows))}, g
    robot = q[q["group"] == "H30590.CSI"]
    assert robot["fund_code"].iloc[0] == "159213" and set(robot["fund_code"]) == {"159213", "562500", *followers}
    assert set(robot["settles"].iloc[1:]) == {"6"}  # all but the earlier review decision
    assert robot["settles"].iloc[0] == "7"  # a decision on it settles it and the 6 others (audit round 13)
    q["decision"] = q["fund_code"].map({"562500": "科技主题ETF"}).fillna("")
    q["reviewer"] = "张三"
    q.to_csv(queue, index=False, encoding="utf-8")
    res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels_subset), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0, res.output
    assert "added 1, changed 0, confirmed 0; 5 more funds of the decided funds' indices relabeled" in res.output
    now = read_labels(labels_subset).set_index("fund_code")
    assert (now.loc[followers, "secondary"] == "科技主题ETF").all()
    assert (now.loc[followers, "propagated_from"] == "562500").all()
    assert set(now.loc[followers, "taxonomy_version"]) == {"jrj-2026.02-split"}
    pending = migration_pending(labels_subset, set(now.index))
    assert "159213" in pending and not set(pending) & {"562500", *followers}
    hist = pd.read_csv(labels_subset.with_name("history.csv"), dtype=str, keep_default_na=False)
    assert set(hist.loc[hist["reason"].str.startswith("same index as 562500"), "fund_code"]) == set(followers)
    # withdrawn: the decided fund and the rows it settled go back to the queue, not left with the withdrawn class
    res = _withdraw_after_split(r, tmp_path, labels_subset, new_tax, "562500")
    after = read_labels(labels_subset)
    assert not set(after["fund_code"]) & {"562500", *followers}
    assert {"562500", *followers} <= set(migration_pending(labels_subset, set(after["fund_code"])))
    assert "back to the migration's review queue 159526" in res.output


def test_the_queues_settles_of_an_earlier_review_decisions_row_counts_the_rows_its_decision_relabels(tmp_path,
                                                                                                    labels_subset):
    """audit round 13: in a migration queue every row of an index showed one `settles`, the index's rows other than
    earlier review decisions (6 on 中证机器人, H30590.CSI); on the earlier review decision's own row (159213) that
    left out the row itself: a decision there puts 159213 back and relabels the index's 6 other queued rows, 7 funds,
    which the import's dry run lists. The sheet's settles now says what the import then does, on every row."""
    lab = pd.read_csv(labels_subset, dtype=str, keep_default_na=False)
    i = lab.index[lab["fund_code"] == "159213"][0]
    lab.loc[i, ["source", "propagated_from", "labeled_by", "labeled_at", "note"]] = ["review", "", "李四",
                                                                                     "2026-11-02", "review"]
    lab.to_csv(labels_subset, index=False, encoding="utf-8")
    r = CliRunner()
    new_tax, queue, res = split_migrate(r, tmp_path, labels_subset, "queue.csv")
    assert res.exit_code == 0, res.output
    q = pd.read_csv(queue, dtype=str, keep_default_na=False)
    robot = q[q["group"] == "H30590.CSI"]
    for code in ("159213", "562500"):
        q["decision"] = q["fund_code"].map({code: "科技主题ETF"}).fillna("")
        q["reviewer"] = "张三"
        q.to_csv(queue, index=False, encoding="utf-8")
        res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels_subset), "--taxonomy",
                             str(new_tax), "--dry-run"])
        assert res.exit_code == 0, res.output
        settled = 1 + res.output.count("would relabel ")
        assert robot.loc[robot["fund_code"] == code, "settles"].tolist() == [str(settled)], (code, res.output)


def test_a_decision_after_a_rename_moves_the_migrated_rows_of_its_index(tmp_path, labels_subset):
    """`taxonomy migrate` renamed 科技成长主题ETF (every hand and propagated row of it became `migrated`), and a review
    decision on a feeder of 中证机器人 (020255, hand before the rename) then relabeled only `hand` and `propagated` rows:
    its family's copy 020256 and the index's ETFs (H30590.CSI: 159526 … propagated from the report's 562500) kept
    the old class, though tagging settles the whole index by the decision, so training learned what tagging overrules
    and `labels audit` failed. Now a migrated row moves as the label it carries (history.csv: the migration's row),
    the report's own example 562500 stays, the audit finds nothing, and 撤销 restores every row with its provenance
    (the head a copy's propagated_from names where its group has one), each change in history.csv."""
    new_tax = tmp_path / "tech.toml"
    new_tax.write_text(DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace("科技成长主题ETF", "科技主题ETF").replace(
        'version = "jrj-2026.01-r1"', 'version = "jrj-2026.02-tech"'), encoding="utf-8")
    mig = tmp_path / "tech_migration.toml"
    mig.write_text(TECH_RENAME_MIGRATION, encoding="utf-8")
    r = CliRunner()
    res = r.invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to", str(new_tax),
                         "--labeled", str(labels_subset), "-o", str(tmp_path / "queue.csv")])
    assert res.exit_code == 0, res.output
    before = read_labels(labels_subset).set_index("fund_code")
    robot = before.index[before["group"].isin(["H30590.CSI", "idx:中证机器人"])].tolist()
    assert {"562500", "020256", "159526"} <= set(robot) and set(before.loc[robot, "source"]) == {"migrated"}
    audit = r.invoke(cli, ["labels", "audit", str(labels_subset), "--taxonomy", str(new_tax)])
    assert audit.exit_code == 0 and " 0 errors" in audit.output, audit.output
    n_hist = len(pd.read_csv(labels_subset.with_name("history.csv"), dtype=str))
    sheet = tmp_path / "decision.csv"
    pd.DataFrame({"fund_code": ["020255"], "decision": ["策略主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": ["jrj-2026.02-tech"]}).to_csv(sheet, index=False)
    res = r.invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_subset), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0, res.output
    now = read_labels(labels_subset).set_index("fund_code")
    moved = [c for c in robot if c not in ("020255", "562500")]
    assert (now.loc[moved, "secondary"] == "策略主题ETF").all(), now.loc[robot, ["secondary", "source"]]
    assert set(now.loc[moved, "source"]) == {"propagated"} and set(now.loc[moved, "propagated_from"]) == {"020255"}
    assert now.loc["562500", ["secondary", "source"]].tolist() == ["科技主题ETF", "migrated"]  # the report's own
    audit = r.invoke(cli, ["labels", "audit", str(labels_subset), "--taxonomy", str(new_tax)])
    assert audit.exit_code == 0 and " 0 errors" in audit.output, audit.output
    hist = pd.read_csv(labels_subset.with_name("history.csv"), dtype=str, keep_default_na=False).iloc[n_hist:]
    assert sorted(hist["fund_code"]) == sorted(["020255"] + moved)
    assert set(hist["old_source"]) == {"migrated"} and set(hist["old_secondary"]) == {"科技主题ETF"}
    # withdrawn: every row back to its migrated label, with its provenance, as the migration left it
    pd.DataFrame({"fund_code": ["020255"], "decision": ["撤销"], "reviewer": ["张三"],
                  "taxonomy_version": ["jrj-2026.02-tech"]}).to_csv(sheet, index=False)
    res = r.invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_subset), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0, res.output
    after = read_labels(labels_subset).set_index("fund_code")
    ws = ["propagated_from"]  # a copy's head history.csv does not keep: told where the group has one (H30590.CSI)
    assert after.drop(columns=ws).equals(before.drop(columns=ws))
    etfs = before.index[before["group"] == "H30590.CSI"]
    assert after.loc[etfs].equals(before.loc[etfs]) and set(after.loc[etfs, "propagated_from"]) == {"", "562500"}
    hist = pd.read_csv(labels_subset.with_name("history.csv"), dtype=str, keep_default_na=False).iloc[n_hist:]
    assert len(hist) == 2 * (1 + len(moved)) and set(hist["new_secondary"].iloc[1 + len(moved):]) == {"科技主题ETF"}
    audit = r.invoke(cli, ["labels", "audit", str(labels_subset), "--taxonomy", str(new_tax)])
    assert audit.exit_code == 0 and " 0 errors" in audit.output, audit.output


def test_one_decision_settles_both_groups_of_an_index_in_the_migration_queue(tmp_path, labels_subset):
    """The labeled set keeps 中证机器人 in two groups: its ETFs under the index code (H30590.CSI: 562500 the report's,
    159526 … propagated) and its feeders under the index name (idx:中证机器人: 020255 hand, 020256 its copy …), one
    index to tagging and to review import (review._index_groups). A split of their class queued them as two groups
    (two group_size, two settles, two decisions needed), and a decision on the feeder 020255 put back its own group
    only: the ETFs stayed out of the set, in the queue. Now the queue keeps the index's rows together, its group_size
    and settles count both groups, and one decision on any of them puts both back, each row in its own group, and 撤销
    puts them back in the queue."""
    before = read_labels(labels_subset).set_index("fund_code")
    groups = {"H30590.CSI", "idx:中证机器人"}
    robot = before.index[before["group"].isin(groups)].tolist()
    assert {"562500", "159526", "020255", "020256"} <= set(robot)
    r = CliRunner()
    new_tax, queue, res = split_migrate(r, tmp_path, labels_subset)
    assert res.exit_code == 0, res.output
    q = pd.read_csv(queue, dtype=str, keep_default_na=False)
    rows = q.index[q["fund_code"].isin(robot)]
    assert len(rows) == len(robot) and list(rows) == list(range(rows[0], rows[0] + len(rows)))  # together
    assert set(q.loc[rows, "group_size"]) == set(q.loc[rows, "settles"]) == {str(len(robot))}
    assert set(q.loc[rows, "group"]) == groups  # each row keeps its group of the set
    q["decision"] = q["fund_code"].map({"020255": "科技主题ETF"}).fillna("")
    q["reviewer"] = "张三"
    q.to_csv(queue, index=False, encoding="utf-8")
    res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels_subset), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0, res.output
    now = read_labels(labels_subset).set_index("fund_code")
    assert set(robot) <= set(now.index), sorted(set(robot) - set(now.index))
    assert (now.loc[robot, "secondary"] == "科技主题ETF").all()
    assert now.loc[robot, "group"].equals(before.loc[robot, "group"])
    assert not set(migration_pending(labels_subset, set(now.index))) & set(robot)
    audit = r.invoke(cli, ["labels", "audit", str(labels_subset), "--taxonomy", str(new_tax)])
    assert audit.exit_code == 0 and " 0 errors" in audit.output, audit.output
    res = _withdraw_after_split(r, tmp_path, labels_subset, new_tax, "020255")
    after = read_labels(labels_subset)
    assert not set(after["fund_code"]) & set(robot)
    assert set(robot) <= set(migration_pending(labels_subset, set(after["fund_code"])))


def test_the_review_sheet_reads_the_labeled_sets_index_pairs_once(labels_subset, monkeypatch):
    """`review export` worked out the labeled set's index pairs again for every new fund giving its own index code
    and name (index_aliases over the whole set per pair) and wrote the set's identifying fields into each known
    fund's row one pandas assignment at a time: the ETF list's sheet (1,190 rows) took 3.8 s, 3.3 s of them in
    classifier.reach. Now the set's pairs are read once and a new fund's pair is added to them; the sheet is the same
    (checked byte for byte on the exports of the fund list, the ETF list and the holdout files)."""
    import classifier.index_key as ik

    n = 30
    batch = pd.DataFrame({"fund_code": [f"5{i:05d}" for i in range(n)],
                          "fund_short_name": [f"测试{i}号ETF" for i in range(n)],
                          "index_code": [f"93{i:04d}.CSI" for i in range(n)],
                          "index_name": [f"中证测试{i}号指数" for i in range(n)],
                          "fund_type": ["指数型-股票"] * n})
    tagged = Tagger.load(labels_path=labels_subset).tag(batch)
    size = len(read_labels(labels_subset))
    calls, apply_unique = [], ik.apply_unique

    def counted(series, f):
        calls.append(len(series))
        return apply_unique(series, f)

    monkeypatch.setattr(ik, "apply_unique", counted)
    sheet = review_frame(tagged, include_all=True, labels_path=labels_subset)
    assert len(sheet) == n and set(sheet["settles"]) == {"1"}
    assert sum(k >= size for k in calls) <= 4, calls  # the set's codes and names: the tag's reading and the sheet's


def test_a_migration_that_is_not_committed_leaves_no_review_queue(tmp_path, labels_subset, monkeypatch):
    """`fundclass taxonomy migrate … -o queue.xlsx` wrote its review queue before the labeled set's change was
    committed: when the commit failed (a full disk; labels.csv open in Excel, refused), the command said 'nothing was
    changed' and yet queue.xlsx lay there, listing rows taken out of the set by a migration that never happened (audit
    round 12: OSError(ENOSPC) at the first fsync of the commit). Now the queue is written whole beside its place before
    the commit and put in place only once the change is committed; a failed migration leaves none, nor its temp file.
    A commit that is saved but waits for history.csv to be closed (completed by the next command) keeps its queue."""
    import errno

    from classifier import labeled as store

    folder = labels_subset.parent
    before = {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.endswith(".lock")}
    real_fsync, real_replace = os.fsync, os.replace

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    def held(name):
        def replace(src, dst, *a, **k):
            if Path(dst).name == name:  # Windows: the file is open in Excel
                raise PermissionError(errno.EACCES, "Permission denied", str(src))
            return real_replace(src, dst, *a, **k)
        return replace

    r = CliRunner()
    for patch, said in ((("fsync", full), "nothing was changed: free some space"),
                        (("replace", held("labels.csv")), "nothing was changed: close it")):
        monkeypatch.setattr(store.os, *patch)
        new_tax, queue, res = split_migrate(r, tmp_path, labels_subset, "queue.xlsx")
        monkeypatch.setattr(store.os, "fsync", real_fsync)
        monkeypatch.setattr(store.os, "replace", real_replace)
        assert res.exit_code == 2 and said in res.output, res.output
        assert not queue.exists(), f"a queue of a migration that never happened ({said})"
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".queue")) == []
        assert {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.endswith(".lock")} == before
    monkeypatch.setattr(store.os, "replace", held("history.csv"))
    new_tax, queue, res = split_migrate(r, tmp_path, labels_subset, "queue.xlsx")
    monkeypatch.setattr(store.os, "replace", real_replace)
    assert res.exit_code == 2 and "the change is saved" in res.output and f"its review queue is {queue}" in res.output
    assert queue.exists()
    assert set(read_labels(labels_subset)["taxonomy_version"]) == {"jrj-2026.02-split"}  # completed by the next read


def test_a_split_group_warning_says_its_other_funds_go_to_review_also_those_accepted_without_it(tmp_path,
                                                                                              labels_subset):
    """Audit round 12 (UX): a sheet's group (平安创业板ETF联接A 009012, 天弘创业板ETF联接A 001592 and 易方达创业板ETF联接
    A/C 110026/004744: one index, 创业板指) decided with two classes was imported with 'each settles its own funds;
    the group's other funds stay in review', but 110026 and 004744 were not in review (confidence 0.9985, accepted):
    the two decisions dispute the index, and the next tag sends its other funds to review. The warning now says so."""
    batch = pd.concat([_chinext_list(), pd.DataFrame({"基金代码": ["110026"], "基金简称": ["易方达创业板ETF联接A"],
                                                      "基金类型": ["指数型-股票"]})], ignore_index=True)
    tagged = Tagger.load(labels_path=labels_subset).tag(batch).set_index("基金代码")
    assert not tagged.loc[["004744", "110026"], "needs_review"].any()  # accepted without review
    sheet = review_frame(tagged.reset_index(), include_all=True, labels_path=labels_subset)
    assert sheet["group"].nunique() == 1
    for code, cls in (("009012", "科技成长主题ETF"), ("001592", "宽基ETF")):
        sheet.loc[sheet["fund_code"] == code, ["decision", "reviewer"]] = [cls, "张三"]
    write_table(sheet, tmp_path / "r.csv")
    res = import_review(tmp_path / "r.csv", load_taxonomy(), labels_subset, today="2026-12-01")
    (warned,) = [x for x in res.lines() if x.startswith("warning")]
    assert "stay in review" not in warned
    assert "dispute" in warned and "goes to review, also one the tool accepted without review" in warned, warned
    again = Tagger.load(labels_path=labels_subset).tag(batch).set_index("基金代码")
    assert again.loc[["004744", "110026"], "needs_review"].all()  # what the warning says
    assert (again.loc[["004744", "110026"], "review_decision"] == "").all()
