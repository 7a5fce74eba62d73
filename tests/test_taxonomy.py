import re

import pytest

from classifier.errors import TaxonomyError
from classifier.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

REPORT_LABELS = ["制造业主题ETF", "科技成长主题ETF", "绿色主题ETF", "资源主题ETF", "消费主题ETF", "周期主题ETF",
                 "商品主题ETF", "国企主题ETF", "民企主题ETF", "地域经济主题ETF", "策略主题ETF", "跨境主题ETF", "宽基ETF",
                 "(申万)行业ETF"]


def test_default_taxonomy_has_the_reports_classes(taxonomy):
    assert taxonomy.primaries == ["产业趋势与升级", "经济结构与周期", "企业属性与治理", "策略与配置工具", "市场基准与分析框架"]
    assert taxonomy.secondaries == REPORT_LABELS
    assert taxonomy.primary_of("(申万)行业ETF") == "市场基准与分析框架"
    assert sum(c.report_count for c in taxonomy.classes) == 633  # 表 3 total
    assert set(taxonomy.out_of_scope) == {"债券", "货币", "REITs", "FOF"}
    assert re.fullmatch(r"[0-9a-f]{64}", taxonomy.sha256)


def _broken(tmp_path, old, new):
    text = DEFAULT_TAXONOMY.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "broken.toml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def _line_of(path, needle):
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_duplicate_class_is_named_with_its_line(tmp_path):
    p = _broken(tmp_path, 'secondary = "周期主题ETF"', 'secondary = "消费主题ETF"')
    with pytest.raises(TaxonomyError) as e:
        load_taxonomy(p)
    msg = str(e.value)
    assert "duplicate class" in msg and "消费主题ETF" in msg
    second = [i for i, ln in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if ln.strip() == "[[class]]"][5]
    assert f"broken.toml:{second}:" in msg


def test_keyword_in_two_classes(tmp_path):
    p = _broken(tmp_path, 'keywords = ["周期", "上游"', 'keywords = ["消费", "上游"')
    with pytest.raises(TaxonomyError, match=r"keyword '消费' also belongs to '消费主题ETF' \(line \d+\)"):
        load_taxonomy(p)


def test_secondary_without_primary(tmp_path):
    p = _broken(tmp_path, 'primary = "企业属性与治理"\nsecondary = "民企主题ETF"', 'secondary = "民企主题ETF"')
    with pytest.raises(TaxonomyError, match="'民企主题ETF': secondary class without a 'primary'"):
        load_taxonomy(p)


def test_rule_for_unknown_class_and_tier(tmp_path):
    p = _broken(tmp_path, 'class = "民企主题ETF"\ntier = "ownership"', 'class = "私企主题ETF"\ntier = "ownership"')
    with pytest.raises(TaxonomyError) as e:
        load_taxonomy(p)
    line = _line_of(p, 'id = "ownership.private"') - 1
    assert f":{line}: [[rule]] 'ownership.private': class '私企主题ETF' is not a [[class]]" in str(e.value)
    p2 = _broken(tmp_path, 'tier = "ownership"\nterms = ["民企"', 'tier = "owner"\nterms = ["民企"')
    with pytest.raises(TaxonomyError, match="tier 'owner' is not in \\[tiers\\]"):
        load_taxonomy(p2)


def test_same_term_two_classes_same_tier_needs_a_priority(tmp_path):
    p = _broken(tmp_path, 'terms = ["民企", "民营", "私企"]', 'terms = ["民企", "民营", "私企", "央企"]')
    with pytest.raises(TaxonomyError, match="term '央企' also votes for '国企主题ETF' in rule 'ownership.state'"):
        load_taxonomy(p)


def test_every_problem_is_reported_at_once(tmp_path):
    p = _broken(tmp_path, 'secondary = "周期主题ETF"', 'secondary = "消费主题ETF"')
    text = p.read_text(encoding="utf-8").replace('tier = "ownership"\nterms = ["民企"', 'tier = "nope"\nterms = ["民企"')
    p.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"4 problem\(s\)") as e:
        load_taxonomy(p)
    msg = str(e.value)  # the duplicate, the rule it orphans, the contested class it orphans, the unknown tier
    assert "duplicate class" in msg and "'cycle.core': class '周期主题ETF' is not a [[class]]" in msg
    assert "'consumer.non_cyclical': contested = '周期主题ETF' must be another [[class]]" in msg
    assert "tier 'nope' is not in [tiers]" in msg


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text("[taxonomy\nid=", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid TOML"):
        load_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        load_taxonomy(tmp_path / "missing.toml")


def test_terms_are_normalized_as_input_text_is(tmp_path):
    """Traditional, full-width, spaced or lower-case terms match what they say (issue 13)."""
    p = _broken(tmp_path, 'terms = ["医药", "医疗",', 'terms = ["醫藥", "ｅｔｆ醫療", "沪深 300医药", "医疗",')
    from classifier.rules import RuleLayer

    tax = load_taxonomy(p)
    rule = next(r for r in tax.rules if r.id == "industry.health")
    assert rule.terms[:3] == ("医药", "ETF医疗", "沪深300医药")
    hits = RuleLayer(tax).match_text("沪深300医药卫生", "index")
    assert any(h.term == "沪深300医药" for h in hits)


@pytest.mark.parametrize("old,new,message", [
    ('not_applicable = "不适用"', "not_applicable = 5", "not_applicable must be a label"),
    ('secondary = "周期主题ETF"', 'secondary = "周期:主题ETF"', "must not contain ':' or ';'"),
    ("report_count = 5\n", 'report_count = "lots"\n', "report_count must be a whole number, got 'lots'"),
    ('terms = ["民企", "民营", "私企"]', 'terms = ["民企", " ", "私企"]', "must be a list of non-empty strings"),
])
def test_structural_mistakes_are_one_line_messages(tmp_path, old, new, message):
    p = _broken(tmp_path, old, new)
    with pytest.raises(TaxonomyError, match=re.escape(message)):
        load_taxonomy(p)


@pytest.mark.parametrize("text,message", [
    ('class = ["a", "b"]\n', "'class' must be written as [[class]] tables"),
    ('[rule]\nid = "x"\n', "'rule' must be written as [[rule]] tables"),
    ('out_of_scope = ["债券"]\n', "'out_of_scope' must be written as [[out_of_scope]] tables"),
    ("", "no [[class]] tables"),
])
def test_tables_of_the_wrong_shape_are_named(tmp_path, text, message):
    p = tmp_path / "t.toml"
    top, tables = (text, "") if not text.startswith("[") else ("", text)  # top-level keys come before any table
    p.write_text(top + '[taxonomy]\nid = "t"\nversion = "t-1"\nname = "t"\n\n[tiers]\ntheme = 50\n\n' + tables,
                 encoding="utf-8")
    with pytest.raises(TaxonomyError, match=re.escape(message)):
        load_taxonomy(p)


def test_a_taxonomy_without_rules_is_refused(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text('[taxonomy]\nid = "t"\nversion = "t-1"\nname = "t"\n\n[[class]]\nprimary = "甲"\nsecondary = "乙"\n',
                 encoding="utf-8")
    with pytest.raises(TaxonomyError, match=re.escape("no [[rule]] tables")):
        load_taxonomy(p)


def test_index_code_patterns_match_in_linear_time(tmp_path):
    """A rule code such as ^(A+)+$ used to hang tagging on an index code like AAAA…! (issue 13)."""
    p = _broken(tmp_path, "code = '^801\\d{3}'", "code = '^(A+)+$'")
    tax = load_taxonomy(p)
    rule = next(r for r in tax.rules if r.id == "shenwan.code")
    assert type(rule.code).__module__.startswith("re2")  # the linear-time engine, checked before the slow case
    from classifier.rules import RuleLayer

    assert RuleLayer(tax).match_text("中证某指数", "index", code="A" * 5000 + "!") == ()


def test_a_code_pattern_re2_cannot_run_is_refused(tmp_path):
    p = _broken(tmp_path, "code = '^801\\d{3}'", "code = '(8)\\1'")
    with pytest.raises(TaxonomyError, match=r"'code' is not a regular expression RE2 accepts .*backreferences"):
        load_taxonomy(p)
