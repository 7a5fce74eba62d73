"""The bad-input corpus: every file ends in a correct output or a clear error (file, row or column named, exit code
2, no traceback, no output file). And a property test: random Unicode rows never crash the tagger and come back
once each, in order, with their columns."""
import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.cli import cli
from classifier.pipeline import OUTPUT_COLUMNS

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
_spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
make_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_corpus)

# file → ("ok", rows expected) or ("error", text the message must contain)
EXPECTED = {
    "empty.csv": ("error", "empty.csv: empty file"),
    "blank_lines.csv": ("error", "blank_lines.csv: empty file"),
    "header_only.csv": ("ok", 0),
    "no_name_column.csv": ("error", "no_name_column.csv: no fund-name column. Columns are: '代码', '规模'"),
    "duplicate_columns.csv": ("ok", 1),
    "utf16.csv": ("ok", 2),
    "gbk.csv": ("ok", 2),
    "mixed_encodings.csv": ("ok", 2),
    "binary_junk.csv": ("error", "binary_junk.csv: binary file"),
    "not_really.xlsx": ("error", "not_really.xlsx: not a readable XLSX workbook"),
    "huge_name.csv": ("ok", 1),
    "nan_empty_cells.csv": ("ok", 4),
    "duplicate_codes.csv": ("ok", 3),
    "formulas.csv": ("ok", 2),
    "only_code.csv": ("ok", 2),
    "traditional.csv": ("ok", 2),
    "fullwidth.csv": ("ok", 2),
    "ragged_rows.csv": ("ok", 2),
    "semicolon.csv": ("ok", 2),
    "wrong_type.pdf": ("error", "wrong_type.pdf: unsupported file type '.pdf'"),
    "merged_header.xlsx": ("ok", 2),
    "formulas.xlsx": ("ok", 2),
    "xlsx_no_name.xlsx": ("error", "xlsx_no_name.xlsx: no fund-name column"),
    "missing.csv": ("error", "missing.csv: no such file"),
}


def test_the_corpus_is_complete():
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix != ".py"}
    generated = {"huge_name.csv", "missing.csv"}
    assert on_disk | generated == set(EXPECTED), "every corpus file has an expectation and vice versa"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input(tmp_path, name):
    kind, what = EXPECTED[name]
    src = CORPUS / name
    if name == "huge_name.csv":
        src = tmp_path / name
        make_corpus.huge_name(src)
    elif name == "missing.csv":
        src = tmp_path / name
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"])
    assert "Traceback" not in r.output
    if kind == "error":
        assert r.exit_code == 2, r.output
        assert what in r.output
        assert len(r.output.strip().splitlines()) == 1, "one line"
        assert not out.exists() and not list(tmp_path.glob(".out.csv.*")), "no output, no temp file left"
        return
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(got) == what
    assert list(got.columns[-len(OUTPUT_COLUMNS):]) == OUTPUT_COLUMNS


def test_specific_outcomes(tmp_path):
    def run(name):
        out = tmp_path / f"{name}.csv"
        CliRunner().invoke(cli, ["tag", str(CORPUS / name), "-o", str(out), "-s"])
        return pd.read_csv(out, dtype=str, keep_default_na=False)

    trad = run("traditional.csv")
    assert trad["secondary"].tolist() == ["科技成长主题ETF", "(申万)行业ETF"]
    assert trad["基金簡稱"].tolist() == ["華夏國證半導體晶片ETF", "易方達滬深300醫藥衛生ETF"]  # original text kept
    full = run("fullwidth.csv")
    assert full["secondary"].tolist() == ["科技成长主题ETF", "宽基ETF"]
    dup = run("duplicate_codes.csv")
    assert dup["evidence"].str.contains("基金代码在本批次中重复").tolist() == [True, False, True]
    only = run("only_code.csv")
    assert only["secondary"].tolist() == ["", ""] and only["needs_review"].tolist() == ["True", "True"]
    f = run("formulas.csv")
    assert f["基金简称"].tolist()[1] == "@SUM(A1)" and f["跟踪指数名称"].tolist()[0] == "=1+1"
    twice = run("duplicate_columns.csv")
    assert list(twice.columns[:3]) == ["基金代码", "基金简称", "基金简称.1"]  # pandas re-reads the duplicate name


def test_formulas_are_not_written_as_formulas(tmp_path):
    import openpyxl

    out = tmp_path / "f.xlsx"
    r = CliRunner().invoke(cli, ["tag", str(CORPUS / "formulas.csv"), "-o", str(out), "-s"])
    assert r.exit_code == 0
    ws = openpyxl.load_workbook(out).active
    assert ws["C2"].value == "=1+1" and ws["C2"].data_type == "s"


cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=25))
def test_random_unicode_rows_never_crash_and_keep_every_row(model_tagger, rows):
    df = pd.DataFrame(rows, columns=["基金代码", "基金简称", "跟踪指数"])
    out = model_tagger.tag(df)
    assert len(out) == len(df)
    assert out[list(df.columns)].equals(df)
    assert out["confidence"].between(0, 1).all()
