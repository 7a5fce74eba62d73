"""Helpers and data of the review-loop tests (test_review_*.py: the review loop and taxonomy changes, end to end),
shared by those files."""
import shutil

import openpyxl
import pandas as pd

from classifier.cli import cli
from classifier.labeled import SHIPPED_LABELS
from classifier.pipeline import Tagger
from classifier.io import write_table
from classifier.review import FLAG, REVIEW_COLUMNS, import_review, review_frame
from classifier.taxonomy import DEFAULT_TAXONOMY, load_taxonomy
from conftest import TRAINING_GROUPS, write_labeled_subset

# a sheet as one exported from a file tagged before review_decision existed: which rows show a decision is read from
# their confidence (1) alone; tests of the column add it
SHEET_COLUMNS = [c for c in REVIEW_COLUMNS if c != FLAG]

TAX_VERSION = load_taxonomy().version

NEW_FUNDS = pd.DataFrame({
    "基金代码": ["990001", "990002", "990003"],
    "基金简称": ["示例优选成长混合A", "示例稳健回报混合A", "示例中证机器人ETF"],
})


def _fill(xlsx, decisions: dict[str, str], reviewer="张三"):
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["review"]
    head = [c.value for c in ws[1]]
    ci, di, ri = head.index("fund_code") + 1, head.index("decision") + 1, head.index("reviewer") + 1
    for row in range(2, ws.max_row + 1):
        code = ws.cell(row, ci).value
        if code in decisions:
            ws.cell(row, di).value = decisions[code]
            ws.cell(row, ri).value = reviewer
    wb.save(xlsx)


def _small_labels_copy(tmp_path, keep=None):
    """For the tests that train: whole groups of the shipped labeled set (see conftest.write_labeled_subset)."""
    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, p, n_groups=TRAINING_GROUPS, keep=keep)
    return p


def _withdraw_after_split(runner, tmp_path, labels, new_tax, code):
    """`review import` of a sheet withdrawing (撤销) ``code``'s decision, under the split taxonomy; the result."""
    sheet = tmp_path / "withdraw.csv"
    pd.DataFrame({"fund_code": [code], "decision": ["撤销"], "reviewer": ["张三"],
                  "taxonomy_version": ["jrj-2026.02-split"]}).to_csv(sheet, index=False)
    res = runner.invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels), "--taxonomy", str(new_tax)])
    assert res.exit_code == 0, res.output
    return res



A500_FAMILY = pd.DataFrame({"fund_code": ["022423", "022422", "022421"],
                            "fund_short_name": ["大成中证A500ETF发起式联接E", "大成中证A500ETF发起式联接C",
                                                "大成中证A500ETF发起式联接A"],
                            "fund_type": ["指数型-股票"] * 3})


def _decide_a500_family(tmp_path, labels_subset, code, today=None):
    """张三 decides 制造业主题ETF on ``code``'s row of a review sheet of A500_FAMILY (``today`` None: today, as
    `review export` reckons); what the sheet said that decision settles."""
    sheet = review_frame(Tagger.load(labels_path=labels_subset).tag(A500_FAMILY), include_all=True,
                         labels_path=labels_subset)
    k = sheet.index[sheet["fund_code"] == code][0]
    sheet.loc[k, ["decision", "reviewer"]] = ["制造业主题ETF", "张三"]
    write_table(sheet, tmp_path / f"{code}.csv")
    import_review(tmp_path / f"{code}.csv", load_taxonomy(), labels_subset, today=today)
    return sheet.at[k, "settles"]


RENAME_MIGRATION = """[migration]
from = "jrj-2026.01-r1"
to = "jrj-2026.02-rename"

[map]
"周期主题ETF" = ["周期行业ETF"]
"""


RENAME_MERGE_MIGRATION = """[migration]
from = "jrj-2026.01-r1"
to = "jrj-2026.02-merge"

[map]
"制造业主题ETF" = ["高端制造ETF"]
"周期主题ETF" = ["资源主题ETF"]
"""
RENAMED = {"制造业主题ETF": "高端制造ETF", "周期主题ETF": "资源主题ETF"}


def rename_merge_taxonomy(path):
    """The shipped taxonomy with 制造业主题ETF renamed 高端制造ETF and 周期主题ETF merged into 资源主题ETF."""
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"',
                                                             'version = "jrj-2026.02-merge"')
    start = t.index('[[class]]\nprimary = "经济结构与周期"\nsecondary = "周期主题ETF"\n')
    t = t[:start] + t[t.index("[[class]]", start + 1):]
    t = t.replace('"周期主题ETF"', '"资源主题ETF"').replace('"制造业主题ETF"', '"高端制造ETF"')
    path.write_text(t, encoding="utf-8")
    return path


def _with_agreement(labels_path):
    """The shipped blind reads (agreement.csv) beside a copy of the labeled set."""
    shutil.copy(SHIPPED_LABELS.with_name("agreement.csv"), labels_path.with_name("agreement.csv"))
    return labels_path.with_name("agreement.csv")


def _agreement_of(label, reads):
    """build_agreement's share of the reads equal to the label, as it writes it ('nan' with no reads, or no label to
    measure them against: a head of an index read alone whose readers reached no majority)."""
    return f"{sum(r == label for r in reads) / len(reads):.4g}" if reads and label else "nan"


def _decide(tmp_path, labels_copy, rows):
    """Import decisions (fund_code, fund_name, decision) made by 张三, as `fundclass review import` does."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame([{"fund_code": c, "fund_name": n, "decision": d, "reviewer": "张三",
                   "taxonomy_version": load_taxonomy().version} for c, n, d in rows]).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_copy, today="2026-11-30")


def _tagged_frame(**overrides) -> pd.DataFrame:
    """A small tagged file as `fundclass tag` writes it (the columns `review export` reads)."""
    f = pd.DataFrame({"基金代码": ["990901", "990902", "990903", "990904"],
                      "基金简称": ["甲中证军工ETF", "乙中证军工ETF", "丙中证军工ETF", "丁中证绿色能源ETF"],
                      "跟踪指数代码": ["399967.SZ", "399967.SZ", "399967.SZ", "931733.CSI"],
                      "跟踪指数名称": ["中证军工指数", "中证军工指数", "中证军工指数", "中证绿色能源指数"],
                      "primary": ["市场基准与分析框架"] * 3 + ["产业趋势与升级"],
                      "secondary": ["(申万)行业ETF"] * 3 + ["绿色主题ETF"],
                      "confidence": [0.6, 0.6, 0.6, 0.55], "needs_review": [True] * 4,
                      "alternatives": [""] * 4, "evidence": ["x"] * 4,
                      "taxonomy_version": [load_taxonomy().version] * 4})
    return f.assign(**overrides)


def _review_sheet(path, rows):
    """A review sheet as `review export` writes it: rows of (fund_code, the tool's answer shown, decision, reviewer);
    each answer at confidence 1, as a fund a review decision settles shows (a test of the tool's own answer sets it
    below 1)."""
    version = load_taxonomy().version
    df = pd.DataFrame([{c: "" for c in SHEET_COLUMNS} for _ in rows])
    for i, (code, shown, decision, reviewer) in enumerate(rows):
        df.loc[i, ["fund_code", "fund_name", "secondary", "confidence", "primary", "decision", "reviewer",
                   "taxonomy_version", "group"]] = [code, f"示例{code}ETF", shown, "1" if shown else "0",
                                                    load_taxonomy().primary_of(shown) if shown else "", decision,
                                                    reviewer, version, code]
    write_table(df, path)
    return path



def _decide_index(tmp_path, labels_subset, code, name, index_code, index_name, today):
    """张三 decides 策略主题ETF on one fund of an index (a one-row sheet giving its index code and name)."""
    sheet = tmp_path / "decisions.csv"
    pd.DataFrame({"fund_code": [code], "fund_name": [name], "index_code": [index_code], "index_name": [index_name],
                  "decision": ["策略主题ETF"], "reviewer": ["张三"], "taxonomy_version": [TAX_VERSION]}
                 ).to_csv(sheet, index=False)
    import_review(sheet, load_taxonomy(), labels_subset, today=today)


TECH_RENAME_MIGRATION = """[migration]
from = "jrj-2026.01-r1"
to = "jrj-2026.02-tech"

[map]
"科技成长主题ETF" = ["科技主题ETF"]
"""


def _chinext_list():
    """Three 创业板 feeders as a fund list gives them (names alone); the labeled set holds them with the index name
    创业板指 (group idx:创业板指), where their names give the file `idx:创业板`."""
    return pd.DataFrame({"基金代码": ["009012", "004744", "001592"],
                         "基金简称": ["平安创业板ETF联接A", "易方达创业板ETF联接C", "天弘创业板ETF联接A"],
                         "基金类型": ["指数型-股票"] * 3})


def _decisions_sheet(path, rows, reviewer="张三"):
    """A sheet of decisions (fund_code, fund_name, decision), as a reviewer writes one from a list of names."""
    pd.DataFrame([{"fund_code": c, "fund_name": n, "decision": d, "reviewer": reviewer, "taxonomy_version": TAX_VERSION}
                  for c, n, d in rows]).to_csv(path, index=False)
    return path
