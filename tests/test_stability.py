"""`fundclass tag --previous OLD`: a fund keeps its class unless the new one is confident and different (issue 11)."""
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import InputError
from classifier.io import write_table
from classifier.stability import KEPT_NOTE, UPDATED_NOTE, Previous, load_previous, stabilize
from classifier.taxonomy import load_taxonomy

TAX = load_taxonomy()
LISTINGS = "examples/new_listings.csv"


def new_run():
    """What Tagger.tag returns for four funds (only the columns the step reads or writes matter)."""
    return pd.DataFrame({
        "基金代码": ["159995", "510300", "515080", "000001", "588000"],
        "primary": ["产业趋势与升级", "市场基准与分析框架", "企业属性与治理", "", "市场基准与分析框架"],
        "secondary": ["科技成长主题ETF", "宽基ETF", "国企主题ETF", "", "宽基ETF"],
        "confidence": [0.99, 0.62, 0.97, 0.0, 0.99],
        "needs_review": [False, True, False, True, False],
        "alternatives": ["", "策略主题ETF:0.300;(申万)行业ETF:0.080", "", "", ""],
        "evidence": ["e1", "e2", "e3", "不是基金名称: 乱码", "e5"],
    })


PREVIOUS = Previous("last.csv", {"159995": "科技成长主题ETF", "510300": "策略主题ETF", "515080": "策略主题ETF",
                                 "000001": "消费主题ETF"})


def test_a_doubtful_new_class_keeps_the_previous_one_and_says_so():
    out, rep = stabilize(new_run(), new_run()["基金代码"], PREVIOUS, TAX)
    r = out.set_index("基金代码")
    # 510300: the new class (0.62, in review) differs: the previous class is kept, with its own reader probability
    assert (r.loc["510300", "primary"], r.loc["510300", "secondary"]) == ("策略与配置工具", "策略主题ETF")
    assert r.loc["510300", "confidence"] == pytest.approx(0.30) and r.loc["510300", "needs_review"]
    assert r.loc["510300", "alternatives"] == "宽基ETF:0.620;(申万)行业ETF:0.080"
    assert r.loc["510300", "evidence"].startswith(f"{KEPT_NOTE} 策略主题ETF(本次 宽基ETF 置信度 0.620,需复核,不替换; "
                                                  f"上次分类在本次备选中的概率 0.300); e2")
    # 000001: no class this time (not a fund name): the previous class is kept, still in review
    assert r.loc["000001", "secondary"] == "消费主题ETF" and r.loc["000001", "confidence"] == 0.0
    assert "上次分类不在本次备选中(<0.05)" in r.loc["000001", "evidence"]
    assert r.loc["000001", "alternatives"] == ""
    # 515080: a confident new class replaces the previous one, and the evidence says what it was
    assert r.loc["515080", "secondary"] == "国企主题ETF"
    assert r.loc["515080", "evidence"] == f"{UPDATED_NOTE} 策略主题ETF,本次 国企主题ETF 置信度 0.970 不需复核,已更新; e3"
    # same class, or not in the previous run: untouched
    assert r.loc["159995", "evidence"] == "e1" and r.loc["588000", "evidence"] == "e5"
    assert (rep.same, rep.kept, rep.updated, rep.not_before) == (1, 2, 1, 1)
    assert list(out.columns) == list(new_run().columns)


def test_only_flags_and_numbers_are_read_never_evidence():
    a = new_run()
    b = new_run().assign(evidence=[f"{KEPT_NOTE} 宽基ETF; 人工复核"] * 5)
    out_a, _ = stabilize(a, a["基金代码"], PREVIOUS, TAX)
    out_b, _ = stabilize(b, b["基金代码"], PREVIOUS, TAX)
    assert out_a.drop(columns="evidence").equals(out_b.drop(columns="evidence"))


def previous_file(tmp_path, rows, taxonomy=TAX.version, name="last.csv"):
    f = pd.DataFrame(rows, columns=["基金代码", "基金简称", "secondary"])
    f["taxonomy_version"] = taxonomy
    p = tmp_path / name
    write_table(f, p)
    return p


def test_load_previous(tmp_path):
    p = previous_file(tmp_path, [("159995.SZ", "a", "科技成长主题ETF"), ("510300", "b", "宽基ETF"),
                                 ("510300", "b2", "策略主题ETF"), ("000001", "c", "")])
    prev = load_previous(p, TAX)
    assert prev.labels == {"159995": "科技成长主题ETF"} and prev.ambiguous == 1
    with pytest.raises(InputError, match=r"other\.csv: tagged with taxonomy efund-2025\.1-r1, this run uses "
                                         r"jrj-2026\.01-r1 \(.*\): another taxonomy \(efund2025\), whose classes are "
                                         r"not this one's; tag with --taxonomy taxonomy/efund2025\.toml"):
        load_previous(previous_file(tmp_path, [("159995", "a", "中国")], "efund-2025.1-r1", "other.csv"), TAX)
    with pytest.raises(InputError, match=r"bad\.csv: column 'secondary' holds labels that are not classes of "
                                         r"jrj-2026\.01-r1: line 2 \('芯片'\)"):
        load_previous(previous_file(tmp_path, [("159995", "a", "芯片")], name="bad.csv"), TAX)
    nocode = tmp_path / "nocode.csv"
    write_table(pd.DataFrame({"基金简称": ["a"], "secondary": ["宽基ETF"]}), nocode)
    with pytest.raises(InputError, match=r"nocode\.csv: no fund-code column; --previous matches funds by their code"):
        load_previous(nocode, TAX)
    untagged = tmp_path / "untagged.csv"
    write_table(pd.DataFrame({"基金代码": ["1"], "基金简称": ["a"]}), untagged)
    with pytest.raises(InputError, match=r"untagged\.csv: not a tagged file \(missing column\(s\) \['secondary'\]\)"):
        load_previous(untagged, TAX)


def test_a_previous_class_is_a_review_decisions_where_the_flag_says_so(tmp_path):
    """`--previous` lets go of a previous class a review decision gave once no decision gives it; it knew such a class
    only by its confidence of 1 out of review, so a class the tool itself gave at a rounded 1.0000 counted as a
    person's and was not kept. A run tagged with the `review_decision` column is read by that flag; a file tagged
    before the column existed, by the confidence as before."""
    rows = pd.DataFrame({"基金代码": ["159995", "510300", "515080"], "基金简称": ["a", "b", "c"],
                         "secondary": ["科技成长主题ETF", "宽基ETF", "策略主题ETF"], "confidence": ["1.0", "1.0", "0.9"],
                         "needs_review": ["False", "False", "False"], "review_decision": ["", "510300", ""],
                         "taxonomy_version": TAX.version})
    write_table(rows, tmp_path / "flagged.csv")
    write_table(rows.drop(columns="review_decision"), tmp_path / "older.csv")
    assert load_previous(tmp_path / "flagged.csv", TAX).decided == {"510300"}
    assert load_previous(tmp_path / "older.csv", TAX).decided == {"159995", "510300"}


@pytest.fixture
def last_run(tmp_path):
    """Tag the sample listings, then make the previous run say otherwise for two funds."""
    out = tmp_path / "last.xlsx"
    r = CliRunner().invoke(cli, ["tag", LISTINGS, "-o", str(out), "-s"])
    assert r.exit_code == 0, r.output
    f = pd.read_excel(out, dtype=str).fillna("")
    f.loc[f["证券简称"] == "示例中证机器人ETF", ["primary", "secondary"]] = ["产业趋势与升级", "制造业主题ETF"]
    f.loc[f["证券简称"] == "示例恒生科技ETF", ["primary", "secondary"]] = ["市场基准与分析框架", "宽基ETF"]
    write_table(f, out)
    return out


def _tag(tmp_path, last_run, *extra):
    out = tmp_path / "now.csv"
    r = CliRunner().invoke(cli, ["tag", LISTINGS, "-o", str(out), "--previous", str(last_run), *extra])
    assert r.exit_code == 0, r.output
    return pd.read_csv(out, dtype=str, keep_default_na=False).set_index("证券简称"), r.output


def test_tag_previous_takes_a_confident_new_class(tmp_path, last_run):
    got, output = _tag(tmp_path, last_run)
    assert got.loc["示例中证机器人ETF", "secondary"] == "科技成长主题ETF"
    assert got.loc["示例中证机器人ETF", "evidence"].startswith(f"{UPDATED_NOTE} 制造业主题ETF,本次 科技成长主题ETF")
    assert got.loc["示例恒生科技ETF", "secondary"] == "跨境主题ETF"
    assert "2 changed class with confidence" in output and "0 kept their previous class" in output


def test_tag_previous_keeps_the_old_class_when_the_new_one_needs_review(tmp_path, last_run):
    # a review threshold of 1 sends every classified fund to review: no new class is confident enough
    got, output = _tag(tmp_path, last_run, "--threshold", "1")
    robot = got.loc["示例中证机器人ETF"]
    assert (robot["primary"], robot["secondary"], robot["needs_review"]) == ("产业趋势与升级", "制造业主题ETF", "True")
    assert robot["evidence"].startswith(f"{KEPT_NOTE} 制造业主题ETF(本次 科技成长主题ETF")
    assert robot["alternatives"].startswith("科技成长主题ETF:")
    assert got.loc["示例恒生科技ETF", "secondary"] == "宽基ETF"
    assert got.loc["示例中证A500ETF", "evidence"].find("稳定性") == -1  # unchanged funds carry no note
    assert "2 kept their previous class" in output
    # the printed per-class counts follow the kept classes
    assert "  制造业主题ETF: 2\n" in output and "  跨境主题ETF" not in output
    cols = pd.read_csv(LISTINGS, nrows=0).columns.tolist()
    assert pd.read_csv(tmp_path / "now.csv", nrows=0).columns.tolist()[: len(cols)] == cols


def test_tag_previous_refuses_to_overwrite_the_previous_run(tmp_path, last_run):
    r = CliRunner().invoke(cli, ["tag", LISTINGS, "-o", str(last_run), "--previous", str(last_run)])
    assert r.exit_code == 2 and "this would overwrite the input" in r.output


def test_tag_previous_needs_fund_codes_in_the_input(tmp_path, last_run):
    src = tmp_path / "names.csv"
    src.write_text("基金简称\n华夏中证机器人ETF\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(tmp_path / "o.csv"), "--previous", str(last_run)])
    assert r.exit_code == 2 and "names.csv: no fund-code column; --previous matches funds by their code" in r.output
    assert not (tmp_path / "o.csv").exists()


def test_a_previous_run_of_the_taxonomy_before_a_migration_is_refused_saying_why_and_what_to_do(tmp_path):
    """`fundclass tag IN -o OUT --taxonomy NEW --previous LAST` where LAST was tagged before `taxonomy migrate` to NEW
    was refused with '… its classes cannot be carried over (tag without --previous, or migrate the labels first)': the
    labels were migrated already (migrating again is refused), and it did not say why a class is not kept across
    versions (audit round 12). Refusing is right (a class the migration renamed, split or merged has no class of the
    new version to keep, and the step reads no migration map), the message now says so: another version of the same
    taxonomy, that --previous keeps classes within one version, nothing written, tag once without --previous, and
    `fundclass diff` to see what moved."""
    text = Path(TAX.path).read_text(encoding="utf-8").replace(f'version = "{TAX.version}"', 'version = "jrj-2026.02-x"')
    (tmp_path / "new.toml").write_text(text, encoding="utf-8")
    new = load_taxonomy(tmp_path / "new.toml")
    last = previous_file(tmp_path, [("159995", "a", "科技成长主题ETF")])
    with pytest.raises(InputError) as e:
        load_previous(last, new)
    msg = str(e.value)
    assert msg.startswith(f"{last}: tagged with taxonomy {TAX.version}, this run uses jrj-2026.02-x"), msg
    assert "another version of jrj2026: --previous keeps a fund's class only within one taxonomy version" in msg, msg
    assert "nothing written; tag once without --previous" in msg and f"`fundclass diff {last} NEW_OUTPUT`" in msg, msg
    assert "migrate the labels" not in msg and "--taxonomy" not in msg, msg


def test_the_stability_line_counts_the_rows_that_give_no_fund_code(tmp_path, last_run):
    """Audit round 15: a batch of 58 listings, one given by its name alone (no code), tagged with --previous: the line
    said '53 funds kept their class; 0 kept …; 4 changed class with confidence; 0 were not in the previous run', 57
    rows, silent on the one --previous cannot match (it matches by fund code). It now counts it."""
    src = tmp_path / "listings.csv"
    frame = pd.read_csv(LISTINGS, dtype=str, keep_default_na=False)
    blank = {c: "" for c in frame.columns} | {"证券简称": "某某中证800ETF"}
    pd.concat([frame, pd.DataFrame([blank])]).to_csv(src, index=False)
    out = tmp_path / "now.csv"
    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "--previous", str(last_run)])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if x.startswith("stability (--previous"))
    counts = [int(n) for n in re.findall(r"(\d+) (?:funds kept|kept their|changed class|were not in|rows? gives? no)",
                                         line)]
    assert len(counts) == 5 and sum(counts) == len(frame) + 1, line
    assert "1 row gives no fund code, so it is not matched with the previous run (its new class stands)" in line
