import shutil

import numpy as np
import pandas as pd
import pytest

from classifier.errors import InputError, ModelError
from classifier.manifest import DEFAULT_MODEL_DIR, load_model
from classifier.pipeline import OUTPUT_COLUMNS, Tagger


def test_rows_columns_and_order_are_preserved(model_tagger, small_frame):
    out = model_tagger.tag(small_frame)
    assert len(out) == len(small_frame)
    assert list(out.columns[: len(small_frame.columns)]) == list(small_frame.columns)
    assert out[list(small_frame.columns)].equals(small_frame)
    assert all(c in out.columns for c in OUTPUT_COLUMNS)
    # a duplicate fund code is kept (once per input row) and tagged the same way
    assert out.iloc[0]["secondary"] == out.iloc[4]["secondary"] == "科技成长主题ETF"


def test_a_notebook_frame_keeps_its_index(model_tagger, small_frame):
    """Tagger.tag returned every row and column but replaced the frame's index with 0…n-1 (audit round 9: a notebook
    frame indexed by fund code, df.set_index('fund_code'), came back without its codes, and a filtered frame's rows
    could no longer be joined back to it by label). The output keeps the caller's index."""
    frame = small_frame.set_axis([f"f{i}" for i in range(len(small_frame))][::-1])
    out = model_tagger.tag(frame)
    assert out.index.equals(frame.index)
    assert out[list(frame.columns)].equals(frame)
    assert out["secondary"].tolist() == model_tagger.tag(small_frame)["secondary"].tolist()
    picked = frame.iloc[[3, 0]]  # a filtered frame, its labels out of order
    assert model_tagger.tag(picked).index.equals(picked.index)


def test_a_fund_code_held_in_the_frames_index_is_read_as_the_code(model_tagger, small_frame):
    """A notebook frame indexed by fund code (df.set_index('基金代码')) was tagged as if it had no code: a review
    decision made on the fund (by code) did not settle it once its name changed, two rows of one code were not
    flagged, and holdings (joined by code) were not read (audit round 10: the E Fund list's funds with top-10
    holdings, 27 of 30 read with the code in a column, none with it in the index; 2 classes and 3 review flags
    differed). When no column gives the code, an index level named like a code column is read as it; the output keeps
    the frame's own columns and index."""
    from classifier.labeled import LABEL_COLUMNS
    from classifier.pipeline import Tagger

    labels = pd.DataFrame([{c: "" for c in LABEL_COLUMNS}])
    labels.loc[0, ["fund_code", "fund_name", "primary", "secondary", "source", "labeled_by", "labeled_at",
                   "taxonomy_version", "group"]] = ["000001", "华夏成长混合", "产业趋势与升级", "科技成长主题ETF",
                                                    "review", "王五", "2026-12-01", model_tagger.taxonomy.version,
                                                    "review:000001"]
    tagger = Tagger(model_tagger.taxonomy, model_tagger.model, model_tagger.manifest).use_reviewed(labels)
    frame = small_frame.assign(基金简称=small_frame["基金简称"].replace("华夏成长混合", "华夏新成长混合"))
    want = tagger.tag(frame)
    outputs = [c for c in want.columns if c not in frame.columns]
    assert want["review_decision"].tolist()[3] == "000001" and want["evidence"].str.contains("重复").tolist() == [True, False, False, False, True]
    for indexed in (frame.set_index("基金代码"), frame.set_index(["基金代码", "备注"]),
                    frame.set_index("基金代码").rename_axis("fund_code")):
        out = tagger.tag(indexed)
        assert out.index.equals(indexed.index) and list(out.columns) == list(indexed.columns) + outputs
        assert out[outputs].reset_index(drop=True).equals(want[outputs]), indexed.index.names
        assert (tagger.predict_proba(indexed) == tagger.predict_proba(frame)).all()
    # an index that is no code column's name is not read as codes (0…n-1 after a filter, say)
    plain = frame.drop(columns="基金代码").set_axis([3, 1, 4, 1, 5])
    assert tagger.tag(plain)["review_decision"].tolist()[3] == ""


def test_an_empty_frame_is_tagged_with_the_columns_a_tagged_row_has(model_tagger, small_frame):
    """A notebook's empty frame (a filter that kept no row): predict_proba stopped on an internal error (IndexError:
    arrays used as indices must be of integer (or boolean) type), and tag gave every output column the object type,
    so `out[out.needs_review]` selected no column instead of no row (a frame of 0 columns; audit round 10). Now
    predict_proba gives 0 rows of every class, and tag's output columns have the types of a tagged row's (confidence
    and holding_industry_share numbers, needs_review booleans)."""
    empty = small_frame.iloc[:0]
    assert model_tagger.predict_proba(empty).shape == (0, len(model_tagger.classes_))
    out, one = model_tagger.tag(empty), model_tagger.tag(small_frame.iloc[:1])
    assert out.dtypes[OUTPUT_COLUMNS].tolist() == one.dtypes[OUTPUT_COLUMNS].tolist()
    assert out[out["needs_review"]].shape == (0, len(one.columns))
    with pytest.raises(InputError, match="no fund-name column"):
        model_tagger.predict_proba(pd.DataFrame({"备注": pd.Series([], dtype=object)}))


def test_existing_output_columns_are_kept_as_previous(model_tagger):
    df = pd.DataFrame({"基金简称": ["华夏中证机器人ETF"], "secondary": ["old label"]})
    out = model_tagger.tag(df)
    assert out["secondary_previous"].tolist() == ["old label"]
    assert out["secondary"].tolist() == ["科技成长主题ETF"]


@pytest.mark.parametrize("name,fund_type,asset", [
    ("中海可转债债券A", "债券型-混合二级", "债券"),
    ("银华日利", "", "货币"),
    ("易方达保证金货币A", "", "货币"),
    ("中金普洛斯REIT", "Reits", "REITs"),
    ("华夏养老目标日期2040三年持有(FOF)", "FOF-稳健型", "FOF"),
    ("南方中债7-10年国开行债券指数A", "指数型-固收", "债券"),
])
def test_out_of_scope_funds_are_explicit(model_tagger, name, fund_type, asset):
    out = model_tagger.tag(pd.DataFrame({"基金简称": [name], "基金类型": [fund_type]})).iloc[0]
    assert (out["primary"], out["secondary"], out["asset_class"]) == ("不适用", "不适用", asset)
    assert out["needs_review"] == False  # noqa: E712
    assert "不在分类体系内" in out["evidence"]


def test_primary_always_owns_secondary(model_tagger, taxonomy):
    names = ["华夏中证机器人ETF", "华泰柏瑞红利低波ETF", "易方达恒生科技ETF", "某某无名基金", "国泰中证煤炭ETF"]
    out = model_tagger.tag(pd.DataFrame({"name": names}))
    for p, s in zip(out["primary"], out["secondary"]):
        assert taxonomy.primary_of(s) == p if s else p == ""  # 某某无名基金: nothing to classify by, both blank
    assert out["secondary"].iloc[3] == "" and (out["secondary"].iloc[[0, 1, 2, 4]] != "").all()


def test_confidence_alternatives_and_review(model_tagger):
    out = model_tagger.tag(pd.DataFrame({"name": ["华夏中证机器人ETF", "某某稳健成长混合A", "示例中证国有企业红利ETF"]}))
    assert out["confidence"].between(0, 1).all()
    for sec, conf, alt, review in zip(out["secondary"], out["confidence"], out["alternatives"], out["needs_review"]):
        pairs = [a.split(":") for a in alt.split(";") if a]
        probs = [float(p) for _, p in pairs]
        # runners-up only, each one a reader would pick with at least 5% (a row in review shows its likeliest one
        # whatever its share), most likely first, within 1 - confidence
        assert all(c != sec for c, _ in pairs) and all(p >= 0.05 for p in probs[1 if review else 0:])
        assert probs == sorted(probs, reverse=True) and conf + sum(probs) <= 1.0 + 1e-3
    assert out.iloc[0]["secondary"] == "科技成长主题ETF" and not out.iloc[0]["needs_review"]
    assert out.iloc[2]["alternatives"].startswith("国企主题ETF:")  # readers split on state-owned dividend indices
    # an active fund without holdings evidence is sent to review
    assert out.iloc[1]["management_style"] == "主动管理" and out.iloc[1]["needs_review"]


def test_management_style(model_tagger):
    out = model_tagger.tag(pd.DataFrame({"name": ["易方达沪深300ETF", "华夏沪深300指数增强A", "华夏成长混合"]}))
    assert out["management_style"].tolist() == ["被动指数", "指数增强", "主动管理"]


def test_feeder_and_share_classes_are_linked(model_tagger):
    df = pd.DataFrame({"code": ["510300", "460300", "006131"],
                       "name": ["华泰柏瑞沪深300ETF", "华泰柏瑞沪深300ETF联接A", "华泰柏瑞沪深300ETF联接C"]})
    out = model_tagger.tag(df)
    assert out["linked_fund"].tolist() == ["", "510300", "510300"]
    assert out["secondary"].tolist() == ["宽基ETF"] * 3  # the feeders take their ETF's class
    assert out["evidence"].iloc[1:].str.contains("关联ETF:510300").all()


def test_the_model_scores_only_the_rows_others_follow(model_tagger, monkeypatch):
    """Share classes and feeders take the scores of the fund they follow, so the model scores that fund alone; the
    numbers are those of scoring every row (each row is scored on its own)."""
    df = pd.DataFrame({"code": ["510300", "460300", "006131", "159995", "008887", "008888"],
                       "name": ["华泰柏瑞沪深300ETF", "华泰柏瑞沪深300ETF联接A", "华泰柏瑞沪深300ETF联接C",
                                "华夏国证半导体芯片ETF", "华夏国证半导体芯片ETF联接A", "华夏国证半导体芯片ETF联接C"]})
    model = model_tagger.model
    seen = []
    original = type(model).components

    def components(self, X):
        seen.append(len(X))
        return original(self, X)

    monkeypatch.setattr(type(model), "components", components)
    out = model_tagger.tag(df)
    assert seen == [2]  # the two ETFs; the four feeders follow them
    alone = model_tagger.tag(df.iloc[[0, 3]])  # the two ETFs scored without their feeders
    assert out["confidence"].tolist() == [alone["confidence"].iloc[0]] * 3 + [alone["confidence"].iloc[1]] * 3
    assert out["secondary"].tolist() == [alone["secondary"].iloc[0]] * 3 + [alone["secondary"].iloc[1]] * 3


def test_threshold_is_the_manifests(model_tagger):
    """The review threshold that decides `needs_review` is the manifest's: a row is sent to review exactly when its
    confidence is below it (for index funds, whose review has no other cause), and moving the threshold across a
    row's confidence moves the row."""
    frame = pd.DataFrame({"基金简称": ["华夏中证机器人ETF", "示例中证国有企业红利ETF", "华泰柏瑞沪深300ETF", "长安沪深300非周期A"],
                          "跟踪指数名称": ["中证机器人指数", "中证国有企业红利指数", "沪深300指数", "沪深300非周期"]})
    t = model_tagger.manifest["threshold"]
    out = model_tagger.tag(frame)
    conf = out["confidence"].astype(float)
    assert out["needs_review"].tolist() == (conf < t).tolist()
    assert out["needs_review"].any() and not out["needs_review"].all()  # both sides of the threshold are exercised
    # a tagger told another threshold (between two rows' confidences) decides by that one instead
    lo, hi = sorted(conf)[0], sorted(conf)[-1]
    other = Tagger(model_tagger.taxonomy, model_tagger.model, model_tagger.manifest, threshold=(lo + hi) / 2)
    assert other.tag(frame)["needs_review"].tolist() == (conf < (lo + hi) / 2).tolist()


def test_same_input_same_output(model_tagger, small_frame):
    a, b = model_tagger.tag(small_frame), model_tagger.tag(small_frame)
    pd.testing.assert_frame_equal(a, b)


def _copy_model(tmp_path):
    d = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, d)
    return d


def test_model_refuses_a_file_that_does_not_match_its_manifest(tmp_path, taxonomy):
    d = _copy_model(tmp_path)
    with open(d / "model.npz", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ModelError, match="does not match the manifest"):
        load_model(d, taxonomy)


def test_model_refuses_another_taxonomy(tmp_path):
    from classifier.taxonomy import DEFAULT_TAXONOMY

    other = tmp_path / "other.toml"
    other.write_text(DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"',
                                                                           'version = "jrj-2026.01-r2"'), encoding="utf-8")
    with pytest.raises(ModelError, match=r"trained for taxonomy jrj2026 jrj-2026.01-r1.*fundclass train --taxonomy"):
        Tagger.load(DEFAULT_MODEL_DIR, other)


def test_rules_only_mode(rules_tagger):
    out = rules_tagger.tag(pd.DataFrame({"name": ["华夏中证机器人ETF"]}))
    assert out["model_version"].tolist() == ["rules-only"]
    assert out["secondary"].tolist() == ["科技成长主题ETF"]


def test_api_users_get_classes_and_probabilities(model_tagger):
    frame = pd.DataFrame({"基金简称": ["华夏中证机器人ETF", "华泰柏瑞沪深300ETF", "示例中证红利ETF"]})
    proba = model_tagger.predict_proba(frame)
    assert proba.shape == (3, len(model_tagger.classes_)) and np.allclose(proba.sum(axis=1), 1.0)
    assert model_tagger.classes_[proba.argmax(axis=1)].tolist() == model_tagger.tag(frame)["secondary"].tolist()


def test_no_runner_up_is_shown_likelier_than_the_chosen_class(model_tagger):
    names = ["华夏回报", "某某稳健成长混合A", "示例中证国有企业红利ETF", "华夏中证机器人ETF", "示例全球精选混合", "长安沪深300非周期A"]
    out = model_tagger.tag(pd.DataFrame({"基金简称": names}))
    for conf, alt in zip(out["confidence"], out["alternatives"]):
        assert all(float(a.split(":")[1]) <= conf + 1e-3 for a in alt.split(";") if a), (conf, alt)


def test_an_active_fund_with_nothing_to_classify_by_gets_no_guess(model_tagger):
    """No class word in its names, no holdings concentration: the model's guess would be noise that flips with every
    retraining, so the row is left blank for review and says why."""
    out = model_tagger.tag(pd.DataFrame({"基金简称": ["景顺长城品质投资混合A", "示例消费精选混合A"],
                                         "基金类型": ["混合型-偏股", "混合型-偏股"]}))
    assert out["secondary"].tolist() == ["", "消费主题ETF"] and out["confidence"].iloc[0] == 0.0
    assert out["needs_review"].all() and out["evidence"].iloc[0].startswith("主动管理基金: 名称无分类词")
    # the named one is in review for want of holdings, whatever its confidence, and its evidence says so
    assert "主动管理基金: 持仓未显示单一行业占比>30%(seed 004)" in out["evidence"].iloc[1]


def test_an_active_fund_whose_holdings_show_a_concentration_is_not_asked_about(tmp_path):
    """With holdings concentrated in one industry (seed 004) an active fund is accepted on its confidence alone, and
    its evidence carries no request for holdings."""
    from classifier.holdings import load_sw_map

    sw = load_sw_map()  # the shipped map: stock code → Shenwan L1 industry
    stocks = sw[sw == "医药生物"].index[:10].tolist()
    h = tmp_path / "h.csv"
    pd.DataFrame({"fund_code": "990501", "stock_code": stocks, "weight": 8.0}).to_csv(h, index=False)
    tagger = Tagger.load(holdings_path=h)
    out = tagger.tag(pd.DataFrame({"基金代码": ["990501"], "基金简称": ["示例医疗健康混合A"],
                                   "基金类型": ["混合型-偏股"]}))
    assert out["holding_industry"].iloc[0] == "医药生物" and out["holding_industry_share"].iloc[0] > 30
    assert "持仓未显示" not in out["evidence"].iloc[0]
