"""A review sheet as reviewers hand it back after editing it in Excel or WPS (audit round 17): what they did to it
that the sheet still shows must not lose, change or silently drop a decision, a reviewer's name or a note."""
import openpyxl
import pandas as pd
import pytest

from classifier.errors import InputError
from classifier.labeled import SHIPPED_LABELS, read_history, read_labels
from classifier.review import REVIEW_COLUMNS, import_review
from classifier.io import write_table
from classifier.taxonomy import load_taxonomy
from conftest import write_labeled_subset


@pytest.fixture
def labels(tmp_path):
    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, p, n_groups=20)
    return p


def _sheet(path, rows):
    """A review sheet as `review export` writes it: rows of (fund_code, the tool's answer, decision, reviewer, comment)."""
    tax = load_taxonomy()
    df = pd.DataFrame([{c: "" for c in REVIEW_COLUMNS} for _ in rows])
    for i, (code, shown, decision, reviewer, comment) in enumerate(rows):
        df.loc[i, ["fund_code", "fund_name", "secondary", "confidence", "primary", "decision", "reviewer", "comment",
                   "taxonomy_version", "group"]] = [code, f"示例{code}ETF", shown, "0.6", tax.primary_of(shown),
                                                    decision, reviewer, comment, tax.version, code]
    write_table(df, path)
    return path


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
