"""The review loop and taxonomy changes, end to end (issue: review, feed back, retrain when the taxonomy changes):
review import end to end: the sheet as a user edits it, families, disputes, bad rows."""
import functools
import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import InputError
from classifier.labeled import SHIPPED_LABELS, read_labels
from classifier.pipeline import Tagger
from classifier.io import read_table, write_table
from classifier.review import import_review, review_frame
from classifier.taxonomy import load_taxonomy
from review_helpers import (A500_FAMILY, _chinext_list, _decide, _decide_a500_family, _decisions_sheet, _review_sheet,
                            _small_labels_copy)


def test_an_import_with_bad_rows_changes_nothing(tmp_path, labels_subset):
    before = hashlib.sha256(labels_subset.read_bytes()).hexdigest()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"fund_code": ["990001", "990002", "159995"],
                  "decision": ["策略主题ETF", "科技主题", "宽基ETF"],
                  "reviewer": ["张三", "张三", ""], "taxonomy_version": load_taxonomy().version}).to_csv(bad, index=False)
    with pytest.raises(InputError) as e:
        import_review(bad, load_taxonomy(), labels_subset)
    msg = str(e.value)
    assert "2 problem(s), nothing imported" in msg
    assert "row 3 (990002): decision '科技主题' is not a label" in msg and "allowed: 制造业主题ETF" in msg
    assert "row 4 (159995): no reviewer" in msg
    assert hashlib.sha256(labels_subset.read_bytes()).hexdigest() == before
    assert not labels_subset.with_name("history.csv").exists()
    res = CliRunner().invoke(cli, ["review", "import", str(bad), "--labeled", str(labels_subset)])
    assert res.exit_code == 2


def test_a_later_agreeing_decision_on_a_share_class_leaves_its_family_with_the_earlier_one(tmp_path, labels_subset):
    """check_settles seed 304: 022422 (大成中证A500ETF发起式联接C) was decided 制造业主题ETF earlier, and settled its
    share classes 022421 (A) and 022423 (E). A decision on 022421 agreeing with it, today, showed `settles` 1 (a later
    decision that agrees changes no other row), but the next tag named 022421 on 022423: tagging took the family's
    decision first in the labeled set (022421's row comes before 022422's), not the earliest, as it does for an
    index. The earliest decision now keeps the family, and `settles` holds."""
    codes = read_labels(labels_subset)["fund_code"].tolist()
    assert codes.index("022421") < codes.index("022422")  # the set's order: A before C
    decide = functools.partial(_decide_a500_family, tmp_path, labels_subset)
    decide("022422", "2026-11-01")
    said = decide("022421")  # today, as review export reckons
    out = Tagger.load(labels_path=labels_subset).tag(A500_FAMILY).set_index("fund_code")
    assert out["review_decision"].to_dict() == {"022423": "022422", "022422": "022422", "022421": "022421"}
    assert said == "1"


def test_a_share_class_decided_the_same_day_before_its_familys_decision_in_the_set_settles_its_own_fund(
        tmp_path, labels_subset):
    """Two sheets imported the same day: 022422 (大成中证A500ETF发起式联接C) decided 制造业主题ETF, then 022421 (联接A),
    whose row comes before 022422's in the labeled set, decided the same. Of a family's agreeing decisions of one day
    tagging takes the one first in the set, 022421, for 022423 (联接E), whose class stays the one 022422 gave it; a
    decision of another class on 022421 would dispute the family and send 022423 to review. `settles`, which cannot
    know the class the reviewer will write, counts what the decision settles whichever it is: 022421 alone (a sheet
    that counted the takeover over-counted every decision of another class, test_review_integrity)."""
    codes = read_labels(labels_subset)["fund_code"].tolist()
    assert codes.index("022421") < codes.index("022422")  # the set's order: A before C
    decide = functools.partial(_decide_a500_family, tmp_path, labels_subset)
    assert decide("022422") == "3"
    said = decide("022421")
    out = Tagger.load(labels_path=labels_subset).tag(A500_FAMILY).set_index("fund_code")
    assert out["review_decision"].to_dict() == {"022423": "022421", "022422": "022422", "022421": "022421"}
    assert out.at["022423", "secondary"] == "制造业主题ETF"  # taken over, its class unchanged
    assert said == "1"


def test_a_decision_settles_share_classes_listed_before_the_reviewed_fund(tmp_path, labels_subset):
    _decide(tmp_path, labels_subset, [("990501", "示例医疗健康混合A", "消费主题ETF")])
    batch = pd.DataFrame({"基金代码": ["990502", "990501", "990503"],
                          "基金简称": ["示例医疗健康混合C", "示例医疗健康混合A", "示例医疗健康混合E"],
                          "投资类型": ["偏股混合型"] * 3})
    out = Tagger.load(labels_path=labels_subset).tag(batch)
    assert out["linked_fund"].tolist() == ["", "990502", "990502"]  # one family, listed C first
    assert out["secondary"].tolist() == ["消费主题ETF"] * 3 and out["confidence"].tolist() == [1.0] * 3


def test_a_decision_settles_share_classes_and_feeders_in_later_batches(tmp_path, labels_subset):
    _decide(tmp_path, labels_subset, [("990501", "示例医疗健康混合A", "消费主题ETF"),
                                    ("990601", "示例中证A500ETF", "策略主题ETF")])
    later = pd.DataFrame({"基金代码": ["990502", "990602"], "基金简称": ["示例医疗健康混合C", "示例中证A500ETF联接E"],
                          "投资类型": ["偏股混合型", "被动指数型"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist() == ["消费主题ETF", "策略主题ETF"] and out["confidence"].tolist() == [1.0, 1.0]
    assert out["evidence"].str.startswith("人工复核: 张三").all()
    assert "经关联基金990501" in out["evidence"][0] and "经关联基金990601" in out["evidence"][1]


def test_a_family_whose_members_were_decided_differently_settles_only_those_members(tmp_path, labels_subset):
    _decide(tmp_path, labels_subset, [("990501", "示例医疗健康混合A", "消费主题ETF"),
                                    ("990502", "示例医疗健康混合C", "(申万)行业ETF")])
    batch = pd.DataFrame({"基金代码": ["990503", "990501", "990502"],
                          "基金简称": ["示例医疗健康混合E", "示例医疗健康混合A", "示例医疗健康混合C"],
                          "投资类型": ["偏股混合型"] * 3})
    out = Tagger.load(labels_path=labels_subset).tag(batch)
    assert out["secondary"].tolist()[1:] == ["消费主题ETF", "(申万)行业ETF"]
    assert out["confidence"].tolist()[1:] == [1.0, 1.0]
    assert out["confidence"][0] < 1.0 and not out["evidence"][0].startswith("人工复核")  # the reviewers disagree


def test_the_python_api_applies_the_workspaces_review_decisions(tmp_path, monkeypatch):
    """`Tagger.load()` and `tag_file` with no labeled set given read the workspace's decisions, as `fundclass tag`
    does: a notebook user of a workspace where a fund's index was decided gets the decision, not the model's class;
    `labels_path=None` asks for the model alone."""
    from classifier.batch import tag_file

    ws = tmp_path / "ws"
    labels = ws / "data" / "labeled" / "labels.csv"
    labels.parent.mkdir(parents=True)
    shutil.copy(SHIPPED_LABELS, labels)
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990101"], "fund_name": ["示例上证红利ETF"], "index_code": ["000015.SH"],
                  "index_name": ["上证红利指数"], "decision": ["国企主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [load_taxonomy().version]}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels)
    later = pd.DataFrame({"基金代码": ["990201"], "基金简称": ["另一上证红利ETF"], "跟踪指数代码": ["000015.SH"]})
    monkeypatch.chdir(ws)
    monkeypatch.delenv("FUNDCLASS_WORKSPACE", raising=False)
    tagger = Tagger.load()
    assert Path(tagger.decisions_from).resolve() == labels.resolve()
    out = tagger.tag(later)
    assert out["secondary"].iloc[0] == "国企主题ETF" and out["evidence"].iloc[0].startswith("人工复核: 张三")
    later.to_csv(tmp_path / "later.csv", index=False)
    summary = tag_file(tmp_path / "later.csv", tmp_path / "out.csv", progress=False)
    assert Path(summary.decisions_from).resolve() == labels.resolve()
    assert pd.read_csv(tmp_path / "out.csv", dtype=str)["secondary"].iloc[0] == "国企主题ETF"
    alone = Tagger.load(labels_path=None)
    assert alone.decisions_from == "" and alone.tag(later)["secondary"].iloc[0] != "国企主题ETF"


def test_a_decision_on_a_head_relabels_the_funds_propagated_from_it(tmp_path):
    """159606 heads index 930939.CSI; 560500 and 562340 carry its label as `propagated` rows. A decision that
    changes 159606's class changes theirs too (their old labels into history): before, they kept the old class, so
    `labels audit` failed after an ordinary import and training went on learning the class the reviewer overruled
    for two of the index's three funds."""
    labels_copy = _small_labels_copy(tmp_path, keep=lambda lab: lab["fund_code"] == "159606")
    before = read_labels(labels_copy).set_index("fund_code")
    followers = before.index[(before["source"] == "propagated") & (before["propagated_from"] == "159606")].tolist()
    assert sorted(followers) == ["560500", "562340"] and set(before.loc[followers, "secondary"]) == {"科技成长主题ETF"}
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["159606"], "decision": ["策略主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [load_taxonomy().version]}).to_csv(sheet, index=False)
    res = import_review(sheet, load_taxonomy(), labels_copy, today="2026-11-30")
    assert res.changed == [("159606", "科技成长主题ETF", "策略主题ETF")]
    assert sorted(c for c, *_ in res.followed) == followers
    after = read_labels(labels_copy).set_index("fund_code")
    assert set(after.loc[followers, "secondary"]) == {"策略主题ETF"}
    assert set(after.loc[followers, "primary"]) == {"策略与配置工具"}
    assert set(after.loc[followers, "source"]) == {"propagated"} and set(after.loc[followers, "propagated_from"]) == {
        "159606"}
    hist = pd.read_csv(labels_copy.with_name("history.csv"), dtype=str, keep_default_na=False)
    assert sorted(hist["fund_code"]) == sorted(["159606"] + followers)
    assert set(hist["old_secondary"]) == {"科技成长主题ETF"}
    audit = CliRunner().invoke(cli, ["labels", "audit", str(labels_copy)])
    assert "930939.CSI" not in audit.output, audit.output


def test_a_decision_settles_its_fund_whose_name_cell_is_garbled(tmp_path, labels_subset):
    """A later list gives a decided fund's code with a name cell that reads as no fund's name (mojibake, a
    placeholder): the fund's own decision, made on its code, still settles it, instead of sending it back to review
    with no class; such a row still takes no decision by index or link."""
    _decide(tmp_path, labels_subset, [("159606", "易方达中证500质量成长ETF", "策略主题ETF")])
    garbled = "易方达中证500质量成长ETF".encode("utf-8").decode("latin-1")
    later = pd.DataFrame({"基金代码": ["159606", "159606", "990601"], "基金简称": [garbled, "N/A", garbled]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist()[:2] == ["策略主题ETF", "策略主题ETF"] and out["secondary"].iloc[2] == ""
    assert out["needs_review"].tolist() == [False, False, True]
    assert out["evidence"].iloc[0].startswith("人工复核: 张三")


def test_an_older_sheet_does_not_silently_revert_a_later_decision(tmp_path, labels_subset):
    """A sheet exported before a fund's review decision (it shows the tool's answer, not that decision) and imported
    after it would put the older decision back without a word: it is refused, naming the later decision, unless
    --overrule; a sheet exported after the decision (it shows it) changes it, and importing it twice writes nothing."""
    old = _review_sheet(tmp_path / "old.csv", [("990901", "宽基ETF", "策略主题ETF", "张三")])
    import_review(old, load_taxonomy(), labels_subset, today="2026-11-30")
    new = _review_sheet(tmp_path / "new.csv", [("990901", "策略主题ETF", "国企主题ETF", "李四")])
    assert import_review(new, load_taxonomy(), labels_subset, today="2026-12-01").changed == [
        ("990901", "策略主题ETF", "国企主题ETF")]
    before = (labels_subset.read_bytes(), labels_subset.with_name("history.csv").read_bytes())
    assert import_review(new, load_taxonomy(), labels_subset, today="2026-12-02").confirmed == ["990901"]
    with pytest.raises(InputError) as e:
        import_review(old, load_taxonomy(), labels_subset, today="2026-12-02")
    msg = str(e.value)
    assert "row 2 (990901)" in msg and "国企主题ETF (李四, 2026-12-01)" in msg and "--overrule" in msg
    assert (labels_subset.read_bytes(), labels_subset.with_name("history.csv").read_bytes()) == before
    res = CliRunner().invoke(cli, ["review", "import", str(old), "--labeled", str(labels_subset)])
    assert res.exit_code == 2 and "later review decision" in res.output
    res = CliRunner().invoke(cli, ["review", "import", str(old), "--labeled", str(labels_subset), "--overrule"])
    assert res.exit_code == 0 and "changed 990901: 国企主题ETF → 策略主题ETF" in res.output


def test_a_copy_of_the_sheet_does_not_silently_replace_a_decision_that_confirmed_the_tools_answer(tmp_path,
                                                                                                   labels_subset):
    """Two reviewers fill copies of one exported sheet. The first confirms the tool's answer (宽基ETF, confidence
    0.9); the second, who never saw that decision, picks another class. The first decision was replaced without the
    refusal an older sheet meets (its answer showed the same class): the answer's confidence below 1 says it was the
    tool's, not a decision, so the import refuses, naming the first decision, unless --overrule. A sheet exported
    after the decision shows it at confidence 1, and changes it."""
    def sheet(name, decision, reviewer, confidence, shown="宽基ETF"):
        path = _review_sheet(tmp_path / name, [("990902", shown, decision, reviewer)])
        f = read_table(path).frame
        f["confidence"] = confidence
        write_table(f, path)
        return path

    import_review(sheet("a.csv", "宽基ETF", "张三", "0.9"), load_taxonomy(), labels_subset, today="2026-11-30")
    before = labels_subset.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(sheet("b.csv", "策略主题ETF", "李四", "0.9"), load_taxonomy(), labels_subset, today="2026-12-01")
    assert "宽基ETF (张三, 2026-11-30)" in str(e.value) and "the tool's own at confidence 0.9" in str(e.value)
    assert labels_subset.read_bytes() == before
    assert import_review(sheet("b.csv", "策略主题ETF", "李四", "0.9"), load_taxonomy(), labels_subset,
                         today="2026-12-01", overrule=True).changed == [("990902", "宽基ETF", "策略主题ETF")]
    assert import_review(sheet("c.csv", "国企主题ETF", "王五", "1", "策略主题ETF"), load_taxonomy(), labels_subset,
                         today="2026-12-02").changed == [("990902", "策略主题ETF", "国企主题ETF")]


def test_a_decision_settles_its_fund_in_a_later_file_whose_codes_lost_their_leading_zeros(tmp_path, labels_subset):
    """A later batch comes as a workbook whose code column holds numbers (Excel shows 001999 as 1999; a CSV it saved
    holds 1999 too): the fund's review decision was not applied, without a word, once its name no longer matched
    (renamed). A code cell of one to five digits alone is the six-digit code, so the decision settles its fund."""
    sheet = _review_sheet(tmp_path / "r.csv", [("001999", "宽基ETF", "消费主题ETF", "张三")])
    import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30")
    later = tmp_path / "later.xlsx"
    pd.DataFrame({"基金代码": [1999], "基金简称": ["示例价值精选混合A"]}).to_excel(later, index=False)
    out = Tagger.load(labels_path=labels_subset).tag(read_table(later).frame)
    assert out["secondary"].tolist() == ["消费主题ETF"] and out["evidence"][0].startswith("人工复核: 张三")


def test_a_class_typed_over_the_tools_answer_is_not_silently_ignored(tmp_path, labels_subset):
    """A reviewer decided one row in `decision` and, on two others, typed the class over `secondary` (the tool's
    answer, which import does not read): those two would be dropped without a word. The import names them and writes
    nothing; `primary` beside an unchanged answer (or a blank one) tells the answer apart from an edit."""
    sheet = _review_sheet(tmp_path / "r.csv", [("990911", "宽基ETF", "策略主题ETF", "张三"),
                                              ("990912", "宽基ETF", "", ""), ("990913", "宽基ETF", "", ""),
                                              ("990914", "", "", "")])
    f = read_table(sheet).frame
    f.loc[1, "secondary"] = "国企主题ETF"  # another primary class's label over the answer
    f.loc[3, "secondary"] = "消费主题etf"  # a class typed where the tool gave none, as a decision may be typed
    write_table(f, sheet)
    before = labels_subset.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(sheet, load_taxonomy(), labels_subset)
    msg = str(e.value)
    assert "2 problem(s)" in msg and "row 3 (990912)" in msg and "row 5 (990914)" in msg and "990913" not in msg
    assert "`decision`" in msg and "消费主题etf" in msg
    assert labels_subset.read_bytes() == before


def test_a_decision_typed_with_full_width_characters_or_another_case_is_its_label(tmp_path, labels_subset):
    """Typed rather than picked from the drop-down, a label comes with an IME's full-width parentheses or letters,
    in lower case, or with a full-width space: each is the label it looks like (the error listing the labels showed
    the reviewer no difference). A primary class is not a decision: the error says so and names its classes."""
    sheet = _review_sheet(tmp_path / "r.csv", [("990931", "宽基ETF", "（申万）行业ETF", "张三"),
                                              ("990932", "宽基ETF", "策略主题etf", "张三"),
                                              ("990933", "宽基ETF", "国企主题ＥＴＦ\u3000", "张三")])
    res = import_review(sheet, load_taxonomy(), labels_subset)
    assert res.added == ["990931", "990932", "990933"]
    got = read_labels(labels_subset).set_index("fund_code")["secondary"]
    assert got[["990931", "990932", "990933"]].tolist() == ["(申万)行业ETF", "策略主题ETF", "国企主题ETF"]
    bad = _review_sheet(tmp_path / "bad.csv", [("990934", "宽基ETF", "企业属性与治理", "张三")])
    with pytest.raises(InputError) as e:
        import_review(bad, load_taxonomy(), labels_subset)
    assert "'企业属性与治理' is a primary class" in str(e.value) and "国企主题ETF, 民企主题ETF" in str(e.value)


def test_a_fund_code_kept_as_text_with_an_apostrophe_is_its_code(tmp_path, labels_subset):
    """A code pasted as '001234 (how Wind and hand-typed cells mark a code as text, so Excel keeps its zeros) or in
    full-width digits is that fund, not 'not a fund code'."""
    sheet = _review_sheet(tmp_path / "r.xlsx", [("'990941", "宽基ETF", "策略主题ETF", "张三"),
                                               ("９９０９４２", "宽基ETF", "策略主题ETF", "张三")])
    assert import_review(sheet, load_taxonomy(), labels_subset).added == ["990941", "990942"]


def test_the_import_warns_of_a_dispute_in_a_share_class_family_and_within_a_sheet_without_groups(tmp_path,
                                                                                                labels_subset):
    """Tagging settles by index and by share-class family alike, and sends a family decided two ways to review
    (`复核决定不一致`); the import warned only of index disputes. Two share classes of one active fund decided
    differently, and two funds of one index decided differently on one hand-made sheet (no `group` column, so no
    split-group warning), now warn, naming the other decision."""
    version = load_taxonomy().version

    def sheet(name, rows):
        path = tmp_path / name
        pd.DataFrame([{"fund_code": c, "fund_name": n, "index_code": i, "decision": d, "reviewer": "张三",
                       "taxonomy_version": version} for c, n, i, d in rows]).to_csv(path, index=False)
        return path

    import_review(sheet("a.csv", [("990961", "示例医疗健康混合A", "", "(申万)行业ETF")]), load_taxonomy(), labels_subset,
                  today="2026-11-30")
    res = import_review(sheet("c.csv", [("990962", "示例医疗健康混合C", "", "消费主题ETF")]), load_taxonomy(),
                        labels_subset, today="2026-12-01")
    warnings = [line for line in res.lines() if line.startswith("warning")]
    assert len(warnings) == 1 and "990962" in warnings[0] and "990961 (申万)行业ETF (张三, 2026-11-30)" in warnings[0]
    res = import_review(sheet("two.csv", [("990971", "示例甲中证红利ETF", "000922.CSI", "策略主题ETF"),
                                          ("990972", "示例乙中证红利ETF", "000922.CSI", "国企主题ETF")]),
                        load_taxonomy(), labels_subset, today="2026-12-01")
    warnings = [line for line in res.lines() if line.startswith("warning")]
    assert len(warnings) == 2 and "990972 国企主题ETF (this sheet)" in warnings[0]


def test_rows_with_a_comment_but_no_decision_are_named_in_the_import_report(tmp_path, labels_subset):
    """A reviewer wrote a note in `comment` but no `decision` on some rows (a question, a doubt): the import took the
    decided rows and said nothing of the others. It still imports, and warns how many rows have a comment but no
    decision, naming their fund codes (the first 20)."""
    rows = [("990959", "宽基ETF", "策略主题ETF", "张三")] + [(f"9909{i}", "宽基ETF", "", "") for i in range(60, 83)]
    sheet = _review_sheet(tmp_path / "r.csv", rows)
    f = read_table(sheet).frame
    f.loc[0, "comment"] = "名称含策略"
    f.loc[1:22, "comment"] = "不确定,请再看"  # 22 rows with a note and no decision; the last row has neither
    write_table(f, sheet)
    res = import_review(sheet, load_taxonomy(), labels_subset)
    assert res.added == ["990959"]
    warnings = [line for line in res.lines() if line.startswith("warning")]
    assert len(warnings) == 1 and "22 rows have a comment but no decision" in warnings[0]
    assert "990960, 990961" in warnings[0] and "990979" in warnings[0] and "990980" not in warnings[0]
    assert "990982" not in warnings[0] and "990959" not in warnings[0]


def test_a_copy_of_the_sheet_with_confidence_or_secondary_deleted_does_not_revert_a_later_decision(tmp_path,
                                                                                                   labels_subset):
    """Two reviewers each get a copy of one exported sheet. The first confirms the tool's answer (宽基ETF at 0.61)
    and imports; the second, who deleted the `confidence` column in Excel (or `secondary`, the tool's answer), decides
    otherwise and imports: the import could no longer tell the sheet was exported before the first decision (the
    answer shown below 1, or another class) and replaced it without a word (audit round 8). On an exported sheet
    (it has `group`), a decision over a review decision with those columns deleted is refused, naming the columns
    and the decision, unless --overrule; a hand-made sheet of codes and decisions still changes a decision."""
    tax = load_taxonomy()

    def copy(name, decision, reviewer, drop):
        path = _review_sheet(tmp_path / name, [("990993", "宽基ETF", decision, reviewer)])
        f = read_table(path).frame
        f["confidence"] = "0.61"
        write_table(f.drop(columns=drop), path)
        return path

    assert import_review(copy("a.csv", "宽基ETF", "张三", []), tax, labels_subset, today="2026-11-30").added == [
        "990993"]
    history = labels_subset.with_name("history.csv")
    before = (labels_subset.read_bytes(), history.exists())
    for drop in (["confidence"], ["secondary"], ["secondary", "confidence"]):
        with pytest.raises(InputError) as e:
            import_review(copy("b.csv", "策略主题ETF", "李四", drop), tax, labels_subset, today="2026-12-01")
        msg = str(e.value)
        assert "row 2 (990993)" in msg and "宽基ETF (张三, 2026-11-30)" in msg and "--overrule" in msg
        assert f"column(s) {', '.join(drop)} were deleted" in msg
        assert (labels_subset.read_bytes(), history.exists()) == before
    with pytest.raises(InputError, match="column.s. confidence were deleted .*withdrawn"):
        import_review(copy("w.csv", "撤销", "李四", ["confidence"]), tax, labels_subset, today="2026-12-01")
    res = import_review(copy("b.csv", "策略主题ETF", "李四", ["confidence"]), tax, labels_subset, today="2026-12-01",
                        overrule=True)
    assert res.changed == [("990993", "宽基ETF", "策略主题ETF")]
    hand = tmp_path / "hand.csv"
    pd.DataFrame({"fund_code": ["990993"], "decision": ["国企主题ETF"], "reviewer": ["王五"],
                  "taxonomy_version": [tax.version]}).to_csv(hand, index=False)
    assert import_review(hand, tax, labels_subset, today="2026-12-02").changed == [
        ("990993", "策略主题ETF", "国企主题ETF")]


def test_a_comment_without_a_decision_on_a_sheet_saved_with_codes_as_numbers_names_the_six_digit_code(tmp_path,
                                                                                                        labels_subset):
    """A sheet Excel saved with its fund_code column as numbers: the decided rows are read with six-digit codes (the
    import lists them), but the warning on a row with a comment and no decision named its code as Excel wrote it
    ('12757' for 012757; audit round 9, month 1 of a simulated workspace), the one code of the report the reviewer
    could not find in tagging's output or the labeled set. It names the six-digit code now."""
    sheet = tmp_path / "r.csv"
    pd.DataFrame({"fund_code": ["4433", "12757"], "decision": ["资源主题ETF", ""], "reviewer": ["张三", ""],
                  "comment": ["", "待定"], "taxonomy_version": [load_taxonomy().version] * 2}).to_csv(sheet, index=False)
    res = CliRunner().invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_subset)])
    assert res.exit_code == 0, res.output
    assert "1 row has a comment but no decision and was not imported: 012757; write its decision in" in res.output, \
        res.output


def test_a_share_class_follows_its_own_funds_decision_before_the_etf_its_fund_feeds(tmp_path, labels_subset):
    """A decision on 广发中证军工ETF联接A (003017: (申万)行业ETF), then one on the ETF it feeds, 广发中证军工ETF (512680:
    宽基ETF): the next tag gave the feeder's other share class 005693 宽基ETF through the ETF, auto-accepted, while
    003017 kept (申万)行业ETF, one fund's two share classes in two classes, and the import's warning said the family's
    other funds go to review (random review sessions, seed 112: the sheet said the ETF's decision settles 1, it
    settled 2). A share class now follows its own fund's decision first, the ETF only when its fund has none; for
    every row of the sheet, a decision imported and the file tagged again settles as many rows as `settles` says."""
    batch = pd.DataFrame({"fund_code": ["512680", "005693", "003017"],
                          "fund_short_name": ["广发中证军工ETF", "广发中证军工ETF联接C", "广发中证军工ETF联接A"],
                          "fund_type": ["指数型-股票"] * 3})
    tax = load_taxonomy()

    def decide(labels, code, decision, day=None):
        sheet = review_frame(Tagger.load(labels_path=labels).tag(batch), include_all=True, labels_path=labels)
        sheet.loc[sheet["fund_code"] == code, ["decision", "reviewer"]] = [decision, "张三"]
        write_table(sheet, labels.with_name("r.csv"))
        import_review(labels.with_name("r.csv"), tax, labels, today=day, overrule=True)
        return sheet

    decide(labels_subset, "003017", "(申万)行业ETF", "2026-11-20")
    sheet = decide(labels_subset, "512680", "宽基ETF", "2026-11-25")
    out = Tagger.load(labels_path=labels_subset).tag(batch).set_index("fund_code")
    assert out.loc["005693", "secondary"] == "(申万)行业ETF" and out.loc["005693", "review_decision"] == "003017"
    assert sheet.loc[sheet["fund_code"] == "512680", "settles"].item() == "1"
    sheet = review_frame(Tagger.load(labels_path=labels_subset).tag(batch), include_all=True,
                         labels_path=labels_subset)
    for code, settles in zip(sheet["fund_code"], sheet["settles"]):
        work = tmp_path / code
        work.mkdir()
        shutil.copy(labels_subset, work / "labels.csv")
        decide(work / "labels.csv", code, "策略主题ETF")
        got = Tagger.load(labels_path=work / "labels.csv").tag(batch)
        assert settles == str(int((got["review_decision"] == code).sum())), (code, got["review_decision"])


def test_rows_without_a_fund_code_settle_nothing_and_are_not_one_group(tmp_path, labels_subset):
    """A file of names alone (no code column): every row of the sheet was group '' of 20 rows, settling 20, though
    `review import` refuses a decision on a row without a code ('' is not a fund code), so a decision there settles
    nothing (audit round 11, 20 money funds of the Eastmoney list, their names alone). Now such a row settles 0 and is
    a group of its own, named after its row, unless a decision on a row with a code settles it."""
    names = ["德邦德利货币A", "德邦德利货币B", "华润元大现金收益货币A"]
    tagged = Tagger.load(labels_path=labels_subset).tag(pd.DataFrame({"fund_short_name": names}))
    sheet = review_frame(tagged, include_all=True, labels_path=labels_subset)
    assert sheet["settles"].tolist() == ["0"] * 3
    assert sorted(sheet["group"]) == ["row 2", "row 3", "row 4"] and set(sheet["group_size"]) == {"1"}
    decided = sheet.copy()
    decided.loc[0, ["decision", "reviewer"]] = [load_taxonomy().labels[0], "张三"]
    write_table(decided, tmp_path / "r.csv")
    with pytest.raises(InputError, match="row 2 \\(no code\\): no fund code in column fund_code"):
        import_review(tmp_path / "r.csv", load_taxonomy(), labels_subset)


def test_a_decision_on_a_row_without_a_code_is_refused_naming_the_fund_and_what_to_do(tmp_path, labels_subset):
    """Audit round 15: a batch's listing given by its name alone (某某中证800ETF, no code) came out in the review sheet;
    a reviewer who decided it got "row 53 (no code): '' is not a fund code (six digits, optionally .SH/.SZ/.OF)",
    naming neither the fund, nor the column, nor what to do. It now names the fund and the column and says to type
    the code or clear the decision."""
    tagged = Tagger.load(labels_path=labels_subset).tag(pd.DataFrame({"fund_code": ["159681", ""],
                                                                      "fund_name": ["鹏华深证创业板50ETF", "某某中证800ETF"]}))
    sheet = review_frame(tagged, include_all=True, labels_path=labels_subset)
    row = sheet.index[sheet["fund_name"] == "某某中证800ETF"][0]
    sheet.loc[row, ["decision", "reviewer"]] = ["宽基ETF", "张三"]
    write_table(sheet, tmp_path / "r.xlsx")
    with pytest.raises(InputError) as e:
        import_review(tmp_path / "r.xlsx", load_taxonomy(), labels_subset)
    line = f"row {row + 2} (no code): no fund code in column fund_code for 某某中证800ETF: a decision is remembered by " \
           "the fund's code; type its code (six digits) there, or clear the decision"
    assert line in str(e.value) and "nothing imported" in str(e.value), str(e.value)


def test_a_decision_settles_the_funds_the_labeled_set_relabels_with_it(tmp_path, labels_subset):
    """Audit round 12: a decision on 平安创业板ETF联接A (009012) made on a fund list relabeled its index's 83 other
    funds in the labeled set (group idx:创业板指) to the decided class, but the next tag of the same list gave
    易方达创业板ETF联接C and the others their old class at confidence 0.9985, out of review: the file's names give
    `idx:创业板`, the set's rows `idx:创业板指`. The sheet's `settles` said 1. A fund the labeled set holds is now
    settled, when its file's own keys meet no decision, by its row in the set, as the import relabels it."""
    batch = _chinext_list()
    sheet = review_frame(Tagger.load(labels_path=labels_subset).tag(batch), include_all=True,
                         labels_path=labels_subset)
    at = sheet.index[sheet["fund_code"] == "009012"][0]
    sheet.loc[at, ["decision", "reviewer"]] = ["科技成长主题ETF", "张三"]
    write_table(sheet, tmp_path / "r.csv")
    import_review(tmp_path / "r.csv", load_taxonomy(), labels_subset, today="2026-12-01")
    lab = read_labels(labels_subset).set_index("fund_code")
    assert (lab.loc[["009012", "004744", "001592"], "secondary"] == "科技成长主题ETF").all()  # the set relabels them
    tagged = Tagger.load(labels_path=labels_subset).tag(batch)
    assert tagged["secondary"].tolist() == ["科技成长主题ETF"] * 3
    assert tagged["review_decision"].tolist() == ["009012"] * 3
    assert sheet.loc[at, "settles"] == "3"


def test_a_decision_on_a_fund_the_set_holds_warns_of_the_dispute_its_row_in_the_set_starts(tmp_path, labels_subset):
    """Audit round 12: a second reviewer decided 易方达创业板ETF联接C (004744) 宽基ETF on a list of names, after 009012's
    decision had relabeled it 科技成长主题ETF in the labeled set: the import said 'changed 004744' and no warning,
    though the two decisions, on one index of the set (idx:创业板指), now dispute it. The import read the fund's index
    from the sheet (names alone: `idx:创业板`), not from its row in the set that the decision is written into; it now
    reads the set's row, as tagging does, warns, and the index's other funds go to review."""
    batch = _chinext_list()
    _decide(tmp_path, labels_subset, [("009012", "平安创业板ETF联接A", "科技成长主题ETF")])
    sheet = review_frame(Tagger.load(labels_path=labels_subset).tag(batch), include_all=True,
                         labels_path=labels_subset)
    sheet.loc[sheet["fund_code"] == "004744", ["decision", "reviewer"]] = ["宽基ETF", "李四"]
    write_table(sheet, tmp_path / "r2.csv")
    res = import_review(tmp_path / "r2.csv", load_taxonomy(), labels_subset, today="2026-12-01")
    warnings_ = [line for line in res.lines() if line.startswith("warning")]
    assert len(warnings_) == 1 and "004744" in warnings_[0] and "009012 科技成长主题ETF" in warnings_[0]
    tagged = Tagger.load(labels_path=labels_subset).tag(batch).set_index("基金代码")
    assert tagged.loc["001592", "needs_review"] and tagged.loc["001592", "review_decision"] == ""


def test_a_dry_run_says_in_its_own_lines_that_nothing_was_written(tmp_path, labels_subset):
    """Audit round 12 (UX): `review import --dry-run` printed on stdout the lines of a real import ('added 1, changed
    1 …', '  changed 009012: …', '  relabeled …'); only stderr's 'checking decisions against' told them apart, so a
    reviewer reading the output (or a log of stdout) could not tell that nothing was written. A dry run now says what
    an import would do (`would add`, `would change`, `would relabel`) and ends with 'dry run: nothing was written';
    a real import says what it did, as before."""
    sheet = _decisions_sheet(tmp_path / "d.csv", [("009012", "平安创业板ETF联接A", "科技成长主题ETF"),
                                                  ("990001", "示例优选成长混合A", "宽基ETF")])
    before = {f.name: f.read_bytes() for f in labels_subset.parent.iterdir() if not f.name.endswith(".lock")}
    dry = CliRunner().invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_subset), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert {f.name: f.read_bytes() for f in labels_subset.parent.iterdir() if not f.name.endswith(".lock")} == before
    lines = dry.stdout.splitlines()
    assert lines[0].startswith("would add 1, change 1, confirm 0; ") and "more funds of the decided funds' indices " \
        "would be relabeled with them" in lines[0], lines[0]
    assert "  would change 009012: 宽基ETF → 科技成长主题ETF" in lines and "  would add 990001" in lines
    assert "  would relabel 001592: 宽基ETF → 科技成长主题ETF (same index as 009012)" in lines
    assert lines[-1] == "dry run: nothing was written (import without --dry-run to make these changes)"
    assert not [x for x in lines if x.lstrip().startswith(("added", "changed", "relabeled", "confirmed"))]
    real = CliRunner().invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_subset)])
    assert real.exit_code == 0, real.output
    done = real.stdout.splitlines()
    assert done[0].startswith("added 1, changed 1, confirmed 0; ") and "  changed 009012: 宽基ETF → 科技成长主题ETF" in done
    assert "  relabeled 001592: 宽基ETF → 科技成长主题ETF (same index as 009012)" in done and "  added 990001" in done
    assert not [x for x in done if "would" in x or "dry run" in x]
    assert len(done) == len(lines)  # the same report, less the dry run's last line, plus the real run's advice


def test_a_row_whose_code_cell_holds_no_fund_code_settles_nothing(tmp_path, labels_subset):
    """Audit round 15: a list exported from Wind ends with the line '数据来源：Wind' in its code column; tagged, the row
    comes out (every input row does) and goes to review, and the review sheet said it settles 1 row (its own), though
    `review import` refuses a decision there ('数据来源：Wind' is not a fund code). It settles 0, as a row with no code."""
    tagged = Tagger.load(labels_path=labels_subset).tag(pd.DataFrame({
        "基金代码": ["159681.SZ", "数据来源：Wind"], "基金简称": ["鹏华深证创业板50ETF", ""]}))
    sheet = review_frame(tagged, include_all=True, labels_path=labels_subset).set_index("fund_code")
    assert sheet.loc["数据来源：Wind", "settles"] == "0", sheet[["group", "settles"]]
    assert sheet.loc["159681.SZ", "settles"] == "1"
    decided = sheet.reset_index()
    decided.loc[decided["fund_code"] == "数据来源：Wind", ["decision", "reviewer"]] = ["宽基ETF", "张三"]
    write_table(decided, tmp_path / "r.csv")
    with pytest.raises(InputError, match="'数据来源：Wind' is not a fund code"):
        import_review(tmp_path / "r.csv", load_taxonomy(), labels_subset)
