"""The review loop and taxonomy changes, end to end (issue: review, feed back, retrain when the taxonomy changes):
a decision on an index: the funds it settles, by code, name and the names of its funds."""
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import InputError
from classifier.labeled import read_labels
from classifier.pipeline import Tagger
from classifier.io import read_table, write_table
from classifier.review import REVIEW_COLUMNS, import_review, review_frame
from classifier.taxonomy import load_taxonomy
from review_helpers import (TAX_VERSION, _chinext_list, _decide, _decide_index, _decisions_sheet, _review_sheet,
                            _small_labels_copy)


def test_a_decision_settles_every_fund_tracking_its_index(tmp_path, labels_subset):
    """Decided once on one fund, remembered for its index in later batches, without retraining (issue 12)."""
    version = load_taxonomy().version
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990101"], "fund_name": ["示例上证红利ETF"], "index_code": ["000015.SH"],
                  "index_name": ["上证红利指数"], "decision": ["国企主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [version]}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset)
    later = pd.DataFrame({"基金代码": ["990201", "990202", "990203"],
                          "基金简称": ["另一上证红利ETF", "另一上证红利ETF联接C", "另一中证红利ETF"],
                          "跟踪指数代码": ["000015.SH", "", "000922.CSI"],
                          "跟踪指数名称": ["上证红利指数", "上证红利", "中证红利指数"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    # same index by code, and by name for the feeder that gives no code; another index is untouched
    assert out["secondary"].tolist() == ["国企主题ETF", "国企主题ETF", "策略主题ETF"]
    assert out["confidence"].tolist()[:2] == [1.0, 1.0] and not out["needs_review"].iloc[:2].any()
    assert out["evidence"].iloc[0].startswith("人工复核: 张三") and "同一跟踪指数 000015" in out["evidence"].iloc[0]
    # a second, conflicting decision on another fund of the index: each settles only its own fund
    pd.DataFrame({"fund_code": ["990102"], "fund_name": ["又一上证红利ETF"], "index_code": ["000015.SH"],
                  "index_name": ["上证红利指数"], "decision": ["策略主题ETF"], "reviewer": ["李四"],
                  "taxonomy_version": [version]}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset)
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].iloc[0] == "策略主题ETF" and not out["evidence"].iloc[0].startswith("人工复核")


def test_a_decision_does_not_reach_a_same_named_fund_tracking_another_index(tmp_path, labels_subset):
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990701"], "fund_name": ["示例一带A"], "index_code": ["000001.SH"],
                  "index_name": ["上证综合指数"], "decision": ["宽基ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [load_taxonomy().version]}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30")
    later = pd.DataFrame({"基金代码": ["990702", "990703"], "基金简称": ["示例一带B", "示例一带C"],
                          "跟踪指数代码": ["000300.SH", ""], "跟踪指数名称": ["沪深300指数", ""]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    # another index: another family; no index given: the same family as far as anyone can tell
    assert out["evidence"][0].startswith("人工复核") is False
    assert out["secondary"][1] == "宽基ETF" and out["evidence"][1].startswith("人工复核: 张三")


def test_funds_whose_index_reviewers_decided_two_ways_go_to_review_naming_both_decisions(tmp_path, labels_subset):
    """Two reviewers gave two funds of one index different classes: each keeps its own decision, and every other fund
    of that index (or of their families) is in review, its evidence naming both decisions, however sure the model is."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990801", "990802"], "fund_name": ["甲中证A500ETF", "乙中证A500ETF"],
                  "index_code": ["000510.SH", "000510.SH"], "index_name": ["中证A500指数", "中证A500指数"],
                  "decision": ["宽基ETF", "策略主题ETF"], "reviewer": ["张三", "李四"],
                  "taxonomy_version": [load_taxonomy().version] * 2}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30")
    later = pd.DataFrame({"基金代码": ["990803", "990801", "990804"],
                          "基金简称": ["丙中证A500ETF", "甲中证A500ETF", "丁沪深300ETF"],
                          "跟踪指数代码": ["000510.SH", "000510.SH", "000300.SH"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["needs_review"].tolist() == [True, False, False]
    assert out["secondary"][1] == "宽基ETF" and out["confidence"][1] == 1.0
    ev = out["evidence"][0]
    assert "复核决定不一致" in ev and "基金990801 宽基ETF(张三 2026-11-30)" in ev and "基金990802 策略主题ETF(李四" in ev
    assert "复核决定不一致" not in out["evidence"][2]


def test_a_decision_on_an_index_reaches_index_funds_known_by_their_name_alone(tmp_path, labels_subset):
    """A fund list gives names alone: a decision on 中证A500 (an ETF whose index column says so) reaches the index
    funds whose names say 中证A500, and no active fund whose name merely holds the words."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990961"], "fund_name": ["甲中证A500ETF"], "index_code": ["000510.SH"],
                  "index_name": ["中证A500指数"], "decision": ["策略主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [load_taxonomy().version]}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30")
    later = pd.DataFrame({"基金代码": ["990962", "990963", "990964"],
                          "基金简称": ["华夏中证A500ETF联接C", "易方达中证A500指数增强A", "华夏中证A500精选混合A"],
                          "基金类型": ["指数型-股票", "指数型-股票", "混合型-偏股"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist()[:2] == ["策略主题ETF", "策略主题ETF"]
    assert out["evidence"][0].startswith("人工复核: 张三") and "同一跟踪指数 中证A500" in out["evidence"][0]
    assert not out["evidence"][2].startswith("人工复核")  # an active fund is not settled by the words in its name


def test_a_decision_on_a_follower_relabels_its_index_head_and_the_other_followers(tmp_path):
    """A reviewer decides 560500, one of the funds that carry 159606's label (index 930939.CSI). Tagging applies the
    decision to the whole index; before, the labeled set kept 159606's hand label and 562340's copy of it, so `labels
    audit` failed (one index, two labels) and training learned the overruled class for two of the three funds. The
    index's other hand and propagated rows now take the decision, their old labels in history."""
    labels_copy = _small_labels_copy(tmp_path, keep=lambda lab: lab["fund_code"] == "159606")
    before = read_labels(labels_copy).set_index("fund_code")
    group = before.loc["159606", "group"]
    assert before.loc["159606", "source"] == "hand" and before.loc["560500", "propagated_from"] == "159606"
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["560500"], "decision": ["策略主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [load_taxonomy().version]}).to_csv(sheet, index=False)
    res = import_review(sheet, load_taxonomy(), labels_copy, today="2026-11-30")
    assert res.changed == [("560500", "科技成长主题ETF", "策略主题ETF")]
    assert sorted(c for c, *_ in res.followed) == ["159606", "562340"]
    after = read_labels(labels_copy).set_index("fund_code")
    assert set(after.loc[after["group"] == group, "secondary"]) == {"策略主题ETF"}
    assert after.loc["560500", "source"] == "review"
    assert after.loc[["159606", "562340"], "propagated_from"].tolist() == ["560500", "560500"]
    hist = pd.read_csv(labels_copy.with_name("history.csv"), dtype=str, keep_default_na=False)
    assert sorted(hist["fund_code"]) == ["159606", "560500", "562340"]
    assert hist.set_index("fund_code").loc["159606", "old_source"] == "hand"
    audit = CliRunner().invoke(cli, ["labels", "audit", str(labels_copy)])
    assert "930939.CSI" not in audit.output, audit.output
    # a second reviewer deciding another fund of the index otherwise: a dispute, so no row takes a decision, and the
    # head 560500's decision relabeled goes back to its hand label, as tagging sends it to review (it kept 560500's
    # class until dispute13: tests/test_review_disputes.py)
    pd.DataFrame({"fund_code": ["562340"], "decision": ["宽基ETF"], "reviewer": ["李四"],
                  "taxonomy_version": [load_taxonomy().version]}).to_csv(sheet, index=False)
    res = import_review(sheet, load_taxonomy(), labels_copy, today="2026-11-30")
    assert not res.followed and [c for c, *_ in res.undone] == ["159606"]
    assert read_labels(labels_copy).set_index("fund_code").loc["159606", ["secondary", "source"]].tolist() == [
        "科技成长主题ETF", "hand"]


def test_a_sheet_whose_index_columns_were_deleted_does_not_silently_narrow_a_decision(tmp_path, labels_subset):
    """A decision on a fund new to the labeled set reaches the other funds of its index through the sheet's index
    columns. With them deleted (a reviewer tidying the wide sheet) the fund would be added without its index, and
    the decision would settle it alone, without a word: the import names the deleted columns and writes nothing. A
    fund the labeled set already holds keeps its own columns, so its decision imports."""
    version = load_taxonomy().version
    full = pd.DataFrame([{c: "" for c in REVIEW_COLUMNS}])
    full.loc[0, ["fund_code", "fund_name", "secondary", "primary", "decision", "reviewer", "taxonomy_version", "group",
                 "index_code", "index_name", "fund_type"]] = [
        "990921", "甲中证机器人ETF", "科技成长主题ETF", "产业趋势与升级", "制造业主题ETF", "张三", version, "code:H30590",
        "H30590.CSI", "中证机器人指数", "被动指数型"]
    sheet = tmp_path / "r.csv"
    write_table(full.drop(columns=["index_code", "index_name", "full_name"]), sheet)
    before = labels_subset.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(sheet, load_taxonomy(), labels_subset)
    assert "990921" in str(e.value) and "column(s) full_name, index_code, index_name were deleted" in str(e.value)
    assert labels_subset.read_bytes() == before
    known = read_labels(labels_subset).iloc[0]
    write_table(full.assign(fund_code=known.fund_code, secondary=known.secondary,
                            primary=load_taxonomy().primary_of(known.secondary))
                .drop(columns=["index_code", "index_name", "full_name"]), sheet)
    import_review(sheet, load_taxonomy(), labels_subset)  # no error: the labeled set knows the fund
    write_table(full, sheet)  # with the columns: the decision reaches another fund of the index
    import_review(sheet, load_taxonomy(), labels_subset)
    later = pd.DataFrame({"基金代码": ["990922"], "基金简称": ["乙中证机器人ETF"], "跟踪指数代码": ["H30590.CSI"]})
    assert Tagger.load(labels_path=labels_subset).tag(later)["secondary"].tolist() == ["制造业主题ETF"]


def test_a_decision_that_disputes_an_earlier_one_on_its_index_says_so(tmp_path, labels_subset):
    """A second reviewer, on a copy of the same sheet, decides another fund of an index an earlier decision settled,
    differently: from the next tag on, neither decision settles the index and its other funds go back to review. The
    import said only 'added 1'; it now warns, naming the earlier decision. The same class gives no warning."""
    version = load_taxonomy().version

    def sheet(code, decision, reviewer):
        path = tmp_path / f"{code}.csv"
        pd.DataFrame({"fund_code": [code], "fund_name": [f"示例{code}上证红利ETF"], "index_code": ["000015.SH"],
                      "index_name": ["上证红利指数"], "decision": [decision], "reviewer": [reviewer],
                      "taxonomy_version": [version]}).to_csv(path, index=False)
        return path

    import_review(sheet("990951", "国企主题ETF", "张三"), load_taxonomy(), labels_subset, today="2026-11-30")
    same = import_review(sheet("990952", "国企主题ETF", "李四"), load_taxonomy(), labels_subset, today="2026-12-01")
    assert not [line for line in same.lines() if line.startswith("warning")]
    res = import_review(sheet("990953", "策略主题ETF", "王五"), load_taxonomy(), labels_subset, today="2026-12-01")
    warnings = [line for line in res.lines() if line.startswith("warning")]
    assert len(warnings) == 1 and "990953" in warnings[0] and "990951 国企主题ETF (张三, 2026-11-30)" in warnings[0]


def test_a_bare_index_code_that_lost_its_leading_zeros_in_excel_is_the_six_digit_code(tmp_path, labels_subset):
    """A review sheet saved as CSV by Excel holds a bare index code as a number: 000300 comes back as 300 (000015.SH
    keeps its zeros). A fund the import added was stored with index code 300, and the decision missed the index's
    other funds (code:300 is not code:000300). A cell of 1–5 digits alone is the six-digit code zero-filled; codes
    with letters (H30533, 930743.CSI) are read as they are."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990991", "990992", "990993"],
                  "fund_name": ["示例沪深300ETF", "示例中证800有色ETF", "示例中证芯片ETF"],
                  "index_code": ["300", "H30533", "930743.CSI"], "index_name": ["沪深300指数", "", ""],
                  "decision": ["策略主题ETF", "资源主题ETF", "科技成长主题ETF"], "reviewer": ["张三"] * 3,
                  "taxonomy_version": [load_taxonomy().version] * 3}).to_csv(sheet, index=False)
    assert import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30").added == ["990991", "990992",
                                                                                            "990993"]
    got = read_labels(labels_subset).set_index("fund_code")
    assert got.loc[["990991", "990992", "990993"], "index_code"].tolist() == ["000300", "H30533", "930743.CSI"]
    assert got.at["990991", "group"] == "000300.SH"  # the labeled set's group of 沪深300
    later = pd.DataFrame({"基金代码": ["990994"], "基金简称": ["示例三百增强A"], "跟踪指数代码": ["000300.SH"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist() == ["策略主题ETF"] and out["evidence"][0].startswith("人工复核: 张三")


def test_a_fund_added_from_a_name_only_list_joins_the_group_of_the_index_its_name_gives(tmp_path, labels_subset):
    """A fund list gives names alone: an index fund the import added from it got the group review:CODE, though its
    name gives its index (华夏中证A500ETF联接C → 中证A500), so grouped cross-validation and `labels audit` saw it as
    its own group. It now takes the labeled set's group of that index (000510.SH), else idx:<the index>, shared by
    the sheet's funds of one index; an actively managed fund keeps a group of its own."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990995", "990996", "990997", "990998"],
                  "fund_name": ["华夏中证A500ETF联接C", "华夏中证火星探索ETF联接A", "易方达中证火星探索指数增强C",
                                "华夏中证A500精选混合A"],
                  "decision": ["宽基ETF", "科技成长主题ETF", "科技成长主题ETF", "策略主题ETF"], "reviewer": ["张三"] * 4,
                  "taxonomy_version": [load_taxonomy().version] * 4}).to_csv(sheet, index=False)
    assert len(import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30").added) == 4
    group = read_labels(labels_subset).set_index("fund_code")["group"]
    assert group[["990995", "990996", "990997", "990998"]].tolist() == [
        "000510.SH", "idx:中证火星探索", "idx:中证火星探索", "review:990998"]


def test_an_index_code_written_with_its_exchange_in_front_is_the_same_index(tmp_path, labels_subset):
    """Wind and some brokers write an index code with its exchange in front (SH000300, sh000300, CSI000300), Tushare
    behind (000300.SH). A decision on a fund whose index code was written one way missed the index's funds written the
    other way (code:SH000300 is not code:000300), and the fund the import added took a group of its own (SH000300)
    instead of the labeled set's 000300.SH. The code is now the index's code however its exchange is written."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990981"], "fund_name": ["示例沪深300ETF"], "index_code": ["SH000300"],
                  "index_name": [""], "decision": ["策略主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [TAX_VERSION]}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30")
    assert read_labels(labels_subset).set_index("fund_code").at["990981", "group"] == "000300.SH"
    later = pd.DataFrame({"基金代码": ["990982", "990983", "990984", "990985"],
                          "基金简称": ["乙沪深300ETF", "丙沪深300ETF", "丁沪深300ETF", "戊中证H30590ETF"],
                          "跟踪指数代码": ["000300.SH", "sh000300", "CSI000300", "H30590.CSI"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist()[:3] == ["策略主题ETF"] * 3
    assert all(e.startswith("人工复核: 张三") for e in out["evidence"][:3])
    assert not out["evidence"][3].startswith("人工复核: 张三")  # another index, whose code holds letters and digits


def test_a_fund_added_with_its_index_name_alone_joins_the_labeled_sets_group_of_that_index(tmp_path, labels_subset):
    """A batch that gives the tracked index by name only (no code): a decision on a fund new to the labeled set took
    the group idx:中证国新央企股东回报指数, not the set's 932039.CSI of the same index, so the index's hand and
    propagated rows kept their old class (training learned the opposite of what tagging applies) and grouped
    cross-validation split one index in two. It now takes the set's group of that index subject."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990971"], "fund_name": ["示例央企回报ETF"], "index_code": [""],
                  "index_name": ["中证国新央企股东回报指数"], "decision": ["策略主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [TAX_VERSION]}).to_csv(sheet, index=False)
    res = import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30")
    got = read_labels(labels_subset).set_index("fund_code")
    assert got.at["990971", "group"] == "932039.CSI"
    assert got.loc[got["group"] == "932039.CSI", "secondary"].eq("策略主题ETF").all()
    assert "560070" in {c for c, *_ in res.followed}


def test_a_decision_on_an_index_given_by_code_alone_settles_its_funds_given_by_name_alone(tmp_path, labels_subset):
    """One batch gives the tracked index by code only (399967.SZ), another by name only (中证军工指数). A decision made
    on the first settled no fund of the second, and the other way round, though the labeled set knows the code and
    the name as one index (and the import relabeled that index's rows with the decision): the later batch's funds
    went to the model, which still says the old class. A code and an index subject the labeled set pairs one to one
    are now one index for the decisions."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990951", "990952"], "fund_name": ["示例军工ETF", "示例央企回报ETF"],
                  "index_code": ["399967.SZ", ""], "index_name": ["", "中证国新央企股东回报指数"],
                  "decision": ["民企主题ETF", "策略主题ETF"], "reviewer": ["张三"] * 2,
                  "taxonomy_version": [TAX_VERSION] * 2}).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset, today="2026-11-30")
    later = pd.DataFrame({"基金代码": ["990953", "990954", "990955"],
                          "基金简称": ["乙军工ETF", "乙央企回报ETF", "乙中证红利ETF"],
                          "跟踪指数代码": ["", "932039.CSI", ""], "跟踪指数名称": ["中证军工指数", "", "中证红利指数"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist()[:2] == ["民企主题ETF", "策略主题ETF"]
    assert all(e.startswith("人工复核: 张三") for e in out["evidence"][:2])
    assert not out["evidence"][2].startswith("人工复核: 张三")


def test_a_decision_on_an_index_given_by_name_alone_settles_its_funds_given_by_code_alone_through_the_reference(
        tmp_path, labels_subset):
    """A decision on a fund whose batch gives its index by name alone (中证人工智能主题指数, key idx:中证人工智能主题)
    did not settle a later batch's fund giving that index by code alone (930713.CSI): the labeled set holds no fund of
    the index with both, so it paired no code with the name. The shipped index synonym table names 930713 中证人工智能
    主题 (and no other code): the pair now joins them for tagging, for `review export`'s `settles` and for the
    import's dispute warning, as a pair the set gives does."""
    tax = load_taxonomy()
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": ["990961"], "fund_name": ["示例人工智能ETF"], "index_code": [""],
                  "index_name": ["中证人工智能主题指数"], "decision": ["科技成长主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [TAX_VERSION]}).to_csv(sheet, index=False)
    import_review(sheet, tax, labels_subset, today="2026-11-30")
    later = pd.DataFrame({"基金代码": ["990962", "990963"], "基金简称": ["乙人工智能ETF", "乙中证红利ETF"],
                          "跟踪指数代码": ["930713.CSI", "000922.CSI"], "跟踪指数名称": ["", ""]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["990961", ""]
    assert out["evidence"].iloc[0].startswith("人工复核: 张三")
    # review export: a decision on a fund giving the name alone settles the file's fund giving the code alone
    batch = pd.DataFrame({"基金代码": ["990964", "990965"], "基金简称": ["丙人工智能ETF", "丁人工智能ETF"],
                          "跟踪指数代码": ["", "930713.CSI"], "跟踪指数名称": ["中证人工智能主题指数", ""]})
    f = review_frame(Tagger.load(labels_path=None).tag(batch), include_all=True, tax=tax,
                     labels_path=None).set_index("fund_code")
    assert f.loc["990964", "settles"] == "2"
    # review import: a decision of another class on a fund giving the code alone disputes 张三's
    other = tmp_path / "other.csv"
    pd.DataFrame({"fund_code": ["990962"], "fund_name": ["乙人工智能ETF"], "index_code": ["930713.CSI"],
                  "index_name": [""], "decision": ["宽基ETF"], "reviewer": ["李四"],
                  "taxonomy_version": [TAX_VERSION]}).to_csv(other, index=False)
    res = import_review(other, tax, labels_subset, today="2026-12-01", dry_run=True)
    assert [c for c, *_ in res.disputes] == ["990962"] and "990961" in res.disputes[0][2]

def test_a_decision_on_csi_1000_given_by_name_alone_settles_its_funds_given_by_code_alone(tmp_path, labels_subset):
    """A decision on a fund whose batch gives its index by name alone (中证1000指数) did not settle a later batch's
    fund giving it by code alone (000852.SH), nor the other way round: the labeled set holds no fund of the index
    with both, and the shipped synonym table held no row for 000852 (中证1000 is the index's only name, so no other
    name gave it a row). The table now keeps a code row for an index's full name (CSI list, ETF list): 000852 ↔
    中证1000. Another index's fund (000905.SH) stays apart."""
    tax = load_taxonomy()
    _decide_index(tmp_path, labels_subset, "990966", "示例一千指数增强", "", "中证1000指数", "2026-11-30")
    later = pd.DataFrame({"基金代码": ["990967", "990968"], "基金简称": ["乙一千ETF", "乙五百ETF"],
                          "跟踪指数代码": ["000852.SH", "000905.SH"], "跟踪指数名称": ["", ""]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["990966", ""]
    # review export: a decision on the fund giving the name alone settles the file's fund giving the code alone
    batch = pd.DataFrame({"基金代码": ["990964", "990965"], "基金简称": ["丙一千ETF", "丁一千ETF"],
                          "跟踪指数代码": ["", "000852.SH"], "跟踪指数名称": ["中证1000指数", ""]})
    f = review_frame(Tagger.load(labels_path=None).tag(batch), include_all=True, tax=tax,
                     labels_path=None).set_index("fund_code")
    assert f.loc["990964", "settles"] == "2"


def test_a_decision_on_an_index_settles_an_index_fund_whose_name_begins_with_an_unknown_company(tmp_path,
                                                                                                 labels_subset):
    """An index fund known by its name alone whose name begins with a company name the vocabulary's managers lack
    kept it in its index key: 鹏远中证红利指数A gave idx:鹏远中证红利 (as 华泰保兴中证A500指数增强A gave
    idx:保兴中证A500), so a decision on 中证红利 did not reach it. An index fund's name key now starts at the first
    index family word (taxonomy/common.toml index_families) when the name does not begin with one; 华证沪深港红利50
    (华证's index of 沪深港 stocks: 沪深300 is the family word, not 沪深) and a name holding none keep theirs."""
    _decide_index(tmp_path, labels_subset, "990941", "示例中证红利ETF", "000922.CSI", "中证红利指数", "2026-11-30")
    later = pd.DataFrame({"基金代码": ["990942", "990943", "990944"],
                          "基金简称": ["鹏远中证红利指数A", "鹏远华证沪深港红利50指数A", "鹏远红利指数A"],
                          "基金类型": ["指数型-股票"] * 3})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["990941", "", ""]
    assert out["evidence"].iloc[0].startswith("人工复核: 张三")


def test_a_decision_on_cni_robot_industry_settles_the_feeder_naming_it_cni_robot(tmp_path, labels_subset):
    """景顺长城国证机器人ETF联接A follows 景顺长城国证机器人产业ETF (980022.SZ, 国证机器人产业指数) but its name gives
    国证机器人: two keys for one index, so a decision on 980022 did not reach the feeder in a batch without its ETF.
    The synonym table now reads feeders' names beside their ETF's index (scripts/build_index_synonyms.py, rule 3):
    国证机器人 → 国证机器人产业. A feeder of 中证机器人 (H30590) stays apart."""
    _decide_index(tmp_path, labels_subset, "990945", "示例机器人产业ETF", "980022.SZ", "国证机器人产业指数",
                  "2026-11-30")
    later = pd.DataFrame({"基金代码": ["990946", "990947"],
                          "基金简称": ["景顺长城国证机器人ETF联接A", "乙中证机器人ETF联接A"],
                          "基金类型": ["指数型-股票"] * 2})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["990945", ""]


def test_a_decision_on_an_index_settles_the_etf_named_by_its_managers_short_name(tmp_path, labels_subset):
    """添富沪深300ETF (汇添富's ETF, named with the short form 添富) read its index from the name as 添富沪深300, so a
    decision on 沪深300 settled its feeders (汇添富…联接A) but not the ETF itself (audit round 7). 添富 is now one of
    common.toml's manager names (both shipped models retrained for the new vocabulary)."""
    _decide_index(tmp_path, labels_subset, "990941", "示例沪深300ETF", "000300.SH", "沪深300指数", "2026-11-30")
    later = pd.DataFrame({"基金代码": ["515310", "990943"], "基金简称": ["添富沪深300ETF", "添富中证800ETF"],
                          "基金类型": ["指数型-股票"] * 2})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].iloc[0] == "策略主题ETF" and out["evidence"].iloc[0].startswith("人工复核: 张三")
    assert not out["evidence"].iloc[1].startswith("人工复核")  # 中证800 is another index


def test_a_decision_on_a_feeder_known_by_its_index_name_moves_the_index_etfs_of_the_other_group(tmp_path,
                                                                                               labels_subset):
    """The labeled set holds 中证计算机主题 in two groups: its ETFs under the index code (930651.CSI: 159998 hand,
    512720 propagated) and the feeders a fund list names by the index alone (idx:中证计算机主题: 001629, 001630, …).
    Tagging settles both by a decision on either (the set pairs the code and the name); the import moved only the
    decided feeder's group, so the ETFs kept 科技成长主题ETF in the set while tagging gave them the decision's class
    at confidence 1: training learned the opposite of what tagging applies (audit round 8). A decision now moves the
    hand and propagated rows of every group of its index; a withdrawal puts them back."""
    tax = load_taxonomy()
    before = read_labels(labels_subset).set_index("fund_code")
    assert before.at["159998", "group"] == "930651.CSI" and before.at["001629", "group"] == "idx:中证计算机主题"
    assert before.loc[["159998", "512720"], "secondary"].tolist() == ["科技成长主题ETF"] * 2
    sheet = _review_sheet(tmp_path / "r.csv", [("001629", "科技成长主题ETF", "(申万)行业ETF", "王五")])
    f = read_table(sheet).frame
    f.loc[0, ["fund_name", "index_name", "group", "confidence"]] = ["天弘中证计算机ETF联接A", "中证计算机主题",
                                                                    "idx:中证计算机主题", "0.55"]
    write_table(f, sheet)
    res = import_review(sheet, tax, labels_subset, today="2026-11-30")
    moved = {c for c, _, _, _ in res.followed}
    assert {"159998", "512720", "001630"} <= moved, res.lines()
    after = read_labels(labels_subset).set_index("fund_code")
    assert after.loc[["159998", "512720"], "secondary"].tolist() == ["(申万)行业ETF"] * 2
    assert after.loc[["159998", "512720"], "propagated_from"].tolist() == ["001629"] * 2
    f.loc[0, ["decision", "secondary", "confidence"]] = ["撤销", "(申万)行业ETF", "1"]
    write_table(f, sheet)
    res = import_review(sheet, tax, labels_subset, today="2026-12-01")
    back = read_labels(labels_subset).set_index("fund_code")
    assert {"159998", "512720"} <= {c for c, _, _, _ in res.restored}, res.lines()
    assert back.loc[["159998", "512720"], ["secondary", "source"]].values.tolist() == \
        before.loc[["159998", "512720"], ["secondary", "source"]].values.tolist()


@pytest.mark.parametrize("decided,other", [(("159915", "易方达创业板ETF"), "009012"),
                                           (("009012", "平安创业板ETF联接A"), "159915")])
def test_a_decision_on_the_chinext_index_reaches_its_funds_under_both_of_its_names(tmp_path, labels_subset, decided,
                                                                                  other):
    """Audit round 12: the labeled set holds the 创业板 index as 创业板指数 (399006.SZ: 易方达创业板ETF 159915 and the
    other ETFs) and as 创业板指 (the 84 off-exchange feeders, group idx:创业板指), which read as two subjects (`创业板`,
    `创业板指`): a decision on 159915 relabeled none of the feeders in the set and settled no batch row naming its
    index 创业板指, and a decision on a feeder (009012) did not reach the ETFs or a batch row giving 399006.SZ. A
    short name's closing 指 now reads as 指数 (taxonomy/common.toml `index_abbreviations`)."""
    _decide(tmp_path, labels_subset, [(*decided, "科技成长主题ETF")])
    lab = read_labels(labels_subset).set_index("fund_code")
    assert lab.loc[other, "secondary"] == "科技成长主题ETF"  # the set relabels the index's other name's funds
    later = pd.DataFrame({"基金代码": ["990951", "990952"], "基金简称": ["示例创业板ETF联接A", "示例创业板ETF"],
                          "跟踪指数代码": ["", "399006.SZ"], "跟踪指数": ["创业板指", ""]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist() == ["科技成长主题ETF"] * 2
    assert out["review_decision"].tolist() == [decided[0]] * 2


def test_a_decision_on_an_index_settles_the_fund_named_by_a_manager_the_vocabulary_lacked(tmp_path, labels_subset):
    """Audit round 12: 人保中证A500指数增强A read its index from the name as 人保中证A500 (人保 was no manager name of
    taxonomy/common.toml), so a decision on 中证A500 did not settle it and `review export` made it a group of its own
    (idx:人保中证A500). The raw fund lists' manager names the vocabulary lacked are now in it
    (scripts/derive_managers.py)."""
    _decide_index(tmp_path, labels_subset, "990961", "示例中证A500ETF", "000510.SH", "中证A500指数", "2026-12-01")
    later = pd.DataFrame({"基金代码": ["990963", "990964"], "基金简称": ["人保中证A500指数增强A", "人保中证A500指数增强C"],
                          "基金类型": ["指数型-股票"] * 2})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist() == ["策略主题ETF"] * 2 and out["review_decision"].tolist() == ["990961"] * 2
    assert set(review_frame(out, include_all=True, labels_path=labels_subset)["group"]) == {"idx:中证A500"}


def test_a_decision_on_an_index_settles_the_fund_of_a_merged_manager(tmp_path, labels_subset):
    """Audit (session 28): 国泰海通沪深300指数增强发起A (国泰君安 and 海通证券 merged in 2025) read its index from the name
    as 海通沪深300 (国泰 alone was stripped), so a decision on 沪深300 did not settle it and `review export` made it a
    group of its own (idx:海通沪深300). 国泰海通 is a manager name of taxonomy/common.toml now."""
    _decide_index(tmp_path, labels_subset, "990971", "示例沪深300ETF", "000300.SH", "沪深300指数", "2026-12-01")
    later = pd.DataFrame({"基金代码": ["990973", "990974"], "基金简称": ["国泰海通沪深300指数增强发起A",
                                                                "国泰海通沪深300指数增强发起C"],
                          "基金类型": ["指数型-股票"] * 2})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist() == ["策略主题ETF"] * 2 and out["review_decision"].tolist() == ["990971"] * 2
    assert set(review_frame(out, include_all=True, labels_path=labels_subset)["group"]) == {"idx:沪深300"}


def test_a_decision_on_an_index_settles_its_feeders_currency_share_classes(tmp_path, labels_subset):
    """Audit (session 28): 广发纳斯达克100ETF联接美元(QDII)A, on a list of names, gave its index as 纳斯达克100美元
    (its 人民币 class: 纳斯达克100), so a decision on 纳斯达克100 did not settle it and `review export` made it a group of
    its own (idx:纳斯达克100美元). A share class's currency is no part of the index a name gives now."""
    _decide_index(tmp_path, labels_subset, "990981", "示例纳斯达克100ETF(QDII)", "NDX.NASDAQ", "纳斯达克100指数", "2026-12-01")
    # not the decided ETF's feeders by name (示例…), so only the index their names give can reach them
    later = pd.DataFrame({"基金代码": ["990983", "990985"],
                          "基金简称": ["广发纳斯达克100ETF联接美元(QDII)A", "建信纳斯达克100指数(QDII)C美元现汇"],
                          "基金类型": ["指数型-海外股票"] * 2})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist() == ["策略主题ETF"] * 2 and out["review_decision"].tolist() == ["990981"] * 2
    groups = review_frame(out, include_all=True, labels_path=labels_subset)["group"]
    assert {g.split(" (")[0] for g in groups} == {"idx:纳斯达克100"}  # a second group of a name is named with its code


def test_a_share_class_in_a_disputed_index_takes_its_familys_decision_in_the_labeled_set_as_in_tagging(
        tmp_path, labels_subset):
    """Audit round 12: after 110026 (易方达创业板ETF联接A) = 宽基ETF disputed 009012's 科技成长主题ETF on the index
    创业板指, `tag` gave 004744 (易方达创业板ETF联接C, 110026's share class) 宽基ETF through its family, but the labeled
    set kept it at 科技成长主题ETF, where 009012's decision had relabeled it: a disputed group moved nothing, and
    training learned the class tagging no longer gives. A share class follows its family's reviewed fund (tagging
    settles it by family before its index), so the set relabels it with the family's decision too; the index's other
    funds, which the dispute sends to review, go back to their labels from before 009012's decision (they kept
    009012's class until dispute13). Withdrawing 110026's decision puts 004744 back to 009012's class, as tagging
    then gives it."""
    batch = pd.concat([_chinext_list(), pd.DataFrame({"基金代码": ["110026"], "基金简称": ["易方达创业板ETF联接A"],
                                                      "基金类型": ["指数型-股票"]})], ignore_index=True)
    lab = read_labels(labels_subset).set_index("fund_code")
    assert lab.loc["110026", "propagated_from"] == "004744"  # one family in the shipped set
    _decide(tmp_path, labels_subset, [("009012", "平安创业板ETF联接A", "科技成长主题ETF")])
    res = import_review(_decisions_sheet(tmp_path / "d2.csv", [("110026", "易方达创业板ETF联接A", "宽基ETF")], "李四"),
                        load_taxonomy(), labels_subset, today="2026-12-01")
    tagged = Tagger.load(labels_path=labels_subset).tag(batch).set_index("基金代码")
    lab = read_labels(labels_subset).set_index("fund_code")
    assert tagged.loc["004744", "secondary"] == "宽基ETF" and tagged.loc["004744", "review_decision"] == "110026"
    assert lab.loc["004744", "secondary"] == tagged.loc["004744", "secondary"]  # the set and tagging agree
    assert lab.loc["004744", ["source", "propagated_from", "labeled_by"]].tolist() == ["propagated", "110026", "李四"]
    assert "  relabeled 004744: 科技成长主题ETF → 宽基ETF (share class or feeder of 110026: tagging settles it by its " \
           "family's decision)" in res.lines()
    # the index's other funds go to review, and go back to their labels before 009012's decision in the set
    # (tests/test_review_disputes.py); 009012's own share class follows it
    assert tagged.loc["001592", "needs_review"] and lab.loc["001592", "secondary"] == "宽基ETF"
    assert lab.loc["009013", "secondary"] == "科技成长主题ETF"
    import_review(_decisions_sheet(tmp_path / "w.csv", [("110026", "易方达创业板ETF联接A", "撤销")], "李四"),
                  load_taxonomy(), labels_subset, today="2026-12-02")
    tagged = Tagger.load(labels_path=labels_subset).tag(batch).set_index("基金代码")
    lab = read_labels(labels_subset).set_index("fund_code")
    assert tagged.loc["004744", "secondary"] == lab.loc["004744", "secondary"] == "科技成长主题ETF"
    assert lab.loc["004744", "propagated_from"] == "009012"


@pytest.mark.parametrize("decided,named", [
    # 上证综指ETF (000001.SH, 上证综合指数): a fund list's 富国上证指数ETF gave idx:上证, a set's 上证综指全收益 its own key
    (("510210", "上证综指ETF"), [("富国上证指数ETF", ""), ("华夏上证指数ETF联接A", ""), ("华夏上证综合全收益增强A", "上证综指全收益")]),
    # 华夏上证科创板综合ETF (000680.SH, 上证科创板综合指数): funds named 科创综指 gave idx:科创综合
    (("589000", "华夏上证科创板综合ETF"), [("招商科创综指ETF", ""), ("苏新科创综指增强A", ""), ("鹏华科创综指ETF联接C", "科创综指")]),
    # 华夏战略新兴成指ETF (000171.CSI, 中国战略新兴产业成份指数): its feeders gave idx:战略新兴成份
    (("512770", "华夏战略新兴成指ETF"), [("易方达战略新兴成指ETF联接A", ""), ("嘉实战略新兴成指增强C", "战略新兴成指")]),
])
def test_a_decision_on_an_index_reaches_the_funds_named_by_its_other_names(tmp_path, labels_subset, decided, named):
    """Review decisions are remembered per tracked index, but one index under two names gave two keys: a decision on
    上证综指ETF (000001.SH) settled no 富国上证指数ETF of a names-only fund list (`idx:上证`), one on an ETF of
    上证科创板综合指数 no fund named 科创综指 (`idx:科创综合`), one on 华夏战略新兴成指ETF (中国战略新兴产业成份指数) no
    feeder named 战略新兴成指. Index keys now read classifier/reference/index_synonyms.csv (the CSI index list's short
    names and fund names beside their index codes, scripts/build_index_synonyms.py); 上证综指全收益 reads as
    上证综合全收益指数."""
    _decide(tmp_path, labels_subset, [(*decided, "策略主题ETF")])
    later = pd.DataFrame({"基金代码": [f"9909{i:02d}" for i in range(len(named))], "基金简称": [n for n, _ in named],
                          "跟踪指数": [i for _, i in named], "基金类型": ["指数型-股票"] * len(named)})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == [decided[0]] * len(named)
    assert out["secondary"].tolist() == ["策略主题ETF"] * len(named)


def test_a_decision_on_an_etf_relabels_the_sets_funds_of_its_index_under_its_short_name(tmp_path, labels_subset):
    """The labeled set holds 中国战略新兴产业成份指数 as 000171.CSI (华夏战略新兴成指ETF, 512770) and as 战略新兴成指 (its
    feeders 006909/006910, group idx:战略新兴成指): a decision on 512770 relabeled neither feeder, and training went on
    learning the old class for them. The set's index keys now read the synonym table too."""
    _decide(tmp_path, labels_subset, [("512770", "华夏战略新兴成指ETF", "策略主题ETF")])
    lab = read_labels(labels_subset).set_index("fund_code")
    assert lab.loc[["006909", "006910"], "secondary"].tolist() == ["策略主题ETF"] * 2


def test_a_name_giving_its_index_number_alone_groups_by_the_full_names_index_or_not_at_all(tmp_path, labels_subset):
    """A batch row 510050 `50ETF` (full name 上证50交易型开放式指数证券投资基金, no index column) was a group `idx:50`,
    apart from the file's 上证50 funds, and 平安500ETF联接A (no full name) `idx:500`: keys made of the index's number
    alone, which name no index. The name key now reads the full name's index (上证50) where the name gives only a
    number, and gives none without it; a decision on 510050 settles what the sheet says at the next tag."""
    names = {"510050": ("50ETF", "上证50交易型开放式指数证券投资基金"), "001051": ("华夏上证50ETF联接A", ""),
             "510100": ("易方达上证50ETF", ""), "006214": ("平安500ETF联接A", "")}
    batch = pd.DataFrame({"fund_code": list(names), "fund_short_name": [n for n, _ in names.values()],
                          "基金全称": [f for _, f in names.values()], "fund_type": ["指数型-股票"] * len(names)})
    tagged = Tagger.load(labels_path=labels_subset).tag(batch)
    sheet = review_frame(tagged, include_all=True, labels_path=labels_subset)
    group = dict(zip(sheet["fund_code"], sheet["group"]))
    assert group["510050"] == group["001051"] == group["510100"] == "idx:上证50", group
    assert group["006214"] == "006214", group
    k = sheet.index[sheet["fund_code"] == "510050"][0]
    other = next(c for c in load_taxonomy().labels if c != sheet.at[k, "secondary"])
    sheet.loc[k, ["decision", "reviewer"]] = [other, "张三"]
    write_table(sheet, tmp_path / "r.csv")
    import_review(tmp_path / "r.csv", load_taxonomy(), labels_subset, today="2026-12-01")
    out = Tagger.load(labels_path=labels_subset).tag(batch)
    assert set(out.loc[out["review_decision"] == "510050", "fund_code"]) == {"510050", "001051", "510100"}
    assert sheet.at[k, "settles"] == "3"


# the funds of 中证央企创新驱动指数 (000861.CSI) on the Eastmoney fund list, as it gives them: names alone
CENTRAL_SOE_INNOVATION = {"159974": "富国央企创新ETF", "515680": "嘉实中证央企创新驱动ETF", "515900": "博时央企创新驱动ETF",
                          "007784": "广发央企创新驱动ETF联接A", "007792": "嘉实央企创新驱动ETF联接A"}


def test_a_decision_on_an_index_settles_its_funds_whose_names_drop_the_index_family_word(tmp_path, labels_subset):
    """广发央企创新驱动ETF联接A (a fund list's name alone) gave idx:央企创新驱动: its name drops 中证, the index family
    word of 中证央企创新驱动指数 (000861.CSI), so a decision on an ETF of 000861 did not settle it, nor a decision on it
    the index's ETFs, and two opposite decisions could both stand for one index. The synonym table now reads an
    index's name without its family word as the index's, where funds tracking it name it so and no other index's name
    is it after a family word (scripts/build_index_synonyms.py, rule 4). 富国's ETF: no feeder of its own family here."""
    _decide_index(tmp_path, labels_subset, "159974", "富国中证央企创新驱动ETF", "000861.CSI", "中证央企创新驱动指数",
                  "2026-11-30")
    later = pd.DataFrame({"基金代码": ["007784", "515900"],
                          "基金简称": ["广发央企创新驱动ETF联接A", "博时央企创新驱动ETF"], "基金类型": ["指数型-股票"] * 2})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["159974", "159974"]
    assert out["evidence"].iloc[0].startswith("人工复核: 张三")


def test_a_decision_on_a_fund_whose_name_drops_the_family_word_settles_its_index_given_by_code_or_name(
        tmp_path, labels_subset):
    """The other way round: a decision on 广发央企创新驱动ETF联接A given by its name alone settles a later batch's funds
    giving 000861.CSI alone, or 中证央企创新驱动指数 alone."""
    _decide(tmp_path, labels_subset, [("007784", "广发央企创新驱动ETF联接A", "策略主题ETF")])
    later = pd.DataFrame({"基金代码": ["990981", "990982"], "基金简称": ["示例央企ETF", "示例央企ETF联接C"],
                          "跟踪指数代码": ["000861.CSI", ""], "跟踪指数名称": ["", "中证央企创新驱动指数"]})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["007784", "007784"]
    assert out["secondary"].tolist() == ["策略主题ETF"] * 2


def test_a_name_without_its_family_word_that_several_indices_or_another_index_fund_give_stays_apart(tmp_path,
                                                                                                   labels_subset):
    """A name without a family word is an index's only where exactly one index's name is it after a family word, and
    no fund gives it beside another index: 医药卫生 is 中证 (000933), 创业板 and 沪深300医药卫生 (000913) without the word,
    so a decision on 中证医药卫生 does not settle 广发医药卫生联接A; 信息技术 is 中证信息技术 (000935) without 中证, but
    广发信息技术联接A feeds the ETF of 中证全指信息技术 (000993), so a decision on 000935 does not settle it either; and a
    name that adds to the index's (央企创新驱动50) is another index."""
    _decide_index(tmp_path, labels_subset, "990983", "示例中证医药ETF", "000933.SH", "中证医药卫生指数", "2026-11-30")
    _decide_index(tmp_path, labels_subset, "990984", "示例中证信息技术ETF", "000935.SH", "中证信息技术指数",
                  "2026-11-30")
    _decide_index(tmp_path, labels_subset, "990985", "示例中证央企创新驱动ETF", "000861.CSI", "中证央企创新驱动指数",
                  "2026-11-30")
    later = pd.DataFrame({"基金代码": ["990986", "990987", "990988", "990989"],
                          "基金简称": ["广发医药卫生联接A", "广发信息技术联接A", "易方达央企创新驱动50指数A",
                                   "易方达央企创新驱动指数A"],
                          "基金类型": ["指数型-股票"] * 4})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["", "", "", "990985"]


def test_review_export_groups_the_funds_of_an_index_whose_names_drop_its_family_word_as_one(tmp_path):
    """The user path (`fundclass tag` of a names-only fund list, then `review export`): the funds of 000861 were two
    groups, idx:中证央企创新驱动 (富国央企创新ETF, by the CSI short name 央企创新; 嘉实中证央企创新驱动ETF) and
    idx:央企创新驱动 (博时…, 广发…联接A, 嘉实…联接A), to decide twice; now one, whose decision settles all five."""
    batch = tmp_path / "list.csv"
    pd.DataFrame({"基金代码": list(CENTRAL_SOE_INNOVATION), "基金简称": list(CENTRAL_SOE_INNOVATION.values()),
                  "基金类型": ["指数型-股票"] * len(CENTRAL_SOE_INNOVATION)}).to_csv(batch, index=False)
    r = CliRunner()
    assert r.invoke(cli, ["--workspace", str(tmp_path), "tag", str(batch), "-o", str(tmp_path / "t.csv")]).exit_code == 0
    res = r.invoke(cli, ["--workspace", str(tmp_path), "review", "export", str(tmp_path / "t.csv"), "-o",
                         str(tmp_path / "r.csv"), "--all"])
    assert res.exit_code == 0, res.output
    sheet = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    assert sheet["group"].nunique() == 1, sheet[["fund_code", "group"]]
    assert sheet["group_size"].tolist() == ["5"] * 5 and "5" in set(sheet["settles"])


def test_a_class_lettered_right_after_the_indexs_number_keys_as_the_index_its_name_is_another_name_of(
        tmp_path, labels_subset):
    """东财中证500A gave idx:中证500, while every other fund of 000905 (中证小盘500指数) keys as idx:中证小盘500, and 东财A500A
    idx:A500 (中证A500 without its family word): the share-class letter after the number came off after the synonym
    table was read, so 中证500 and A500 were never looked up. The subject without the letter is read there too."""
    _decide_index(tmp_path, labels_subset, "990991", "示例中证500ETF", "000905.SH", "中证500指数", "2026-11-30")
    _decide_index(tmp_path, labels_subset, "990992", "示例中证A500ETF", "000510.SH", "中证A500指数", "2026-11-30")
    later = pd.DataFrame({"基金代码": ["990993", "990994", "990995"],
                          "基金简称": ["东财中证500A", "东财A500C", "东财中证800A"], "基金类型": ["指数型-股票"] * 3})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["review_decision"].tolist() == ["990991", "990992", ""]
