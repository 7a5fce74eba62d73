"""The labeled set as a transactional store: review decisions are never lost, doubled or corrupted (issue 14)."""
import csv
import multiprocessing as mp
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier import labeled as store
from classifier.cli import cli
from classifier.errors import ChangeRecovered, DecisionsNotApplied, InputError
from classifier.io import csv_text, read_table, write_table
from classifier.labeled import audit, read_labels
from classifier.review import FLAG, REVIEW_COLUMNS, import_review
from classifier.taxonomy import load_taxonomy
from classifier.workspace import check_writable, init
from conftest import TRAINING_GROUPS, write_labeled_subset

TAX = load_taxonomy()
SHEET_COLUMNS = [c for c in REVIEW_COLUMNS if c != FLAG]  # as review_helpers: a sheet without review_decision
EFUND = load_taxonomy(os.path.join(os.path.dirname(str(TAX.path)), "efund2025.toml"))


def _sheet(path, rows, columns=None):
    """A review sheet with ``rows`` of (fund_code, decision, comment) — every other column as export writes it."""
    df = pd.DataFrame([{c: "" for c in SHEET_COLUMNS} for _ in rows])
    for i, (code, decision, comment) in enumerate(rows):
        df.loc[i, ["fund_code", "decision", "comment", "reviewer", "taxonomy_version"]] = [
            code, decision, comment, "张三", TAX.version]
    if columns is not None:
        df = columns(df)
    write_table(df, path)
    return path


@pytest.fixture
def small_labels_copy(tmp_path):
    """Like conftest's labels_copy, with whole groups of the shipped labeled set (~1,100 of ~5,000 rows;
    conftest.write_labeled_subset), for the tests that audit the whole set after changing it: audit reads it row by
    row (~1.5 s on all of it)."""
    from classifier.labeled import SHIPPED_LABELS

    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, p)
    shutil.copy(SHIPPED_LABELS.with_name("history.csv"), p.with_name("history.csv"))
    return p


@pytest.fixture
def named_labels_copy(tmp_path, request):
    """Like conftest's labels_copy (a labeled set with the shipped history.csv, which a test may change), with whole
    groups of the shipped labeled set (conftest.write_labeled_subset, TRAINING_GROUPS of them) plus every group holding
    a fund whose six-digit code the test's source names, and every review decision: for the tests whose decisions and
    lookups touch only those funds (reading, rewriting and indexing all ~5,000 rows costs ~0.2-0.5 s a test)."""
    import inspect
    import re

    from classifier.labeled import SHIPPED_LABELS

    codes = set(re.findall(r"(?<!\d)(\d{6})(?!\d)", inspect.getsource(request.function)))
    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, p, n_groups=TRAINING_GROUPS,
                         keep=lambda lab: lab["fund_code"].isin(codes) | (lab["source"] == "review"))
    shutil.copy(SHIPPED_LABELS.with_name("history.csv"), p.with_name("history.csv"))
    return p


def _import_one(args):
    sheet, labels = args
    return import_review(sheet, load_taxonomy(), labels, today="2026-11-30").added


def test_concurrent_importers_lose_no_decision(tmp_path, small_labels_copy):
    """Six importers at once, five new funds each: every decision of every import that reported success is there."""
    sheets = []
    for k in range(6):
        rows = [(f"99{k}{j:03d}", "宽基ETF" if j % 2 else "策略主题ETF", f"import {k}") for j in range(5)]
        sheets.append((str(_sheet(tmp_path / f"review{k}.csv", rows)), str(small_labels_copy)))
    before = len(read_labels(small_labels_copy))
    with mp.get_context("fork").Pool(6) as pool:
        added = pool.map(_import_one, sheets)
    final = read_labels(small_labels_copy)
    assert sorted(sum(added, [])) == sorted(f"99{k}{j:03d}" for k in range(6) for j in range(5))
    assert len(final) == before + 30
    got = final.set_index("fund_code")
    for k in range(6):
        for j in range(5):
            assert got.loc[f"99{k}{j:03d}", "note"] == f"import {k}"
    assert audit(final, TAX, report_counts=False).ok


@pytest.mark.parametrize("rows, columns, message", [
    ([("900002.SH", "宽基ETF", ""), ("900002", "策略主题ETF", "")], None, "fund 900002: conflicting decisions"),
    # short codes beside a code that kept its leading zero were typed short (Excel drops every code's zeros or none)
    ([("1", "宽基ETF", ""), ("017040", "宽基ETF", "")], None, "'1' is not a fund code"),
    ([("ABCDEF", "宽基ETF", "")], None, "'ABCDEF' is not a fund code"),
    ([("1.59915E+05", "宽基ETF", "")], None, "Excel turned the code into a number"),
    ([("17040", "宽基ETF", ""), ("001234", "宽基ETF", "")], None, "did you mean 017040?"),
    ([("159915", "宽基", "")], None, "decision '宽基' is not a label"),
    ([("159915", "宽基ETF", "")], lambda d: d.drop(columns="taxonomy_version"), "missing column(s) ['taxonomy_version']"),
    ([("159915", "宽基ETF", "")], lambda d: d.assign(taxonomy_version="efund-2025.1-r1"),
     "exported for taxonomy 'efund-2025.1-r1'"),
    ([("159915", "宽基ETF", "")], lambda d: pd.concat([d, d[["decision"]]], axis=1), "column 'decision' appears 2 times"),
])
def test_bad_sheets_change_nothing(tmp_path, labels_copy, rows, columns, message):
    sheet = _sheet(tmp_path / "review.xlsx", rows, columns)
    before = labels_copy.read_bytes(), labels_copy.with_name("history.csv").read_bytes()
    with pytest.raises(InputError) as e:
        import_review(sheet, TAX, labels_copy)
    assert message in str(e.value) and "nothing imported" in str(e.value)
    assert (labels_copy.read_bytes(), labels_copy.with_name("history.csv").read_bytes()) == before


def test_a_sheet_exported_for_the_other_taxonomy_names_the_taxonomy_to_pass(tmp_path, labels_copy):
    """A review sheet exported for E Fund's taxonomy, imported without --taxonomy, was refused with two problems per
    row: its E Fund class 'is not a label of jrj-2026.01-r1; allowed: <jrj's classes>', and 'exported for taxonomy
    efund-2025.1-r1, importing against jrj-2026.01-r1', naming neither the cause once nor the option that imports it
    (audit round 10: a workspace's four E Fund decisions gave 8 problems). Now one problem names the column, the
    sheet's taxonomy and the --taxonomy file that imports it."""
    sheet = _sheet(tmp_path / "review.xlsx", [("159698", "其他主题", ""), ("513330", "数字化与人工智能", ""),
                                              ("512810", "高端制造", "")],
                   lambda d: d.assign(taxonomy_version="efund-2025.1-r1"))
    before = labels_copy.read_bytes()
    with pytest.raises(InputError) as e:
        import_review(sheet, TAX, labels_copy)
    msg = str(e.value)
    assert "column taxonomy_version" in msg and "efund2025.toml" in msg and "--taxonomy" in msg, msg
    assert "not a label of" not in msg and "nothing imported" in msg, msg
    assert labels_copy.read_bytes() == before


def test_all_problems_of_a_sheet_reported_at_once(tmp_path, labels_copy):
    sheet = _sheet(tmp_path / "review.csv", [("1", "宽基ETF", ""), ("159915", "不存在", ""), ("510300", "宽基ETF", ""),
                                             ("001234", "宽基ETF", "")])
    with pytest.raises(InputError) as e:
        import_review(sheet, TAX, labels_copy)
    assert "2 problem(s)" in str(e.value) and "row 2 (1)" in str(e.value) and "row 3 (159915)" in str(e.value)


def _untouched(path):
    """What shows a file was not written again, even with the same bytes: the same file (inode) and time."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, path.read_bytes()


def test_a_sheet_without_decisions_says_where_they_go_and_writes_nothing(tmp_path, labels_copy):
    """A reviewer typed the classes into `secondary` (the tool's answer) and left `decision` empty: the import names
    the file, says no decision was found and that decisions go in the decision column, fails (exit 2) and leaves the
    labeled set and its history as they were, not rewritten."""
    sheet = _sheet(tmp_path / "review.csv", [("159915", "", ""), ("510300", "", "")],
                   lambda d: d.assign(secondary="策略主题ETF"))
    hist = labels_copy.with_name("history.csv")
    before = _untouched(labels_copy), _untouched(hist)
    res = CliRunner().invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels_copy)])
    assert res.exit_code == 2, res.output
    assert str(sheet) in res.output and "no decision" in res.output and "`decision` column" in res.output
    assert "added 0" not in res.output
    assert (_untouched(labels_copy), _untouched(hist)) == before


def test_an_import_that_changes_nothing_does_not_rewrite_the_labeled_set(tmp_path, named_labels_copy):
    """An empty review sheet (nothing needed review) or decisions that only repeat earlier review decisions: the
    import reports it and succeeds, and writes nothing."""
    lab = read_labels(named_labels_copy)
    reviewed = lab[lab.source == "review"].iloc[0]
    empty = tmp_path / "empty.csv"
    write_table(pd.DataFrame(columns=REVIEW_COLUMNS), empty)  # as `review export` writes it
    same = _sheet(tmp_path / "same.csv", [(reviewed.fund_code, reviewed.secondary, "again")])
    before = _untouched(named_labels_copy)
    assert import_review(empty, TAX, named_labels_copy).lines()[0] == "added 0, changed 0, confirmed 0"
    assert import_review(same, TAX, named_labels_copy).confirmed == [reviewed.fund_code]
    assert _untouched(named_labels_copy) == before


def test_other_taxonomy_cannot_write_into_this_labeled_set(tmp_path, labels_copy):
    df = pd.DataFrame([{c: "" for c in SHEET_COLUMNS}])
    df.loc[0, ["fund_code", "decision", "reviewer", "taxonomy_version"]] = ["159915", "中国", "张三", EFUND.version]
    write_table(df, tmp_path / "r.csv")
    before = labels_copy.read_bytes()
    with pytest.raises(InputError, match="holds labels of taxonomy jrj-2026.01-r1, not efund"):
        import_review(tmp_path / "r.csv", EFUND, labels_copy)
    assert labels_copy.read_bytes() == before


def test_suffixed_and_plain_code_are_one_fund(tmp_path, named_labels_copy):
    sheet = _sheet(tmp_path / "r.csv", [("159915.SZ", "宽基ETF", "a"), ("159915", "宽基ETF", "a")])
    res = import_review(sheet, TAX, named_labels_copy, today="2026-11-30")
    lab = read_labels(named_labels_copy)
    assert (lab.fund_code == "159915").sum() == 1 and lab.set_index("fund_code").loc["159915", "source"] == "review"
    assert res.confirmed == ["159915"] and not res.added  # same class as before, now settled by a person


def test_changed_label_goes_to_history_and_is_reported_truthfully(tmp_path, named_labels_copy):
    sheet = _sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "成长风格")])
    res = import_review(sheet, TAX, named_labels_copy, today="2026-11-30")
    assert res.changed == [("159912", "宽基ETF", "科技成长主题ETF")]
    hist = pd.read_csv(named_labels_copy.with_name("history.csv"), dtype=str, keep_default_na=False)
    last = hist.iloc[-1]
    assert (last.fund_code, last.old_secondary, last.new_secondary) == ("159912", "宽基ETF", "科技成长主题ETF")
    assert read_labels(named_labels_copy).set_index("fund_code").loc["159912", "secondary"] == "科技成长主题ETF"


def test_a_changed_label_keeps_the_old_rows_note_in_history(tmp_path, named_labels_copy):
    """The note of the row a decision replaces (a labeler's or an earlier reviewer's reason) goes to history.csv's
    old_note. A history written before that column keeps every row's bytes; its header gains the column at the end,
    and it reads as before (old rows: empty old_note)."""
    hist = named_labels_copy.with_name("history.csv")
    # a workspace's history written before those columns (the shipped one is of the current form)
    shipped = pd.read_csv(hist, dtype=str, keep_default_na=False)
    shipped[store.HISTORY_COLUMNS[:11]].to_csv(hist, index=False, lineterminator="\n")
    old_header, old_rows = hist.read_bytes().split(b"\n", 1)
    assert b"old_note" not in old_header
    old_note = read_labels(named_labels_copy).set_index("fund_code").loc["159215", "note"]
    assert old_note
    import_review(_sheet(tmp_path / "r.csv", [("159215", "策略主题ETF", "增强策略")]), TAX, named_labels_copy,
                  today="2026-11-30")
    header, rows = hist.read_bytes().split(b"\n", 1)
    assert header == old_header + b",old_note,old_propagated_from" and rows.startswith(old_rows)
    got = pd.read_csv(hist, dtype=str, keep_default_na=False)
    assert list(got.columns) == store.HISTORY_COLUMNS
    n_old = old_rows.count(b"\n")
    # the decided fund's row comes first among the new ones (rows propagated from it follow it, see test_review_import.py)
    mine = got.iloc[n_old]
    assert (mine.fund_code, mine.reason, mine.old_note) == ("159215", "增强策略", old_note)
    assert (got.old_note.iloc[:n_old] == "").all()
    # the next change appends to the new form as it is, and that row's old note is the first decision's comment
    before = hist.read_bytes()
    # (a sheet exported after the first decision, so it shows that decision as the tool's answer)
    import_review(_sheet(tmp_path / "r2.csv", [("159215", "宽基ETF", "回到宽基")],
                         columns=lambda df: df.assign(secondary="策略主题ETF", confidence="1")), TAX, named_labels_copy,
                         today="2026-12-01")
    assert hist.read_bytes().startswith(before)
    again = pd.read_csv(hist, dtype=str, keep_default_na=False)
    assert again[again.fund_code == "159215"].iloc[-1].old_note == "增强策略"
    with open(hist, encoding="utf-8", newline="") as f:  # a reader of the csv module too
        assert [r["old_note"] for r in csv.DictReader(f) if r["fund_code"] == "159215"][-2:] == [old_note, "增强策略"]


@pytest.mark.parametrize("shipped", ["data/labeled/history.csv", "data/labeled/efund/history.csv"])
def test_a_shipped_history_is_of_the_current_form_so_a_first_import_only_appends(shipped):
    """A workspace's history.csv is append-only (a team may keep it in a synced folder): the shipped ones carry every
    column a change writes, each row as many fields as the header, so a user's first import adds rows after the
    shipped bytes instead of rewriting the header (as it must for a history of an older form, above)."""
    from classifier.config import project_path

    with open(project_path(shipped), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == store.HISTORY_COLUMNS and len(rows) > 1
    assert {len(r) for r in rows} == {len(store.HISTORY_COLUMNS)}


def test_an_added_fund_takes_the_labeled_sets_group_not_the_sheets(tmp_path):
    """The review sheet groups by its own key (code:000510, idx:<subject>, a fund code); the labeled set groups by
    tracked index code (000510.SH), else idx:<index name>. A fund a decision adds joins the set's group of its index,
    so grouped cross-validation and the audit see one index as one group."""
    from classifier.labeled import SHIPPED_LABELS

    labels_copy = tmp_path / "labeled" / "labels.csv"  # whole groups, 000510.SH's among them (the audit reads it all)
    labels_copy.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels_copy, keep=lambda lab: lab["index_code"].str.startswith("000510"))
    rows = {"990001": ("000510.SH", "中证A500指数", "code:000510"),  # an index the set has, as export writes it
            "990002": ("000510", "", "code:000510"),  # the same code without its exchange
            "990003": ("931999.CSI", "示例新指数", "code:931999"),  # an index the set does not have
            "990004": ("", "示例新主题", "idx:示例新主题"),
            "990005": ("", "", "990005"),
            "990006": ("", "示例基准指数", "bench:示例基准指数")}  # a migration queue's row: its own group, kept

    def fill(df):
        for col, k in (("index_code", 0), ("index_name", 1), ("group", 2)):
            df[col] = [rows[c][k] for c in df["fund_code"]]
        return df

    n_groups = audit(read_labels(labels_copy), TAX, report_counts=False).n_groups
    sheet = _sheet(tmp_path / "r.csv", [(c, "宽基ETF", "") for c in rows], fill)
    import_review(sheet, TAX, labels_copy, today="2026-11-30")
    lab = read_labels(labels_copy)
    got = lab.set_index("fund_code").loc[list(rows), "group"].tolist()
    assert got == ["000510.SH", "000510.SH", "931999.CSI", "idx:示例新主题", "review:990005", "bench:示例基准指数"]
    assert audit(lab, TAX, report_counts=False).n_groups == n_groups + 4  # the indices or funds it did not have


def test_carriage_return_in_a_comment_keeps_rows_whole(tmp_path, small_labels_copy):
    n = len(read_labels(small_labels_copy))
    sheet = _sheet(tmp_path / "r.xlsx", [("990001", "宽基ETF", "line one\rline two"), ("990002", "宽基ETF", 'say "x"\n')])
    import_review(sheet, TAX, small_labels_copy, today="2026-11-30")
    lab = read_labels(small_labels_copy)
    assert len(lab) == n + 2 and audit(lab, TAX, report_counts=False).ok
    assert lab.set_index("fund_code").loc["990001", "note"] == "line one\rline two"


def test_labeled_set_round_trips_byte_for_byte(tmp_path, labels_copy):
    before = labels_copy.read_bytes()
    store.change_labels(labels_copy, lambda lab: (store.Change(lab), None))
    assert labels_copy.read_bytes() == before


@pytest.mark.parametrize("labels_form, history_form", [
    ((b"", b"\r\n"), (b"", b"\n")),
    ((b"", b"\n"), (b"", b"\r\n")),
    ((b"\xef\xbb\xbf", b"\r\n"), (b"\xef\xbb\xbf", b"\r\n")),  # Excel's "CSV UTF-8": byte-order mark and CRLF
], ids=["crlf-labels", "crlf-history", "excel-utf8"])
def test_an_import_keeps_each_files_line_ends_and_every_row_it_did_not_touch(tmp_path, named_labels_copy, labels_form,
                                                                             history_form):
    """A labeled set saved by Excel on Windows (CRLF, maybe a byte-order mark): the import rewrites only the row it
    changes and adds its rows in the file's own form; history.csv keeps its old bytes and its own line end."""
    hist = named_labels_copy.with_name("history.csv")
    for path, (bom, eol) in ((named_labels_copy, labels_form), (hist, history_form)):
        path.write_bytes(bom + path.read_bytes().replace(b"\n", eol))  # the shipped files hold no line break in a cell
    before, hist_before = named_labels_copy.read_bytes(), hist.read_bytes()
    sheet = _sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "成长风格"), ("990001", "宽基ETF", "new")])
    res = import_review(sheet, TAX, named_labels_copy, today="2026-11-30")
    assert res.changed and res.added == ["990001"]
    bom, eol = labels_form
    old, new = before.splitlines(keepends=True), named_labels_copy.read_bytes().splitlines(keepends=True)
    assert len(new) == len(old) + 1 and new[0] == old[0] and new[0].startswith(bom)
    assert [i for i, (a, b) in enumerate(zip(old, new)) if a != b] == [old.index(next(
        line for line in old if line.startswith(b"159912,")))]  # only the decided fund's row changed
    assert new[-1].startswith(b"990001,") and all(line.endswith(eol) and not line[:-len(eol)].endswith(b"\r")
                                                  for line in new)
    bom, eol = history_form
    (head, rows), (_, old_rows) = hist.read_bytes().split(b"\n", 1), hist_before.split(b"\n", 1)
    # the header of a history of the older form gains old_note (test_a_changed_label_keeps_the_old_rows_note_in_history)
    assert head.startswith(bom) and head.endswith(b"\r") == (eol == b"\r\n") and head.count(b"\r") <= 1
    assert rows.startswith(old_rows)
    added = rows[len(old_rows):].splitlines(keepends=True)
    assert len(added) == 1 and added[0].startswith(b"159912,") and added[0].endswith(eol)
    assert not added[0][:-len(eol)].endswith(b"\r")
    assert read_labels(named_labels_copy).set_index("fund_code").loc["990001", "note"] == "new"


def _crash_between_renames(tmp_path, labels_copy, monkeypatch):
    """Import a decision on 159912 and die between the labels' rename and the history's (journal, labels, then
    history)."""
    real = os.replace
    calls = []

    def crash_after_first(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(src, dst)

    sheet = _sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "x")])
    monkeypatch.setattr(store.os, "replace", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        import_review(sheet, TAX, labels_copy, today="2026-11-30")
    monkeypatch.setattr(store.os, "replace", real)


def test_interrupted_commit_rolls_forward(tmp_path, named_labels_copy, monkeypatch):
    """A crash between the two renames: the next reader sees the new pair, not labels without their history."""
    _crash_between_renames(tmp_path, named_labels_copy, monkeypatch)
    with pytest.warns(ChangeRecovered, match="interrupted after it was committed"):
        lab = read_labels(named_labels_copy)  # recovers, and says so
    hist = pd.read_csv(named_labels_copy.with_name("history.csv"), dtype=str)
    assert lab.set_index("fund_code").loc["159912", "secondary"] == "科技成长主题ETF"
    assert hist.iloc[-1].fund_code == "159912"
    assert not list(named_labels_copy.parent.glob(".*journal")) and not list(named_labels_copy.parent.glob(".*.tmp"))


def test_csv_outputs_quote_carriage_returns(tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"基金简称": ["华夏上证50ETF", "示例\r基金"], "备注": ["a\rb", "=1+1"]}).to_csv(
        src, index=False, quoting=csv.QUOTE_ALL)  # pandas leaves a lone CR bare unless told to quote
    out = tmp_path / "out.csv"  # --raw-csv: cells exactly as they are (by default =1+1 gets a ', see test_bad_inputs)
    assert CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s", "--rules-only", "--raw-csv"]).exit_code == 0
    back = read_table(out).frame
    assert len(back) == 2 and back["备注"].tolist() == ["a\rb", "=1+1"] and back["基金简称"][1] == "示例\r基金"


def test_no_command_overwrites_its_input(tmp_path):
    r = CliRunner()
    src = tmp_path / "in.csv"
    pd.DataFrame({"基金简称": ["华夏上证50ETF"]}).to_csv(src, index=False)
    tagged = tmp_path / "tagged.xlsx"
    assert r.invoke(cli, ["tag", str(src), "-o", str(tagged), "-s", "--rules-only"]).exit_code == 0
    link = tmp_path / "link.xlsx"
    link.symlink_to(tagged)
    before = tagged.read_bytes()
    for out in (tagged, link, tmp_path / "sub" / ".." / "tagged.xlsx"):
        res = r.invoke(cli, ["review", "export", str(tagged), "-o", str(out), "--all"])
        assert res.exit_code == 2 and "would overwrite the input" in res.output
    assert tagged.read_bytes() == before


def test_workspace_never_in_the_package(tmp_path):
    import classifier

    with pytest.raises(InputError, match="inside the installed package"):
        check_writable(os.path.join(os.path.dirname(classifier.__file__), "_data", "labels.csv"))
    written, kept, removed = init(tmp_path / "ws")
    assert (tmp_path / "ws" / "data" / "labeled" / "labels.csv").exists()
    assert not (tmp_path / "ws" / "models").exists() and written and not kept and not removed  # the shipped model is read
    before = {p: p.read_bytes() for p in written}
    # a second init never overwrites: it keeps every set the workspace has, whole
    assert init(tmp_path / "ws") == ([], [tmp_path / "ws" / "data" / "labeled",
                                          tmp_path / "ws" / "data" / "labeled" / "efund"], [])
    assert {p: p.read_bytes() for p in written} == before


def test_a_review_workbook_with_another_visible_sheet_imports_with_the_sheet_it_names(tmp_path, named_labels_copy):
    """A reviewer adds a notes sheet (or unhides the labels list): review import takes the one sheet holding the
    review columns and says so (audit round 18), and review import (and export) accept --sheet."""
    import openpyxl

    from classifier.review import write_review

    df = pd.DataFrame([{c: "" for c in SHEET_COLUMNS}])
    df.loc[0, ["fund_code", "decision", "reviewer", "taxonomy_version"]] = ["990001", "宽基ETF", "张三", TAX.version]
    sheet = tmp_path / "review.xlsx"
    write_review(df, sheet, TAX.labels)
    wb = openpyxl.load_workbook(sheet)
    wb.create_sheet("备注")["A1"] = "第二轮复核"
    wb.save(sheet)
    r = CliRunner()
    res = r.invoke(cli, ["review", "import", str(sheet), "--dry-run", "--labeled", str(named_labels_copy)])
    assert res.exit_code == 0 and f"{sheet}: read sheet 'review', the only one holding the review sheet's columns" \
        in res.output and "would add 1" in res.output, res.output
    res = r.invoke(cli, ["review", "import", str(sheet), "--sheet", "review", "--labeled", str(named_labels_copy)])
    assert res.exit_code == 0, res.output
    assert "added 1" in res.output and "990001" in set(read_labels(named_labels_copy).fund_code)
    res = r.invoke(cli, ["review", "export", str(sheet), "--sheet", "备注", "-o", str(tmp_path / "again.csv")])
    assert "not a tagged file" in res.output  # the sheet named was read


def test_a_bad_decision_is_named_by_its_row_in_a_sheet_with_a_title_line(tmp_path, labels_copy):
    """A title line above the header is skipped on reading; the rows an error names are still the sheet's own."""
    sheet = tmp_path / "r.csv"
    sheet.write_text(f"第二轮复核 2026-11\nfund_code,decision,reviewer,taxonomy_version\n159915,宽基ETF,张三,{TAX.version}\n"
                     f"510500,宽基,张三,{TAX.version}\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        import_review(sheet, TAX, labels_copy)
    assert "row 4 (510500): decision '宽基' is not a label" in str(e.value)


def test_a_column_the_user_added_to_the_labeled_set_survives_an_import(tmp_path, small_labels_copy):
    """A user keeps a column of their own in labels.csv (here between two of the tool's): an import keeps it, in its
    place, with every value; the row the import adds has it empty."""
    lab = read_labels(small_labels_copy)
    cols = list(lab.columns)
    cols.insert(cols.index("secondary"), "我的备注")
    lab["我的备注"] = [f"n{i}" for i in range(len(lab))]
    small_labels_copy.write_text(csv_text(lab[cols]), encoding="utf-8")
    code = lab["fund_code"].iloc[3]
    sheet = _sheet(tmp_path / "r.csv", [(code, "宽基ETF", ""), ("990001", "宽基ETF", "")])
    import_review(sheet, TAX, small_labels_copy, today="2026-11-30")
    after = read_labels(small_labels_copy)
    assert list(after.columns) == cols
    assert after["我的备注"].tolist() == lab["我的备注"].tolist() + [""]
    assert after.loc[3, "secondary"] == "宽基ETF"


def test_a_review_sheet_imports_whatever_the_order_of_its_columns(tmp_path, small_labels_copy):
    """Import reads the sheet's columns by name: a sheet exported in the earlier column order (decision near the
    end), or one whose columns a reviewer rearranged, imports the same."""
    earlier = ["row", "fund_code", "fund_name", "full_name", "index_code", "index_name", "fund_type", "primary",
               "secondary", "confidence", "alternatives", "evidence", "taxonomy_version", "group", "group_size",
               "decision", "reviewer", "comment"]
    assert set(earlier) <= set(REVIEW_COLUMNS)  # later sheets have more columns (settles), earlier ones import too
    for i, order in enumerate((earlier, SHEET_COLUMNS[::-1])):
        sheet = _sheet(tmp_path / f"r{i}.xlsx", [(f"99000{i}", "宽基ETF", "")], lambda d, order=order: d[order])
        assert import_review(sheet, TAX, small_labels_copy, today="2026-11-30").added == [f"99000{i}"]


def test_an_import_warns_when_one_group_was_given_two_classes(tmp_path, small_labels_copy):
    """One decision is meant to cover a sheet's group (one tracked index): two classes in one group are imported,
    each for its own fund, and the import says what happens: the decisions dispute the index, and its other funds go
    to review at the next tag."""
    def grouped(df):
        df["group"] = ["code:000510", "code:000510", "code:000300"]
        return df

    sheet = _sheet(tmp_path / "r.csv", [("990001", "宽基ETF", ""), ("990002", "策略主题ETF", ""),
                                        ("990003", "宽基ETF", "")], grouped)
    res = import_review(sheet, TAX, small_labels_copy, today="2026-11-30")
    assert res.added == ["990001", "990002", "990003"]
    warned = [x for x in res.lines() if x.startswith("warning:")]
    assert len(warned) == 1 and warned[0].startswith(
        "warning: group code:000510 was given 2 classes (宽基ETF: 990001; 策略主题ETF: 990002): the decisions dispute "
        "the tracked index or share-class family the group's funds share: each decision settles only its own fund")


def test_a_labeled_set_saved_by_excel_keeps_its_funds_codes(tmp_path, small_labels_copy):
    """Excel opens labels.csv with the fund codes as numbers and saves them without their leading zeros (004433 →
    4433): the set still holds fund 004433, so a decision on it changes its row (no second row for the same fund)
    and tagging applies it by its code."""
    from classifier.pipeline import Tagger

    lab = read_labels(small_labels_copy)
    zero = lab[lab.fund_code.str.startswith("0") & (lab.secondary != "宽基ETF") & (lab.secondary != "不适用")]
    code = zero.fund_code.iloc[0]
    excel = pd.read_csv(small_labels_copy, keep_default_na=False)  # what Excel shows: codes as numbers
    assert str(excel.fund_code.iloc[lab.index[lab.fund_code == code][0]]) == code.lstrip("0")
    excel.to_csv(small_labels_copy, index=False, lineterminator="\r\n")
    assert (read_labels(small_labels_copy).fund_code == code).sum() == 1
    res = import_review(_sheet(tmp_path / "r.csv", [(code, "宽基ETF", "excel")]), TAX, small_labels_copy,
                        today="2026-11-30")
    assert [c for c, _, _ in res.changed] == [code] and not res.added
    after = read_labels(small_labels_copy)
    assert after.fund_code.str.fullmatch(r"\d{6}").all() and (after.fund_code == code).sum() == 1
    assert Tagger(TAX).use_reviewed(after).reviewed[code][0] == "宽基ETF"


def test_an_interrupted_commit_rolls_forward_in_a_workspace_moved_since(tmp_path, named_labels_copy, monkeypatch):
    """A crash between the renames, then the workspace is moved (or copied) elsewhere: the journal names its files
    beside it, so the next reader there finishes the commit with the decision and its history, and never touches
    the folder the workspace came from."""
    _crash_between_renames(tmp_path, named_labels_copy, monkeypatch)
    moved = tmp_path / "moved" / "labeled"
    shutil.copytree(named_labels_copy.parent, moved)  # a copy: the old folder stays as the crash left it
    old = {p.name: p.read_bytes() for p in named_labels_copy.parent.iterdir()}
    with pytest.warns(ChangeRecovered, match="interrupted after it was committed"):
        lab = read_labels(moved / "labels.csv")
    hist = pd.read_csv(moved / "history.csv", dtype=str)
    assert lab.set_index("fund_code").loc["159912", "secondary"] == "科技成长主题ETF"
    assert hist.iloc[-1].fund_code == "159912"
    assert not list(moved.glob(".*journal")) and not list(moved.glob(".*.tmp"))
    assert {p.name: p.read_bytes() for p in named_labels_copy.parent.iterdir()} == old


def test_a_history_excel_saved_in_gbk_does_not_stop_an_import(tmp_path, named_labels_copy):
    """Excel on a Chinese Windows saves history.csv in GBK, and its codes without their leading zeros. The import
    reads the history only to name the funds a migration left undecided: it failed with an internal error naming no
    file; it now reads the GBK history, and the migration's fund 017040 (saved as 17040) is named as six digits. The
    row the import adds to the history is GBK too: a UTF-8 line in it would make the file two encodings."""
    hist = named_labels_copy.with_name("history.csv")
    rows = pd.read_csv(hist, dtype=str, keep_default_na=False).iloc[:0]
    rows = pd.concat([rows, pd.DataFrame([{c: "" for c in rows.columns} | {
        "fund_code": "17040", "old_secondary": "消费主题ETF", "changed_by": store.MIGRATION_BY, "reason": "拆分：待复核"}])])
    hist.write_bytes(rows.to_csv(index=False).encode("gbk"))
    lab = read_labels(named_labels_copy)
    store.change_labels(named_labels_copy, lambda labels: (store.Change(labels[labels.fund_code != "017040"]), None))
    assert store.migration_pending(named_labels_copy, set(read_labels(named_labels_copy).fund_code)) == ["017040"]
    before = hist.read_bytes()
    res = import_review(_sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "成长风格")]), TAX, named_labels_copy,
                        today="2026-11-30")
    assert res.changed == [("159912", "宽基ETF", "科技成长主题ETF")] and res.pending == ["017040"]
    assert len(read_labels(named_labels_copy)) == len(lab) - 1
    # the history stays in GBK: its old bytes as they were, the new row in GBK too (not a UTF-8 line in a GBK file)
    after = hist.read_bytes()  # (its header may gain old_note, test_a_changed_label_keeps_the_old_rows_note_in_history)
    assert after.split(b"\n", 1)[1].startswith(before.split(b"\n", 1)[1])
    assert pd.read_csv(hist, dtype=str, encoding="gbk").iloc[-1][["fund_code", "reason"]].tolist() == ["159912", "成长风格"]


def test_a_labeled_set_excel_saved_in_gbk_is_read_and_stays_gbk(tmp_path, small_labels_copy):
    """Excel on a Chinese Windows saves labels.csv in GBK ("CSV (逗号分隔)"): every command stopped on "'utf-8'
    codec can't decode byte …" (audit round 6). The set is read in GBK, a decision changes its fund's row, every
    other row keeps its bytes and the file stays GBK (not a UTF-8 row in a GBK file); tagging applies the decision."""
    from classifier.pipeline import Tagger

    utf8 = read_labels(small_labels_copy)
    text = small_labels_copy.read_bytes().decode("utf-8-sig")
    small_labels_copy.write_bytes(text.replace("\n", "\r\n").encode("gbk"))  # as Excel saves it: GBK, CRLF
    assert read_labels(small_labels_copy).equals(utf8)
    assert store.labels_version(small_labels_copy) == TAX.version
    hand = utf8[(utf8.source == "hand") & (utf8.secondary != "宽基ETF")].iloc[0]
    before = small_labels_copy.read_bytes().split(b"\r\n")
    res = import_review(_sheet(tmp_path / "r.csv", [(hand.fund_code, "宽基ETF", "复核")]), TAX, small_labels_copy,
                        today="2026-11-30")
    assert res.changed == [(hand.fund_code, hand.secondary, "宽基ETF")]
    after = small_labels_copy.read_bytes().split(b"\r\n")
    moved = [k for k, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(after) == len(before) and len(moved) == 1 and after[moved[0]].startswith(hand.fund_code.encode())
    assert after[moved[0]].decode("gbk").split(",")[7] == "宽基ETF"  # the changed row is GBK too
    got = Tagger.load(labels_path=small_labels_copy).tag(pd.DataFrame({"基金代码": [hand.fund_code],
                                                                        "基金简称": [hand.fund_name]}))
    assert got["secondary"].tolist() == ["宽基ETF"] and float(got["confidence"].iloc[0]) == 1.0


def test_a_review_row_typed_without_its_taxonomy_version_is_named_by_line(small_labels_copy):
    """A review decision typed into labels.csv by hand without its taxonomy_version is not applied (which taxonomy it
    was made for is unknown); the run said "review decisions of taxonomy none are not applied", naming no row (audit
    round 6). It now names the line and the fund, and says what to fill in."""
    from classifier.pipeline import Tagger

    text = small_labels_copy.read_text(encoding="utf-8")
    n = len(text.splitlines())
    row = ["990977", "示例手填ETF", "", "", "", "", "市场基准与分析框架", "宽基ETF", "review", "", "张三", "2026-11-30",
           "", "review:990977", "typed by hand"]
    small_labels_copy.write_text(text + csv_text(pd.DataFrame([row]), header=False), encoding="utf-8")
    with pytest.warns(DecisionsNotApplied) as caught:  # an API user is told too, not only the command's summary
        t = Tagger.load(labels_path=small_labels_copy)
    assert [str(w.message) for w in caught] == t.reviewed_ignored
    said = [w for w in t.reviewed_ignored if "taxonomy_version" in w]
    assert said and f"line {n + 1} (990977)" in said[0] and TAX.version in said[0] and "none" not in said[0], \
        t.reviewed_ignored
    assert "990977" not in t.reviewed


def test_a_code_typed_with_its_exchange_into_the_labeled_set_is_that_funds(tmp_path, small_labels_copy):
    """A user types codes into labels.csv with their exchange (510300.SH, sh510300): the set holds those funds by
    their six digits, so a decision on one changes its row (no second row for the same fund) and tagging applies a
    review decision typed that way; a row no import touches keeps its code as the user typed it, byte for byte."""
    from classifier.pipeline import Tagger

    lab = read_labels(small_labels_copy)
    hand = lab[(lab.source == "hand") & (lab.secondary != "宽基ETF")]
    decided, kept = hand.fund_code.iloc[0], hand.fund_code.iloc[1]
    text = small_labels_copy.read_bytes()
    for code, typed in ((decided, f"{decided}.SH"), (kept, f"sz{kept}")):
        assert text.count(f"\n{code},".encode()) == 1
        text = text.replace(f"\n{code},".encode(), f"\n{typed},".encode())
    small_labels_copy.write_bytes(text)
    got = read_labels(small_labels_copy)
    assert got.fund_code.tolist() == lab.fund_code.tolist()
    res = import_review(_sheet(tmp_path / "r.csv", [(decided, "宽基ETF", "typed")]), TAX, small_labels_copy,
                        today="2026-11-30")
    assert [c for c, _, _ in res.changed] == [decided] and not res.added
    after = read_labels(small_labels_copy)
    assert (after.fund_code == decided).sum() == 1 and len(after) == len(lab)
    assert Tagger(TAX).use_reviewed(after).reviewed[decided][0] == "宽基ETF"
    new = small_labels_copy.read_bytes()
    assert f"\nsz{kept},".encode() in new and f"\n{decided},".encode() in new  # the changed row: six digits
    old_lines, new_lines = text.splitlines(), new.splitlines()
    assert [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b] == [
        next(i for i, line in enumerate(old_lines) if line.startswith(f"{decided}.SH,".encode()))]
    # a review decision typed with the exchange applies at tagging too
    text = new.replace(f"\n{decided},".encode(), f"\nSH{decided},".encode())
    small_labels_copy.write_bytes(text)
    assert Tagger(TAX).use_reviewed(read_labels(small_labels_copy)).reviewed[decided][0] == "宽基ETF"


def _held_open(monkeypatch, name):
    """os.replace refusing to replace the file ``name``, as Windows does while Excel or WPS holds it open."""
    real = os.replace

    def replace(src, dst):
        if os.path.basename(dst) == name:
            raise PermissionError(13, "Permission denied", str(src))  # Windows names the staged file
        return real(src, dst)

    monkeypatch.setattr(store.os, "replace", replace)
    return real


def test_a_labeled_set_file_open_in_excel_stops_the_import_cleanly_or_completes_it_later(tmp_path, named_labels_copy,
                                                                                          monkeypatch):
    """labels.csv open in Excel (Windows cannot replace it): the import says so, naming the file, and changes nothing
    (no journal that would finish it later). history.csv open (labels.csv already replaced): the import says the
    change is saved and completes at the next command once the file is closed, and so it does."""
    hist = named_labels_copy.with_name("history.csv")
    before = named_labels_copy.read_bytes(), hist.read_bytes()
    sheet = _sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "x")])
    real = _held_open(monkeypatch, "labels.csv")
    with pytest.raises(InputError) as e:
        import_review(sheet, TAX, named_labels_copy, today="2026-11-30")
    msg = str(e.value)
    assert str(named_labels_copy) in msg and "open in another program" in msg and "nothing was changed" in msg
    assert ".tmp" not in msg
    monkeypatch.setattr(store.os, "replace", real)
    assert not [p.name for p in named_labels_copy.parent.iterdir() if p.name.endswith((".journal", ".tmp"))]
    assert (named_labels_copy.read_bytes(), hist.read_bytes()) == before
    assert read_labels(named_labels_copy).set_index("fund_code").loc["159912", "secondary"] == "宽基ETF"

    _held_open(monkeypatch, "history.csv")
    with pytest.raises(InputError) as e:
        import_review(sheet, TAX, named_labels_copy, today="2026-11-30")
    msg = str(e.value)
    assert str(hist) in msg and "open in another program" in msg and "saved" in msg and "next" in msg
    with pytest.raises(InputError, match="history.csv: it is open in another program"):  # still open: said again
        read_labels(named_labels_copy)
    monkeypatch.setattr(store.os, "replace", real)
    with pytest.warns(ChangeRecovered, match="interrupted after it was committed"):
        lab = read_labels(named_labels_copy)  # closed: the next command completes the change
    assert lab.set_index("fund_code").loc["159912", "secondary"] == "科技成长主题ETF"
    assert pd.read_csv(hist, dtype=str).iloc[-1].fund_code == "159912"
    assert not [p.name for p in named_labels_copy.parent.iterdir() if p.name.endswith((".journal", ".tmp"))]


def test_a_read_only_workspace_validates_a_sheet_and_refuses_a_change_naming_its_folder(tmp_path, small_labels_copy,
                                                                                       monkeypatch):
    """In a workspace the user may only read (a team folder, chmod a-w), `review import --dry-run` ("write
    nothing") failed: it took the labeled set's lock, a file it could not create, and said only
    '.labels.csv.lock: Permission denied'; a real import said the same of a file the user never heard of. A dry run
    now reads the set without the lock when its folder cannot take one; a change says the labeled set's folder cannot
    be written and that nothing was."""
    import errno

    import filelock

    class ReadOnlyFolderLock(filelock.FileLock):  # what a folder without write permission does (root ignores modes)
        def acquire(self, *a, **kw):
            raise PermissionError(errno.EACCES, "Permission denied", self.lock_file)

    monkeypatch.setattr(filelock, "FileLock", ReadOnlyFolderLock)
    sheet = _sheet(tmp_path / "review.csv", [("159915", "科技成长主题ETF", "")])
    before = {p.name: p.read_bytes() for p in small_labels_copy.parent.iterdir()}
    r = CliRunner().invoke(cli, ["review", "import", str(sheet), "--labeled", str(small_labels_copy), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert ("change 1" in r.output or "add 1" in r.output) and "dry run: nothing was written" in r.output
    r = CliRunner().invoke(cli, ["review", "import", str(sheet), "--labeled", str(small_labels_copy)])
    assert r.exit_code == 2, r.output
    err = r.output.strip().splitlines()[-1]
    assert err.startswith(f"error: {small_labels_copy.parent}: ") and "nothing was written" in err and ".lock" not in err
    assert {p.name: p.read_bytes() for p in small_labels_copy.parent.iterdir()} == before


def test_train_on_a_labeled_set_edited_by_hand_names_the_row_and_column_of_a_class_it_does_not_know(
        tmp_path, named_labels_copy):
    """Audit round 6: a class typed into labels.csv by hand in Excel, with a trailing space or full-width brackets
    (宽基ETF␠, （申万）行业ETF), or a set migrated to a new taxonomy trained with the old one, stopped `fundclass
    train` on an internal error (ValueError: '宽基ETF ' is not in list) after the features were built → refused before
    training, naming the file, the rows, the column and the class meant; no model written."""
    text = named_labels_copy.read_text(encoding="utf-8")
    lines = text.splitlines()
    n = len(lines)
    first = next(csv.reader([lines[1]]))
    col = {c: i for i, c in enumerate(next(csv.reader([lines[0]])))}
    typed = []
    for code, cls in (("990901", "宽基ETF "), ("990902", "（申万）行业ETF")):
        row = list(first)
        row[col["fund_code"]], row[col["secondary"]], row[col["group"]] = code, cls, f"review:{code}"
        typed.append(csv_text(pd.DataFrame([row]), header=False).strip("\n"))
    named_labels_copy.write_text(text + "\n".join(typed) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    r = CliRunner().invoke(cli, ["train", "--labeled", str(named_labels_copy), "-o", str(out), "--no-holdings"])
    assert r.exit_code == 2, r.output
    assert str(named_labels_copy) in r.output and "column 'secondary'" in r.output, r.output
    assert f"row {n + 1} (990901): '宽基ETF ' (did you mean '宽基ETF'?)" in r.output, r.output
    assert f"row {n + 2} (990902): '（申万）行业ETF' (did you mean '(申万)行业ETF'?)" in r.output, r.output
    assert "internal error" not in r.output and not (out / "manifest.json").exists()
    # a set migrated to another taxonomy version, trained with the old taxonomy
    named_labels_copy.write_text(text.replace(TAX.version, "jrj-2026.03-r1"), encoding="utf-8")
    r = CliRunner().invoke(cli, ["train", "--labeled", str(named_labels_copy), "-o", str(out), "--no-holdings"])
    assert r.exit_code == 2 and "holds labels of taxonomy jrj-2026.03-r1 (column taxonomy_version)" in r.output, r.output
    assert not (out / "manifest.json").exists()
    # a row copied by hand: the fund on two rows (two labels, or one counted twice) — named, as an import names it
    dup = next(csv.reader([lines[1]]))
    dup[col["secondary"]], dup[col["primary"]] = "宽基ETF", "市场基准与分析框架"
    named_labels_copy.write_text(text + csv_text(pd.DataFrame([dup]), header=False), encoding="utf-8")
    r = CliRunner().invoke(cli, ["train", "--labeled", str(named_labels_copy), "-o", str(out), "--no-holdings"])
    assert r.exit_code == 2 and f"column fund_code holds 1 fund on more than one row: {dup[col['fund_code']]} on " \
        f"rows 2, {n + 1}" in r.output, r.output
    assert not (out / "manifest.json").exists()


def test_a_fund_on_two_rows_of_labels_csv_is_named_and_no_decision_goes_to_one_of_them(tmp_path, named_labels_copy):
    """Audit round 6: a row of labels.csv copied in Excel (fund 159973 on two rows). A review import changed the last
    of them and left the other with the old label, so the set held two labels for one fund; a 撤销 of that decision
    then found the first row, said the fund 'holds no review decision to withdraw' and left the decision applied →
    every change to such a set is refused, naming the file, column fund_code, the fund and its rows; nothing written."""
    lines = named_labels_copy.read_text(encoding="utf-8").splitlines(keepends=True)
    row = next(line for line in lines if line.startswith("159973,"))
    named_labels_copy.write_text("".join(lines) + row, encoding="utf-8")
    n = len(lines) + 1
    first = lines.index(row) + 1
    before = named_labels_copy.read_bytes(), named_labels_copy.with_name("history.csv").read_bytes()
    r = CliRunner()
    for decision in ("国企主题ETF", "撤销"):
        sheet = _sheet(tmp_path / "review.csv", [("159973", decision, "")])
        res = r.invoke(cli, ["review", "import", str(sheet), "--labeled", str(named_labels_copy)])
        assert res.exit_code == 2, res.output
        assert (f"{named_labels_copy}: column fund_code holds 1 fund on more than one row: 159973 on rows {first}, "
                f"{n}") in res.output and "nothing written" in res.output, res.output
        assert (named_labels_copy.read_bytes(), named_labels_copy.with_name("history.csv").read_bytes()) == before
    # with the extra row deleted, the decision and its withdrawal go through
    named_labels_copy.write_text("".join(lines), encoding="utf-8")
    for decision in ("国企主题ETF", "撤销"):  # (this sheet shows no answer: the withdrawal is --overrule)
        sheet = _sheet(tmp_path / "review.csv", [("159973", decision, "")])
        res = r.invoke(cli, ["review", "import", str(sheet), "--labeled", str(named_labels_copy), "--overrule"])
        assert res.exit_code == 0, res.output
    assert read_labels(named_labels_copy).set_index("fund_code").loc["159973", "secondary"] == "民企主题ETF"


def test_a_decision_imported_while_train_fits_is_not_claimed_by_the_model(tmp_path, named_labels_copy, monkeypatch):
    """Audit round 6: `fundclass train` read labels.csv at its start and hashed it (and read agreement.csv) after the
    fit, so a review import (or a migration, which rewrites both) committed while the model fitted gave a manifest
    (labeled_data.sha256, model_version) naming a set the model never saw, the decision not in it → the labels, the
    reads beside them and their hashes are read together, under the set's lock, before the fit."""
    import hashlib

    from classifier import train as training

    trained_on = hashlib.sha256(named_labels_copy.read_bytes()).hexdigest()
    rows = len(read_labels(named_labels_copy))
    fit = training.fit

    def fit_while_a_reviewer_imports(td, tax, params=None):  # another process imports a decision during the fit
        import_review(_sheet(tmp_path / "review.csv", [("990901", "宽基ETF", "")]), TAX, named_labels_copy)
        return fit(td, tax, params)

    monkeypatch.setattr(training, "fit", fit_while_a_reviewer_imports)
    m = training.train(named_labels_copy, TAX, tmp_path / "model", params={"n_splits": 3})
    assert hashlib.sha256(named_labels_copy.read_bytes()).hexdigest() != trained_on  # the import went through
    assert m["labeled_data"]["sha256"] == trained_on and m["labeled_data"]["rows"] == rows
    assert m["model_version"].split("-")[1] == trained_on[:8]


def test_the_taxonomy_hint_names_the_file_as_a_user_types_it(tmp_path, monkeypatch):
    """The hint that names the --taxonomy file of a sheet or tagged file of the other taxonomy gave its absolute path
    inside the installed package (…/site-packages/classifier/_data/taxonomy/efund2025.toml; audit round 10), though
    `--taxonomy taxonomy/efund2025.toml` finds that file from any folder. It names the short path, unless the folder
    holds a file of its own there (which the short path would find instead)."""
    from classifier.taxonomy import DEFAULT_TAXONOMY, load_taxonomy, taxonomy_hint

    efund = Path(DEFAULT_TAXONOMY).parent / "efund2025.toml"
    version = load_taxonomy(efund).version
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(tmp_path))
    assert taxonomy_hint([version]) == "--taxonomy taxonomy/efund2025.toml"
    (tmp_path / "taxonomy").mkdir()
    (tmp_path / "taxonomy" / "efund2025.toml").write_text("# the user's own\n", encoding="utf-8")
    assert taxonomy_hint([version]) == f"--taxonomy {efund}"


def test_a_labeled_set_linked_into_the_workspace_is_changed_where_it_lives_and_stays_linked(tmp_path, named_labels_copy,
                                                                                            monkeypatch):
    """A labels.csv (and history.csv) kept in a team's or synced folder and symlinked into the workspace: a review
    import replaced the link with a file of its own, so the decision went to the workspace's copy, the linked file
    never got it, and the link was gone without a word (audit round 11). A commit now replaces the file the link
    names, staged beside it, and keeps the link; so does the next reader completing a commit a crash interrupted."""
    team = tmp_path / "team"
    team.mkdir()
    for name in ("labels.csv", "history.csv"):
        shutil.move(named_labels_copy.with_name(name), team / name)
        named_labels_copy.with_name(name).symlink_to(team / name)
    before = {n: (team / n).read_bytes() for n in ("labels.csv", "history.csv")}
    res = import_review(_sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "x")]), TAX, named_labels_copy,
                        today="2026-11-30")
    assert res.changed
    for name in ("labels.csv", "history.csv"):
        link = named_labels_copy.with_name(name)
        assert link.is_symlink() and link.resolve() == (team / name).resolve(), name
        assert (team / name).read_bytes() != before[name], name
    assert read_labels(team / "labels.csv").set_index("fund_code").loc["159912", "secondary"] == "科技成长主题ETF"
    assert not list(team.glob(".*.tmp")) and not list(named_labels_copy.parent.glob(".*.tmp"))
    # a crash between the renames, completed by the next reader: through the links too
    for name, data in before.items():
        (team / name).write_bytes(data)
    _crash_between_renames(tmp_path, named_labels_copy, monkeypatch)
    with pytest.warns(ChangeRecovered, match="interrupted after it was committed"):
        lab = read_labels(named_labels_copy)
    assert lab.set_index("fund_code").loc["159912", "secondary"] == "科技成长主题ETF"
    for name in ("labels.csv", "history.csv"):
        assert named_labels_copy.with_name(name).is_symlink(), name
        assert (team / name).read_bytes() != before[name], name
    assert not list(team.glob(".*.tmp")) and not list(named_labels_copy.parent.glob(".*journal"))


@pytest.mark.parametrize("nth", [1, 2])
def test_a_full_disk_during_a_change_names_the_folder_and_leaves_no_staged_file(tmp_path, named_labels_copy, nth,
                                                                               monkeypatch):
    """The disk filled while a review import staged labels.csv (or history.csv): the command stopped on 'error: No
    space left on device', naming neither the labeled set's folder nor that nothing was changed, and the half-written
    staged file stayed in the folder, taking the space a retry needs (audit round 11, ENOSPC raised at the Nth
    fsync). Now it says the folder, that nothing was changed and to free space; no staged file stays; the pair is
    the old one."""
    from conftest import full_disk_at

    folder = named_labels_copy.parent
    before = {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.endswith(".lock")}
    full_disk_at(monkeypatch, store.os, nth)
    with pytest.raises(InputError, match=r"No space left on device.*nothing was changed: free some space") as e:
        import_review(_sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "x")]), TAX, named_labels_copy,
                      today="2026-11-30")
    assert str(folder) in str(e.value)
    monkeypatch.undo()  # the disk has room again
    assert {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.endswith(".lock")} == before


def test_audit_of_a_migrated_e_fund_set_with_the_file_it_came_from_names_the_version_once():
    """A FOF team renamed E Fund's 医药 (医药卫生) and migrated the set; `fundclass labels audit --taxonomy
    taxonomy/efund2025.toml` (the file it was migrated from) said "412 errors": the one naming the version and the
    file to pass, then one per row of the renamed or split classes ("secondary '医药卫生' is not in taxonomy
    efund-2025.1-r1"), as if 411 rows were mislabeled (audit round 16). A row of another version is named by that
    one error; the audit reports one error."""
    from classifier.config import project_path

    tax = load_taxonomy(project_path("taxonomy/efund2025.toml"))
    df = read_labels(project_path("data/labeled/efund/labels.csv"))
    assert (df["secondary"] == "医药").sum() > 10
    df = df.assign(taxonomy_version="efund-2026.1", secondary=df["secondary"].replace("医药", "医药卫生"))
    errors = audit(df, tax, report_counts=False).errors
    assert len(errors) == 1 and errors[0].startswith(f"{len(df)} rows hold labels of taxonomy efund-2026.1"), \
        errors[:3]
    # a row of the audited version whose class is not one of its classes is still named
    i = int((df["secondary"] == "医药卫生").to_numpy().argmax())
    df.loc[i, "taxonomy_version"] = tax.version
    errors = audit(df, tax, report_counts=False).errors
    assert len(errors) == 2 and errors[1] == f"row {i + 2} ({df['fund_code'].iat[i]}): secondary '医药卫生' is not " \
        f"in taxonomy {tax.version}", errors[:3]


def test_a_row_cleared_in_excel_is_named_blank_by_every_command_that_reads_the_set(tmp_path, small_labels_copy):
    """Audit round 18: a row whose cells were cleared in Excel (saved as `,,,,,,,,,,,,,,`) was counted as a fund:
    `labels audit` said "row N (): secondary '' is not in taxonomy" and `train` "row N (): ''", without saying the
    row is blank → every command that reads the set refuses it, naming the file and the row and saying it is blank
    (delete it); the file is left as it was (a silent skip would let the next change drop the row without a word)."""
    text = small_labels_copy.read_text(encoding="utf-8")
    lines = text.splitlines()
    blank = "," * (len(next(csv.reader([lines[0]]))) - 1)
    small_labels_copy.write_text("\n".join(lines[:3] + [blank] + lines[3:]) + "\n" + blank + "\n", encoding="utf-8")
    before = small_labels_copy.read_bytes()
    said = (f"error: {small_labels_copy}: rows 4, {len(lines) + 2} are blank (every cell empty, as Excel saves a row "
            f"whose cells were cleared): delete them (the whole row)")
    src = tmp_path / "in.csv"
    src.write_text("基金代码,基金简称\n510300,华泰柏瑞沪深300ETF\n", encoding="utf-8")
    sheet = _sheet(tmp_path / "review.csv", [("510300", "宽基ETF", "")])
    runner = CliRunner()
    for args in (["labels", "audit", str(small_labels_copy)],
                 ["train", "--labeled", str(small_labels_copy), "-o", str(tmp_path / "model"), "--no-holdings"],
                 ["tag", str(src), "-o", str(tmp_path / "t.csv"), "--rules-only", "--labeled", str(small_labels_copy)],
                 ["review", "import", str(sheet), "--labeled", str(small_labels_copy)]):
        r = runner.invoke(cli, args)
        assert r.exit_code != 0 and said in r.output, (args, r.output)
        assert "secondary ''" not in r.output and "(): ''" not in r.output, r.output
    assert small_labels_copy.read_bytes() == before
    # one cleared row alone: "row N is blank … delete it"
    small_labels_copy.write_text(text + blank + "\n", encoding="utf-8")
    r = runner.invoke(cli, ["labels", "audit", str(small_labels_copy)])
    assert f"{small_labels_copy}: row {len(lines) + 1} is blank (every cell empty" in r.output, r.output
    assert "delete it (the whole row)" in r.output, r.output


def _disk_events(monkeypatch):
    """What a commit asks of the disk, in order: ("fsync", path of the file or folder synced), ("replace", target)."""
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, *a, **kw):
        events.append(("replace", str(dst)))
        return real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


@pytest.mark.skipif(not os.path.exists("/proc/self/fd") or not hasattr(os, "O_DIRECTORY"),
                    reason="reads which file an fsync is of through /proc (Linux)")
def test_a_commits_journal_is_on_disk_before_the_first_file_it_names_is_renamed(tmp_path, named_labels_copy,
                                                                               monkeypatch):
    """A review import commits labels.csv and history.csv through a journal: staged files synced, the journal written,
    then the renames. The journal was written without fsync, and no folder was synced: after a power cut the renamed
    labels.csv could be on disk with no journal to complete its history.csv. Now the journal's data and its name (the
    folder) are synced before the first rename, and the renames (the folder) before the journal is removed."""
    events = _disk_events(monkeypatch)
    import_review(_sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "x")]), TAX, named_labels_copy,
                  today="2026-11-30")
    folder = str(named_labels_copy.parent.resolve())
    first = next(i for i, (k, p) in enumerate(events) if k == "replace" and p.endswith(("labels.csv", "history.csv")))
    journal_put = next(i for i, (k, p) in enumerate(events) if k == "replace" and p.endswith(".labels.csv.journal"))
    assert any(k == "fsync" and ".labels.csv.journal" in p for k, p in events[:journal_put]), events
    assert ("fsync", folder) in events[journal_put:first], events
    assert ("fsync", folder) in events[first:], events


@pytest.mark.skipif(not hasattr(os, "O_DIRECTORY"), reason="folders are synced where the system opens them (POSIX)")
def test_a_file_system_that_refuses_to_sync_a_folder_still_takes_the_import(tmp_path, named_labels_copy, monkeypatch):
    """Some network and FUSE mounts refuse fsync of a folder (EINVAL): the commit's folder syncs must not turn every
    review import there into an error; the import goes in, the journal removed."""
    import errno
    import stat

    real = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    import_review(_sheet(tmp_path / "r.csv", [("159912", "科技成长主题ETF", "x")]), TAX, named_labels_copy,
                  today="2026-11-30")
    assert read_labels(named_labels_copy).set_index("fund_code").loc["159912", "secondary"] == "科技成长主题ETF"
    assert not list(named_labels_copy.parent.glob(".*journal"))


def test_labels_version_reads_a_set_once_per_state_of_its_file(small_labels_copy, monkeypatch):
    """`fundclass tag` asked the set's taxonomy version three times, each time reading and decoding the whole set
    (~5 ms each for the shipped one). It is read once per state of the file; a set rewritten gives its new version."""
    from pathlib import Path

    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    assert store.labels_version(small_labels_copy) == TAX.version
    assert store.labels_version(small_labels_copy) == TAX.version
    assert store.labels_version(str(small_labels_copy)) == TAX.version
    assert len(reads) == 1
    text = real(small_labels_copy).decode("utf-8-sig")
    small_labels_copy.write_bytes(text.replace(TAX.version, "other-9").encode("gbk"))  # rewritten (and in GBK)
    assert store.labels_version(small_labels_copy) == "other-9"
    assert len(reads) == 2


def test_a_decision_on_a_code_the_set_holds_as_another_fund_is_named_in_a_warning(tmp_path, named_labels_copy):
    """A sheet row whose fund code the labeled set holds as another fund (a typed or stale code: the sheet shows a
    battery ETF under 563990, the set's 563990 is 富国中证800自由现金流ETF) decides the set's fund and relabels its index,
    as the README says; the import says so, naming the code and both funds, in a dry run too. A row that shows the
    set's own fund (its name, or its index code, however written) is no such row."""
    rows = [("563990", "科技成长主题ETF", ""), ("159915", "科技成长主题ETF", ""), ("588000", "宽基ETF", "")]

    def shown(df):
        df[["fund_name", "index_code"]] = [["南方中证电池主题ETF", "931719.CSI"],
                                           ["易方达创业板ETF", ""],  # the set's name
                                           ["华夏科创50ETF", "000688"]]  # another name, the set's index (000688.SH)
        return df

    held = read_labels(named_labels_copy).set_index("fund_code")
    assert held.loc["588000", "index_code"] == "000688.SH" and held.loc["588000", "fund_name"] != "华夏科创50ETF"
    sheet = _sheet(tmp_path / "r.csv", rows, shown)
    for dry in (True, False):
        res = import_review(sheet, TAX, named_labels_copy, today="2026-12-02", dry_run=dry)
        assert [m[0] for m in res.mismatched] == ["563990"]
        (line,) = [x for x in res.lines() if "under another name or index" in x]
        assert ("563990 (sheet: 南方中证电池主题ETF, 931719.CSI; labeled set: 富国中证800自由现金流ETF, 932368.CSI)"
                in line) and ("would be written" if dry else "was written") in line
    assert read_labels(named_labels_copy).set_index("fund_code").loc["563990", "secondary"] == "科技成长主题ETF"
