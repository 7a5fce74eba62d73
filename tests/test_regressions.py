"""Regressions from the code review, each named after what broke."""
import os
import re
import shutil
import stat

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.errors import InputError, ModelError
from classifier.holdings import holdings_features
from classifier.labeled import SHIPPED_LABELS, read_labels
from classifier.manifest import DEFAULT_MODEL_DIR
from classifier.pipeline import Tagger
from classifier.review import import_review


@pytest.fixture
def labels_copy(tmp_path):
    p = tmp_path / "labels.csv"
    shutil.copy(SHIPPED_LABELS, p)
    return p


def test_review_of_a_wind_code_is_keyed_by_the_fund_code_and_reaches_feeders(tmp_path, labels_copy, taxonomy):
    dec = tmp_path / "d.csv"
    pd.DataFrame({"fund_code": ["159995.SZ"], "decision": ["宽基ETF"], "reviewer": ["张三"],
                  "taxonomy_version": [taxonomy.version]}).to_csv(dec, index=False)
    res = import_review(dec, taxonomy, labels_copy)
    assert [c for c, _, _ in res.changed] == ["159995"] and not res.added
    assert (read_labels(labels_copy).fund_code == "159995.SZ").sum() == 0
    frame = pd.DataFrame({"证券代码": ["159995.SZ", "008887", "008888"],
                          "证券简称": ["华夏国证半导体芯片ETF", "华夏国证半导体芯片ETF联接A", "华夏国证半导体芯片ETF联接C"]})
    out = Tagger.load(labels_path=labels_copy).tag(frame)
    assert out["secondary"].tolist() == ["宽基ETF"] * 3
    assert out["evidence"].iloc[1].startswith("人工复核: 张三") and "经关联基金159995" in out["evidence"].iloc[1]


def test_active_lof_is_not_an_index_fund(model_tagger):
    out = model_tagger.tag(pd.DataFrame({"基金简称": ["中欧行业成长混合(LOF)E"], "基金类型": ["混合型-偏股"]}))
    assert out["management_style"].tolist() == ["主动管理"] and out["needs_review"].tolist() == [True]


def test_name_column_option(tmp_path):
    src = tmp_path / "x.csv"
    pd.DataFrame({"代码": ["159995"], "产品名称": ["华夏国证半导体芯片ETF"]}).to_csv(src, index=False)
    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(tmp_path / "o.csv"), "-s", "--name-column", "产品名称"])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "o.csv")["secondary"].tolist() == ["科技成长主题ETF"]


def test_no_code_column_flags_no_duplicates(model_tagger):
    out = model_tagger.tag(pd.DataFrame({"name": ["华夏中证机器人ETF", "易方达沪深300ETF"]}))
    assert not out["evidence"].str.contains("重复").any()


def test_rules_only_abstains_instead_of_guessing(rules_tagger):
    out = rules_tagger.tag(pd.DataFrame({"name": ["某某稳健收益"], "fund_type": ["指数型-股票"]}))
    assert out["secondary"].tolist() == [""] and out["needs_review"].tolist() == [True]


def test_blank_names_are_not_share_classes(model_tagger):
    df = pd.DataFrame({"code": ["510300", "159919"], "name": ["", ""], "index_name": ["沪深300指数"] * 2})
    assert model_tagger.tag(df)["linked_fund"].tolist() == ["", ""]


def test_model_refuses_a_changed_shared_vocabulary(tmp_path):
    from classifier import config, vocabulary

    common = tmp_path / "common.toml"
    common.write_text(vocabulary.DEFAULT_COMMON.read_text(encoding="utf-8").replace('"CS" = "中证"', '"CS" = "中信"'),
                      encoding="utf-8")
    user = tmp_path / "config.toml"
    user.write_text(f"[paths]\nvocabulary = '{common.as_posix()}'\n", encoding="utf-8")
    config.use_config(user)  # the shared vocabulary is one of the configurable default paths
    try:
        assert vocabulary.load_vocabulary().aliases["CS"] == "中信"
        with pytest.raises(ModelError, match="trained with another taxonomy/common.toml"):
            Tagger.load(DEFAULT_MODEL_DIR)
    finally:
        config.use_config(None)


def test_holdings_weights_with_percent_signs_and_bad_weights(tmp_path):
    sw = pd.Series({"000001": "银行", "300750": "电力设备"})
    good = tmp_path / "h.csv"
    pd.DataFrame({"fund_code": ["000001", "000001"], "stock_code": ["000001", "300750"],
                  "weight_pct": ["10.5%", "35%"]}).to_csv(good, index=False)
    t = holdings_features(good, sw).table
    assert t.loc["000001", "holding_industry"] == "电力设备" and t.loc["000001", "holding_industry_share"] == 35.0
    bad = tmp_path / "b.csv"
    pd.DataFrame({"fund_code": ["000001"], "stock_code": ["000001"], "weight_pct": ["很多"]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="column 'weight_pct' row 2: weight '很多' is not a number"):
        holdings_features(bad, sw)


def test_written_files_get_the_usual_mode(tmp_path, small_frame):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    small_frame.to_csv(src, index=False)
    CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"])
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_compare_to_the_output_directory_compares_with_the_previous_model(tmp_path, monkeypatch):
    import hashlib
    import json

    from conftest import TRAINING_GROUPS, write_labeled_subset

    # a workspace whose labeled set is whole groups of the shipped one (a fit on all of it costs ~8 s)
    ws_labels = tmp_path / "ws" / "data" / "labeled" / "labels.csv"
    ws_labels.parent.mkdir(parents=True)
    write_labeled_subset(SHIPPED_LABELS, ws_labels, n_groups=TRAINING_GROUPS)
    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(tmp_path / "ws"))
    d = tmp_path / "m"
    shutil.copytree(DEFAULT_MODEL_DIR, d)
    before = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    r = CliRunner().invoke(cli, ["train", "-o", str(d), "--compare-to", str(d), "--no-holdings"])
    assert r.exit_code == 0, r.output
    after = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    assert f"compared with {d} ({before['model_version']})" in r.output
    # the "previous" side is the model that was in the folder before training (read before it was overwritten), the
    # new side the one trained now: had the comparison re-read the folder, each line would show the new figures twice
    figures = ("accuracy", "macro_f1", "ece")
    assert any(f"{before['metrics_cv'][k]:.4f}" != f"{after['metrics_cv'][k]:.4f}" for k in figures)
    for k in figures:
        assert f"    {k:15s} {before['metrics_cv'][k]:.4f} -> {after['metrics_cv'][k]:.4f}" in r.output
    # and the folder now holds the model trained as asked: without holdings, on the workspace's labeled set
    assert before["holdings"]["funds"] > 0 and after["holdings"]["funds"] == 0
    assert after["labeled_data"]["sha256"] == hashlib.sha256(ws_labels.read_bytes()).hexdigest()


def test_active_fund_named_zengqiang_is_not_index_enhanced(model_tagger):
    out = model_tagger.tag(pd.DataFrame({"基金简称": ["嘉实研究增强混合", "华夏沪深300指数增强A"],
                                         "基金类型": ["混合型-灵活", "指数型-股票"]}))
    assert out["management_style"].tolist() == ["主动管理", "指数增强"]


def test_commodity_fund_type_votes_for_the_commodity_class(model_tagger):
    out = model_tagger.tag(pd.DataFrame({"基金简称": ["博时抗通胀增强回报"], "基金类型": ["QDII-商品"]}))
    assert out["secondary"].tolist() == ["商品主题ETF"]
    assert "commodity.asset_class:资产类别「商品」" in out["evidence"].iloc[0]


def test_yangtiao_abbreviation(model_tagger):
    out = model_tagger.tag(pd.DataFrame({"基金简称": ["博时央调ETF联接C"], "基金类型": ["指数型-股票"]}))
    assert out["secondary"].tolist() == ["国企主题ETF"]


def test_tagging_with_holdings_applies_seed_004(tmp_path):
    sw = tmp_path / "sw.csv"
    pd.DataFrame({"stock_code": ["600519", "000858", "300750", "601318"],
                  "effective_end_date": ["99991231"] * 4,
                  "sw_l1_name": ["食品饮料", "食品饮料", "电力设备", "非银金融"]}).to_csv(sw, index=False)
    h = tmp_path / "h.csv"
    pd.DataFrame({"fund_code": ["990010"] * 3 + ["990011"] * 3,
                  "stock_code": ["600519", "000858", "601318", "600519", "300750", "601318"],
                  "weight_pct": ["9.5", "9.0", "1.0", "4.0", "3.0", "3.0"]}).to_csv(h, index=False)
    frame = pd.DataFrame({"基金代码": ["990010", "990011", "990012"],
                          "基金简称": ["示例消费精选混合A", "示例价值精选混合A", "示例中证机器人ETF"],
                          "基金类型": ["混合型-偏股", "混合型-偏股", "指数型-股票"]})
    out = Tagger.load(DEFAULT_MODEL_DIR, holdings_path=h, sw_map_path=sw).tag(frame)
    assert out["holding_industry"].tolist()[:2] == ["食品饮料", "食品饮料"]
    assert out["holding_industry_share"].tolist()[:2] == [18.5, 4.0]
    # seed 004: 18.5% of NAV in one industry is not a theme fund; the evidence says so only above 30%
    assert not out["evidence"].str.contains("行业主题").any()
    assert out["needs_review"].tolist()[:2] == [True, True]
    assert out["secondary"].iloc[2] == "科技成长主题ETF" and pd.isna(out["holding_industry_share"].iloc[2])


def test_holdings_need_no_development_data_the_shenwan_map_ships(tmp_path, monkeypatch):
    """`tag --holdings` from any folder, without ../shared: the shipped map decodes the stocks and the evidence
    names its date (issue 13)."""
    monkeypatch.setenv("FUNDCLASS_RAW", str(tmp_path / "no-such-folder"))
    monkeypatch.chdir(tmp_path)
    h = tmp_path / "h.csv"
    pd.DataFrame({"fund_code": ["990020"] * 4, "stock_code": ["600519", "000858", "000568", "600809"],
                  "weight_pct": ["10", "9", "8", "7"]}).to_csv(h, index=False)
    frame = pd.DataFrame({"基金代码": ["990020"], "基金简称": ["示例消费精选混合A"], "基金类型": ["混合型-偏股"]})
    out = Tagger.load(DEFAULT_MODEL_DIR, holdings_path=h).tag(frame)
    assert out["holding_industry"].iloc[0] == "食品饮料" and out["holding_industry_share"].iloc[0] == 34.0
    assert "34.0%>30% 行业主题(seed 004; 申万2021映射 2026-06-05)" in out["evidence"].iloc[0]
    from classifier.holdings import SHIPPED_SW_MAP

    assert "markzhou-github/h5m80d50_priority" in SHIPPED_SW_MAP.with_name("SOURCE.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("change,message", [
    (lambda m: [m], "is a JSON list, not an object"),
    (lambda m: {**m, "taxonomy": None}, "'taxonomy' must be an object"),
    (lambda m: {**m, "threshold": 0}, "threshold 0 is not a review threshold"),
    (lambda m: {**m, "threshold": "0.9"}, "threshold '0.9' is not a review threshold"),
    (lambda m: {**m, "model_file": "../../etc/passwd"}, "must be a file name inside the model folder"),
])
def test_a_malformed_manifest_is_refused_with_its_cause(tmp_path, change, message):
    import json
    import shutil

    from classifier.errors import ModelError

    d = tmp_path / "m"
    shutil.copytree(DEFAULT_MODEL_DIR, d)
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    (d / "manifest.json").write_text(json.dumps(change(m)), encoding="utf-8")
    with pytest.raises(ModelError, match=re.escape(message)):
        Tagger.load(d)
