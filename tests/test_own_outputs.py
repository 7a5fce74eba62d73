"""Issue 13, "every byte in, every row out", for the files the tool writes and reads back itself.

* Every XLSX the tool writes (``tag``, ``summary``, ``diff``, ``review export``, the migration queue) cuts a cell over
  Excel's 32,767 characters to that limit, with a warning for the user naming the file, sheet, row and column, never
  a Python warning or a silent cut.
* A CSV the tool wrote puts ``'`` before cells a spreadsheet would run as formulas; the tool's own readers of such a
  file (``review import``, ``review export``, ``diff``, ``summary``, ``tag --previous``) take that ``'`` off again, so a
  value comes back as it went in. A user's input file read by ``tag`` is never changed.
"""
import csv
import warnings

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.io import (EXCEL_CELL_MAX, neutralize, read_output, read_table, unneutralize, write_sheets,
                           write_table)
from classifier.labeled import read_labels
from classifier.review import REVIEW_COLUMNS, write_review
from classifier.tagged import read_tagged
from classifier.taxonomy import load_taxonomy

TAX = load_taxonomy()
LONG = "芯" * 40000  # over Excel's limit for a cell
HYPERLINK = '=HYPERLINK("http://x","芯片")'
CMD = "+cmd|' /C calc'!A0"
FORMULA_LIKE = [HYPERLINK, CMD, "@SUM(A1)", "-", "-x", "\tTAB", "\rCR", "=1+1"]


def _tagged(names, secondary=None, evidence=None, codes=None):
    """A frame as ``fundclass tag`` writes it (the columns the run commands read)."""
    n = len(names)
    sec = secondary or ["宽基ETF"] * n
    return pd.DataFrame({"基金代码": codes or [f"5100{i:02d}" for i in range(n)], "基金简称": names,
                         "primary": [TAX.primary_of(s) for s in sec], "secondary": sec,
                         "confidence": ["0.9"] * n, "needs_review": ["True"] * n,
                         "evidence": evidence or ["跟踪指数:沪深300"] * n, "taxonomy_version": [TAX.version] * n,
                         "model_version": ["m1"] * n})


def _cell(path, sheet, row, col):
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(wb[sheet].iter_rows(min_row=row, max_row=row, values_only=True))[0][col]
    finally:
        wb.close()


@pytest.fixture
def no_python_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    cut = [w for w in caught if "32767" in str(w.message) or "exceeds" in str(w.message) or "truncat" in
           str(w.message).lower()]
    assert not cut, "a cut is told to the user, not raised as a Python warning"


# ------------------------------------------------------------------ XLSX: every writer cuts with a warning
def test_write_table_names_file_sheet_row_and_column(tmp_path, no_python_warnings):
    out = tmp_path / "t.xlsx"
    notes = write_table(_tagged(["a", LONG]), out)
    assert notes == [f"{out}: sheet 'funds', row 3, column '基金简称': 40,000 characters cut to 32,767, Excel's limit "
                     f"for a cell (write .csv or .parquet to keep it whole)"]
    assert len(_cell(out, "funds", 3, 1)) == EXCEL_CELL_MAX


def test_write_sheets_cuts_every_sheet_first_five_then_a_count(tmp_path, no_python_warnings):
    out = tmp_path / "s.xlsx"
    small = pd.DataFrame({"figure": ["funds"], "value": ["2"]})
    many = pd.DataFrame({"fund_code": [f"{i:06d}" for i in range(7)], "evidence": [LONG] * 7})
    header = pd.DataFrame({"x" * 40000: ["1"]})
    written, notes = write_sheets({"summary": small, "changed": many, "wide": header}, out)
    assert written == [out]
    assert notes[0] == (f"{out}: sheet 'changed', row 2, column 'evidence': 40,000 characters cut to 32,767, Excel's "
                        f"limit for a cell (write .csv or .parquet to keep it whole)")
    assert [n.split(", column")[0] for n in notes[:5]] == [f"{out}: sheet 'changed', row {r}" for r in range(2, 7)]
    assert notes[5:] == [f"{out}: 3 more cells cut to 32,767 characters"]  # rows 7, 8 and the header of 'wide'
    assert all(len(_cell(out, "changed", r, 1)) == EXCEL_CELL_MAX for r in range(2, 9))
    assert len(_cell(out, "wide", 1, 0)) == EXCEL_CELL_MAX
    assert _cell(out, "summary", 2, 1) == "2"
    _, header_notes = write_sheets({"wide": header}, tmp_path / "h.xlsx")
    assert header_notes == [f"{tmp_path / 'h.xlsx'}: sheet 'wide', row 1, column 1 (its header): 40,000 characters "
                            f"cut to 32,767, Excel's limit for a cell (write .csv or .parquet to keep it whole)"]
    # folder and Markdown outputs keep the cell whole and warn about nothing
    files, none = write_sheets({"changed": many}, tmp_path / "folder/")
    assert none == [] and pd.read_csv(files[0], dtype=str)["evidence"].str.len().tolist() == [40000] * 7


def test_diff_xlsx_cuts_with_a_warning_on_the_terminal(tmp_path, no_python_warnings):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    write_table(_tagged(["华泰柏瑞沪深300ETF", "华夏芯片ETF"]), old)
    write_table(_tagged(["华泰柏瑞沪深300ETF", "华夏芯片ETF"], secondary=["宽基ETF", "科技成长主题ETF"],
                        evidence=["跟踪指数:沪深300", LONG]), new)
    out = tmp_path / "changes.xlsx"
    r = CliRunner().invoke(cli, ["diff", str(old), str(new), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"warning: {out}: sheet 'changed', row 2, column 'new_evidence': 40,000 characters cut to 32,767" in r.output
    header = [c for c in next(openpyxl.load_workbook(out, read_only=True)["changed"].iter_rows(values_only=True))]
    assert len(_cell(out, "changed", 2, header.index("new_evidence"))) == EXCEL_CELL_MAX


def test_summary_xlsx_cuts_with_a_warning_on_the_terminal(tmp_path, no_python_warnings):
    tagged = tmp_path / "tagged.csv"
    f = _tagged(["华泰柏瑞沪深300ETF" + LONG, "华夏沪深300ETF"])
    f["跟踪指数代码"], f["跟踪指数名称"] = "000300.SH", "沪深300指数"
    write_table(f, tagged)
    out = tmp_path / "summary.xlsx"
    r = CliRunner().invoke(cli, ["summary", str(tagged), "-o", str(out)])
    assert r.exit_code == 0, r.output
    line = [x for x in r.output.splitlines() if "characters cut to 32,767" in x]
    assert len(line) == 1 and line[0].startswith(f"warning: {out}: sheet 'indices', row 2, column "), r.output
    header = list(next(openpyxl.load_workbook(out, read_only=True)["indices"].iter_rows(values_only=True)))
    column = line[0].split("column '")[1].split("'")[0]
    assert len(_cell(out, "indices", 2, header.index(column))) == EXCEL_CELL_MAX


def test_review_export_xlsx_cuts_with_a_warning_on_the_terminal(tmp_path, no_python_warnings):
    tagged = tmp_path / "tagged.csv"
    write_table(_tagged(["华夏芯片ETF", LONG]), tagged)
    out = tmp_path / "review.xlsx"
    r = CliRunner().invoke(cli, ["review", "export", str(tagged), "-o", str(out), "--all"])
    assert r.exit_code == 0, r.output
    assert f"warning: {out}: sheet 'review', row " in r.output and "column 'fund_name': 40,000 characters" in r.output
    names = [row[REVIEW_COLUMNS.index("fund_name")] for row in
             openpyxl.load_workbook(out, read_only=True)["review"].iter_rows(min_row=2, values_only=True)]
    assert sorted(len(n) for n in names) == [len("华夏芯片ETF"), EXCEL_CELL_MAX]


def test_the_migration_queue_writer_returns_its_cuts(tmp_path, no_python_warnings):
    queue = pd.DataFrame([{c: "" for c in REVIEW_COLUMNS}])
    queue["comment"] = LONG
    out = tmp_path / "queue.xlsx"
    notes = write_review(queue, out, TAX.labels)
    assert notes == [f"{out}: sheet 'review', row 2, column 'comment': 40,000 characters cut to 32,767, Excel's limit "
                     f"for a cell (write .csv or .parquet to keep it whole)"]
    assert len(_cell(out, "review", 2, REVIEW_COLUMNS.index("comment"))) == EXCEL_CELL_MAX


# ------------------------------------------------------------------ CSV read back: the neutralising ' comes off
def test_unneutralize_undoes_exactly_what_neutralize_did():
    samples = FORMULA_LIKE + ["-1.5", "+3", "1e-3", "华夏", "", "'", "''=x", "'华夏", "'-1.5", "it's", "'+"]
    for t in samples:
        assert unneutralize(neutralize(t)) == t or t.startswith("'")
    assert [unneutralize(t) for t in ("'-1.5", "''=x", "'华夏", "'")] == ["'-1.5", "''=x", "'华夏", "'"]
    # the documented ambiguous case: a cell that is ' + formula-like text reads as the formula-like text
    assert unneutralize("'=x") == "=x"


@pytest.mark.parametrize("ext", ["csv", "tsv", "xlsx", "parquet"])
def test_read_tagged_round_trips_a_neutralised_file(tmp_path, ext):
    names = FORMULA_LIKE + ["-1.5", "华夏'ETF", "''=x", "'华夏"]
    src = _tagged(names)
    src.insert(2, "=备注", ["@note"] + ["+1"] * (len(names) - 1))  # a formula-like header and numbers stay too
    out = tmp_path / f"tagged.{ext}"
    write_table(src, out)
    if ext in ("csv", "tsv"):
        raw = out.read_text(encoding="utf-8-sig")
        assert "'=HYPERLINK" in raw and "'=备注" in raw  # the file itself is neutralised for Excel
    back = read_tagged(out).frame
    assert back.columns.tolist() == src.columns.tolist()
    assert back.values.tolist() == src.values.tolist()


def test_an_apostrophe_before_formula_text_is_read_as_neutralised_in_csv_only(tmp_path):
    """The rule the README states: in the tool's own CSV a cell ``'=x`` reads back as ``=x`` (the ``'`` a spreadsheet
    would also not count as part of the value); XLSX and Parquet keep it."""
    f = _tagged(["'=x", "'+cmd"])
    for ext, expected in (("csv", ["=x", "+cmd"]), ("xlsx", ["'=x", "'+cmd"]), ("parquet", ["'=x", "'+cmd"])):
        write_table(f, tmp_path / f"t.{ext}")
        assert read_tagged(tmp_path / f"t.{ext}").name.tolist() == expected, ext
    assert read_table(tmp_path / "t.csv").frame["基金简称"].tolist() == ["'=x", "'+cmd"]  # the plain reader: as is


def test_a_users_input_cells_come_out_of_tag_as_they_went_in(tmp_path):
    """``tag`` reads a user's file as it is: a cell typed ``'=x`` is not taken for a neutralised ``=x``."""
    src = tmp_path / "in.csv"
    src.write_text("基金代码,基金简称,备注\n159995,'=x 芯片ETF,'+1\n510300,华泰柏瑞沪深300ETF,=1+1\n", encoding="utf-8")
    for name, flags in (("out.csv", []), ("raw.csv", ["--raw-csv"]), ("out.xlsx", []), ("out.parquet", [])):
        out = tmp_path / name
        r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s", *flags])
        assert r.exit_code == 0, r.output
        got = (pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig") if name.endswith(".csv")
               else read_table(out).frame)
        assert got["基金简称"].tolist()[0] == "'=x 芯片ETF", name
        assert got["备注"].tolist() == ["'+1", "=1+1" if flags or not name.endswith(".csv") else "'=1+1"], name


def test_review_round_trip_through_csv_keeps_the_original_text(tmp_path, labels_copy):
    """tag → CSV → review export CSV → a reviewer's edits → review import: the labeled set and its history hold the
    names and notes without the ``'`` the CSVs carried."""
    existing = read_labels(labels_copy).set_index("fund_code").loc["159150"]
    assert existing["secondary"] == "宽基ETF" and "159999" not in set(read_labels(labels_copy)["fund_code"])
    src = tmp_path / "in.csv"
    pd.DataFrame({"基金代码": ["159999", "159150"], "基金简称": [HYPERLINK, CMD],
                  "跟踪指数名称": ["-", "@深证50"]}).to_csv(src, index=False)
    tagged, review = tmp_path / "tagged.csv", tmp_path / "review.csv"
    assert CliRunner().invoke(cli, ["tag", str(src), "-o", str(tagged), "-s"]).exit_code == 0
    r = CliRunner().invoke(cli, ["review", "export", str(tagged), "-o", str(review), "--all"])
    assert r.exit_code == 0, r.output

    # the reviewer's edits, saved as a spreadsheet saves them: the cells export neutralised keep their '
    with open(review, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_code = {row["fund_code"]: row for row in rows}
    assert by_code["159999"]["fund_name"] == "'" + HYPERLINK and by_code["159999"]["index_name"] == "'-"
    assert by_code["159150"]["fund_name"] == "'" + CMD
    for code, decision, comment in (("159999", "科技成长主题ETF", "@SUM(A1)"), ("159150", "策略主题ETF", "=SUM(A1)")):
        by_code[code].update(decision=decision, reviewer="张三", comment=neutralize(comment))
    with open(review, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert read_output(review).frame.set_index("fund_code").loc["159150", "comment"] == "=SUM(A1)"

    r = CliRunner().invoke(cli, ["review", "import", str(review), "--labeled", str(labels_copy)])
    assert r.exit_code == 0, r.output
    labels = read_labels(labels_copy).set_index("fund_code")
    assert labels.loc["159999", "fund_name"] == HYPERLINK and labels.loc["159999", "index_name"] == "-"
    assert labels.loc["159999", "note"] == "@SUM(A1)" and labels.loc["159999", "secondary"] == "科技成长主题ETF"
    assert labels.loc["159150", "note"] == "=SUM(A1)" and labels.loc["159150", "secondary"] == "策略主题ETF"
    history = pd.read_csv(labels_copy.with_name("history.csv"), dtype=str, keep_default_na=False)
    last = history[history["fund_code"] == "159150"].iloc[-1]
    assert last["reason"] == "=SUM(A1)" and last["old_secondary"] == "宽基ETF" and last["new_secondary"] == "策略主题ETF"


def test_diff_of_neutralised_csvs_sees_no_change_in_formula_like_cells(tmp_path):
    """Funds without a code are matched by name: a name that is formula-like text is the same fund in a CSV (with
    its ') and in an XLSX (without); the tables show the name as it was."""
    names = [HYPERLINK, CMD, "-", "华泰柏瑞沪深300ETF"]
    codes = ["", "", "", "510300"]
    old, new, xlsx = tmp_path / "old.csv", tmp_path / "new.csv", tmp_path / "new.xlsx"
    write_table(_tagged(names, codes=codes), old)
    write_table(_tagged(names, codes=codes), xlsx)
    write_table(_tagged(names, codes=codes, secondary=["宽基ETF", "策略主题ETF", "宽基ETF", "宽基ETF"]), new)
    assert "'=HYPERLINK(" in old.read_text(encoding="utf-8-sig")  # neutralised in the file
    r = CliRunner().invoke(cli, ["diff", str(old), str(xlsx)])
    assert r.exit_code == 0, r.output
    assert "funds: 4 → 4 (4 in both, 0 added, 0 gone)" in r.output and "class changed: 0" in r.output
    out = tmp_path / "changes.xlsx"
    r = CliRunner().invoke(cli, ["diff", str(old), str(new), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "funds: 4 → 4 (4 in both, 0 added, 0 gone)" in r.output and "class changed: 1" in r.output
    changed = pd.read_excel(out, sheet_name="changed", dtype=str)
    assert changed["fund_name"].tolist() == [CMD]
    assert f"{CMD}: 宽基ETF → 策略主题ETF" in r.output
