"""The user's path, as a user runs it: the installed ``fundclass`` command, in a folder that is not the checkout.

tag → review export → fill in decisions → import → tag (then nothing needs review: an empty sheet) → train → tag, for
CSV, XLSX and Parquet inputs. Nothing here reads ../shared: a user has no such folder.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import TRAINING_GROUPS, write_labeled_subset

from classifier.pipeline import OUTPUT_COLUMNS

CHECKOUT = Path(__file__).resolve().parents[1]
EXE = shutil.which("fundclass", path=os.path.dirname(sys.executable)) or shutil.which("fundclass")
pytestmark = pytest.mark.skipif(EXE is None, reason="fundclass is not installed (pip install .)")

ACTIVE = pd.DataFrame({"基金代码": ["990101", "990102", "990103"],
                       "基金简称": ["示例优选成长混合A", "示例稳健回报混合A", "示例中证机器人ETF"],
                       "基金类型": ["混合型-偏股", "混合型-偏股", "指数型-股票"]})
def funds(prefix: str) -> pd.DataFrame:
    """ACTIVE as other funds: codes and names of their own (one name would make them share classes of one family,
    which a review decision on one of them settles)."""
    return ACTIVE.assign(基金代码=[prefix + c[4:] for c in ACTIVE["基金代码"]],
                         基金简称=[n.replace("示例", "示例" + prefix) for n in ACTIVE["基金简称"]])


def run(ws: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FUNDCLASS_RAW", "PYTHONPATH")}
    env["FUNDCLASS_RAW"] = str(ws / "no-raw-data")  # as on a user's machine
    p = subprocess.run([EXE, *args], cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"fundclass {' '.join(args)}\n{p.stdout}\n{p.stderr}"
    return p


def write(frame: pd.DataFrame, path: Path) -> Path:
    {".csv": lambda: frame.to_csv(path, index=False), ".xlsx": lambda: frame.to_excel(path, index=False),
     ".parquet": lambda: frame.to_parquet(path, index=False)}[path.suffix]()
    return path


def fill(review: Path, decisions: dict[str, str]) -> None:
    wb = openpyxl.load_workbook(review)
    ws = wb["review"]
    head = [c.value for c in ws[1]]
    for row in range(2, ws.max_row + 1):
        code = ws.cell(row, head.index("fund_code") + 1).value
        if code in decisions:
            ws.cell(row, head.index("decision") + 1).value = decisions[code]
            ws.cell(row, head.index("reviewer") + 1).value = "李四"
    wb.save(review)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("user") / "funds"
    ws.mkdir()
    assert CHECKOUT not in ws.parents
    run(ws, "init")
    # the labeled set init copied, cut to whole groups (conftest.write_labeled_subset): the train test's fit on all of
    # it costs ~8 s, and what it checks (where train writes, that tag then uses the new model) needs no more
    labels = ws / "data" / "labeled" / "labels.csv"
    write_labeled_subset(labels, labels, n_groups=TRAINING_GROUPS)
    return ws


def read(path: Path) -> pd.DataFrame:
    return {".csv": lambda: pd.read_csv(path, dtype=str), ".xlsx": lambda: pd.read_excel(path, dtype=str),
            ".parquet": lambda: pd.read_parquet(path)}[path.suffix]()


@pytest.mark.parametrize("ext, prefix", [(".csv", "9901"), (".xlsx", "9902"), (".parquet", "9903")])
def test_tag_review_import_round(workspace, ext, prefix):
    batch = funds(prefix)
    src = write(batch, workspace / f"batch{ext}")
    run(workspace, "tag", src.name, "-o", f"tagged{ext}", "-s")
    # the output, in the input's format: every input row and cell as it was, then the output columns
    tagged = read(workspace / f"tagged{ext}")
    assert tagged[list(batch.columns)].values.tolist() == batch.values.tolist()
    assert list(tagged.columns) == list(batch.columns) + OUTPUT_COLUMNS
    run(workspace, "review", "export", f"tagged{ext}", "-o", f"review_{ext[1:]}.xlsx")
    fill(workspace / f"review_{ext[1:]}.xlsx", {f"{prefix}01": "策略主题ETF", f"{prefix}02": "宽基ETF"})
    p = run(workspace, "review", "import", f"review_{ext[1:]}.xlsx")
    assert str(workspace / "data" / "labeled" / "labels.csv") in p.stderr  # says where it writes
    assert "added 2, changed 0" in p.stdout
    labels = pd.read_csv(workspace / "data" / "labeled" / "labels.csv", dtype=str).set_index("fund_code")
    assert labels.loc[f"{prefix}01", "secondary"] == "策略主题ETF" and labels.loc[f"{prefix}01", "source"] == "review"
    if ext != ".csv":
        # the XLSX and Parquet rounds' decisions are checked where the workspace tags next, after training
        # (test_train_in_the_workspace_then_tag_with_it): tagging again here, as the CSV round does, cost a process
        return
    # tagged again at once, before any training: the decisions just imported decide their funds
    run(workspace, "tag", src.name, "-o", "again.csv", "-s")
    out = read(workspace / "again.csv")
    assert out["secondary"].tolist()[:2] == ["策略主题ETF", "宽基ETF"]
    assert out["evidence"].iloc[0].startswith("人工复核: 李四")
    # and nothing of it needs review any more (the index ETF never did): the sheet is empty, and importing it adds,
    # changes and writes nothing (this file served as the batch where nothing needs review: a tag of a batch of its
    # own cost a process)
    assert not out["needs_review"].astype(str).eq("True").any()
    p = run(workspace, "review", "export", "again.csv", "-o", "clear_review.xlsx")
    assert "0 rows to review" in p.stdout
    assert "nothing in again.csv needs review; `fundclass review export again.csv --all" in p.stdout  # not a silent
    # empty sheet: what happened and how to see every row
    assert len(pd.read_excel(workspace / "clear_review.xlsx", sheet_name="review")) == 0
    before = (workspace / "data" / "labeled" / "labels.csv").read_bytes()
    assert "added 0, changed 0, confirmed 0" in run(workspace, "review", "import", "clear_review.xlsx").stdout
    assert (workspace / "data" / "labeled" / "labels.csv").read_bytes() == before  # nothing to write, nothing written


def test_train_in_the_workspace_then_tag_with_it(workspace):
    # the workspace holds what the tests above left: in its labeled set, the decisions of each
    # test_tag_review_import_round
    decided = {"990201": "策略主题ETF", "990202": "宽基ETF", "990301": "策略主题ETF", "990302": "宽基ETF"}
    batch = pd.concat([funds("9904"), funds("9902").iloc[:2], funds("9903").iloc[:2]], ignore_index=True)
    write(batch, workspace / "b.csv")
    p = run(workspace, "train", "--no-holdings")
    assert str(workspace / "models" / "default") in p.stderr
    manifest = (workspace / "models" / "default" / "manifest.json").read_text(encoding="utf-8")
    run(workspace, "tag", "b.csv", "-o", "t2.xlsx", "-s")
    out = read(workspace / "t2.xlsx")
    model_version = out["model_version"].iloc[0]
    assert model_version and model_version in manifest  # the workspace's new model tagged it, not the shipped one
    # the decisions imported in the XLSX and Parquet rounds decide their funds (the CSV round tags again itself)
    got = out.set_index("基金代码").loc[list(decided)]
    assert got["secondary"].tolist() == list(decided.values())
    assert got["evidence"].str.startswith("人工复核: 李四").all()
    import classifier

    assert not any(Path(classifier.__file__).parent.rglob("*.lock"))  # nothing written into the package
