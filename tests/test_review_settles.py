"""The review loop and taxonomy changes, end to end (issue: review, feed back, retrain when the taxonomy changes):
review export: the sheet, its groups and what it says a decision settles (and, first, the whole round: export, edit,
import, train, tag)."""
import shutil

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import InputError
from classifier.labeled import read_labels
from classifier.pipeline import Tagger
from classifier.io import read_table, write_table
from classifier.review import import_review, review_frame
from classifier.taxonomy import load_taxonomy
from review_helpers import (NEW_FUNDS, TAX_VERSION, _decide_index, _fill, _review_sheet, _small_labels_copy,
                            _tagged_frame)


def test_export_edit_import_train_tag(tmp_path):
    labels_copy = _small_labels_copy(tmp_path)
    r = CliRunner()
    src, tagged, review = tmp_path / "new.csv", tmp_path / "tagged.csv", tmp_path / "review.xlsx"
    NEW_FUNDS.to_csv(src, index=False)
    assert r.invoke(cli, ["tag", str(src), "-o", str(tagged), "-s", "--labeled", str(labels_copy)]).exit_code == 0
    res = r.invoke(cli, ["review", "export", str(tagged), "-o", str(review)])
    assert res.exit_code == 0, res.output
    sheet = pd.read_excel(review, sheet_name="review", dtype=str).fillna("")
    # the two active funds need review; the index ETF does not
    assert sorted(sheet["fund_code"]) == ["990001", "990002"]
    ws = openpyxl.load_workbook(review)["review"]
    dv = ws.data_validations.dataValidation
    assert dv and dv[0].type == "list" and "labels!" in dv[0].formula1  # the drop-down of the taxonomy's labels
    _fill(review, {"990001": "策略主题ETF", "990002": "宽基ETF"})
    res = r.invoke(cli, ["review", "import", str(review), "--labeled", str(labels_copy)])
    assert res.exit_code == 0, res.output
    assert "added 2, changed 0" in res.output
    labels = read_labels(labels_copy)
    new = labels[labels.fund_code.isin(["990001", "990002"])]
    assert new["source"].tolist() == ["review", "review"] and new["labeled_by"].tolist() == ["张三", "张三"]
    model_dir = tmp_path / "model"
    res = r.invoke(cli, ["train", "--labeled", str(labels_copy), "-o", str(model_dir), "--no-holdings",
                         "--compare-to", "models/default"])
    assert res.exit_code == 0, res.output
    assert "compared with models/default" in res.output and "on the same" in res.output
    assert "classes better:" in res.output and "classes worse:" in res.output
    out = Tagger.load(model_dir, labels_path=labels_copy).tag(NEW_FUNDS)
    assert out["secondary"].tolist()[:2] == ["策略主题ETF", "宽基ETF"]
    assert not out["needs_review"].iloc[:2].any() and out["evidence"].str.startswith("人工复核: 张三").iloc[:2].all()
    # a second decision that changes a label keeps the old one in the history
    again = tmp_path / "again.csv"
    pd.DataFrame({"fund_code": ["990001"], "decision": ["科技成长主题ETF"], "reviewer": ["李四"],
                  "comment": ["名称含成长"], "taxonomy_version": [load_taxonomy().version]}).to_csv(again, index=False)
    res = r.invoke(cli, ["review", "import", str(again), "--labeled", str(labels_copy)])
    assert "changed 990001: 策略主题ETF → 科技成长主题ETF" in res.output
    hist = pd.read_csv(labels_copy.with_name("history.csv"), dtype=str)
    assert hist[["fund_code", "old_secondary", "new_secondary", "changed_by"]].values.tolist() == [
        ["990001", "策略主题ETF", "科技成长主题ETF", "李四"]]


def test_review_export_groups_rows_by_index(tmp_path):
    tagged = pd.DataFrame({"基金代码": ["1", "2", "3", "4"], "基金简称": ["a", "b", "c", "d"],
                           "跟踪指数代码": ["000015.SH", "000922.CSI", "000015", ""],
                           "跟踪指数名称": ["上证红利指数", "中证红利指数", "上证红利", "中证红利"],
                           "secondary": ["策略主题ETF"] * 4, "confidence": [0.9, 0.5, 0.8, 0.7],
                           "needs_review": [True] * 4, "evidence": [""] * 4, "linked_fund": ["", "", "", "2"]})
    from classifier.review import review_frame

    f = review_frame(tagged)
    # the most doubtful group first (中证红利: 0.5), its rows together; 000015.SH and 000015 are one index
    assert f["fund_code"].tolist() == ["000002", "000004", "000003", "000001"]  # codes of 1–5 digits: six, zero-filled
    assert f["group"].tolist() == ["code:000922", "code:000922", "code:000015", "code:000015"]
    assert f["group_size"].tolist() == ["2", "2", "2", "2"]


def test_actively_managed_funds_without_holdings_come_last_in_the_review_sheet(tmp_path):
    """Tagged from a fund list, without holdings, 10,380 of the 11,094 rows in review are actively managed funds with
    no class or a class read from the name alone, which holdings may settle (seed 004). At confidence 0 they came
    first (confidence 0) and buried the index funds' decisions; they now come after every other row, and the command
    says how many they are. `tag` says it too."""
    tagged = pd.DataFrame({"基金代码": ["000001", "000002", "000003", "000004"],
                           "基金简称": ["某某成长混合A", "某某中证红利ETF", "某某医疗股票A", "某某稳健混合A"],
                           "secondary": ["", "策略主题ETF", "(申万)行业ETF", ""], "confidence": [0.0, 0.6, 0.9, 0.0],
                           "needs_review": ["True", "True", "True", "True"], "evidence": [""] * 4,
                           "management_style": ["主动管理", "被动指数", "主动管理", "主动管理"],
                           "holding_industry": ["", "", "", "医药生物"], "taxonomy_version": [TAX_VERSION] * 4})
    from classifier.review import review_frame

    f = review_frame(tagged)
    # 000004's holdings were read (they did not settle it): a decision it needs, among the others
    assert f["fund_code"].tolist() == ["000004", "000002", "000001", "000003"]
    assert f.attrs["without_holdings"] == 2
    tagged.to_csv(tmp_path / "t.csv", index=False)
    r = CliRunner().invoke(cli, ["review", "export", str(tmp_path / "t.csv"), "-o", str(tmp_path / "r.xlsx")])
    assert r.exit_code == 0, r.output
    assert "4 rows to review" in r.output
    assert "the last 2 of them: share-class families of actively managed funds" in r.output
    pd.DataFrame({"基金代码": ["000001", "000005"], "基金简称": ["某某稳健回报混合A", "某某沪深300ETF"],
                  "基金类型": ["混合型-偏股", "指数型-股票"]}).to_csv(tmp_path / "in.csv", index=False)
    r = CliRunner().invoke(cli, ["tag", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    assert "of the review: 1 actively managed fund with no holdings in this run" in r.output


def test_review_sheet_says_how_many_funds_of_the_file_a_groups_decision_settles(tmp_path):
    """group_size counts the rows in review; settles counts every fund of the file the group's decision covers,
    the accepted ones too: what a reviewer changes by deciding."""
    tagged = pd.DataFrame({"基金代码": ["1", "2", "3", "4"], "基金简称": ["a", "b", "c", "d"],
                           "跟踪指数代码": ["000015.SH", "000015.SH", "000015.SH", "000922.CSI"],
                           "secondary": ["策略主题ETF"] * 4, "confidence": [0.9, 0.99, 0.99, 0.5],
                           "needs_review": [True, False, False, True], "evidence": [""] * 4})
    from classifier.review import review_frame

    f = review_frame(tagged).set_index("fund_code")
    assert f.loc["000001", "group_size"] == "1" and f.loc["000001", "settles"] == "3"
    assert f.loc["000004", "group_size"] == "1" and f.loc["000004", "settles"] == "1"


def test_the_funds_a_review_sheet_says_a_decision_settles_are_those_it_settles(tmp_path, labels_subset):
    """Three index funds known by their benchmark alone (a Wind list: code, name, 业绩比较基准, type) were one sheet
    group, `settles` 3, but the labeled set keeps no benchmark: the decision on one settled that fund alone, and the
    other two stayed in review without a word. Each is now its own group, settling 1, as tagging then does."""
    bench = "中证500指数收益率×95%+银行活期存款利率(税后)×5%"
    batch = pd.DataFrame({"基金代码": ["990401", "990402", "990403"],
                          "基金简称": ["示例量化优选A", "示例智选增强A", "示例稳进量化C"],
                          "业绩比较基准": [bench] * 3, "基金类型": ["增强指数型"] * 3})
    sheet = review_frame(Tagger.load(labels_path=labels_subset).tag(batch), include_all=True)
    sheet.loc[0, ["decision", "reviewer"]] = ["策略主题ETF", "张三"]
    write_table(sheet, tmp_path / "r.csv")
    import_review(tmp_path / "r.csv", load_taxonomy(), labels_subset, today="2026-11-30")
    settled = Tagger.load(labels_path=labels_subset).tag(batch)["evidence"].str.startswith("人工复核").sum()
    assert sheet.loc[0, "settles"] == str(settled) == "1"


@pytest.mark.parametrize("deleted", ["taxonomy_version", "evidence"])
def test_review_export_names_an_output_column_deleted_from_a_tagged_file(tmp_path, deleted):
    """Without `taxonomy_version` the sheet was written and every decision then refused on import; a missing column
    is named, with the file, before anything is written."""
    tagged = tmp_path / "tagged.csv"
    _tagged_frame().drop(columns=[deleted]).to_csv(tagged, index=False)
    res = CliRunner().invoke(cli, ["review", "export", str(tagged), "-o", str(tmp_path / "review.xlsx")])
    assert res.exit_code == 2, res.output
    assert f"'{deleted}'" in res.output and "tagged.csv" in res.output
    assert not (tmp_path / "review.xlsx").exists()


def test_review_sheet_holds_confidence_and_group_size_as_numbers(tmp_path):
    """In Excel a reviewer filters `confidence` < 0.6 or `group_size` > 1: text cells ('0.6') allow neither."""
    tagged, review = tmp_path / "tagged.xlsx", tmp_path / "review.xlsx"
    _tagged_frame().to_excel(tagged, index=False)
    assert CliRunner().invoke(cli, ["review", "export", str(tagged), "-o", str(review)]).exit_code == 0
    ws = openpyxl.load_workbook(review)["review"]
    head = [c.value for c in ws[1]]
    conf = [r[head.index("confidence")] for r in ws.iter_rows(min_row=2)]
    size = [r[head.index("group_size")] for r in ws.iter_rows(min_row=2)]
    assert {c.data_type for c in conf + size} == {"n"}
    assert sorted(c.value for c in conf) == [0.55, 0.6, 0.6, 0.6] and sorted(c.value for c in size) == [1, 3, 3, 3]


def test_review_export_groups_share_classes_whose_codes_carry_an_exchange_tag(tmp_path):
    """Codes as Wind writes them (900103.OF) while linked_fund holds six digits: the C class, which a decision on
    its A class settles, sat in a group of its own."""
    from classifier.review import review_frame

    tagged = pd.DataFrame({"证券代码": ["900103.OF", "900104.OF"],
                           "证券简称": ["示例优选成长混合A", "示例优选成长混合C"],
                           "secondary": ["科技成长主题ETF"] * 2, "confidence": [0.55, 0.55],
                           "needs_review": [True] * 2, "evidence": [""] * 2, "linked_fund": ["", "900103"]})
    f = review_frame(tagged)
    assert f["group"].nunique() == 1 and f["group_size"].tolist() == ["2", "2"]
    assert f["fund_code"].tolist() == ["900103.OF", "900104.OF"]  # the A class, which the C class follows, first


def test_review_export_puts_the_group_a_decision_settles_more_funds_of_first(tmp_path):
    """One decision settles every fund of an index: three funds at 0.60 (1.2 funds expected wrong) come before one
    fund at 0.55 (0.45 expected wrong)."""
    from classifier.review import review_frame

    f = review_frame(_tagged_frame())
    assert f["fund_code"].tolist() == ["990901", "990902", "990903", "990904"]


def test_review_export_groups_index_funds_known_by_name_with_their_index(tmp_path):
    """In a fund list (names alone) the index funds of one index are one group of the sheet, as one decision on them
    settles them all; an active fund stays a group of its own."""
    tagged = tmp_path / "t.csv"
    frame = pd.DataFrame({"基金代码": ["990971", "990972", "990973"],
                          "基金简称": ["华夏中证A500ETF联接C", "易方达中证A500指数增强A", "华夏中证A500精选混合A"],
                          "基金类型": ["指数型-股票", "指数型-股票", "混合型-偏股"]})
    write_table(Tagger.load().tag(frame), tagged)
    sheet = review_frame(read_table(tagged).frame, include_all=True)
    group = dict(zip(sheet["fund_code"], sheet["group"]))
    assert group["990971"] == group["990972"] == "idx:中证A500" and group["990973"] != "idx:中证A500"


def test_a_copy_exported_before_a_decision_on_the_index_does_not_put_the_index_in_dispute(tmp_path, labels_subset):
    """Two reviewers each get a copy of one exported sheet. The first decides one fund of an index (国企主题ETF), which
    settles the index's other funds; the second, on the older copy, confirms the tool's answer (策略主题ETF, shown
    below 1) for another fund of that index. The import accepted it with a warning, so the index was decided two ways
    and all its funds went back to review: the first decision undone by a sheet that never showed it (audit round 8,
    found not fixed; the fund's own decision was already guarded, its index's was not). Such a row is refused,
    naming the earlier decision, unless --overrule; a sheet exported after the decision (the fund shown settled, at
    confidence 1) may still decide otherwise, with the dispute warning."""
    version = load_taxonomy().version

    def sheet(name, code, shown, conf, decision, reviewer):
        path = tmp_path / name
        pd.DataFrame({"fund_code": [code], "fund_name": [f"示例{code}上证红利ETF"], "secondary": [shown],
                      "confidence": [conf], "index_code": ["000015.SH"], "index_name": ["上证红利指数"],
                      "full_name": [""], "fund_type": [""], "decision": [decision], "reviewer": [reviewer],
                      "taxonomy_version": [version], "group": ["code:000015"]}).to_csv(path, index=False)
        return path

    import_review(sheet("a.csv", "990951", "策略主题ETF", 0.61, "国企主题ETF", "张三"), load_taxonomy(), labels_subset,
                  today="2026-11-30")
    stale = sheet("b.csv", "990952", "策略主题ETF", 0.61, "策略主题ETF", "李四")
    before = labels_subset.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(stale, load_taxonomy(), labels_subset, today="2026-12-01")
    assert "row 2 (990952)" in str(e.value) and "990951 国企主题ETF (张三, 2026-11-30)" in str(e.value)
    assert "--overrule" in str(e.value) and labels_subset.read_bytes() == before
    res = import_review(stale, load_taxonomy(), labels_subset, today="2026-12-01", overrule=True)
    assert res.added == ["990952"] and res.disputes and res.disputes[0][0] == "990952"
    fresh = sheet("c.csv", "990953", "国企主题ETF", 1.0, "策略主题ETF", "王五")  # shown settled: decided knowingly
    res = import_review(fresh, load_taxonomy(), labels_subset, today="2026-12-02")
    assert res.added == ["990953"] and [c for c, *_ in res.disputes] == ["990953"]


def test_a_back_end_load_share_class_is_settled_by_its_index_decision_as_the_sheet_says(tmp_path, labels_subset):
    """A fund list names a back-end-load class 南方沪深300ETF联接A(后端): its name gave the index 沪深300A (the class
    letter, before (后端), was kept once the structure words were stripped), so a decision on 沪深300 did not settle
    it, though the review sheet put it in the index's group (through its ETF) and counted it in `settles`. The class
    letter before a trailing structure word is now the share class: the name gives 沪深300."""
    _decide_index(tmp_path, labels_subset, "990941", "示例沪深300ETF", "000300.SH", "沪深300指数", "2026-11-30")
    later = pd.DataFrame({"基金代码": ["202015", "202016", "990942"],
                          "基金简称": ["南方沪深300ETF联接A", "南方沪深300ETF联接A(后端)", "博时沪深300指数C(后端)"],
                          "基金类型": ["指数型-股票"] * 3})
    out = Tagger.load(labels_path=labels_subset).tag(later)
    assert out["secondary"].tolist() == ["策略主题ETF"] * 3
    assert all(e.startswith("人工复核: 张三") for e in out["evidence"])


@pytest.mark.parametrize("column", ["comment", "group", "index_code", "confidence", "secondary"])
def test_a_review_sheet_with_a_column_inserted_twice_is_refused_naming_it(tmp_path, labels_subset, column):
    """A reviewer inserts a column in Excel and gives it the name of one the sheet has (a second `comment` for their
    own notes, a copy of `index_code`): the import stopped on an internal error (AttributeError: 'DataFrame' object has
    no attribute 'str') for comment, group or index_code, and read neither copy of confidence or secondary, so a sheet
    exported before a later decision could revert it (audit round 8). Every column the import reads must appear
    once: the file and the column are named, nothing written."""
    sheet = _review_sheet(tmp_path / "r.xlsx", [("990991", "宽基ETF", "策略主题ETF", "张三")])
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    ws.insert_cols(3)
    ws.cell(1, 3).value = column
    wb.save(sheet)
    before = labels_subset.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(sheet, load_taxonomy(), labels_subset)
    assert f"column '{column}' appears 2 times; keep one" in str(e.value) and str(sheet) in str(e.value)
    assert labels_subset.read_bytes() == before and not labels_subset.with_name("history.csv").exists()


def test_a_batch_whose_codes_excel_kept_as_numbers_exports_a_sheet_its_import_takes(tmp_path, labels_subset):
    """A monthly batch given as a workbook whose code cells are numbers (Excel's 4433 for 004433, 16 for 000016):
    tagging reads them as the six-digit codes, but `review export` wrote the cells as the batch gave them, and the
    import of that very sheet, untouched but for the decisions, refused every such row ("'4433' is not a fund code …
    did you mean 004433?", audit round 8). The sheet now gives the fund's six-digit code; a code with its exchange
    (510300.SH) stays as the batch writes it."""
    src, tagged, sheet = tmp_path / "batch.xlsx", tmp_path / "tagged.xlsx", tmp_path / "review.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["基金代码", "基金简称"])
    for code, name in ((4433, "华夏中证细分有色金属产业主题联接C"), (16, "国泰中证军工ETF联接A"), ("510300.SH", "华泰柏瑞沪深300ETF")):
        wb.active.append([code, name])
    wb.save(src)
    r = CliRunner()
    res = r.invoke(cli, ["tag", str(src), "-o", str(tagged), "-s", "--labeled", str(labels_subset)])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["review", "export", "--all", str(tagged), "-o", str(sheet)])
    assert res.exit_code == 0, res.output
    shown = pd.read_excel(sheet, sheet_name="review", dtype=str)["fund_code"].tolist()
    assert sorted(shown) == ["000016", "004433", "510300.SH"]
    _fill(sheet, {"004433": "资源主题ETF", "000016": "国企主题ETF", "510300.SH": "宽基ETF"}, reviewer="张三")
    res = r.invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_subset)])
    assert res.exit_code == 0, res.output
    got = read_labels(labels_subset).set_index("fund_code")
    assert [got.at[c, "secondary"] for c in ("004433", "000016", "510300")] == ["资源主题ETF", "国企主题ETF", "宽基ETF"]


def test_a_review_sheet_saved_by_excel_with_codes_as_numbers_imports_with_six_digit_codes(tmp_path, labels_subset):
    """A reviewer opens the exported CSV sheet in Excel, types the decisions and saves it: Excel reads the fund_code
    column as numbers and writes 4433 for 004433, 16 for 000016. Tagging and the labeled set read such codes as six
    digits, but the import refused every such row ("'4433' is not a fund code … did you mean 004433?", audit round 8),
    so the reviewer had to retype every code of an off-exchange fund. A column none of whose codes kept a leading
    zero was saved as numbers: its short codes are read as six digits, and the import says which."""
    src, tagged, sheet = tmp_path / "batch.csv", tmp_path / "tagged.csv", tmp_path / "review.csv"
    pd.DataFrame({"基金代码": ["004433", "000016", "510300"],
                  "基金简称": ["华夏中证细分有色金属产业主题联接C", "国泰中证军工ETF联接A", "华泰柏瑞沪深300ETF"]}).to_csv(src, index=False)
    r = CliRunner()
    assert r.invoke(cli, ["tag", str(src), "-o", str(tagged), "-s", "--labeled", str(labels_subset)]).exit_code == 0
    res = r.invoke(cli, ["review", "export", "--all", str(tagged), "-o", str(sheet)])
    assert res.exit_code == 0, res.output
    f = read_table(sheet).frame
    decisions = {"004433": "资源主题ETF", "000016": "国企主题ETF", "510300": "宽基ETF"}
    f["decision"], f["reviewer"] = f["fund_code"].map(decisions), "张三"
    f["fund_code"] = f["fund_code"].str.lstrip("0")  # what Excel writes back for a column it read as numbers
    f.to_csv(sheet, index=False)
    res = r.invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_subset)])
    assert res.exit_code == 0, res.output
    assert "fund_code column was saved as numbers" in res.output and "000016" in res.output, res.output
    got = read_labels(labels_subset).set_index("fund_code")
    assert [got.at[c, "secondary"] for c in decisions] == list(decisions.values())
    assert "4433" not in got.index and "16" not in got.index


def test_what_the_review_sheet_says_a_decision_settles_is_what_the_next_tag_settles(tmp_path, labels_subset):
    """A fund list gives names alone, and the sheet grouped rows by the file's own reading of the index: 005640
    平安300ETF联接C (its name gives `idx:300`) was a group with its E class, settling 2, but the labeled set holds it
    as a 沪深300 fund, and its decision settled every 沪深300 fund of the file at the next tag; 022741 万家180指数C,
    `idx:180`, settling 1, settled the 上证180 feeders too (audit round 10, 400 index funds of the Eastmoney list).
    Now, for every group of the sheet, one decision on its first row, imported and the file tagged again, settles
    as many rows as `settles` says, and every row in review it settles is in its group."""
    names = {"005640": "平安300ETF联接C", "024546": "平安300ETF联接E", "000961": "天弘沪深300ETF联接A",
             "003579": "中金沪深300指数增强C", "010908": "大成沪深300增强发起式A", "160807": "长盛沪深300指数(LOF)A",
             "022741": "万家180指数C", "025478": "华夏上证180ETF联接A", "040180": "华安上证180ETF联接A",
             "006214": "平安500ETF联接A", "159643": "国泰国证疫苗与生物科技ETF", "159657": "鹏华国证疫苗与生物科技ETF"}
    batch = pd.DataFrame({"fund_code": list(names), "fund_short_name": list(names.values()),
                          "fund_type": ["指数型-股票"] * len(names)})
    tagged = Tagger.load(labels_path=labels_subset).tag(batch)
    sheet = review_frame(tagged, include_all=True, labels_path=labels_subset)
    assert set(sheet["fund_code"]) == set(names)
    group = dict(zip(sheet["fund_code"], sheet["group"]))
    tax = load_taxonomy()
    for g, rows in sheet.groupby("group", sort=False):
        k = rows.index[0]
        code = sheet.at[k, "fund_code"]
        work = tmp_path / code
        work.mkdir()
        shutil.copy(labels_subset, work / "labels.csv")
        decided = sheet.copy()
        other = next(c for c in tax.labels if c != decided.at[k, "secondary"])  # a class other than the tool's
        decided.loc[k, ["decision", "reviewer"]] = [other, "张三"]
        write_table(decided, work / "r.csv")
        import_review(work / "r.csv", tax, work / "labels.csv", today="2026-12-01")
        out = Tagger.load(labels_path=work / "labels.csv").tag(batch)
        settled = out.loc[out["review_decision"] == code, "fund_code"].tolist()
        assert sheet.at[k, "settles"] == str(len(settled)), (code, g, settled)
        assert {group[c] for c in settled} == {g}, (code, g, settled)
    assert group["005640"] == group["000961"] == group["160807"] and group["022741"] == group["025478"]


def test_a_later_decision_on_an_index_an_earlier_one_settles_settles_what_the_sheet_says(tmp_path, labels_subset):
    """The labeled set held a decision on 990101, a fund known by its name alone (华夏中证A500指数A: the index key its
    name gives), settling the file's 中证A500 funds; the sheet said a decision on 990104 (an ETF giving the index code
    000510.CSI and name) settles 1, its own row, but tagging gave an index key to the decision first in (kind of key,
    row) order, and a code key comes before a name key: the later decision, agreeing, took the index and settled 3
    (audit round 11: 589600 said 1, settled 6). Now of the decisions that agree on a key the earliest keeps it; for
    every row of the sheet, one decision, agreeing with the earlier one or not, imported today and the file tagged
    again, names that decision on as many rows as `settles` says, and the earlier one stays named on the rest."""
    names = {"990101": "华夏中证A500指数A", "990102": "易方达中证A500指数C", "990103": "南方中证A500指数A",
             "990104": "嘉实中证A500ETF"}
    batch = pd.DataFrame({"fund_code": list(names), "fund_short_name": list(names.values()),
                          "fund_type": ["指数型-股票"] * 4, "index_code": ["", "", "", "000510.CSI"],
                          "index_name": ["", "", "", "中证A500"]})
    tax = load_taxonomy()
    first = review_frame(Tagger.load(labels_path=labels_subset).tag(batch), include_all=True,
                         labels_path=labels_subset)
    first.loc[first["fund_code"] == "990101", ["decision", "reviewer"]] = ["宽基ETF", "张三"]
    write_table(first, tmp_path / "r1.csv")
    import_review(tmp_path / "r1.csv", tax, labels_subset, today="2026-11-02")
    tagged = Tagger.load(labels_path=labels_subset).tag(batch)
    assert (tagged["review_decision"] == "990101").all()
    sheet = review_frame(tagged, include_all=True, labels_path=labels_subset)
    settles = dict(zip(sheet["fund_code"], sheet["settles"]))
    for code in names:
        for decision in ("宽基ETF", "策略主题ETF"):
            work = tmp_path / f"{code}{decision}"
            work.mkdir()
            shutil.copy(labels_subset, work / "labels.csv")
            decided = sheet.copy()
            decided.loc[decided["fund_code"] == code, ["decision", "reviewer"]] = [decision, "李四"]
            write_table(decided, work / "r.csv")
            import_review(work / "r.csv", tax, work / "labels.csv", overrule=True)
            out = Tagger.load(labels_path=work / "labels.csv").tag(batch)
            assert settles[code] == str(int((out["review_decision"] == code).sum())), (code, out["review_decision"])
            if decision == "宽基ETF" and code != "990101":
                assert (out["review_decision"] == "990101").sum() == 3, (code, out["review_decision"])
    assert settles["990104"] == "1"
