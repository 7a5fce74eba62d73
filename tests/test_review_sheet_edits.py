"""A review sheet as reviewers hand it back after editing it in Excel or WPS (audit round 17): what they did to it
that the sheet still shows must not lose, change or silently drop a decision, a reviewer's name or a note."""
import openpyxl
import pandas as pd
import pytest

from classifier.errors import InputError
from classifier.labeled import SHIPPED_LABELS, read_history, read_labels
from classifier.review import FLAG, REVIEW_COLUMNS, import_review
from classifier.io import write_table
from classifier.taxonomy import load_taxonomy
from conftest import KILLED_LABELED_CHANGE, write_labeled_subset

SHEET_COLUMNS = [c for c in REVIEW_COLUMNS if c != FLAG]  # a sheet of a file tagged before review_decision existed


@pytest.fixture
def labels(tmp_path):
    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, p, n_groups=20)
    return p


def _sheet(path, rows):
    """A review sheet as `review export` writes it: rows of (fund_code, the tool's answer, decision, reviewer, comment)."""
    tax = load_taxonomy()
    df = pd.DataFrame([{c: "" for c in SHEET_COLUMNS} for _ in rows])
    for i, (code, shown, decision, reviewer, comment) in enumerate(rows):
        df.loc[i, ["fund_code", "fund_name", "secondary", "confidence", "primary", "decision", "reviewer", "comment",
                   "taxonomy_version", "group"]] = [code, f"示例{code}ETF", shown, "0.6", tax.primary_of(shown),
                                                    decision, reviewer, comment, tax.version, code]
    write_table(df, path)
    return path


def _tag(src, tmp_path, labels):
    """`fundclass tag SRC -o t.csv --rules-only` in process: (its result, the tagged file)."""
    from click.testing import CliRunner

    from classifier.cli import cli

    res = CliRunner().invoke(cli, ["tag", str(src), "-o", str(tmp_path / "t.csv"), "--rules-only", "--labeled",
                                   str(labels)])
    assert res.exit_code == 0, res.output
    return res, tmp_path / "t.csv"


def _export(tagged, out, labels):
    """`fundclass review export TAGGED --all -o OUT` in process: its result."""
    from click.testing import CliRunner

    from classifier.cli import cli

    res = CliRunner().invoke(cli, ["review", "export", str(tagged), "--all", "-o", str(out), "--labeled", str(labels)])
    assert res.exit_code == 0, res.output
    return res


def _rename_headers(path, renames: dict[str, str]):
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    for cell in ws[1]:
        cell.value = renames.get(cell.value, cell.value)
    wb.save(path)


@pytest.mark.parametrize("renames", [{"decision": "decision ", "reviewer": "Reviewer", "comment": "Comment "},
                                     {"decision": "Decision", "reviewer": "reviewer　", "comment": "ｃｏｍｍｅｎｔ"},
                                     {"fund_code": " fund_code", "taxonomy_version": "Taxonomy_Version"}])
def test_a_sheet_whose_headers_excel_users_retyped_imports_its_decisions_reviewers_and_notes(tmp_path, labels,
                                                                                            renames):
    """A reviewer retypes a header in Excel (a space after `decision `, `Reviewer` with a capital, a full-width
    `ｃｏｍｍｅｎｔ` from the IME): the import refused the sheet for a missing column it shows ("missing column(s)
    ['decision']; export the sheet…", which would throw the reviewer's work away), or read no reviewer from
    `Reviewer` ("no reviewer (fill the reviewer column …)" beside the filled column) and silently dropped every note
    under `Comment `. Such a header is the sheet's column: the decisions import with their reviewer and note."""
    sheet = _sheet(tmp_path / "r.xlsx", [("990971", "宽基ETF", "策略主题ETF", "张三", "红利因子为主")])
    _rename_headers(sheet, renames)
    result = import_review(sheet, load_taxonomy(), labels, today="2026-12-01")
    assert result.added == ["990971"]
    row = read_labels(labels).set_index("fund_code").loc["990971"]
    assert (row["secondary"], row["labeled_by"], row["note"]) == ("策略主题ETF", "张三", "红利因子为主")


def test_a_header_retyped_beside_the_sheets_own_column_is_refused_naming_both(tmp_path, labels):
    """A reviewer adds their own `Comment` column beside the sheet's `comment`: the import reads one comment column,
    so it names both spellings and writes nothing (as for a column inserted twice under one name)."""
    sheet = _sheet(tmp_path / "r.xlsx", [("990972", "宽基ETF", "策略主题ETF", "张三", "")])
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    ws.insert_cols(3)
    ws.cell(1, 3).value = "Comment"
    wb.save(sheet)
    before = labels.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(sheet, load_taxonomy(), labels)
    assert "column 'comment' appears 2 times ('Comment', 'comment'); keep one" in str(e.value)
    assert labels.read_bytes() == before and read_history(labels).empty


@pytest.mark.parametrize("at, said", [
    ("staged", "was interrupted before it was committed (its command killed or crashed): nothing of it was written"),
    ("journal-temp", "was interrupted before it was committed (its command killed or crashed): nothing of it was "
                     "written"),
    ("journal", "was interrupted after it was committed (its command killed or crashed): it is now complete")])
def test_the_command_after_a_killed_import_says_whether_the_import_went_in(tmp_path, labels, at, said):
    """An analyst's `review import` is killed (kill -9, a closed laptop) while it writes. The next command settled the
    set silently, completing the import or clearing it away, so nobody could tell whether the decisions were in
    (the import's own terminal said nothing). It now says which, naming the set, and the set is consistent either way.
    Killed while its journal was being written (``journal-temp``), the import left the journal's temp file
    (``..labels.csv.journal.<pid>-….tmp``) in the set's folder for good: the reader removed the staged files, not it."""
    import os
    import subprocess
    import sys

    from click.testing import CliRunner

    import classifier
    from classifier.cli import cli

    first = read_labels(labels).iloc[0]
    code, was = first["fund_code"], first["secondary"]
    new = "策略主题ETF" if was != "策略主题ETF" else "宽基ETF"
    sheet = _sheet(tmp_path / "r.csv", [(code, was, new, "张三", "")])
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(classifier.__file__)))
    p = subprocess.run([sys.executable, "-c", KILLED_LABELED_CHANGE, at, "review", "import", str(sheet), "--labeled", str(labels)],
                       cwd=tmp_path, env=env, capture_output=True)
    assert p.returncode == -9, p.stderr.decode()
    res = CliRunner().invoke(cli, ["labels", "audit", str(labels)])
    assert res.exit_code == 0, res.output
    assert f"warning: {labels}: a change to the labeled set (a review import or a taxonomy migration) {said}" \
        in res.output, res.output
    assert sorted(f.name for f in labels.parent.iterdir() if f.name.endswith(".tmp")) == []
    assert read_labels(labels).set_index("fund_code").at[code, "secondary"] == (new if at == "journal" else was)
    assert (code in set(read_history(labels)["fund_code"])) == (at == "journal")
    res = CliRunner().invoke(cli, ["labels", "audit", str(labels)])  # said once: the set is settled now
    assert "interrupted" not in res.output, res.output


def test_a_comment_on_a_row_confirming_a_decision_is_not_dropped_without_a_word(tmp_path, labels):
    """Two reviewers: the first decides 990974 (策略主题ETF, "红利因子为主"); the second, on a later sheet, writes the
    same class and her own reasoning in `comment`. The import said "confirmed 1" and dropped the comment without a
    word (a confirmation changes nothing). The decision keeps its first reviewer and note, and the import now says
    the comment was written nowhere, naming the fund; a row whose comment is the decision's note says nothing."""
    first = _sheet(tmp_path / "a.csv", [("990974", "宽基ETF", "策略主题ETF", "张三", "红利因子为主")])
    import_review(first, load_taxonomy(), labels, today="2026-11-30")
    assert not any("written nowhere" in line
                   for line in import_review(first, load_taxonomy(), labels, today="2026-12-01").lines())
    second = _sheet(tmp_path / "b.csv", [("990974", "策略主题ETF", "策略主题ETF", "李四", "同意，按红利策略")])
    before = labels.read_bytes()
    res = import_review(second, load_taxonomy(), labels, today="2026-12-01")
    assert res.confirmed == ["990974"] and labels.read_bytes() == before
    assert ("warning: 1 row confirms a review decision the labeled set holds already, with a comment that was "
            "written nowhere: 990974") in "\n".join(res.lines())


def test_blank_rows_of_a_batch_are_not_put_first_in_the_review_sheet(tmp_path, labels):
    """An analyst's batch saved from Excel keeps rows that were formatted or cleared (and blank lines between
    sections): `tag` keeps each in its place, with no class, in review. `review export` put every one of them at the
    top of the sheet (confidence 0, nothing to decide: import needs a fund code), and `tag` counted them in its
    review rate without a word (2 funds: "rows: 6  review: 4 (66.7%)"). The sheet now leaves them out, naming
    their rows, and the run summary counts them apart; the tagged output is unchanged."""
    import openpyxl
    from openpyxl.styles import Font

    src = tmp_path / "batch.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["基金代码", "基金简称"])
    ws.append(["510300", "华泰柏瑞沪深300ETF"])
    ws.append([None, None])
    ws.append(["159975", "招商深证100ETF"])
    for r in range(6, 9):  # cleared rows Excel still writes (their format stays)
        ws.cell(r, 1).font = Font(bold=True)
        ws.cell(r, 2).font = Font(bold=True)
    wb.save(src)
    res, out = _tag(src, tmp_path, labels)
    tagged = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert tagged["基金代码"].tolist() == ["510300", "", "159975", "", "", "", ""]  # every row in its place, as before
    assert "of the review: 5 blank rows of the input (no cell filled, no fund)" in res.output, res.output
    res = _export(out, tmp_path / "r.csv", labels)
    sheet = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    assert sorted(sheet["fund_code"]) == ["159975", "510300"]
    assert "5 blank rows left out (no cell filled, no fund to decide): rows 3, 5, 6, 7, 8" in res.output, res.output


def test_a_decision_cell_merged_down_a_block_decides_every_row_it_shows_on(tmp_path, labels):
    """A reviewer selects the decision cells of three rows, merges them (合并单元格) and writes one class, and merges
    the reviewer cells the same way: the sheet shows the class and the name on each row. The import read the first
    row alone and left the other two undecided without a word. Each row a merged cell spans now takes its value."""
    rows = [("990975", "宽基ETF", "", "", ""), ("990976", "宽基ETF", "", "", ""), ("990977", "宽基ETF", "", "", ""),
            ("990978", "宽基ETF", "宽基ETF", "李四", "")]
    sheet = _sheet(tmp_path / "r.xlsx", rows)
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    head = [c.value for c in ws[1]]
    for col in ("decision", "reviewer"):
        j = head.index(col) + 1
        ws.cell(2, j).value = "策略主题ETF" if col == "decision" else "张三"
        ws.merge_cells(start_row=2, start_column=j, end_row=4, end_column=j)
    wb.save(sheet)
    result = import_review(sheet, load_taxonomy(), labels, today="2026-12-01")
    assert sorted(result.added) == ["990975", "990976", "990977", "990978"]
    got = read_labels(labels).set_index("fund_code")
    assert got.loc[["990975", "990976", "990977"], "secondary"].tolist() == ["策略主题ETF"] * 3
    assert got.loc[["990975", "990976", "990977"], "labeled_by"].tolist() == ["张三"] * 3
    assert got.at["990978", "secondary"] == "宽基ETF"


def test_review_export_counts_what_it_wrote_in_plain_words(tmp_path, labels):
    """`review export --all` of a file with one row in review said "3 rows to review" for its three rows, and a
    sheet of one row said "1 rows to review". It says "3 rows exported (--all: every row)" and "1 row to review"."""
    from click.testing import CliRunner

    from classifier.cli import cli

    src = tmp_path / "b.csv"
    src.write_text("基金代码,基金简称\n510300,华泰柏瑞沪深300ETF\n159975,招商深证100ETF\n990979,示例优选成长混合A\n",
                   encoding="utf-8")
    r = CliRunner()
    res = r.invoke(cli, ["tag", str(src), "-o", str(tmp_path / "t.csv"), "--rules-only", "--labeled", str(labels)])
    assert res.exit_code == 0, res.output
    tagged = pd.read_csv(tmp_path / "t.csv", dtype=str)
    assert tagged["needs_review"].tolist().count("True") == 1, tagged
    res = r.invoke(cli, ["review", "export", str(tmp_path / "t.csv"), "-o", str(tmp_path / "r.csv"),
                         "--labeled", str(labels)])
    assert f"1 row to review -> {tmp_path / 'r.csv'}" in res.output, res.output
    res = r.invoke(cli, ["review", "export", str(tmp_path / "t.csv"), "--all", "-o", str(tmp_path / "a.csv"),
                         "--labeled", str(labels)])
    assert f"3 rows exported (--all: every row) -> {tmp_path / 'a.csv'}" in res.output, res.output


@pytest.mark.parametrize("suffix", [".xls", ".et"])
def test_a_sheet_saved_as_xls_or_wps_is_refused_saying_how_to_save_it(tmp_path, labels, suffix):
    """A reviewer saves the sheet as Excel 97-2003 (.xls) or in WPS's own format (.et): the import said only
    "unsupported file type '.xls'; use .csv, .xlsx or .parquet". It now says how to get one: save it as .xlsx."""
    sheet = tmp_path / f"review{suffix}"
    sheet.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)  # an OLE2 (Excel 97-2003) file's start
    with pytest.raises(InputError) as e:
        import_review(sheet, load_taxonomy(), labels)
    assert (f"{sheet}: unsupported file type '{suffix}'; use .csv, .xlsx or .parquet (open it in Excel, WPS or "
            f"LibreOffice and save it as .xlsx") in str(e.value)


def test_a_decision_on_an_index_reaches_a_new_share_class_named_by_the_index_number_and_its_letter(tmp_path, labels):
    """A fund list names share classes 东财沪深300A/C/E, 人保沪深300A, 东财北证50A: the letter follows the index's number,
    and the index the name gave was 沪深300E (`idx:沪深300E`), so a review decision on 沪深300 did not reach a new
    listing 东财沪深300E (tagged 宽基ETF at 0.976, out of review, with no word of the decision), while 东财沪深300ETF联接E
    took it; nor did the index's blind reads. The letter is no part of the index: both take the decision."""
    from classifier.pipeline import Tagger

    sheet = tmp_path / "r.csv"
    _sheet(sheet, [("990980", "宽基ETF", "策略主题ETF", "张三", "")])
    df = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    df.loc[0, ["fund_name", "index_name"]] = ["示例沪深300ETF", "沪深300指数"]
    df.to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels, today="2026-12-01")
    batch = pd.DataFrame({"基金代码": ["990981", "990982", "990983"],
                          "基金简称": ["东财沪深300E", "人保沪深300A", "东财沪深300ETF联接E"],
                          "基金类型": ["指数型-股票"] * 3})
    out = Tagger.load(labels_path=labels).tag(batch)
    assert out["review_decision"].tolist() == ["990980"] * 3, out[["基金简称", "secondary", "review_decision"]]
    assert out["secondary"].tolist() == ["策略主题ETF"] * 3


def test_a_review_workbook_with_a_notes_sheet_imports_the_sheet_holding_the_review_columns(tmp_path, labels):
    """Audit round 18: a reviewer adds a sheet of their own notes ('我的笔记') to the review workbook; `review import`
    refused it ("2 visible sheets hold data ('review', '我的笔记'); choose one with --sheet NAME"), though only one of
    them holds the columns the import reads. It takes that one and says which it took; a workbook where no sheet, or
    several, hold those columns is still refused, saying so."""
    from click.testing import CliRunner

    from classifier.cli import cli

    sheet = _sheet(tmp_path / "r.xlsx", [("990971", "宽基ETF", "策略主题ETF", "张三", "红利因子为主")])
    wb = openpyxl.load_workbook(sheet)
    wb.active.title = "review"
    notes = wb.create_sheet("我的笔记")
    notes.append(["待问", "990971 是否红利"])
    notes.append(["fund_code", "想法"])
    wb.save(sheet)
    r = CliRunner().invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels)])
    assert r.exit_code == 0, r.output
    assert f"{sheet}: read sheet 'review', the only one holding the review sheet's columns fund_code, decision, " \
        f"taxonomy_version; '我的笔记' skipped (--sheet NAME reads another)" in r.output.splitlines(), r.output
    assert read_labels(labels).set_index("fund_code").at["990971", "secondary"] == "策略主题ETF"
    # a copy of the review sheet beside it: two sheets hold the columns, which one is meant is the user's to say
    wb = openpyxl.load_workbook(sheet)
    wb.copy_worksheet(wb["review"]).title = "review (2)"
    wb.save(sheet)
    with pytest.raises(InputError, match=r"3 visible sheets hold data \('review', '我的笔记', 'review \(2\)'\); 2 of "
                                         r"them hold the review sheet's columns fund_code, decision, taxonomy_version "
                                         r"\('review', 'review \(2\)'\); choose one with --sheet NAME"):
        import_review(sheet, load_taxonomy(), labels)
    # none of them: the review sheet's headers deleted
    del wb["review (2)"]
    wb["review"].delete_rows(1)
    wb.save(sheet)
    with pytest.raises(InputError, match=r"2 visible sheets hold data \('review', '我的笔记'\); none of them holds the "
                                         r"review sheet's columns"):
        import_review(sheet, load_taxonomy(), labels)


def test_a_comment_excel_turned_into_a_date_is_kept_as_its_date_text(tmp_path, labels):
    """Audit round 18: a reviewer typed 12/1 in the comment column and Excel made it a date; the import stored the
    note as "2026-12-01 00:00:00". A date cell in a text column (comment, reviewer) is read as its date, without the
    midnight time; a time the cell holds is kept."""
    import datetime as dt

    sheet = _sheet(tmp_path / "r.xlsx", [("990971", "宽基ETF", "策略主题ETF", "张三", "x"),
                                         ("990972", "宽基ETF", "策略主题ETF", "张三", "x")])
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    col = [c.value for c in ws[1]].index("comment") + 1
    ws.cell(2, col).value = dt.datetime(2026, 12, 1)
    ws.cell(2, col).number_format = "m/d"
    ws.cell(3, col).value = dt.datetime(2026, 12, 1, 9, 30)
    ws.cell(3, col).number_format = "m/d h:mm"
    wb.save(sheet)
    import_review(sheet, load_taxonomy(), labels, today="2026-12-01")
    got = read_labels(labels).set_index("fund_code")
    assert got.at["990971", "note"] == "2026-12-01", got.at["990971", "note"]
    assert got.at["990972", "note"] == "2026-12-01 09:30", got.at["990972", "note"]


def test_counts_of_one_read_in_plain_words(monkeypatch, tmp_path):
    """Audit round 18: counts of one still read "1 codes read as six digits", "1 more funds", "1 funds hold no review
    decision", "1 rows have a comment" (review import) and "the last 1 of them" (review export). They read "1 code",
    "1 more fund", "1 fund holds", "1 row has", "the last one"; counts of more keep their plural."""
    from click.testing import CliRunner

    from classifier import review
    from classifier.cli import cli
    from classifier.review import ImportResult

    one = ImportResult(added=["990971"], padded=["000001"], undecided=["000002"], commented=["000003"],
                       followed=[("000004", "宽基ETF", "策略主题ETF", "990971")],
                       family=[("000005", "宽基ETF", "策略主题ETF", "990971")])
    text = "\n".join(one.lines())
    for said in ("added 1, changed 0, confirmed 0; 1 more fund of the decided funds' indices relabeled with them; "
                 "1 share class or feeder of the decided funds relabeled with them",
                 "warning: 1 fund holds no review decision to withdraw (nothing done): 000002",
                 "1 code read as six digits: 000001",
                 "warning: 1 row has a comment but no decision and was not imported: 000003; write its decision in "
                 "the `decision` column"):
        assert said in text, text
    two = ImportResult(padded=["000001", "000006"], undecided=["000002", "000007"], commented=["000003", "000008"])
    text = "\n".join(two.lines())
    for said in ("2 funds hold no review decision", "2 codes read as six digits", "2 rows have a comment but no "
                 "decision and were not imported: 000003, 000008; write their decisions"):
        assert said in text, text
    monkeypatch.setattr(review, "export_review", lambda *a, **k: (3, [], 1))
    tagged = tmp_path / "t.csv"
    tagged.write_text("fund_code\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["review", "export", str(tagged), "-o", str(tmp_path / "r.csv")])
    assert "  the last one: of a share-class family of actively managed funds the tagged file gives no holdings of" \
        in r.output, r.output


def test_the_blank_rows_review_export_says_it_left_out_are_the_batchs_blank_rows(tmp_path, labels):
    """A row whose name is no fund name (今天天气很好) comes out of `tag` with no class, in review; it is in the
    sheet, for the reviewer to decide. `review export` named it among the "blank row(s) left out" all the same (it
    counted the rows with no class, not the rows with no cell filled), so the note contradicted the sheet."""
    src = tmp_path / "batch.csv"
    src.write_text("基金代码,基金简称\n510300,华泰柏瑞沪深300ETF\n,\n990979,今天天气很好\n", encoding="utf-8")
    _, out = _tag(src, tmp_path, labels)
    tagged = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert tagged["secondary"].tolist()[1:] == ["", ""]  # the blank row and the row that is no fund name: no class
    res = _export(out, tmp_path / "r.csv", labels)
    sheet = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    assert sorted(sheet["fund_code"]) == ["510300", "990979"]
    assert "1 blank row left out (no cell filled, no fund to decide): row 3\n" in res.output, res.output


def test_review_import_and_export_say_how_they_read_a_file_below_a_title_line(tmp_path, labels):
    """A reviewer types a title above the sheet's header (复核 2026-12-01) before saving it; a tagged file gets one
    the same way. Both read the table below it, as `fundclass tag` does, but only `tag` said so ("header found on
    row 2 (rows above it skipped)"): `review import` and `review export` read past the line without a word, so a
    decision typed in it was skipped silently. Both now print the note."""
    sheet = _sheet(tmp_path / "s.csv", [("990980", "宽基ETF", "宽基ETF", "李四", "")])
    sheet.write_bytes("复核 2026-12-01\n".encode("utf-8") + sheet.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    res = import_review(sheet, load_taxonomy(), labels, today="2026-12-01", dry_run=True)
    assert f"warning: {sheet}: header found on row 2 (rows above it skipped)" in res.lines(), res.lines()
    src = tmp_path / "batch.csv"
    src.write_text("基金代码,基金简称\n510300,华泰柏瑞沪深300ETF\n", encoding="utf-8")
    _, tagged = _tag(src, tmp_path, labels)
    tagged.write_bytes("批次 12月\n".encode("utf-8") + tagged.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    res = _export(tagged, tmp_path / "r.csv", labels)
    assert f"warning: {tagged}: header found on row 2 (rows above it skipped)" in res.output, res.output
    assert pd.read_csv(tmp_path / "r.csv", dtype=str)["fund_code"].tolist() == ["510300"]


def test_importing_the_workbook_review_export_wrote_warns_of_no_hidden_sheet(tmp_path, labels):
    """The review workbook holds a hidden sheet of its own (the classes of the decision drop-down). Once import said
    how it read a sheet, every import of an exported workbook warned that the hidden sheet 'labels' was skipped, a
    warning about the tool's own sheet that the reviewer can do nothing about. A hidden sheet of the user's, with
    data, is still named."""
    src = tmp_path / "batch.csv"
    src.write_text("基金代码,基金简称\n510300,华泰柏瑞沪深300ETF\n", encoding="utf-8")
    sheet = tmp_path / "r.xlsx"
    _export(_tag(src, tmp_path, labels)[1], sheet, labels)
    wb = openpyxl.load_workbook(sheet)
    assert wb["labels"].sheet_state == "hidden"
    wb.active["F2"], wb.active["G2"] = "宽基ETF", "李四"
    wb.save(sheet)
    lines = import_review(sheet, load_taxonomy(), labels, today="2026-12-01", dry_run=True).lines()
    assert not [x for x in lines if "warning" in x], lines
    ws = wb.create_sheet("备注")
    ws["A1"] = "上周的问题"
    ws.sheet_state = "hidden"
    wb.save(sheet)
    lines = import_review(sheet, load_taxonomy(), labels, today="2026-12-01", dry_run=True).lines()
    assert f"warning: {sheet}: read sheet 'review'; hidden sheet(s) '备注' skipped (--sheet NAME reads one)" in lines


def test_a_confidence_column_formatted_as_percent_or_cleared_does_not_revert_a_later_decision(tmp_path, labels):
    """Two reviewers each get a copy of one exported sheet; the first confirms the tool's answer (宽基ETF at 0.61) and
    imports. The second formatted `confidence` as a percentage in Excel and saved the sheet as CSV (Excel writes the
    cell as it shows it, `61.00%`), or cleared the column's cells, then decided otherwise: the import read no number,
    took the row for one showing the decision at confidence 1, and replaced the first reviewer's decision without a
    word (audit round 20). A percentage is its number (61.00% is 0.61, 100.00% is 1); a cell that shows no number
    cannot show whether the decision was made before the sheet was exported, and is refused as a deleted column is,
    naming the row and the cell, unless --overrule."""
    tax = load_taxonomy()

    def copy(name, decision, reviewer, confidence):
        path = tmp_path / name
        write_table(pd.DataFrame([{c: "" for c in SHEET_COLUMNS}]).assign(
            fund_code="990993", fund_name="示例990993ETF", secondary="宽基ETF", primary=tax.primary_of("宽基ETF"),
            confidence=confidence, decision=decision, reviewer=reviewer, taxonomy_version=tax.version,
            group="990993"), path)
        return path

    assert import_review(copy("a.csv", "宽基ETF", "张三", "0.61"), tax, labels, today="2026-11-30").added == ["990993"]
    history = labels.with_name("history.csv")
    state = lambda: (labels.read_bytes(), history.read_bytes() if history.exists() else None)  # noqa: E731
    before = state()
    for shown in ("61.00%", "61%", "", "#VALUE!"):
        for decision in ("策略主题ETF", "撤销"):
            with pytest.raises(InputError) as e:
                import_review(copy("b.csv", decision, "李四", shown), tax, labels, today="2026-12-01")
            msg = str(e.value)
            assert "row 2 (990993)" in msg and "宽基ETF (张三, 2026-11-30)" in msg and "--overrule" in msg, (shown, msg)
            assert state() == before
    # a copy exported after the decision shows it at confidence 1, as a percentage too: the reviewer saw it
    res = import_review(copy("c.csv", "策略主题ETF", "李四", "100.00%"), tax, labels, today="2026-12-01")
    assert res.changed == [("990993", "宽基ETF", "策略主题ETF")]


def test_a_decision_pasted_with_an_invisible_character_is_its_class(tmp_path, labels):
    """A class copied from a web page or a chat message into the `decision` cell carries an invisible character (a
    zero-width space, a word joiner, a byte-order mark): the import refused it as "decision '宽基​ETF' is not a label",
    a message that shows the very class it refuses (audit round 20). Characters that print nothing are no part of a
    label typed by hand, as spaces are not: the decision is its class, in a header too."""
    tax = load_taxonomy()
    rows = [(f"99099{i}", "宽基ETF", d, "张三", "") for i, d in
            enumerate(["宽基\u200bETF", "\ufeff策略主题ETF", "国企主题\u2060ETF", "撤\u200d销"])]
    path = _sheet(tmp_path / "r.csv", rows[:3])
    f = pd.read_csv(path, dtype=str, keep_default_na=False)
    write_table(f.rename(columns={"reviewer": "review\u200ber"}), path)
    res = import_review(path, tax, labels, today="2026-12-01")
    assert res.added == ["990990", "990991", "990992"]
    got = read_labels(labels).set_index("fund_code")
    assert got.loc[["990990", "990991", "990992"], "secondary"].tolist() == ["宽基ETF", "策略主题ETF", "国企主题ETF"]
    assert got.loc["990990", "labeled_by"] == "张三"
    res = import_review(_sheet(tmp_path / "w.csv", [("990990", "宽基ETF", "撤\u200d销", "张三", "")]), tax, labels,
                        today="2026-12-01", overrule=True)
    assert "990990" not in set(read_labels(labels)["fund_code"])


def test_a_decision_in_a_row_a_filter_hides_is_named(tmp_path, labels):
    """A reviewer filters the sheet (筛选) to the rows of one class and pastes a class down the decision column:
    Excel and WPS paste into the rows the filter hides too, and the reviewer never sees those decisions. The import
    took them as the others, saying nothing of rows the sheet hid (audit round 20). It still imports them (a reviewer
    may hide rows once decided), and warns, naming each hidden decided row, its fund and its decision; rows hidden
    without a decision are not named."""
    rows = [(f"99098{i}", "宽基ETF", "策略主题ETF" if i != 2 else "", "张三", "") for i in range(1, 5)]
    sheet = _sheet(tmp_path / "r.xlsx", rows)
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    ws.auto_filter.ref = ws.dimensions
    for r in (3, 4):  # 990982 (no decision) and 990983 (策略主题ETF)
        ws.row_dimensions[r].hidden = True
    wb.save(sheet)
    res = import_review(sheet, load_taxonomy(), labels, today="2026-12-01")
    assert sorted(res.added) == ["990981", "990983", "990984"]
    warnings = [line for line in res.lines() if line.startswith("warning")]
    assert len(warnings) == 1 and "row 4 (990983): 策略主题ETF" in warnings[0], warnings
    assert "990981" not in warnings[0] and "990982" not in warnings[0] and "990984" not in warnings[0]


def test_a_tagged_file_saved_with_confidence_as_a_percentage_is_exported_in_the_same_order(tmp_path, labels):
    """A user opens the tagged CSV in Excel, formats `confidence` as a percentage and saves it (Excel writes 67.76%).
    `review export` read no number, took every row's confidence for 0 and wrote the sheet in another order (the most
    doubtful rows no longer first), without a word, while `summary`, `diff` and `tag --previous` refused the file
    (audit round 20). A percentage is its number: the sheet is the one the file gave before it was saved, but for the
    confidence cells, written as the file gives them."""
    from click.testing import CliRunner

    from classifier.cli import cli

    src = tmp_path / "b.csv"
    src.write_text("基金代码,基金简称,跟踪指数代码,跟踪指数名称\n"
                   "159998,天弘中证计算机主题ETF,930651.CSI,中证计算机主题指数\n"
                   "159586,南方中证全指计算机ETF,H30182.CSI,中证全指计算机指数\n"
                   "512400,南方中证申万有色金属ETF,000819.SH,中证申万有色金属指数\n"
                   "510300,华泰柏瑞沪深300ETF,000300.SH,沪深300指数\n"
                   "159385,富国中证诚通国企数字经济ETF,931529.CSI,中证诚通国企数字经济指数\n", encoding="utf-8")
    _, tagged = _tag(src, tmp_path, labels)
    f = pd.read_csv(tagged, dtype=str, keep_default_na=False)
    assert f["confidence"].nunique() > 2
    pct = tmp_path / "pct.csv"
    f.assign(confidence=[f"{float(c) * 100:.2f}%" for c in f["confidence"]]).to_csv(pct, index=False)
    _export(tagged, tmp_path / "a.csv", labels)
    _export(pct, tmp_path / "p.csv", labels)
    a = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    assert b["fund_code"].tolist() == a["fund_code"].tolist()
    assert b["confidence"].tolist() == [f"{float(c) * 100:.2f}%" for c in a["confidence"]]
    res = CliRunner().invoke(cli, ["summary", str(pct), "-o", str(tmp_path / "s.md")])
    assert res.exit_code == 0, res.output


def test_a_row_added_by_hand_without_a_taxonomy_version_is_refused_naming_the_empty_cell(tmp_path, labels):
    """A reviewer inserts a row for a fund the sheet did not list and fills code, decision and reviewer, but not
    taxonomy_version: the import said `exported for taxonomy 'none'`, as if the sheet were of another taxonomy. It names
    the empty cell and the version to fill in; nothing is written until it is."""
    tax = load_taxonomy()
    path = _sheet(tmp_path / "r.csv", [("990981", "宽基ETF", "宽基ETF", "张三", ""),
                                       ("990982", "宽基ETF", "策略主题ETF", "张三", "")])
    f = pd.read_csv(path, dtype=str, keep_default_na=False)
    f.loc[1, "taxonomy_version"] = ""
    write_table(f, path)
    before = labels.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(path, tax, labels, today="2026-12-02")
    msg = str(e.value)
    assert f"row 3 (990982): its taxonomy_version cell is empty; fill in {tax.version}" in msg
    assert "'none'" not in msg and "row 2 (990981)" not in msg and labels.read_bytes() == before
    f.loc[1, "taxonomy_version"] = tax.version
    write_table(f, path)
    assert import_review(path, tax, labels, today="2026-12-02").added == ["990981", "990982"]
