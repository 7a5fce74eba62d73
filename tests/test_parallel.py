"""A large file is tagged by forked worker processes, one chunk each at a time; the output, the summary and the
--previous report are those of one process (classifier/batch.py)."""
import os
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier import batch, config
from classifier.batch import tag_file, workers
from classifier.cli import cli
from classifier.errors import InputError
from classifier.stability import tag_file_stable

LISTINGS = str(config.project_path("examples/new_listings.csv"))
forks = pytest.mark.skipif(workers(10**9, 2) < 2, reason="processes do not fork here")


@pytest.fixture
def parallel_small(tmp_path, monkeypatch):
    """A configuration under which even a 20-row file is tagged in parallel."""
    cfg = tmp_path / "parallel.toml"
    cfg.write_text("[tag]\nparallel_rows = 2\n", encoding="utf-8")
    monkeypatch.setenv(config.ENV_CONFIG, str(cfg))
    yield
    config.use_config(None)  # a CLI call made the file the process's configuration


def _summary(s):
    return s.rows, s.per_class, s.review, s.out_of_scope, sorted(set(s.warnings))


@forks
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_workers_write_what_one_process_writes(model_tagger, tmp_path, parallel_small, suffix, monkeypatch):
    pids = tmp_path / "pids.txt"
    real = type(model_tagger).tag

    def tag(self, *args, **kwargs):  # which process tagged each chunk
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(model_tagger), "tag", tag)
    one, many = tmp_path / f"one{suffix}", tmp_path / f"many{suffix}"
    s1 = tag_file(LISTINGS, one, progress=False, tagger=model_tagger, jobs=1)
    assert pids.read_text().split() == [str(os.getpid())]  # one process, one chunk: the file fits in one
    pids.unlink()
    s2 = tag_file(LISTINGS, many, progress=False, tagger=model_tagger, jobs=2, chunk_rows=8)
    by = pids.read_text().split()
    n = len(pd.read_csv(LISTINGS))
    chunks = -(-n // batch._chunk_size(n, 8, 2))
    assert chunks >= 4 and len(by) == chunks and str(os.getpid()) not in by
    assert len(set(by)) == chunks  # a fresh worker process for each chunk
    if suffix == ".csv":
        assert one.read_bytes() == many.read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_excel(one, dtype=str), pd.read_excel(many, dtype=str))
    assert _summary(s1) == _summary(s2) and s2.rows == n


@forks
def test_previous_run_counts_come_back_from_the_workers(tmp_path, parallel_small):
    last = tmp_path / "last.csv"
    assert CliRunner().invoke(cli, ["tag", LISTINGS, "-o", str(last), "-s"]).exit_code == 0
    f = pd.read_csv(last, dtype=str, keep_default_na=False)
    f.loc[0, "secondary"] = "宽基ETF" if f.loc[0, "secondary"] != "宽基ETF" else "跨境主题ETF"
    f.to_csv(last, index=False)
    reports = []
    for jobs, chunk in ((1, None), (2, 8)):
        out = tmp_path / f"now{jobs}.csv"
        summary, report = tag_file_stable(LISTINGS, out, last, progress=False, jobs=jobs, chunk_rows=chunk)
        reports.append((report.same, report.kept, report.updated, report.not_before, _summary(summary)))
    assert reports[0] == reports[1]
    assert reports[0][0] == len(f) - 1 and reports[0][1] + reports[0][2] == 1
    assert (tmp_path / "now1.csv").read_bytes() == (tmp_path / "now2.csv").read_bytes()


@forks
def test_an_error_in_a_worker_reaches_the_user_with_its_message(tmp_path, parallel_small):
    src = tmp_path / "names.csv"
    src.write_text("基金简称\n" + "华夏中证机器人ETF\n" * 6, encoding="utf-8")
    last = tmp_path / "last.csv"
    assert CliRunner().invoke(cli, ["tag", LISTINGS, "-o", str(last), "-s"]).exit_code == 0
    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(tmp_path / "o.csv"), "--jobs", "2",
                                 "--previous", str(last)])
    assert r.exit_code == 2 and "names.csv: no fund-code column" in r.output
    assert not (tmp_path / "o.csv").exists() and not list(tmp_path.glob(".o.csv*"))  # no output, no temp file


def test_how_many_processes(monkeypatch):
    assert workers(10, 2) == 1  # under tag.parallel_rows: forking costs more than it saves
    rows = 10 * config.defaults()["tag"]["parallel_rows"]
    assert workers(rows, 1) == 1 and workers(rows, 0) == (batch.cpu_count() if workers(rows, 2) == 2 else 1)
    monkeypatch.setattr(sys, "platform", "darwin")  # forking after system frameworks load is unsafe there
    assert workers(rows, 4) == 1
    with pytest.raises(InputError, match="jobs = -1"):
        workers(rows, -1)


def test_the_chunks_keep_every_worker_busy():
    assert batch._chunk_size(25_000, 50_000, 2) == 12_500
    assert batch._chunk_size(250_000, 50_000, 2) == 25_000  # 50k rows at once over both workers
    assert batch._chunk_size(260_000, 50_000, 2) == 21_667  # 12 chunks, not 11: no worker waits alone for the last
    assert batch._chunk_size(250_000, 50_000, 1) == 50_000


# SIGTERM as a process normally starts with it, whatever the test run inherited (see test_io's SLOW_WRITER)
SLOW_PARALLEL_TAG = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
from classifier import batch, config
from classifier.pipeline import Tagger

config.use_config(sys.argv[3])
real = Tagger.tag

def slow(self, *args, **kwargs):  # each chunk announces its worker, then takes its time
    with open(sys.argv[4], "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(30)
    return real(self, *args, **kwargs)

Tagger.tag = slow
batch.tag_file(sys.argv[1], sys.argv[2], progress=False, tagger=Tagger.load(None), jobs=2, chunk_rows=4)
"""


@forks
def test_sigterm_ends_the_workers_and_leaves_no_temp_file(tmp_path):
    import signal
    import subprocess
    import time

    cfg = tmp_path / "parallel.toml"
    cfg.write_text("[tag]\nparallel_rows = 2\n", encoding="utf-8")
    pids, out = tmp_path / "pids.txt", tmp_path / "out" / "tagged.csv"
    out.parent.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_PARALLEL_TAG, LISTINGS, str(out), str(cfg), str(pids)])
    try:
        deadline = time.time() + 60
        while (not pids.exists() or len(pids.read_text().split()) < 2) and time.time() < deadline:
            time.sleep(0.1)
        workers_ = [int(p) for p in pids.read_text().split()]
        assert len(workers_) == 2 and all(os.path.exists(f"/proc/{p}") for p in workers_)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM  # ends as SIGTERM ends a process
    finally:  # a failure leaves no process behind
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(out.parent.iterdir()) == []  # no output, no temp file
    # the workers were ended and waited for before the parent went: none is left running or unreaped
    assert not [p for p in workers_ if os.path.exists(f"/proc/{p}")]


@forks
@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_a_header_only_file_is_tagged_when_every_file_goes_to_the_workers(tmp_path, monkeypatch, suffix):
    """`[tag] parallel_rows = 0` (every file on every core) made a file with a header and no rows an internal error
    (ZeroDivisionError while cutting zero rows into chunks) instead of the empty output, with its warning, that one
    process writes."""
    cfg = tmp_path / "all_parallel.toml"
    cfg.write_text("[tag]\nparallel_rows = 0\nchunk_rows = 1\n", encoding="utf-8")
    src = tmp_path / "in.csv"
    src.write_text("基金代码,基金简称\n", encoding="utf-8")
    one = tmp_path / f"one{suffix}"
    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(one), "-s", "--jobs", "1"])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv(config.ENV_CONFIG, str(cfg))
    try:
        many = tmp_path / f"many{suffix}"
        r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(many), "-s", "--jobs", "2"])
    finally:
        config.use_config(None)
    assert r.exit_code == 0, r.output
    assert "header only, no rows" in r.output
    read = {".csv": pd.read_csv, ".xlsx": pd.read_excel, ".parquet": pd.read_parquet}[suffix]
    pd.testing.assert_frame_equal(read(one), read(many))
    if suffix == ".csv":
        assert one.read_bytes() == many.read_bytes()


@pytest.mark.parametrize("rows", [0, -5])
def test_a_chunk_size_below_one_row_is_refused_naming_the_configuration(tmp_path, monkeypatch, rows):
    """`[tag] chunk_rows = -5` wrote an empty CSV (no header, no row) and reported success ("rows: 0"): every row of
    the input lost without a word; `chunk_rows = 0` was an internal error. Both are refused before any work, naming
    the configuration file and the key; nothing is written."""
    cfg = tmp_path / "chunks.toml"
    cfg.write_text(f"[tag]\nchunk_rows = {rows}\n", encoding="utf-8")
    monkeypatch.setenv(config.ENV_CONFIG, str(cfg))
    out = tmp_path / "out.csv"
    try:
        r = CliRunner().invoke(cli, ["tag", LISTINGS, "-o", str(out), "-s"])
    finally:
        config.use_config(None)
    assert r.exit_code == 2, r.output
    assert r.output.startswith(f"error: {cfg}: tag.chunk_rows = {rows}") and not out.exists()


def test_the_run_summary_lists_tied_classes_in_one_order_whatever_order_the_chunks_came_in():
    """Audit round 5: classes with the same count were listed in the order the chunks (or forked processes) added
    them, so --jobs 1 and a parallel run printed different summaries of the same output."""
    from classifier.pipeline import TagSummary

    def run(parts):
        total = TagSummary()
        for per_class in parts:
            total.add(TagSummary(rows=sum(per_class.values()), per_class=per_class))
        return total.lines()

    a, b = {"宽基ETF": 2, "不适用": 1}, {"跨境主题ETF": 2, "(申万)行业ETF": 3}
    assert run([a, b]) == run([b, a])
    assert [x.split(":")[0].strip() for x in run([b, a])[1:]] == ["(申万)行业ETF", "宽基ETF", "跨境主题ETF", "不适用"]
