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
    # issue 13
    "mixed_utf8_gbk.csv": ("ok", 3),
    "big5.csv": ("ok", 2),
    "gb18030.csv": ("ok", 2),
    "utf8_bom.csv": ("ok", 2),
    "utf16_no_bom.csv": ("ok", 2),
    "undecodable_lines.csv": ("error", "undecodable_lines.csv: lines 4, 6 are neither UTF-8 nor GBK/GB18030 or Big5 "
                                       "text; re-export the file as UTF-8"),
    "semicolon_names.csv": ("ok", 40),
    "seven_digit_code.csv": ("ok", 2),
    "title_lines.csv": ("ok", 2),
    "previous_columns.csv": ("ok", 1),
    "hidden_first_sheet.xlsx": ("ok", 2),
    "two_sheets.xlsx": ("error", "two_sheets.xlsx: 2 visible sheets hold data ('ETF', 'LOF'); choose one with "
                                 "--sheet NAME"),
    "code_index.parquet": ("ok", 2),
}


@pytest.fixture(scope="module", autouse=True)
def model_loaded_once():
    """Every `fundclass tag` run of this module loads the same model, taxonomy and labeled set (none of them is
    changed here): ``Tagger.load`` runs once for each set of arguments and its tagger serves the module's later runs
    with those arguments (~0.15 s each, ~30 runs). A tagger is not changed by tagging (conftest.model_tagger is shared
    the same way); what these tests check, how each input file is read and ends, is still each run's own."""
    from classifier.pipeline import Tagger

    real = Tagger.load.__func__
    loaded = {}

    def load(cls, *args, **kwargs):
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in loaded:
            loaded[key] = real(cls, *args, **kwargs)
        return loaded[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Tagger, "load", classmethod(load))
        yield


def test_the_corpus_is_complete():
    on_disk = {p.name for p in CORPUS.iterdir() if p.is_file() and p.suffix != ".py"}  # not __pycache__/
    generated = {"huge_name.csv", "missing.csv"}
    assert on_disk | generated == set(EXPECTED), "every corpus file has an expectation and vice versa"


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """``tagged(name)``: `fundclass tag <corpus file> -o out.csv -s`, run once per corpus file for the whole module
    (test_bad_input and the tests of what each input ends in ran the same command on the same file, up to three
    times); returns the run's result and its output path, in a folder of its own. Tests read it, never change it."""
    runs = {}

    def run(name):
        if name not in runs:
            folder = tmp_path_factory.mktemp("tagged")
            src = CORPUS / name
            if name == "huge_name.csv":
                src = folder / name
                make_corpus.huge_name(src)
            elif name == "missing.csv":
                src = folder / name
            out = folder / "out.csv"
            runs[name] = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"]), out
        return runs[name]

    return run


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input(tagged, name):
    kind, what = EXPECTED[name]
    r, out = tagged(name)
    assert "Traceback" not in r.output
    if kind == "error":
        assert r.exit_code == 2, r.output
        assert what in r.output
        assert len(r.output.strip().splitlines()) == 1, "one line"
        assert not out.exists() and not list(out.parent.glob(".out.csv.*")), "no output, no temp file left"
        return
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(got) == what
    assert list(got.columns[-len(OUTPUT_COLUMNS):]) == OUTPUT_COLUMNS


def test_specific_outcomes(tagged):
    def run(name):
        return pd.read_csv(tagged(name)[1], dtype=str, keep_default_na=False)

    trad = run("traditional.csv")
    assert trad["secondary"].tolist() == ["科技成长主题ETF", "(申万)行业ETF"]
    assert trad["基金簡稱"].tolist() == ["華夏國證半導體晶片ETF", "易方達滬深300醫藥衛生ETF"]  # original text kept
    full = run("fullwidth.csv")
    assert full["secondary"].tolist() == ["科技成长主题ETF", "宽基ETF"]
    dup = run("duplicate_codes.csv")
    assert dup["evidence"].str.contains("基金代码在本批次中重复").tolist() == [True, False, True]
    only = run("only_code.csv")
    assert only["secondary"].tolist() == ["", ""] and only["needs_review"].tolist() == ["True", "True"]
    f = run("formulas.csv")  # neutralised for Excel (see test_formula_injection)
    assert f["基金简称"].tolist()[1] == "'@SUM(A1)" and f["跟踪指数名称"].tolist()[0] == "'=1+1"
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


# 30 random frames of 1-25 rows (~230 rows in all; 60 frames before, a search half as wide): a tagging call on a
# small frame costs ~75 ms whatever its rows, and the property (no crash; every row back once, in order, with its
# columns) is checked on each
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=25))
def test_random_unicode_rows_never_crash_and_keep_every_row(model_tagger, rows):
    df = pd.DataFrame(rows, columns=["基金代码", "基金简称", "跟踪指数"])
    out = model_tagger.tag(df)
    assert len(out) == len(df)
    assert out[list(df.columns)].equals(df)
    assert out["confidence"].between(0, 1).all()


# ---------------------------------------------------------------- issue 13: what each bad input now ends in
def _tag(tmp_path, name, *extra, out="out.csv"):
    target = tmp_path / out
    r = CliRunner().invoke(cli, ["tag", str(CORPUS / name), "-o", str(target), "-s", *extra])
    return r, target


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_mixed_utf8_and_gbk_lines_are_each_decoded_right(tagged):
    # before: decoded whole as GB18030 (the UTF-8 lines too), so the header lost 基金名称 and the run failed
    r, out = tagged("mixed_utf8_gbk.csv")
    assert r.exit_code == 0, r.output
    assert "mixed encodings: line 4 is GBK/GB18030, the others UTF-8" in r.output
    got = _read(out)
    assert list(got.columns[:3]) == ["基金代码", "基金名称", "跟踪指数名称"]
    assert got["基金名称"].tolist() == ["芯片ETF", "华泰柏瑞沪深300ETF", "华宝中证医疗ETF"]
    assert got["secondary"].tolist() == ["科技成长主题ETF", "宽基ETF", "(申万)行业ETF"]


@pytest.mark.parametrize("name,column,names", [
    ("big5.csv", "基金簡稱", ["華夏國證半導體芯片ETF", "易方達滬深300醫藥衛生ETF"]),
    ("gb18030.csv", "基金简称", ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF㐀"]),
    ("utf8_bom.csv", "基金简称", ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF"]),
    ("utf16.csv", "基金简称", ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF"]),
    ("utf16_no_bom.csv", "基金简称", ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF"]),
    ("gbk.csv", "基金简称", ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF"]),
])
def test_each_encoding_reads_right(tagged, name, column, names):
    r, out = tagged(name)
    assert r.exit_code == 0 and "warning" not in r.output, r.output
    got = _read(out)
    assert got[column].tolist() == names
    assert got["secondary"].iloc[0] == "科技成长主题ETF"


def test_big5_is_classified_like_its_simplified_text(tagged):
    got = _read(tagged("big5.csv")[1])
    assert got["secondary"].tolist() == ["科技成长主题ETF", "(申万)行业ETF"]


def test_a_hidden_first_sheet_is_not_read(tagged):
    r, out = tagged("hidden_first_sheet.xlsx")
    assert r.exit_code == 0, r.output
    assert "read sheet 'data'; hidden sheet(s) 'junk' skipped" in r.output
    assert _read(out)["基金简称"].tolist() == ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF"]


def test_two_visible_sheets_need_a_choice(tmp_path):
    r, out = _tag(tmp_path, "two_sheets.xlsx", "--sheet", "LOF")
    assert r.exit_code == 0, r.output
    assert _read(out)["基金代码"].tolist() == ["510300"]
    r, out = _tag(tmp_path, "two_sheets.xlsx", "--sheet", "QDII", out="none.csv")
    assert r.exit_code == 2 and "no worksheet 'QDII'; its sheets are 'ETF', 'LOF'" in r.output and not out.exists()
    r, out = _tag(tmp_path, "gbk.csv", "--sheet", "ETF", out="none.csv")
    assert r.exit_code == 2 and "--sheet applies to .xlsx workbooks" in r.output


def test_cells_over_excels_limit_are_cut_with_a_warning_naming_row_and_column(tmp_path):
    import warnings

    src = tmp_path / "huge_name.csv"
    make_corpus.huge_name(src)
    out = tmp_path / "out.xlsx"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"])
    assert r.exit_code == 0, r.output
    assert "row 2, column '基金简称': 1,000,000 characters cut to 32,767, Excel's limit for a cell" in r.output
    assert not [w for w in caught if "truncated" in str(w.message) or "32767" in str(w.message)]
    assert "UserWarning" not in r.output
    import openpyxl

    ws = openpyxl.load_workbook(out, read_only=True).active
    assert len(next(ws.iter_rows(min_row=2, max_row=2, values_only=True))[1]) == 32767


def test_parquet_keeps_its_index_and_its_types(tmp_path, tagged):
    r, out = _tag(tmp_path, "code_index.parquet", out="out.parquet")
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(out)
    assert list(got.columns[:7]) == ["基金代码", "基金简称", "规模", "份额", "成立日期", "上市", "标签"]
    assert got["基金代码"].tolist() == ["159995", "510300"]
    assert got["规模"].dtype == "float64" and got["份额"].dtype == "int64" and got["上市"].dtype == bool
    assert str(got["成立日期"].dtype).startswith("datetime64")
    assert [list(v) for v in got["标签"]] == [["芯片", "半导体"], ["宽基"]]
    assert got["secondary"].tolist() == ["科技成长主题ETF", "宽基ETF"]
    assert list(got.columns[-len(OUTPUT_COLUMNS):]) == OUTPUT_COLUMNS
    as_text = _read(tagged("code_index.parquet")[1])  # CSV output: the code comes out too
    assert as_text["基金代码"].tolist() == ["159995", "510300"]


def test_a_one_column_file_whose_names_hold_semicolons_stays_one_column(tagged):
    got = _read(tagged("semicolon_names.csv")[1])
    assert list(got.columns[:-len(OUTPUT_COLUMNS)]) == ["基金简称"]
    assert got["基金简称"].iloc[0] == "示例1;中证100;增强;ETF"
    real = _read(tagged("semicolon.csv")[1])  # a real ';' file still splits
    assert list(real.columns[:3]) == ["基金代码", "基金简称", "跟踪指数名称"]


def test_seven_digits_are_not_a_fund_code(tagged):
    got = _read(tagged("seven_digit_code.csv")[1])
    assert not got["evidence"].str.contains("基金代码在本批次中重复").any()


def test_title_lines_above_a_csv_header_are_skipped_with_a_warning(tagged):
    r, out = tagged("title_lines.csv")
    assert "title_lines.csv: header found on row 3 (rows above it skipped)" in r.output
    assert _read(out)["基金代码"].tolist() == ["159995", "510300"]


def test_input_with_secondary_and_secondary_previous_keeps_both(tagged):
    r, out = tagged("previous_columns.csv")
    assert "input column 'secondary' kept as 'secondary_previous_2' ('secondary_previous' was taken)" in r.output
    got = _read(out)
    assert list(got.columns[3:6]) == ["secondary_previous_2", "secondary_previous", "primary"]
    assert got[["secondary_previous_2", "secondary_previous"]].iloc[0].tolist() == ["宽基ETF", "制造业主题ETF"]
    assert not got.columns.duplicated().any()


def test_formula_injection(tmp_path):
    """CSV for Excel: a cell Excel would run gets a leading '; numbers stay; --raw-csv writes cells as they are;
    XLSX cells are text, never formulas."""
    src = tmp_path / "in.csv"
    src.write_text('基金代码,基金简称,备注,规模\n159995,"=HYPERLINK(""http://x"",""芯片"")",'
                   "\"+cmd|' /C calc'!A0\",-1.5\n510300,华泰柏瑞沪深300ETF,@SUM(A1),+2\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"]).exit_code == 0
    got = _read(out)
    assert got["基金简称"].iloc[0] == "'=HYPERLINK(\"http://x\",\"芯片\")"
    assert got["备注"].tolist() == ["'+cmd|' /C calc'!A0", "'@SUM(A1)"]
    assert got["规模"].tolist() == ["-1.5", "+2"]
    raw = tmp_path / "raw.csv"
    assert CliRunner().invoke(cli, ["tag", str(src), "-o", str(raw), "-s", "--raw-csv"]).exit_code == 0
    assert _read(raw)["备注"].tolist() == ["+cmd|' /C calc'!A0", "@SUM(A1)"]
    # review export: the same, and --raw-csv there too
    tagged = tmp_path / "tagged.xlsx"
    assert CliRunner().invoke(cli, ["tag", str(src), "-o", str(tagged), "-s"]).exit_code == 0
    for flag, expected in (([], "'=HYPERLINK"), (["--raw-csv"], "=HYPERLINK")):
        review = tmp_path / f"review{len(flag)}.csv"
        r = CliRunner().invoke(cli, ["review", "export", str(tagged), "-o", str(review), "--all", *flag])
        assert r.exit_code == 0, r.output
        assert [n for n in _read(review)["fund_name"] if "HYPERLINK" in n][0].startswith(expected)


def test_an_output_column_name_the_input_repeats_is_kept_once_per_column():
    """An input with two columns named `confidence` (last month's and a colleague's) came out with two columns named
    `confidence_previous` (audit round 8): both are kept, each under its own name, in order."""
    from classifier.pipeline import Tagger
    from classifier.taxonomy import load_taxonomy

    frame = pd.DataFrame([["华夏中证机器人ETF", "0.9", "0.4"]], columns=["基金简称", "confidence", "confidence"])
    out = Tagger(load_taxonomy()).tag(frame)
    assert list(out.columns[:3]) == ["基金简称", "confidence_previous", "confidence_previous_2"]
    assert out.iloc[0, 1:3].tolist() == ["0.9", "0.4"] and not out.columns.duplicated().any()


def test_a_row_with_nothing_to_read_reports_no_asset_class_and_is_not_counted_as_an_active_fund():
    """A blank row, or one with only a code, came out as an actively managed equity fund (股票, 主动管理: the default
    asset class of a fund no word identifies), and a blank row was counted in the run's 'actively managed funds with no
    holdings' line (audit round 8). Nothing was read, so nothing is reported: blank asset_class and management_style;
    a row with a fund type still reports the type's asset class; a blank row is not counted (holdings, found by code,
    may still settle a row with a code)."""
    from classifier.pipeline import TagSummary, Tagger
    from classifier.taxonomy import load_taxonomy

    frame = pd.DataFrame({"基金代码": ["", "990001", "990002", "990003"], "基金简称": ["", "", "", "示例成长混合"],
                          "投资类型": ["", "", "股票型", ""]})
    summary = TagSummary()
    out = Tagger(load_taxonomy()).tag(frame, summary=summary)
    assert out["asset_class"].tolist() == ["", "", "股票", "股票"]
    assert out["management_style"].tolist() == ["", "", "主动管理", "主动管理"]
    assert out["needs_review"].tolist() == [True] * 4
    assert summary.review_without_holdings == 3


def test_tag_and_review_export_count_the_same_rows_as_active_funds_without_holdings():
    """Audit round 15: a list exported from Wind ends with '数据来源：Wind' in its code column. `fundclass tag` counted
    that row among 'actively managed funds with no holdings in this run … `review export` lists them after the others'
    (a code cell that is not blank), and a row with nothing but a fund code too; `review export` then said 'the last
    0 of them' (it read management_style, blank on both). Now the footer is not counted (no fund code to find holdings
    by), and the export puts a code-only row last as the tag counts it: the two numbers agree."""
    from classifier.pipeline import TagSummary, Tagger
    from classifier.review import review_frame
    from classifier.taxonomy import load_taxonomy

    frame = pd.DataFrame({"基金代码": ["990001", "数据来源：Wind", "990003", ""],
                          "基金简称": ["", "", "示例成长混合", ""]})
    summary = TagSummary()
    out = Tagger(load_taxonomy()).tag(frame, summary=summary)
    assert out["needs_review"].tolist() == [True] * 4
    sheet = review_frame(out, labels_path=None)
    assert summary.review_without_holdings == sheet.attrs["without_holdings"] == 2
    assert sorted(sheet["fund_code"].tolist()[-2:]) == ["990001", "990003"], sheet["fund_code"].tolist()
