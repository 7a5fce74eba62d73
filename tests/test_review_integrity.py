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


def test_tag_previous_refuses_a_file_that_does_not_show_its_taxonomy(tmp_path):
    """`tag --previous` given a previous output whose taxonomy_version column was deleted (or emptied) carried its
    classes over in silence, though nothing showed they were of this taxonomy version (a file of the version before a
    migration keeps class names whose meaning moved); it is refused, naming the file, the column and the ways out."""
    r = CliRunner()
    last = tmp_path / "last.csv"
    res = r.invoke(cli, ["tag", LISTINGS, "-o", str(last), "-s"])
    assert res.exit_code == 0, res.output
    run = pd.read_csv(last, dtype=str, keep_default_na=False)
    version = load_taxonomy().version
    for name, frame, how in (("deleted.csv", run.drop(columns="taxonomy_version"), "is missing"),
                             ("emptied.csv", run.assign(taxonomy_version=""), "is empty")):
        prev, out = tmp_path / name, tmp_path / f"now_{name}"
        frame.to_csv(prev, index=False)
        res = r.invoke(cli, ["tag", LISTINGS, "-o", str(out), "-s", "--previous", str(prev)])
        assert res.exit_code != 0 and not out.exists(), res.output
        assert f"{prev}: column 'taxonomy_version' {how}" in res.output
        assert f"fill in {version}" in res.output and "or tag without --previous, nothing written" in res.output
    res = r.invoke(cli, ["tag", LISTINGS, "-o", str(tmp_path / "now.csv"), "-s", "--previous", str(last)])
    assert res.exit_code == 0, res.output  # the file as tagged: its classes are kept as before


def _decide(sheet: pd.DataFrame, decisions: dict[str, str], path: Path, labels: Path, today: str, **kw):
    """Write the decisions (fund code → class) into an exported sheet and import it into ``labels``."""
    from classifier.io import write_table
    from classifier.review import import_review

    sheet = sheet.copy()
    for code, decision in decisions.items():
        sheet.loc[sheet["fund_code"] == code, ["decision", "reviewer"]] = [decision, "张三"]
    write_table(sheet, path)
    return import_review(path, load_taxonomy(), labels, today=today, **kw)


NEV = pd.DataFrame({"fund_code": ["990101", "990202", "990203", "990204"],
                    "fund_short_name": ["示例新能源车ETF", "丙新能源车ETF联接A", "丁中证新能源车指数A", "戊新能源车ETF"],
                    "index_code": ["399976.SZ", "399976.SZ", "", "399976.SZ"],
                    "index_name": ["CS新能车", "", "中证新能源汽车指数", "CS新能车"], "fund_type": "指数型-股票"})


@pytest.fixture
def nev_decided(tmp_path):
    """A labeled set (a copy of the shipped one) where 990101 decided the index 399976 (CS新能车) on 2000-01-01."""
    import shutil

    from classifier.pipeline import Tagger
    from classifier.review import review_frame

    labels = tmp_path / "labels.csv"
    shutil.copy(SHIPPED_LABELS, labels)
    first = NEV.iloc[[0]]
    sheet = review_frame(Tagger.load(labels_path=labels).tag(first), include_all=True, labels_path=labels)
    _decide(sheet, {"990101": "绿色主题ETF"}, tmp_path / "first.csv", labels, "2000-01-01")
    return labels


def test_review_export_shows_one_index_as_one_group_once_it_holds_a_decision(tmp_path, nev_decided):
    """Once an index held a review decision, `review export` of a later batch of its funds split them into groups
    `code:399976` and `code:399976 (990204)` (each decision there settles its own fund alone, so no decision linked
    them): a reviewer saw one index twice and could decide it twice, one way and the other. One index is one group."""
    from classifier.pipeline import Tagger
    from classifier.review import review_frame

    batch = NEV.iloc[1:]
    tagged = Tagger.load(labels_path=nev_decided).tag(batch)
    assert set(tagged["review_decision"]) == {"990101"}  # the three funds are of the decided index
    sheet = review_frame(tagged, include_all=True, labels_path=nev_decided)
    assert sheet["group"].tolist() == ["code:399976"] * 3 and sheet["group_size"].tolist() == ["3"] * 3
    assert sheet["settles"].tolist() == ["1"] * 3  # a later decision there settles its own fund alone, as before


def test_settles_of_a_row_a_same_day_decision_settles_counts_what_a_decision_of_another_class_settles(tmp_path):
    """Imported today: 024579 (万家中证800自由现金流ETF联接C) decided 策略主题ETF, settling its share classes 024578 (联接A,
    whose row comes before 024579's in the labeled set) and 990301 (联接E). `review export` then said a decision on
    024578 settles 2 (itself and 990301), as if it agreed with 024579's and took the family over; a reviewer changing
    it (the documented way to change a decision: `--all`, a new class) disputes the family instead, and the next tag
    settled 024578 alone, 990301 back to review. `settles` counts what the decision settles whichever class it is."""
    import shutil

    from classifier.pipeline import Tagger
    from classifier.review import review_frame

    labels = tmp_path / "labels.csv"
    shutil.copy(SHIPPED_LABELS, labels)
    batch = pd.DataFrame({"fund_code": ["990301", "024578", "024579"],
                          "fund_short_name": ["万家中证800自由现金流ETF联接E", "万家中证800自由现金流ETF联接A",
                                              "万家中证800自由现金流ETF联接C"], "fund_type": "指数型-股票"})
    sheet = review_frame(Tagger.load(labels_path=labels).tag(batch), include_all=True, labels_path=labels)
    _decide(sheet, {"024579": "策略主题ETF"}, tmp_path / "first.csv", labels, None)  # today
    sheet = review_frame(Tagger.load(labels_path=labels).tag(batch), include_all=True, labels_path=labels)
    said = sheet.set_index("fund_code")["settles"].to_dict()
    _decide(sheet, {"024578": "宽基ETF"}, tmp_path / "change.csv", labels, None)
    out = Tagger.load(labels_path=labels).tag(batch).set_index("fund_code")
    assert out["review_decision"].to_dict() == {"990301": "", "024578": "024578", "024579": "024579"}
    assert out.at["990301", "needs_review"]  # the family in dispute: back to review
    assert said["024578"] == "1" == str((out["review_decision"] == "024578").sum())


def test_review_import_puts_a_migration_queues_rows_back_in_place(tmp_path):
    """A taxonomy migration takes the rows of a split class out of the labeled set into its review queue; importing
    decisions on the queue put them (and the index's other queued rows its decision relabels) after every other row
    of labels.csv, so the user's file churned: its rows came back far from where they were. They come back at their
    lines of the set before the migration (the queue's `row`), every other row in its order, import after import."""
    import openpyxl
    from conftest import TRAINING_GROUPS, split_migrate, write_labeled_subset

    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=TRAINING_GROUPS,
                         keep=lambda lab: lab["index_code"].str.startswith("H30590"))  # 中证机器人: 科技成长主题ETF
    before = pd.read_csv(labels, dtype=str, keep_default_na=False)["fund_code"].tolist()
    r = CliRunner()
    new_tax, queue, res = split_migrate(r, tmp_path, labels, "queue.xlsx")
    assert res.exit_code == 0, res.output
    migrated = pd.read_csv(labels, dtype=str, keep_default_na=False)["fund_code"].tolist()
    wb = openpyxl.load_workbook(queue)
    ws = wb["review"]
    head = [c.value for c in ws[1]]
    col = {c: head.index(c) + 1 for c in ("group", "decision", "reviewer")}
    rows = range(2, ws.max_row + 1)
    robot = [k for k in rows if str(ws.cell(k, col["group"]).value).startswith("H30590")]
    other = [k for k in rows if k not in robot]
    assert robot and other
    for rounds in ((robot[:1], "科技主题ETF"), (other[:3], "成长风格ETF")):
        for k in rows:
            ws.cell(k, col["decision"]).value = rounds[1] if k in rounds[0] else None
            ws.cell(k, col["reviewer"]).value = "张三" if k in rounds[0] else None
        wb.save(queue)
        res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels), "--taxonomy", str(new_tax)])
        assert res.exit_code == 0, res.output
        now = pd.read_csv(labels, dtype=str, keep_default_na=False)["fund_code"].tolist()
        assert len(now) > len(migrated)  # queued rows came back: where they were, the others in their order
        assert now == [c for c in before if c in set(now)]


def test_review_import_overrules_the_named_rows_only(tmp_path):
    """`--overrule` lifted the protection of every row of a sheet: to replace one later decision a sheet did not show,
    a user also let every other row of it revert decisions made since, unseen. `--overrule-fund CODE[,CODE]` overrules
    the named rows only; the refusal names the code to pass; a code of no decided row of the sheet is refused."""
    import shutil

    from classifier.io import write_table

    labels = tmp_path / "labels.csv"
    shutil.copy(SHIPPED_LABELS, labels)
    batch, tagged = tmp_path / "batch.csv", tmp_path / "tagged.csv"
    pd.DataFrame({"基金代码": ["990901", "990902"], "基金简称": ["示例优选成长混合A", "示例稳健回报混合A"]}).to_csv(batch, index=False)
    r = CliRunner()
    res = r.invoke(cli, ["tag", str(batch), "-o", str(tagged), "-s", "--labeled", str(labels)])
    assert res.exit_code == 0, res.output
    old = tmp_path / "old.csv"
    res = r.invoke(cli, ["review", "export", str(tagged), "-o", str(old), "--all", "--labeled", str(labels)])
    assert res.exit_code == 0, res.output
    sheet = pd.read_csv(old, dtype=str, keep_default_na=False)
    # decisions made after the old sheet was exported, by another sheet
    _decide(sheet, {"990901": "国企主题ETF", "990902": "国企主题ETF"}, tmp_path / "later.csv", labels, "2026-11-30")
    sheet.loc[:, ["decision", "reviewer"]] = ["策略主题ETF", "李四"]
    write_table(sheet, old)
    before = labels.read_bytes()

    def imp(*extra):
        return r.invoke(cli, ["review", "import", str(old), "--labeled", str(labels), *extra])

    res = imp("--overrule-fund", "990901")  # 990902 stays protected: refused, named, nothing written
    assert res.exit_code != 0 and labels.read_bytes() == before, res.output
    assert "(990902)" in res.output and "(990901)" not in res.output
    assert "pass --overrule-fund 990902 to replace the later decision" in res.output
    res = imp("--overrule-fund", "990903")
    assert res.exit_code != 0 and labels.read_bytes() == before
    assert "--overrule-fund 990903: no decided row of this sheet has this fund code" in res.output
    res = imp("--overrule-fund", "990901,990902.OF")
    assert res.exit_code == 0, res.output
    lab = pd.read_csv(labels, dtype=str, keep_default_na=False).set_index("fund_code")
    assert lab.loc[["990901", "990902"], "secondary"].tolist() == ["策略主题ETF"] * 2


def test_a_review_sheets_row_is_not_read_as_a_line_of_the_labeled_set():
    """A queue's `row` names the labeled set's line (labels.csv:3), a review sheet's the line of its tagged file: a
    fund the latest migration queued, decided on a review sheet of a fresh tag, is not put at its tagged file's line."""
    from classifier.labeled import MIGRATION_BY
    from classifier.review import _in_place

    labels = pd.DataFrame({"fund_code": ["000001", "000002", "000003", "000004"]})
    h = pd.DataFrame({"fund_code": ["", "000004"], "new_secondary": "", "changed_by": MIGRATION_BY})  # 000004 queued
    sheet = pd.DataFrame({"code": ["000004"], "row": ["2"]})  # a review sheet: line 2 of its tagged file
    assert _in_place(labels, sheet, h)["fund_code"].tolist() == ["000001", "000002", "000003", "000004"]
    sheet["row"] = "labels.csv:3"  # the queue: line 3 of the set before the migration
    assert _in_place(labels, sheet, h)["fund_code"].tolist() == ["000001", "000004", "000002", "000003"]


def test_a_decision_of_not_applicable_is_not_replaced_by_a_sheet_exported_before_it(tmp_path):
    """A fund out of the taxonomy's scope (a bond ETF) is tagged 不适用 at confidence 1, the number a review decision
    shows at: a sheet exported before a reviewer decided the fund 不适用 showed the tool's answer, and its import
    replaced that later decision in silence (user-path hunt, session 33). The sheet's review_decision column (the
    deciding fund's code; empty for the tool's own answer) tells the two apart; a sheet without it cannot, and is
    refused for such a row; a sheet exported after the decision shows it, and a decision there replaces it."""
    import shutil

    from classifier.io import write_table

    labels = tmp_path / "labels.csv"
    shutil.copy(SHIPPED_LABELS, labels)
    batch, tagged, old = tmp_path / "batch.csv", tmp_path / "tagged.csv", tmp_path / "old.csv"
    pd.DataFrame({"基金代码": ["990911"], "基金简称": ["示例中证信用债ETF"], "跟踪指数名称": ["中证信用债指数"],
                  "基金类型": ["被动指数型债券"]}).to_csv(batch, index=False)
    r = CliRunner()

    def export(out):
        res = r.invoke(cli, ["tag", str(batch), "-o", str(tagged), "-s", "--labeled", str(labels)])
        assert res.exit_code == 0, res.output
        res = r.invoke(cli, ["review", "export", str(tagged), "-o", str(out), "--all", "--labeled", str(labels)])
        assert res.exit_code == 0, res.output
        return pd.read_csv(out, dtype=str, keep_default_na=False)

    sheet = export(old)
    assert sheet[["secondary", "confidence", "review_decision"]].values.tolist() == [["不适用", "1.0", ""]]
    _decide(sheet, {"990911": "不适用"}, tmp_path / "alice.csv", labels, "2026-11-30")  # the decision, after the export
    sheet.loc[:, ["decision", "reviewer"]] = ["宽基ETF", "李四"]
    write_table(sheet, old)
    older = tmp_path / "older.csv"  # the same sheet, as one of a file tagged before the column existed
    write_table(sheet.drop(columns="review_decision"), older)
    before = labels.read_bytes()
    for path, why in ((old, "that this sheet did not show (its answer: 不适用, the tool's own at confidence 1)"),
                      (older, "this sheet has no `review_decision` column, so its 不适用 at confidence 1")):
        res = r.invoke(cli, ["review", "import", str(path), "--labeled", str(labels)])
        assert res.exit_code != 0 and labels.read_bytes() == before, res.output
        assert "row 2 (990911)" in res.output and why in res.output and "--overrule-fund 990911" in res.output
    fresh = export(tmp_path / "fresh.csv")
    assert fresh[["secondary", "confidence", "review_decision"]].values.tolist() == [["不适用", "1.0", "990911"]]
    res = _decide(fresh, {"990911": "宽基ETF"}, tmp_path / "bob.csv", labels, "2026-12-01")
    assert res.changed == [("990911", "不适用", "宽基ETF")]
