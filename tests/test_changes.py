"""`fundclass diff OLD NEW`: what moved between two tagged runs (issue 11)."""
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.changes import RUN_COLUMNS, compare, diff_files
from classifier.cli import cli
from classifier.errors import InputError
from classifier.io import write_table
from classifier.tagged import read_tagged
from classifier.taxonomy import load_taxonomy

TAX = load_taxonomy()
OLD = [  # code, name, secondary, confidence, needs_review, evidence
    ("159995", "华夏国证半导体芯片ETF", "科技成长主题ETF", 0.99, False, "跟踪指数:芯片"),
    ("510300", "华泰柏瑞沪深300ETF", "宽基ETF", 0.99, False, "跟踪指数:沪深300"),
    ("512880", "国泰中证全指证券公司ETF", "(申万)行业ETF", 0.90, True, "跟踪指数:证券公司"),
    ("515080", "招商中证红利ETF", "策略主题ETF", 0.95, False, "跟踪指数:红利"),
    ("000001", "华夏成长混合", "科技成长主题ETF", 0.5, True, "无规则命中(主动管理基金)"),
]
NEW = [
    ("159995", "华夏国证半导体芯片ETF", "科技成长主题ETF", 0.99, False, "跟踪指数:芯片"),
    ("510300", "华泰柏瑞沪深300ETF", "宽基ETF", 0.70, True, "跟踪指数:沪深300"),  # into review
    ("512880", "国泰中证全指证券公司ETF", "(申万)行业ETF", 0.98, False, "跟踪指数:证券公司"),  # out of review
    ("515080", "招商中证红利ETF", "国企主题ETF", 0.97, False, "人工复核: 张三 2026-12-01; 跟踪指数:红利"),  # changed
    ("588000", "华夏上证科创板50成份ETF", "宽基ETF", 0.99, False, "跟踪指数:科创50"),  # added
]


def frame(rows, model="m-old", taxonomy=TAX.version):
    f = pd.DataFrame(rows, columns=["基金代码", "基金简称", "secondary", "confidence", "needs_review", "evidence"])
    f.insert(2, "primary", [TAX.primary_of(s) for s in f["secondary"]])
    f["taxonomy_version"] = taxonomy
    f["model_version"] = model
    return f


def write(tmp_path, name, rows, **kw):
    p = tmp_path / name
    write_table(frame(rows, **kw), p)
    return p


@pytest.fixture
def pair(tmp_path):
    return write(tmp_path, "old.csv", OLD), write(tmp_path, "new.csv", NEW, model="m-new")


def test_added_gone_changed_and_review_crossings(pair):
    ch = diff_files(*pair)
    assert ch.added["fund_code"].tolist() == ["588000"] and list(ch.added.columns) == RUN_COLUMNS
    assert ch.gone["fund_code"].tolist() == ["000001"] and ch.gone["evidence"].tolist() == ["无规则命中(主动管理基金)"]
    assert list(ch.changed.columns) == ["fund_code", "fund_name", "old_primary", "old_secondary", "old_confidence",
                                        "old_needs_review", "new_primary", "new_secondary", "new_confidence", "new_needs_review",
                                        "new_review_decision", "new_evidence", "old_evidence"]
    row = ch.changed.iloc[0].to_dict()
    assert len(ch.changed) == 1 and row["fund_code"] == "515080"
    assert (row["old_primary"], row["old_secondary"], row["new_primary"], row["new_secondary"]) == (
        "策略与配置工具", "策略主题ETF", "企业属性与治理", "国企主题ETF")
    assert (row["old_confidence"], row["new_confidence"], row["new_needs_review"]) == (0.95, 0.97, False)
    assert row["new_evidence"].startswith("人工复核") and row["old_evidence"] == "跟踪指数:红利"
    r = ch.review.set_index("fund_code")
    assert r.loc["510300", "change"] == "into review" and r.loc["512880", "change"] == "out of review"
    assert (r.loc["510300", "old_confidence"], r.loc["510300", "new_confidence"]) == (0.99, 0.70)
    assert ch.flows.values.tolist() == [["策略主题ETF", "国企主题ETF", 1]]
    assert ch.primary_changed == 1 and not ch.taxonomy_changed


def test_one_screen_summary_names_versions_and_explains_each_change(pair):
    lines = diff_files(*pair).lines()
    text = "\n".join(lines)
    assert len(lines) <= 30
    assert "model m-old → m-new" in text and "taxonomy jrj-2026.01-r1 (same in both)" in text
    assert "funds: 5 → 5 (4 in both, 1 added, 1 gone)" in text
    assert "class changed: 1 (primary class: 1): 1 to a class the new run is confident of, 0 in review" in text
    assert "review threshold crossed: 1 into review, 1 out of it" in text
    assert "515080 招商中证红利ETF: 策略主题ETF → 国企主题ETF (0.970) 人工复核: 张三 2026-12-01" in text


@pytest.mark.parametrize("old_ext,new_ext", [("parquet", "xlsx"), ("xlsx", "csv"), ("csv", "parquet")])
def test_works_across_file_formats(tmp_path, old_ext, new_ext):
    old = write(tmp_path, f"old.{old_ext}", OLD)
    new = write(tmp_path, f"new.{new_ext}", NEW)
    ch = diff_files(old, new)
    assert ch.changed["fund_code"].tolist() == ["515080"]
    assert sorted(ch.review["fund_code"]) == ["510300", "512880"]  # True/False and numbers read the same way


def test_says_when_the_runs_used_different_taxonomies(tmp_path):
    old = write(tmp_path, "old.csv", OLD)
    new = tmp_path / "new.csv"
    f = frame(NEW, taxonomy="efund-2025.1-r1").assign(secondary="中国", primary="规模指数")
    write_table(f, new)
    ch = diff_files(old, new)
    assert ch.taxonomy_changed and len(ch.changed) == 4
    assert ("the two runs used different taxonomies: old jrj-2026.01-r1, new efund-2025.1-r1"
            in "\n".join(ch.lines()))
    assert dict(ch.figures().values.tolist())["taxonomies differ"] == "yes"


def test_repeated_codes_are_matched_occurrence_by_occurrence(tmp_path):
    old = write(tmp_path, "old.csv", OLD + [OLD[0]])
    new = write(tmp_path, "new.csv", OLD + [OLD[0][:2] + ("宽基ETF", 0.9, False, "x")])
    ch = diff_files(old, new)
    assert ch.changed["fund_code"].tolist() == ["159995"] and ch.changed["new_secondary"].tolist() == ["宽基ETF"]
    assert any("repeat a fund code" in w for w in ch.warnings)


def test_rows_without_a_code_are_matched_by_name(tmp_path):
    old = write(tmp_path, "old.csv", [("", "示例中证机器人ETF", "科技成长主题ETF", 0.9, False, "e")])
    new = write(tmp_path, "new.csv", [("", "示例中证机器人ETF", "制造业主题ETF", 0.9, False, "e")])
    assert diff_files(old, new).changed["fund_name"].tolist() == ["示例中证机器人ETF"]


def test_outputs_every_sheet(tmp_path, pair):
    ch = diff_files(*pair, tmp_path / "changes.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "changes.xlsx")
    assert wb.sheetnames == ["summary", "changed", "review", "flows", "added", "gone"]
    assert ch.written == [tmp_path / "changes.xlsx"]
    changed = pd.read_excel(tmp_path / "changes.xlsx", sheet_name="changed", dtype=str)
    assert changed["fund_code"].tolist() == ["515080"]
    diff_files(*pair, tmp_path / "ch")
    assert sorted(p.name for p in (tmp_path / "ch").iterdir()) == ["added.csv", "changed.csv", "flows.csv",
                                                                    "gone.csv", "review.csv", "summary.csv"]
    diff_files(*pair, tmp_path / "ch.md")
    md = (tmp_path / "ch.md").read_text(encoding="utf-8")
    assert "## changed" in md and "515080" in md


def test_bad_inputs_name_the_file(tmp_path, pair):
    half = tmp_path / "half.csv"
    write_table(frame(OLD).drop(columns=["evidence"]), half)
    with pytest.raises(InputError, match=r"half\.csv: not a tagged file \(missing column\(s\) \['evidence'\]\)"):
        diff_files(half, pair[1])
    f = frame(OLD)
    f["needs_review"] = f["needs_review"].astype(object)
    f.loc[1, "needs_review"] = "maybe"
    write_table(f, half)
    with pytest.raises(InputError, match=r"half\.csv: column 'needs_review' must be True or False; found line 3"):
        diff_files(half, pair[1])
    with pytest.raises(InputError, match="would overwrite the input"):
        diff_files(pair[0], pair[1], pair[1])


def test_cli_diff(tmp_path, pair):
    r = CliRunner().invoke(cli, ["diff", str(pair[0]), str(pair[1]), "-o", str(tmp_path / "c.xlsx")])
    assert r.exit_code == 0, r.output
    assert "class changed: 1" in r.output and (tmp_path / "c.xlsx").exists()
    r = CliRunner().invoke(cli, ["diff", str(pair[0]), str(tmp_path / "none.csv")])
    assert r.exit_code == 2 and "none.csv: no such file" in r.output


def test_diff_of_two_real_tag_runs(tmp_path, rules_tagger, model_tagger):
    """The same listings tagged by the rules alone and by the model: every change comes with its evidence. The sample
    listings alone give no class change (rules and model agree on each), so an index fund no rule reads is added:
    the rules abstain, the model guesses."""
    from classifier.batch import tag_file

    src = tmp_path / "listings.csv"
    listings = pd.read_csv("examples/new_listings.csv", dtype=str, keep_default_na=False)
    pd.concat([listings, pd.DataFrame({"证券代码": ["990501.SZ"], "证券简称": ["某某稳健收益"],
                                       "投资类型": ["被动指数型"]})]).fillna("").to_csv(src, index=False)
    a, b = tmp_path / "rules.parquet", tmp_path / "model.xlsx"
    tag_file(src, a, progress=False, tagger=rules_tagger)
    tag_file(src, b, progress=False, tagger=model_tagger)
    ch = compare(read_tagged(a), read_tagged(b))
    assert ch.old_models == ["rules-only"] and ch.new_models == [model_tagger.model_version]
    assert len(ch.added) == len(ch.gone) == 0
    # the changed funds are exactly those whose class differs between the two files, each with the new run's evidence
    old = pd.read_parquet(a).set_index("证券代码")
    new = pd.read_excel(b, dtype=str).fillna("").set_index("证券代码")
    differ = old.index[old["secondary"] != new.loc[old.index, "secondary"]].tolist()
    assert differ == ["990501.SZ"] and old.at["990501.SZ", "secondary"] == ""
    row = ch.changed.set_index("fund_code").loc["990501"]
    assert len(ch.changed) == 1 and row["new_secondary"] == new.at["990501.SZ", "secondary"] != ""
    assert row["new_evidence"] == new.at["990501.SZ", "evidence"] != ""


def test_changes_a_review_decision_gave_are_counted_by_its_flag(tmp_path):
    """`diff` could not tell a class a review decision gave from one the model gave (only the evidence text said so,
    and no step reads text): the tagged file's `review_decision` column names the deciding fund, the `changed` sheet
    carries it and the summary counts those changes; a file tagged before the column existed shows none."""
    old, new = frame(OLD), frame(NEW, model="m-new")
    new["review_decision"] = ["", "", "", "515080", ""]
    write_table(old, tmp_path / "o.csv")
    write_table(new, tmp_path / "n.csv")
    ch = diff_files(tmp_path / "o.csv", tmp_path / "n.csv")
    assert ch.changed["new_review_decision"].tolist() == ["515080"]
    assert dict(ch.figures().values.tolist())["changed by a review decision"] == "1"
    assert "1 to a class the new run is confident of (1 given by a review decision), 0 in review" in \
        "\n".join(ch.lines())
    write_table(new.drop(columns="review_decision"), tmp_path / "n.csv")
    ch = diff_files(tmp_path / "o.csv", tmp_path / "n.csv")
    assert ch.changed["new_review_decision"].tolist() == [""] and "given by a review decision" not in \
        "\n".join(ch.lines())


def test_changes_to_a_confident_class_come_first(tmp_path):
    old = [(f"00000{i}", f"混合{i}", "跨境主题ETF", 0.3, True, "无规则命中") for i in range(3)]
    old.append(("510170", "国联安上证商品ETF", "宽基ETF", 0.55, True, "无规则命中"))
    new = [(c, n, "资源主题ETF", 0.25, True, e) for c, n, _, _, _, e in old[:3]]
    new.append(("510170", "国联安上证商品ETF", "资源主题ETF", 1.0, False, "人工复核: 张三 2026-12-01; 无规则命中"))
    ch = diff_files(write(tmp_path, "o.csv", old), write(tmp_path, "n.csv", new))
    assert ch.changed["fund_code"].tolist()[0] == "510170"
    assert ch.flows.values.tolist()[0] == ["跨境主题ETF", "资源主题ETF", 3]
    text = "\n".join(ch.lines(examples=1))
    assert "class changed: 4 (primary class: 4): 1 to a class the new run is confident of, 3 in review" in text
    assert "510170 国联安上证商品ETF: 宽基ETF → 资源主题ETF (1.000) 人工复核" in text


def test_a_run_with_no_rows_is_not_said_to_use_another_taxonomy(tmp_path):
    # audit round 13: `fundclass diff empty.xlsx one.xlsx` (a header-only file tagged, then a one-row file) said
    # 'the two runs used different taxonomies: old ?, new jrj-2026.01-r1; class changes include the taxonomy's own'
    # and 'model ? → …': an output with no rows records no version, which is not another taxonomy
    empty = write(tmp_path, "empty.csv", [])
    one = write(tmp_path, "one.csv", NEW[:1], model="m-new")
    for old, new, side in ((empty, one, "old"), (one, empty, "new")):
        ch = diff_files(old, new)
        text = "\n".join(ch.lines())
        assert not ch.taxonomy_changed and "different taxonomies" not in text and "?" not in text
        assert f"taxonomy {TAX.version} ({side} run: no rows, no version recorded)" in text
        assert f"model m-new ({side} run: no rows, no version recorded)" in text
        assert dict(ch.figures().values.tolist())["taxonomies differ"] == "no"
