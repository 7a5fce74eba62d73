"""The holdings table shipped with the package (classifier/reference/fund_industry_weights_2022.csv): `fundclass train`
uses it when no holdings file is given, so a user's retraining, without the raw data folder, trains the model the
developers train (audit round 12: it used the raw folder's 2022 holdings "when it exists", and a user's retrained
model, without holdings, sent 5 rows of a small batch to review where the shipped one sent 1)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import HOLDINGS, TRAINING_GROUPS, write_labeled_subset

from classifier.cli import cli

needs_holdings = pytest.mark.skipif(not HOLDINGS.exists(), reason=f"shared holdings file not found at {HOLDINGS}")


def same_bits(a, b) -> list[str]:
    """Columns of two feature tables that differ in any bit (NaN, -0.0 and the last digit included)."""
    assert list(a.columns) == list(b.columns) and a.index.equals(b.index)
    out = []
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        same = np.array_equal(x.view(np.int64), y.view(np.int64)) if x.dtype.kind == "f" else (x == y).all()
        if not same or a[c].dtype != b[c].dtype:
            out.append(c)
    return out


@needs_holdings
def test_shipped_holdings_table_is_what_the_raw_file_gives():
    # the table is the raw file's aggregate as the code computes it today (rebuilt by scripts/build_holdings_table.py
    # when the file, the Shenwan map or the [holdings] words change), and its features are the file's, bit for bit
    from classifier.holdings import (SHIPPED_HOLDINGS, SHIPPED_HOLDINGS_SOURCE, holdings_features, holdings_weights,
                                     load_shipped_holdings, load_sw_map, weights_csv)

    assert HOLDINGS.name == SHIPPED_HOLDINGS_SOURCE
    sw = load_sw_map()
    assert SHIPPED_HOLDINGS.read_text(encoding="utf-8") == weights_csv(holdings_weights(HOLDINGS, sw))
    raw, shipped = holdings_features(HOLDINGS, sw), load_shipped_holdings()
    assert same_bits(shipped.table, raw.table) == []
    assert shipped.industries == raw.industries and shipped.columns() == raw.columns()
    assert shipped.sw_map_as_of == raw.sw_map_as_of != ""


def test_shipped_holdings_table_names_no_stock_and_fits_the_shipped_map_and_words():
    # what a machine without the raw data can check: one row per fund code, the weight columns, then industries that
    # are the shipped map's or the vocabulary's Hong Kong / other words (a renamed word would go unnoticed otherwise)
    import pandas as pd

    from classifier.holdings import SHIPPED_HOLDINGS, WEIGHT_COLUMNS, load_sw_map
    from classifier.vocabulary import load_vocabulary

    t = pd.read_csv(SHIPPED_HOLDINGS, dtype=str, keep_default_na=False)
    assert list(t.columns[:6]) == ["fund_code", *WEIGHT_COLUMNS]
    assert t["fund_code"].str.fullmatch(r"\d{6}").all() and t["fund_code"].is_unique
    assert t["fund_code"].is_monotonic_increasing
    v = load_vocabulary()
    industries = set(t.columns[6:])
    assert industries <= set(load_sw_map().unique()) | {v.hong_kong, v.other_industry}
    assert len(t) > 9000 and (t["weight_total"] != "").all()


@pytest.fixture(scope="module")
def trained_without_raw(tmp_path_factory):
    """A model trained by `fundclass train` with no holdings option on a machine without the raw data folder."""
    import os

    d = tmp_path_factory.mktemp("no_raw")
    labels = d / "labeled" / "labels.csv"
    labels.parent.mkdir()
    from classifier.labeled import SHIPPED_LABELS

    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=TRAINING_GROUPS)
    before = os.environ.get("FUNDCLASS_RAW")
    os.environ["FUNDCLASS_RAW"] = str(d / "no_such_raw_folder")
    try:
        r = CliRunner().invoke(cli, ["train", "--labeled", str(labels), "-o", str(d / "m")])
    finally:
        if before is None:
            del os.environ["FUNDCLASS_RAW"]
        else:
            os.environ["FUNDCLASS_RAW"] = before
    assert r.exit_code == 0, r.output
    return labels, d / "m", r.output


def test_train_without_the_raw_folder_uses_the_shipped_holdings_table(trained_without_raw):
    from classifier.holdings import SHIPPED_HOLDINGS, SHIPPED_HOLDINGS_SOURCE, load_shipped_holdings

    _, model, output = trained_without_raw
    manifest = json.loads((model / "manifest.json").read_text(encoding="utf-8"))
    shipped = load_shipped_holdings()
    # the holdings model was fitted, on the shipped table's funds, and the manifest names the file it was derived
    # from, as a training on that file does (so the two trainings give the same model version)
    assert manifest["holdings"]["funds"] == len(shipped.table) > 9000
    assert manifest["holdings"]["source"] == SHIPPED_HOLDINGS_SOURCE
    assert manifest["holdings"]["columns"] == shipped.columns()
    assert f"holdings: {len(shipped.table)} funds (the shipped table {SHIPPED_HOLDINGS.name}" in output
    arrays = np.load(model / "model.npz")
    assert any(k.startswith("hold") for k in arrays.files)  # the holdings model is part of the model


@needs_holdings
def test_train_gives_the_same_model_with_or_without_the_raw_folder(trained_without_raw, tmp_path):
    # the same command on a developer's machine (with the raw file) and a user's (without) trains the same bytes
    labels, model, _ = trained_without_raw
    r = CliRunner().invoke(cli, ["train", "--labeled", str(labels), "-o", str(tmp_path / "m"), "--holdings",
                                 str(HOLDINGS)])
    assert r.exit_code == 0, r.output
    for f in ("manifest.json", "model.json", "model.npz"):
        assert (tmp_path / "m" / f).read_bytes() == (model / f).read_bytes(), f


def test_train_holdings_options_and_configuration(tmp_path, monkeypatch):
    from classifier.config import use_config
    from classifier.errors import InputError
    from classifier.holdings import SHIPPED_HOLDINGS_SOURCE
    from classifier.workflows import _holdings

    monkeypatch.setenv("FUNDCLASS_RAW", str(tmp_path / "no_raw"))
    H, src, said = _holdings(None, None, allow_default=True)
    assert H is not None and src == SHIPPED_HOLDINGS_SOURCE and "shipped table" in said
    # --holdings FILE wins over the table
    f = tmp_path / "h.csv"
    f.write_text("fund_code,stock_code,weight_pct\n000001,600519,9.5\n000002,00700,3\n", encoding="utf-8")
    H, src, said = _holdings(str(f), None, allow_default=True)
    assert list(H.table.index) == ["000001", "000002"] and src == "h.csv" and said == "2 funds (h.csv)"
    with pytest.raises(InputError, match="nosuch.csv: no such holdings file"):
        _holdings(str(tmp_path / "nosuch.csv"), None, allow_default=True)
    # --sw-map maps a file's stocks: the table's weights were computed with the shipped map, so alone it is refused
    # (it used to map the raw file's stocks where that file was, and be ignored where it was not)
    with pytest.raises(InputError, match="--sw-map .* pass --holdings FILE with it"):
        _holdings(None, str(tmp_path / "map.csv"), allow_default=True)
    # a configuration naming a holdings file (relative to the raw data folder) trains on it; one that is not there
    # is refused, naming the key, not skipped
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[paths]\nholdings = "h.csv"\n', encoding="utf-8")
    monkeypatch.setenv("FUNDCLASS_RAW", str(tmp_path))
    use_config(cfg)
    try:
        assert _holdings(None, None, allow_default=True)[1] == "h.csv"
        monkeypatch.setenv("FUNDCLASS_RAW", str(tmp_path / "no_raw"))
        with pytest.raises(InputError, match=r"no such holdings file \(paths.holdings = 'h.csv' of .*cfg.toml"):
            _holdings(None, None, allow_default=True)
    finally:
        use_config(None)
    # eval and the like (allow_default=False) use holdings only when given one
    assert _holdings(None, None, allow_default=False)[0] is None
