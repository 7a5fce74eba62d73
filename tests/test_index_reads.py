"""Blind reads of indices no labeled fund tracks (data/labeled/*/reads/indices, rows ``read:<code>`` of
agreement.csv): a fund tracking such an index, given by its code, has the readers' doubt as a labeled head's fund
does; the labeled heads' own reads come first; nothing of them is fitted."""
import numpy as np
import pandas as pd
import pytest

from classifier.agreement import read_agreement
from classifier.config import project_path
from classifier.labeled import read_labels
from classifier.pipeline import Tagger
from classifier.train import index_head_reads

SETS = {"jrj": ("data/labeled/labels.csv", None), "efund": ("data/labeled/efund/labels.csv",
                                                            "taxonomy/efund2025.toml")}


def _index_rows(labels_path: str) -> pd.DataFrame:
    agreement = read_agreement(project_path(labels_path))
    return agreement[agreement.index.str.startswith("read:")]


def test_index_head_reads_key_by_code_only_drop_a_clash_and_skip_labeled_groups():
    labels = pd.DataFrame({"group": ["000300.SH"]})
    agreement = pd.DataFrame({"index_code": ["000300", "931594", "H30590", "930001", "930001.CSI", "932000"],
                              "index_name": ["沪深300", "中证储能", "机器人", "甲", "甲", "乙"],
                              "reads": ["宽基ETF;宽基ETF", "绿色主题ETF;科技成长主题ETF", "科技成长主题ETF", "A;A", "A;B",
                                        ""]},
                             index=["000300.SH", "read:931594", "read:H30590", "read:930001", "read:930001.CSI",
                                    "read:932000"])
    got = index_head_reads(labels, agreement)
    assert got == {"code:931594": ("科技成长主题ETF", "绿色主题ETF"), "code:H30590": ("科技成长主题ETF",)}


@pytest.mark.parametrize("name", SETS)
def test_the_shipped_index_reads_are_whole_and_their_label_is_the_readers_majority(name):
    rows = _index_rows(SETS[name][0])
    assert len(rows) >= 700  # a round of the CSI list's indices no labeled fund tracks
    assert (rows["n_funds"] == "0").all() and (rows["source"] == "blind reads of the index").all()
    for _, r in rows.iterrows():
        reads = r["reads"].split(";")
        assert len(reads) >= 2
        top = max(set(reads), key=reads.count)
        majority = reads.count(top) * 2 > len(reads)
        assert r["label"] == (top if majority else "")
        if majority:
            assert float(r["agreement"]) == pytest.approx(reads.count(top) / len(reads), abs=1e-3)


@pytest.mark.parametrize("name", SETS)
def test_the_shipped_model_gives_a_fund_of_an_index_read_alone_its_readers_doubt(name):
    labels_path, taxonomy = SETS[name]
    tagger = Tagger.load(taxonomy_path=project_path(taxonomy) if taxonomy else None, labels_path=None)
    head_reads = tagger.model.agreement_.head_reads_
    rows = _index_rows(labels_path)
    labels = read_labels(project_path(labels_path))
    # every index read alone whose code no labeled head holds is in the model (the model was trained on these reads)
    want = index_head_reads(labels, read_agreement(project_path(labels_path)))
    assert want and all(head_reads.get(k) == r for k, r in want.items())
    # a fund given by the code of an index its readers split on (one reads another class than the rest, at least)
    split = rows[(rows["reads"].map(lambda r: len(set(r.split(";"))) > 1))
                 & (rows["index_code"].map(lambda c: f"code:{c}" in want))].iloc[0]
    frame = pd.DataFrame({"基金简称": ["示例一号ETF", "示例一号ETF联接A"], "跟踪指数代码": [split["index_code"]] * 2,
                          "跟踪指数名称": [split["index_name"] + "指数"] * 2})
    out = tagger.tag(frame)
    assert out["needs_review"].all()  # the readers split: whichever class the model chose, a reader chose another
    assert out["evidence"].str.contains("该指数的独立盲读有分歧").all()
    n = len(split["reads"].split(";"))
    assert out["evidence"].str.contains(f"/{n} 选此类").all()
    assert (out["confidence"] < np.float64(tagger.threshold)).all()
