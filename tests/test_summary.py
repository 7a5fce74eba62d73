"""`fundclass summary`: the report's tables (appendix, 表3 counts) and chart (图3) from a tagged file (issue 11)."""
import base64
import io
import re
import warnings

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import InputError
from classifier.io import write_table
from classifier.summary import (FONT_FAMILY, FONT_PATH, INDEX_COLUMNS, TOTAL, UNCLASSIFIED, chart_png, cjk_font,
                                missing_glyphs, summarize, summary_file, tracked_indices)
from classifier.tagged import read_tagged
from classifier.taxonomy import load_taxonomy


TAX = load_taxonomy()
EFUND = load_taxonomy("taxonomy/efund2025.toml")

# code, name, index code, index name, size (亿元), secondary, confidence, needs_review, style, linked_fund
ROWS = [
    ("159995", "华夏国证半导体芯片ETF", "980017.CNI", "国证芯片指数", "286.01", "科技成长主题ETF", 0.99, False, "被动指数", ""),
    ("008887", "华夏国证半导体芯片ETF联接A", "", "", "", "科技成长主题ETF", 0.97, False, "被动指数", "159995"),
    ("512760", "国泰CES半导体芯片ETF", "980017.CNI", "国证芯片指数", "300.5", "(申万)行业ETF", 0.70, True, "被动指数", ""),
    ("510300", "华泰柏瑞沪深300ETF", "000300.SH", "沪深300指数", "3,000", "宽基ETF", 0.995, False, "被动指数", ""),
    ("000051", "华夏沪深300ETF联接A", "", "沪深300指数", "", "宽基ETF", 0.99, False, "被动指数", ""),
    ("511880", "银华日利", "", "", "1000", "不适用", 1.0, False, "主动管理", ""),
    ("000001", "华夏成长混合", "", "", "", "科技成长主题ETF", 0.6, True, "主动管理", ""),
    ("999999", "???", "", "", "", "", 0.0, True, "主动管理", ""),
]


def tagged_frame(rows=ROWS, size=True, tax=TAX) -> pd.DataFrame:
    f = pd.DataFrame(rows, columns=["基金代码", "基金简称", "跟踪指数代码", "跟踪指数名称", "基金规模", "secondary",
                                    "confidence", "needs_review", "management_style", "linked_fund"])
    f.insert(5, "primary", [tax.primary_of(s) if s else "" for s in f["secondary"]])
    f["alternatives"] = ""
    f["evidence"] = "test"
    f["asset_class"] = "股票"
    f["taxonomy_version"] = tax.version
    f["model_version"] = "m1"
    return f if size else f.drop(columns="基金规模")


@pytest.fixture
def tagged_csv(tmp_path):
    p = tmp_path / "tagged.csv"
    write_table(tagged_frame(), p)
    return p


@pytest.fixture(scope="module")
def summary_xlsx(tmp_path_factory):
    """`fundclass summary` of :func:`tagged_frame` to an XLSX workbook, run once for the tests that read what it wrote
    or said (the workbook, the PNG and the HTML chart beside it, the terminal's lines: test_cli_summary ran the same
    command on the same file); returns the run's result and the workbook's path."""
    folder = tmp_path_factory.mktemp("summary")
    tagged = folder / "tagged.csv"
    write_table(tagged_frame(), tagged)
    out = folder / "summary.xlsx"
    r = CliRunner().invoke(cli, ["summary", str(tagged), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return r, out


def summary_of(frame, tmp_path, name="t.csv", tax=TAX):
    p = tmp_path / name
    write_table(frame, p)
    return summarize(read_tagged(p), tax)


# ------------------------------------------------------------------------------------------------ indices sheet


def test_indices_sheet_has_one_row_per_tracked_index_with_every_column(tmp_path):
    s = summary_of(tagged_frame(), tmp_path)
    assert list(s.indices.columns) == INDEX_COLUMNS
    idx = s.indices.set_index("index_code")
    assert len(s.indices) == 2 and set(idx.index) == {"980017.CNI", "000300.SH"}
    chip = idx.loc["980017.CNI"]
    # two ETFs with the code, a feeder joining through linked_fund; the largest by size represents the index
    assert chip["n_funds"] == 3 and chip["fund_codes"] == "159995;008887;512760"
    assert (chip["representative_code"], chip["representative_by"], chip["size"]) == ("512760", "size", 300.5)
    assert chip["index_name"] == "国证芯片指数" and chip["index_from"] == "index_code"
    # the class most funds carry; the lowest confidence and the review count over all its funds
    assert (chip["primary"], chip["secondary"]) == ("产业趋势与升级", "科技成长主题ETF")
    assert chip["other_classes"] == "(申万)行业ETF:1"
    assert chip["min_confidence"] == pytest.approx(0.70) and chip["n_review"] == 1
    hs300 = idx.loc["000300.SH"]
    # the feeder names only the index: the name rows with a code carry takes the code
    assert hs300["fund_codes"] == "510300;000051" and hs300["size"] == 3000.0
    assert hs300["other_classes"] == "" and hs300["n_review"] == 0
    # numbered as the report's appendix: overall and within the class, classes in taxonomy order
    assert s.indices["no"].tolist() == [1, 2] and s.indices["class_no"].tolist() == [1, 1]
    assert s.indices["secondary"].tolist() == ["科技成长主题ETF", "宽基ETF"]


def test_representative_is_the_first_etf_without_a_size_column_else_the_first_fund(tmp_path):
    rows = [("008887", "华夏国证半导体芯片ETF联接A", "980017.CNI", "", "", "科技成长主题ETF", 0.9, False, "被动指数", ""),
            ("159995", "华夏国证半导体芯片ETF", "980017.CNI", "", "", "科技成长主题ETF", 0.9, False, "被动指数", ""),
            ("161017", "富国中证500指数增强(LOF)A", "000905.SH", "", "", "宽基ETF", 0.9, False, "指数增强", ""),
            ("161018", "富国中证500指数增强(LOF)C", "000905.SH", "", "", "宽基ETF", 0.9, False, "指数增强", "")]
    s = summary_of(tagged_frame(rows, size=False), tmp_path)
    assert "size" not in s.indices.columns and not s.has_size
    rep = s.indices.set_index("index_code")[["representative_code", "representative_by"]]
    assert rep.loc["980017.CNI"].tolist() == ["159995", "first ETF"]
    assert rep.loc["000905.SH"].tolist() == ["161017", "first fund"]


def test_without_index_columns_an_index_fund_s_index_is_read_from_its_name(tmp_path):
    rows = [("510300", "华泰柏瑞沪深300ETF", "", "", "", "宽基ETF", 0.99, False, "被动指数", ""),
            ("460300", "华泰柏瑞沪深300ETF联接A", "", "", "", "宽基ETF", 0.99, False, "被动指数", "510300"),
            ("100038", "富国沪深300指数增强A", "", "", "", "宽基ETF", 0.98, False, "指数增强", ""),
            ("007339", "人保沪深300指数量化A", "", "", "", "宽基ETF", 0.98, False, "指数增强", ""),
            ("159995", "华夏国证半导体芯片ETF", "", "", "", "科技成长主题ETF", 0.99, False, "被动指数", ""),
            ("000001", "华夏成长混合", "", "", "", "科技成长主题ETF", 0.6, True, "主动管理", "")]
    frame = tagged_frame(rows, size=False).drop(columns=["跟踪指数代码", "跟踪指数名称"])
    s = summary_of(frame, tmp_path)
    idx = s.indices.set_index("index_name")
    assert set(idx.index) == {"沪深300", "国证半导体芯片"}
    assert idx.loc["沪深300", "fund_codes"] == "510300;460300;100038;007339"
    assert idx.loc["沪深300", "index_from"] == "fund_name" and idx.loc["沪深300", "index_code"] == ""
    assert s.n_without_index == 1  # the actively managed fund is counted apart
    keys = tracked_indices(read_tagged(tmp_path / "t.csv"))
    assert keys["index_from"].tolist()[:2] == ["fund_name", "linked_fund"]


def test_one_index_under_two_names_is_one_entry(tmp_path):
    """The fund list tagged and summarized with the ETF list's index codes counted 上证综合指数 (000001.SH, its ETFs)
    and 上证 (富国上证指数ETF's name) as two indices, and 上证科创板50成份指数 (000688.SH) and 科创50 too; without an
    index list, 创业板综合 (创业板综指ETF) and 创业板综指 (景顺长城创业板综指增强A). An index is one entry under
    whichever of its names (classifier/reference/index_synonyms.csv, the abbreviation of 综合) a fund gives."""
    rows = [("510210", "富国上证综合ETF", "000001.SH", "上证综合指数", "", "宽基ETF", 0.99, False, "被动指数", ""),
            ("100053", "富国上证指数ETF联接A", "", "", "", "宽基ETF", 0.99, False, "被动指数", ""),
            ("588000", "华夏上证科创板50成份ETF", "000688.SH", "上证科创板50成份指数", "", "宽基ETF", 0.99, False,
             "被动指数", ""),
            ("011612", "华夏科创50ETF联接A", "", "", "", "宽基ETF", 0.99, False, "被动指数", ""),
            ("159563", "华夏创业板综指ETF", "", "", "", "宽基ETF", 0.99, False, "被动指数", ""),
            ("008072", "景顺长城创业板综指增强A", "", "", "", "宽基ETF", 0.98, False, "指数增强", "")]
    s = summary_of(tagged_frame(rows, size=False), tmp_path)
    assert len(s.indices) == 3, s.indices[["index_code", "index_name", "fund_codes"]]
    funds = dict(zip(s.indices["fund_codes"], s.indices["index_code"]))
    assert funds == {"510210;100053": "000001.SH", "588000;011612": "000688.SH", "159563;008072": ""}, funds
    assert s.lines()[0].endswith("6 track one of 3 indices; 0 have no tracked index (counted apart)"), s.lines()[0]


def test_an_index_list_fills_index_codes_by_fund_code(tmp_path):
    rows = [("510300", "华泰柏瑞沪深300ETF", "", "", "", "宽基ETF", 0.99, False, "被动指数", ""),
            ("159919", "嘉实沪深300ETF", "", "", "", "宽基ETF", 0.99, False, "被动指数", "")]
    p = tmp_path / "t.csv"
    write_table(tagged_frame(rows, size=False).drop(columns=["跟踪指数代码", "跟踪指数名称"]), p)
    lst = tmp_path / "etfs.csv"
    lst.write_text("ts_code,index_code,index_name\n510300.SH,000300.SH,沪深300\n159919.SZ,399300.SZ,沪深300\n",
                   encoding="utf-8")
    s = summary_file(p, tmp_path / "s.xlsx", index_list=lst)
    assert sorted(s.indices["index_code"]) == ["000300.SH", "399300.SZ"]
    assert set(s.indices["index_from"]) == {"index_code"}
    bad = tmp_path / "bad.csv"
    bad.write_text("ts_code,name\n510300.SH,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.csv: --indices needs a fund-code column"):
        summary_file(p, tmp_path / "s2.xlsx", index_list=bad)


# ------------------------------------------------------------------------------------------------ classes sheet


def test_classes_sheet_counts_indices_and_funds_beside_table_3(tmp_path):
    s = summary_of(tagged_frame(), tmp_path)
    c = s.classes.set_index("secondary")
    assert list(s.classes.columns) == ["primary", "secondary", "indices", "report_count", "difference", "share",
                                       "report_share", "index_funds", "funds_without_index", "funds"]
    assert list(c.index[:14]) == TAX.secondaries  # taxonomy order, then the total, 不适用 and unclassified
    tech = c.loc["科技成长主题ETF"]
    assert (tech["indices"], tech["report_count"], tech["difference"]) == (1, 87, 1 - 87)
    # funds by their own class: two chip funds on an index, one active fund without one (counted apart)
    assert (tech["index_funds"], tech["funds_without_index"], tech["funds"]) == (2, 1, 3)
    assert c.loc["(申万)行业ETF", "index_funds"] == 1 and c.loc["(申万)行业ETF", "indices"] == 0
    assert c.loc["宽基ETF", "share"] == pytest.approx(0.5)
    assert c.loc["宽基ETF", "report_share"] == pytest.approx(round(56 / 633, 4))
    total = s.classes[s.classes["primary"] == TOTAL].iloc[0]
    assert (total["indices"], total["report_count"], total["difference"]) == (2, 633, 2 - 633)
    assert c.loc["不适用", "funds_without_index"] == 1 and pd.isna(c.loc["不适用", "report_count"])
    assert c.loc[UNCLASSIFIED, "funds"] == 1
    assert s.classes["funds"].sum() - total["funds"] == len(ROWS)


def test_primaries_sheet_and_a_taxonomy_without_report_counts(tmp_path):
    s = summary_of(tagged_frame(), tmp_path)
    p = s.primaries.set_index("primary")
    assert list(p.index) == TAX.primaries
    assert p.loc["产业趋势与升级", "report_count"] == 23 + 87 + 30 + 14
    assert p.loc["市场基准与分析框架", "indices"] == 1
    rows = [("510300", "华泰柏瑞沪深300ETF", "000300.SH", "", "", "中国", 0.99, False, "被动指数", "")]
    f = tagged_frame(rows, tax=EFUND)
    e = summary_of(f, tmp_path, "ef.csv", EFUND)
    assert e.classes["report_count"].isna().all()
    assert "表3" not in "\n".join(e.lines())


# ------------------------------------------------------------------------------------------------ files


def test_xlsx_has_every_sheet_and_the_chart_beside_it(summary_xlsx):
    r, out = summary_xlsx
    folder = out.parent
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["indices", "classes", "primaries", "chart"]
    assert [c.value for c in wb["indices"][1]] == INDEX_COLUMNS
    assert len(wb["chart"]._images) == 1
    assert (folder / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "summary.html").exists()
    # the files summary_file says it wrote (Summary.written), as the command prints them: these three, in this order
    assert f"wrote {out}, {folder / 'summary.png'}, {folder / 'summary.html'}" in r.output.splitlines()
    back = pd.read_excel(out, sheet_name="classes")
    assert back.loc[back["secondary"] == "宽基ETF", "report_count"].item() == 56


def test_markdown_and_csv_folder_outputs(tmp_path, tagged_csv):
    summary_file(tagged_csv, tmp_path / "s.md")
    md = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "## indices" in md and "## classes" in md and "## primaries" in md and "![chart](s.png)" in md
    assert "| 科技成长主题ETF" in md.replace("  ", " ")
    summary_file(tagged_csv, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["chart.html", "chart.png", "classes.csv",
                                                                     "indices.csv", "primaries.csv"]
    back = pd.read_csv(tmp_path / "out" / "indices.csv", dtype=str, encoding="utf-8-sig")
    assert list(back.columns) == INDEX_COLUMNS and len(back) == 2
    with pytest.raises(InputError, match=r"s\.csv: unsupported summary output '\.csv'.*folder"):
        summary_file(tagged_csv, tmp_path / "s.csv")


def test_bad_inputs_name_the_file_and_column(tmp_path):
    f = tagged_frame().drop(columns=["needs_review", "confidence"])
    p = tmp_path / "half.csv"
    write_table(f, p)
    with pytest.raises(InputError, match=r"half\.csv: not a tagged file \(missing column\(s\) \['confidence', "
                                         r"'needs_review'\]\)"):
        summary_file(p, tmp_path / "s.xlsx")
    f = tagged_frame()
    f["confidence"] = f["confidence"].astype(object)
    f.loc[2, "confidence"] = "high"
    write_table(f, p)
    with pytest.raises(InputError, match=r"half\.csv: column 'confidence' must hold numbers; found line 4 \('high'\)"):
        summary_file(p, tmp_path / "s.xlsx")
    f = tagged_frame().assign(taxonomy_version=EFUND.version)
    write_table(f, p)
    with pytest.raises(InputError, match=r"tagged with taxonomy efund-2025.1-r1.*--taxonomy \S*efund2025\.toml"):
        summary_file(p, tmp_path / "s.xlsx")
    f = tagged_frame()
    f.loc[0, "secondary"] = "芯片ETF"
    write_table(f, p)
    with pytest.raises(InputError, match="'secondary' holds labels that are not classes of jrj-2026.01-r1: 芯片ETF"):
        summary_file(p, tmp_path / "s.xlsx")
    inside = tmp_path / "indices.csv"
    write_table(tagged_frame(), inside)
    with pytest.raises(InputError, match="indices.csv: this would overwrite the input"):
        summary_file(inside, tmp_path)  # a folder output writes indices.csv there


def test_cli_summary(tmp_path, summary_xlsx):
    r = summary_xlsx[0]  # `fundclass summary tagged.csv -o summary.xlsx`, tagged.csv written from tagged_frame()
    assert r.exit_code == 0, r.output
    assert "8 funds; 5 track one of 2 indices; 3 have no tracked index" in r.output
    assert re.search(r"市场基准与分析框架 / 宽基ETF\s+1 \|\s+56 \|\s+-55", r.output)
    r = CliRunner().invoke(cli, ["summary", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "s.xlsx")])
    assert r.exit_code == 2 and "missing.csv: no such file" in r.output


# ------------------------------------------------------------------------------------------------ the chart


def test_the_shipped_font_has_every_label_of_the_shipped_taxonomies():
    labels = [c.secondary for t in (TAX, EFUND) for c in t.classes] + TAX.primaries + EFUND.primaries
    assert missing_glyphs(labels + ["各二级分类的跟踪指数数量:本次 12 个,表3 633 个", "跟踪指数数量"]) == []
    assert FONT_PATH.stat().st_size < 2_500_000
    assert (FONT_PATH.parent / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE Version 1.1") == 1


def test_chart_renders_chinese_with_the_shipped_font_not_boxes(tmp_path):
    """On a machine without any CJK font, matplotlib warns 'Glyph … missing from font(s)' and draws boxes; the chart
    uses the font shipped in the package, so it warns about nothing."""
    from matplotlib import font_manager

    s = summary_of(tagged_frame(), tmp_path)
    family = cjk_font()
    assert family == FONT_FAMILY
    assert font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False) == str(FONT_PATH)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lacking = chart_png(s, tmp_path / "c.png")
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert lacking == [] and missing == []
    from PIL import Image

    assert Image.open(tmp_path / "c.png").size[0] > 1000


def test_the_missing_glyph_check_would_catch_boxes(tmp_path):
    """The check above is not vacuous: drawing the same labels with a Latin-only font warns about each character."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as caught, matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        warnings.simplefilter("always")
        fig = Figure()
        FigureCanvasAgg(fig)
        fig.add_subplot().set_title("科技成长主题ETF")
        fig.savefig(io.BytesIO(), format="png")
    assert any("missing from" in str(w.message) for w in caught)


def test_html_chart_embeds_the_glyphs_it_needs_and_names_indices_on_hover(summary_xlsx):
    from fontTools.ttLib import TTFont

    page = summary_xlsx[1].with_suffix(".html").read_text(encoding="utf-8")
    m = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page)
    assert m, "no embedded font"
    cmap = TTFont(io.BytesIO(base64.b64decode(m.group(1))))["cmap"].getBestCmap()
    shown = re.sub(r"<[^>]+>", "", page.split("<body>", 1)[1])
    import html

    need = {ch for ch in html.unescape(shown) if ord(ch) > 0x7F and not ch.isspace()}
    assert need and all(ord(ch) in cmap for ch in need)
    assert "<title>科技成长主题ETF(产业趋势与升级)\n本次 1 个指数,2 只基金,表3 87 个(差 -86)\n指数(基金数最多的): 国证芯片指数" in page


# ------------------------------------------------------------------------------------------------ real data
# test_summary_of_the_listed_etfs is in test_real_data.py, beside the other readers of the tagged ETF list


def test_a_file_without_any_index_fund_still_gives_every_table_and_the_chart(tmp_path):
    rows = [("000001", "华夏成长混合", "", "", "", "科技成长主题ETF", 0.6, True, "主动管理", ""),
            ("511880", "银华日利", "", "", "", "不适用", 1.0, False, "主动管理", "")]
    p = tmp_path / "active.csv"
    write_table(tagged_frame(rows), p)
    s = summary_file(p, tmp_path / "s.xlsx")
    # the size column is empty: said, and the representative is chosen without it
    assert any("size column '基金规模' holds no numbers" in w for w in s.warnings)
    assert len(s.indices) == 0 and list(s.indices.columns) == [c for c in INDEX_COLUMNS if c != "size"]
    assert s.n_without_index == 2 and s.classes["indices"].sum() == 0
    assert (tmp_path / "s.png").exists() and (tmp_path / "s.html").exists()


def test_the_embedded_font_is_the_same_bytes_on_every_run(monkeypatch):
    """The HTML chart's font is cut from the shipped font with that font's own date: a later run (another second)
    writes the same page, byte for byte."""
    from fontTools.ttLib.tables import _h_e_a_d

    from classifier.summary import embedded_font_css

    clock = iter([3_900_000_000, 3_900_086_400])  # two 'now's a day apart (seconds since 1904, as fonts count)
    monkeypatch.setattr(_h_e_a_d, "timestampNow", lambda: next(clock))
    assert embedded_font_css("科技成长主题ETF") == embedded_font_css("科技成长主题ETF")
