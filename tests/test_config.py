"""A configuration file (`fundclass --config FILE`, or $FUNDCLASS_CONFIG) overrides any key of defaults.toml, and
refuses what defaults.toml does not have."""
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier import config
from classifier.cli import cli
from classifier.config import project_path

SAMPLE = project_path("examples/new_listings.csv")


@pytest.fixture(autouse=True)
def reset_config():
    yield
    config.use_config(None)  # the CLI sets the file for the process; later tests see defaults.toml again


def _tag(tmp_path, *global_opts, env=None):
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(cli, [*global_opts, "tag", str(SAMPLE), "-o", str(out), "--rules-only"], env=env)
    assert r.exit_code == 0, r.output
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def _listed(df):
    classified = df[df["secondary"].ne("") & df["secondary"].ne("不适用")]
    return classified["alternatives"].map(lambda a: len(a.split(";")) if a else 0)


def test_a_config_file_overrides_tag_keys(tmp_path):
    plain = _listed(_tag(tmp_path))
    assert len(plain) and (plain == 0).all()  # rules only: no runner-up reaches tag.alternative_min = 0.05
    cfg = tmp_path / "mine.toml"
    # every runner-up qualifies now; of the `alternatives` likeliest classes the chosen one is not listed
    cfg.write_text("[tag]\nalternatives = 4\nalternative_min = 0.0\n", encoding="utf-8")
    assert (_listed(_tag(tmp_path, "--config", str(cfg))) == 3).all()
    cfg.write_text("[tag]\nalternatives = 2\nalternative_min = 0.0\n", encoding="utf-8")
    assert (_listed(_tag(tmp_path, env={"FUNDCLASS_CONFIG": str(cfg)})) == 1).all()


def test_a_config_file_sets_the_library_defaults(tmp_path):
    cfg = tmp_path / "mine.toml"
    cfg.write_text("[tag]\nchunk_rows = 7\n[train]\nC_text = 5\n", encoding="utf-8")
    config.use_config(cfg)
    assert config.defaults()["tag"]["chunk_rows"] == 7 and config.defaults()["train"]["C_text"] == 5
    assert config.defaults()["tag"]["alternatives"] == config.shipped_defaults()["tag"]["alternatives"]
    config.use_config(None)
    assert config.defaults()["tag"]["chunk_rows"] == config.shipped_defaults()["tag"]["chunk_rows"]


@pytest.mark.parametrize("text, message", [
    ("[tag]\nalternativs = 2\n", "unknown configuration key tag.alternativs"),
    ("[tagging]\nalternatives = 2\n", "unknown configuration section [tagging]"),
    ("[tag]\nalternatives = 'three'\n", "tag.alternatives = 'three' should be a int"),
    ("[tag\n", "cannot read configuration file"),
])
def test_a_config_file_with_an_unknown_or_wrong_key_is_refused(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "tag", str(SAMPLE), "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 2
    assert f"error: {cfg}: " in r.output and message in r.output, r.output
    assert not (tmp_path / "o.csv").exists()


def test_the_seed_004_share_is_a_setting_and_the_evidence_quotes_it(tmp_path):
    from classifier.manifest import DEFAULT_MODEL_DIR
    from classifier.pipeline import Tagger

    sw = tmp_path / "sw.csv"
    pd.DataFrame({"stock_code": ["600519", "000858", "601318"], "effective_end_date": ["99991231"] * 3,
                  "sw_l1_name": ["食品饮料", "食品饮料", "非银金融"]}).to_csv(sw, index=False)
    h = tmp_path / "h.csv"
    pd.DataFrame({"fund_code": ["990010"] * 3, "stock_code": ["600519", "000858", "601318"],
                  "weight_pct": ["9.5", "9.0", "1.0"]}).to_csv(h, index=False)
    frame = pd.DataFrame({"基金代码": ["990010"], "基金简称": ["示例消费精选混合A"], "基金类型": ["混合型-偏股"]})

    def evidence():
        return Tagger.load(DEFAULT_MODEL_DIR, holdings_path=h, sw_map_path=sw).tag(frame)["evidence"].iloc[0]

    assert "行业主题" not in evidence()  # 18.5% of NAV is below the shipped 30%
    cfg = tmp_path / "mine.toml"
    cfg.write_text("[tag]\nindustry_theme_share = 15.0\n", encoding="utf-8")
    config.use_config(cfg)
    assert "持仓:食品饮料 18.5%>15% 行业主题(seed 004" in evidence()


def test_the_environment_variable_is_read_on_every_call(tmp_path, monkeypatch):
    # a library user who sets $FUNDCLASS_CONFIG after the configuration was first read gets the new file
    assert config.defaults()["tag"]["alternatives"] == config.shipped_defaults()["tag"]["alternatives"]
    user = tmp_path / "mine.toml"
    user.write_text("[tag]\nalternatives = 1\n", encoding="utf-8")
    monkeypatch.setenv(config.ENV_CONFIG, str(user))
    assert config.defaults()["tag"]["alternatives"] == 1
    monkeypatch.delenv(config.ENV_CONFIG)
    assert config.defaults()["tag"]["alternatives"] == config.shipped_defaults()["tag"]["alternatives"]


def test_a_negative_head_prior_is_refused_naming_the_file_and_key(tmp_path):
    """tag.head_prior_reads counts the model's confidence as reads against a head's blind reads: a negative count
    would give a confidence outside 0–1 (or divide by zero), so the command stops before reading the input."""
    cfg = tmp_path / "mine.toml"
    cfg.write_text("[tag]\nhead_prior_reads = -4.0\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(cli, ["--config", str(cfg), "tag", str(SAMPLE), "-o", str(out)])
    assert r.exit_code != 0 and not out.exists()
    assert f"{cfg}: tag.head_prior_reads = -4.0" in r.output and "0 or more (default 2.0)" in r.output
