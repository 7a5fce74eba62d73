import gc
import os
import shutil
import sys

# One BLAS thread per test process, set before numpy loads. Training fits many small logistic regressions; with
# OpenBLAS's default threads on a busy 2-core machine each tiny BLAS call waits on thread hand-offs, and a training
# costs ~4x the CPU (fit of the test subset: 7.2 s CPU with default threads, 0.8 s with one). Results do not depend on
# it. pytest-xdist workers inherit it, and so do the `fundclass` subprocesses of test_user_path.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest.register_assert_rewrite("review_helpers")  # the review-loop tests' helpers assert too: rewritten, as they were

if "numpy" in sys.modules:  # numpy was loaded before us: its BLAS read the environment already
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")
# Python's cyclic garbage collector runs a young-generation pass every 700 new container objects by default; tests
# that build DataFrames, workbooks and models make millions, and the passes (and the full ones they trigger, over
# every object of pandas, scikit-learn and the fitted models) took ~5 s of the two workers' CPU. Every 10,000: ~2 s.
# What is collected is the same, only later; a test process lives about a minute.
gc.set_threshold(10_000, 10, 10)
# numpy and pandas are imported where they are used, not here: the pytest-xdist controller loads this file too, runs
# no test, and starts the workers only once it has (importing pandas here cost it ~0.8 s before any worker started)

ROOT = Path(__file__).resolve().parent.parent
RAW = Path(os.environ.get("FUNDCLASS_RAW", ROOT.parent / "shared" / "data" / "raw"))
ETF_LIST = RAW / "tushare_etf_basic_2026" / "etf_basic_listed.csv"
FUND_LIST = RAW / "eastmoney_fundcode_20251117" / "fundcode_search_20251117.csv"
HOLDINGS = RAW / "jackluson_anchor_fund_top10" / "fund_top10_holdings_2022Q2_2022Q4.csv"
SW_MAP = RAW / "markzhou_sw2021" / "stock_sw2021_l2_mapping_since_2023.csv"

needs_raw = pytest.mark.skipif(not ETF_LIST.exists(), reason=f"shared raw data not found at {RAW}")



# The longest files first (seconds from a file's first test to its last on its worker, median of four runs of the
# README command on tspeed at 2026-12-02 18:10, this machine slower than at noon: the suite took 80-95 s; files of a
# second and a half or more, longest first: test_user_path.py 13.5 (its `fundclass` processes, one after the other),
# test_fast_paths_output.py 12.5, test_review_migration.py 11.3, test_fast_paths.py 10.4, then 8.0 down to 1.5).
# `--dist loadfile` hands whole files to the workers in collection order, a couple ahead; collected alphabetically,
# test_user_path.py came last and ran alone while the other worker idled. Stable sort: each file's tests keep their
# order, and the other files theirs (see pytest_configure: xdist must be told to keep this order).
LONGEST_FIRST = ("test_user_path.py", "test_fast_paths_output.py", "test_review_migration.py", "test_fast_paths.py",
                 "test_labeled_store.py", "test_index_reads.py", "test_review_import.py", "test_cli.py",
                 "test_model_store.py", "test_review_index.py", "test_review_settles.py", "test_review_disputes.py",
                 "test_review_sheet_edits.py", "test_holdings_table.py", "test_real_data.py",
                 "test_review_withdrawal.py", "test_parallel.py", "test_doubt.py", "test_migration_safety.py",
                 "test_summary.py", "test_bad_inputs.py", "test_review_integrity.py", "test_linking.py",
                 "test_estimator.py", "test_workspace_taxonomy.py", "test_migration_chain.py", "test_own_outputs.py",
                 "test_training.py", "test_forked.py", "test_io.py", "test_regressions.py")


def pytest_configure(config):
    # pytest rewrites the asserts of every module of a package that registers a pytest plugin, so importing hypothesis
    # (for test_bad_inputs.py, while every worker collects every file) rewrote ~75 of its own modules: ~1.3 s CPU per
    # test process before its first test, and nothing of it is this suite's assertions. Hypothesis's modules load as
    # plain modules; the tests' own asserts (and conftest's) are rewritten as before. A pytest without this private
    # set (pytest pins >=8,<10 in pyproject.toml) just rewrites them, as it did.
    hook = getattr(config.pluginmanager, "rewrite_hook", None)
    if isinstance(getattr(hook, "_must_rewrite", None), set) and "hypothesis" not in sys.modules:
        hook._must_rewrite.discard("hypothesis")
        getattr(hook, "_marked_for_rewrite_cache", {}).clear()
    # pytest-xdist >= 3.6 re-sorts the files of `--dist loadfile` by their number of tests (most first) unless told
    # not to: test_bad_inputs.py (58 short tests) then went first and test_user_path.py (5 long ones) near the end, and
    # the order above was never used
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # The last thing a test process does before it ends: move every object still alive out of the cyclic garbage
    # collector's reach. Python collects once more as it shuts down, over everything the tests left (pandas, sklearn,
    # matplotlib, fitted models): that took a worker ~1.5 s after its last test, and the controller waits for both
    # workers to end (measured: the controller's session ended 1.5 s after the last worker's atexit, 0.2 s with this).
    # Nothing is collected that would not be freed anyway when the process ends.
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _fundclass_environment_of_its_own():
    """Each test starts with the FUNDCLASS_* variables the test process started with. `fundclass --workspace DIR`
    sets $FUNDCLASS_WORKSPACE for the rest of its process (cli.cli), and a command run in-process through CliRunner
    left it set: after test_cli's mistyped-workspace test every later test of that worker ran in the workspace that
    test made in its tmp_path (found when tmp_path folders were removed after each passing test: the ETF-list fixture
    then failed, 'no such folder')."""
    before = {k: v for k, v in os.environ.items() if k.startswith("FUNDCLASS_")}
    yield
    for k in [k for k in os.environ if k.startswith("FUNDCLASS_") and k not in before]:
        del os.environ[k]
    os.environ.update(before)


@pytest.fixture(scope="session", autouse=True)
def _shipped_models_read_once():
    """``Tagger.load`` (and every command run in-process that loads one: `fundclass tag`, `review export`, …) reads
    each shipped model of models/ once per test process, not once a call: ~230 loads, ~20 ms each (two files of
    1.7 MB read, hashed, parsed and compiled), most of them of models/default. A load of one of those folders,
    unchanged since it was read (the same files: names, sizes, modification times, inodes; no staged or journal file
    of an interrupted save), is given the model read then and a copy of its manifest; ``load_model`` itself still
    runs once for each taxonomy, vocabulary and labeled set's version it is asked with (its checks: a refusal is
    raised every time). Any other folder (a model a test trained, a workspace's) is read as before, every time.
    Tagging reads a model and never changes it (the tests that patch one restore it: monkeypatch)."""
    import copy

    import classifier.pipeline as pipeline
    from classifier.config import project_path
    from classifier.vocabulary import load_vocabulary

    real, shipped = pipeline.load_model, project_path("models").resolve()
    read: dict = {}  # the folder's files → (model, manifest) read from them
    checked: set = set()  # (the folder's files, taxonomy, vocabulary, labeled set's version) load_model passed

    def load_model(model_dir, taxonomy, labels_version=""):
        d = Path(model_dir).resolve()
        if d.parent != shipped or not d.is_dir():
            return real(model_dir, taxonomy, labels_version)
        files = (d, *sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns, e.stat().st_ino) for e in os.scandir(d)))
        if any(f[0].startswith(".") for f in files[1:]):  # a save's staged files or journal: its recovery runs
            return real(model_dir, taxonomy, labels_version)
        key = (files, taxonomy.sha256, load_vocabulary().sha256, labels_version)
        if key not in checked:
            loaded = real(model_dir, taxonomy, labels_version)
            read.setdefault(files, loaded)
            checked.add(key)
        model, manifest = read[files]
        return model, copy.deepcopy(manifest)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "load_model", load_model)
        yield


@pytest.fixture(scope="session")
def taxonomy():
    from classifier.taxonomy import load_taxonomy

    return load_taxonomy()


@pytest.fixture(scope="session")
def rules_tagger(taxonomy):
    from classifier.pipeline import Tagger

    return Tagger(taxonomy)


@pytest.fixture(scope="session")
def model_tagger():
    from classifier.pipeline import Tagger

    return Tagger.load(labels_path=None)  # the model's own answers: no review decision settles a fund


@pytest.fixture
def small_frame():
    import pandas as pd

    return pd.DataFrame({
        "基金代码": ["159995", "510300", "511880", "000001", "159995"],
        "基金简称": ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF", "银华日利", "华夏成长混合", "华夏国证半导体芯片ETF"],
        "备注": ["a", "b", "c", "d", "e"],
    })


# ------------------------------------------------------------------------------------------------ shared, costly
# Session-scoped: built once per test process (once per pytest-xdist worker; `--dist loadfile` keeps a file's tests,
# and its module fixtures, on one worker), read by every test that needs them.
# Tests must not change what these return: they copy before they write.


@pytest.fixture(scope="session")
def small_labels():
    """A reproducible subset of whole labeled groups (260 of ~1,100): real labels, folds still grouped."""
    import numpy as np

    from classifier.labeled import read_labels

    labels = read_labels()
    groups = sorted(labels["group"].unique().tolist())
    keep = set(np.random.default_rng(0).choice(groups, size=260, replace=False))
    return labels[labels["group"].isin(keep)].reset_index(drop=True)


# Whole labeled groups the workflow tests that run `fundclass train` fit on (test_review_*, test_regressions,
# test_user_path; test_training's holdings test draws its own): ~450 rows of ~5,000. What they assert does not
# depend on how many (see write_labeled_subset); a train on 250 groups cost ~2.2 s CPU, on 100 ~1.45 s.
TRAINING_GROUPS = 100


def write_labeled_subset(src, dest, n_groups=250, seed=0, keep=None):
    """Write at ``dest`` a labeled set made of whole groups of the one at ``src``: ``n_groups`` drawn reproducibly,
    plus every group holding a row ``keep(labels)`` selects (the rows a test edits). For the workflow tests that
    train: what they assert (the command's output, a decision surviving retraining, the new model being used, a
    split class learned) does not need all ~1,100 groups, and a fit on all of them costs ~8 s."""
    import numpy as np

    from classifier.labeled import write_labels

    labels = _labels_of(src)
    groups = sorted(labels["group"].unique().tolist())
    chosen = set(np.random.default_rng(seed).choice(groups, size=n_groups, replace=False))
    if keep is not None:
        chosen |= set(labels.loc[keep(labels), "group"])
    sub = labels[labels["group"].isin(chosen)].reset_index(drop=True)
    write_labels(sub, dest)
    return sub


_LABELS_READ: dict = {}


def _labels_of(src):
    """``read_labels(src)``, read once per test process while the file is unchanged (its size and modification time
    the same): ~100 tests draw their labeled subsets from the shipped set (~5,000 rows), which they never change. A
    copy, for the caller to filter."""
    from classifier.labeled import read_labels

    st = Path(src).stat()
    key = (str(Path(src).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _LABELS_READ:
        _LABELS_READ[key] = read_labels(src)
    return _LABELS_READ[key].copy()


@pytest.fixture
def labels_subset(tmp_path, request):
    """For the review-loop tests (test_review_*.py), a labeled set a test may change: whole groups of the shipped one
    (write_labeled_subset, TRAINING_GROUPS of them) plus every group holding a fund or an index whose six-digit code
    (or index name) the test's source names, and every review decision: for the tests whose decisions and lookups
    touch only those (reading, rewriting and indexing all ~5,000 rows costs ~0.3-1 s a test)."""
    import inspect
    import re

    from classifier.labeled import SHIPPED_LABELS

    src = inspect.getsource(request.function)
    codes = set(re.findall(r"(?<!\d)(\d{6})(?!\d)", src))

    def keep(lab):
        names = lab["index_name"].str.removesuffix("指数")
        named = names.isin({n for n in set(names) if n and n in src})  # each distinct name looked up once
        return (lab["fund_code"].str[:6].isin(codes) | lab["index_code"].str[:6].isin(codes) | named
                | (lab["source"] == "review"))  # every decision already made: those are what tagging applies

    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, p, n_groups=TRAINING_GROUPS, keep=keep)
    return p


@pytest.fixture(scope="session")
def small_training(small_labels, taxonomy):
    from classifier.train import training_data

    return training_data(small_labels, taxonomy)


@pytest.fixture(scope="session")
def small_model(small_training, taxonomy):
    """A FusedModel fitted once on :func:`small_labels` (3 grouped folds), for the tests that need *a* fitted model
    rather than the shipped one."""
    from classifier.train import fit

    return fit(small_training, taxonomy, {"n_splits": 3})


def _tag_with_the_cli(src, out):
    from click.testing import CliRunner

    from classifier.cli import cli

    r = CliRunner().invoke(cli, ["tag", str(src), "-o", str(out), "-s"])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="session")
def tagged_etf_list(tmp_path_factory):
    """The listed-ETF list (~1,400 rows) tagged once by `fundclass tag` with the shipped model, as CSV."""
    if not ETF_LIST.exists():
        pytest.skip(f"shared raw data not found at {RAW}")
    return _tag_with_the_cli(ETF_LIST, tmp_path_factory.mktemp("etf") / "tagged.csv")


@pytest.fixture(scope="session")
def tagged_fund_list(tmp_path_factory):
    """The whole fund list (25k rows) tagged once by `fundclass tag` with the shipped model, as Parquet."""
    if not FUND_LIST.exists():
        pytest.skip(f"shared raw data not found at {RAW}")
    return _tag_with_the_cli(FUND_LIST, tmp_path_factory.mktemp("funds") / "all.parquet")


@pytest.fixture
def labels_copy(tmp_path):
    """A copy of the shipped labeled set and its history that a test may change (the review-loop tests have their own,
    labels_subset, without the history)."""
    from classifier.labeled import SHIPPED_LABELS

    p = tmp_path / "labeled" / "labels.csv"
    p.parent.mkdir()
    shutil.copy(SHIPPED_LABELS, p)
    shutil.copy(SHIPPED_LABELS.with_name("history.csv"), p.with_name("history.csv"))
    return p


def full_disk_at(monkeypatch, os_module, nth: int) -> list:
    """Make ``os_module.fsync`` (the ``os`` a module under test syncs its files with) raise ENOSPC at its ``nth`` call:
    a disk that fills part way through a write. Returns the list of calls, for a test to count them."""
    import errno

    real, calls = os_module.fsync, []

    def full(fd):
        calls.append(fd)
        if len(calls) == nth:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os_module, "fsync", full)
    return calls


# a taxonomy change with a split, as the migration tests make it
SPLIT_MIGRATION = """[migration]
from = "jrj-2026.01-r1"
to = "jrj-2026.02-split"

[map]
"科技成长主题ETF" = ["科技主题ETF", "成长风格ETF"]
"""


def split_taxonomy(path):
    """The default taxonomy's next version, jrj-2026.02-split: 科技成长主题ETF split into 科技主题ETF and 成长风格ETF
    (SPLIT_MIGRATION maps it), written at ``path``."""
    from classifier.taxonomy import DEFAULT_TAXONOMY

    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8")
    t = t.replace('version = "jrj-2026.01-r1"', 'version = "jrj-2026.02-split"')
    t = t.replace('secondary = "科技成长主题ETF"\nkeywords = ["科技", "成长", "创新",',
                  'secondary = "科技主题ETF"\nkeywords = ["科技", "创新",')
    t = t.replace('report_count = 87\n', 'report_count = 87\n\n[[class]]\nprimary = "产业趋势与升级"\n'
                  'secondary = "成长风格ETF"\nkeywords = ["成长"]\nscope = "成长风格"\n', 1)
    t = t.replace('id = "tech.core"\nclass = "科技成长主题ETF"', 'id = "tech.core"\nclass = "科技主题ETF"')
    t = t.replace('id = "growth.style"\nclass = "科技成长主题ETF"', 'id = "growth.style"\nclass = "成长风格ETF"')
    t = t.replace('class = "科技成长主题ETF"', 'class = "科技主题ETF"')  # the other tech rules
    t = t.replace('contested = "科技成长主题ETF"', 'contested = "科技主题ETF"')
    assert "科技成长主题ETF" not in t
    path.write_text(t, encoding="utf-8")
    return path


def split_migrate(runner, tmp_path, labels, queue_name="queue.csv"):
    """`fundclass taxonomy migrate` of ``labels`` to the split taxonomy (SPLIT_MIGRATION): the new taxonomy's path,
    the queue's path and the command's result."""
    from classifier.cli import cli
    from classifier.taxonomy import DEFAULT_TAXONOMY

    new_tax = split_taxonomy(tmp_path / "split.toml")
    mig = tmp_path / "split_migration.toml"
    mig.write_text(SPLIT_MIGRATION, encoding="utf-8")
    queue = tmp_path / queue_name
    res = runner.invoke(cli, ["taxonomy", "migrate", str(mig), "--from", str(DEFAULT_TAXONOMY), "--to", str(new_tax),
                              "--labeled", str(labels), "-o", str(queue)])
    return new_tax, queue, res


# a process running the fundclass command of argv[2:], killed (SIGKILL) inside a change of the labeled set: argv[1]
# "staged" once labels.csv and history.csv are staged, before the journal (not committed); anything else after the
# journal and the first rename (committed: labels.csv new, history.csv old)
KILLED_LABELED_CHANGE = r'''
import os, signal, sys
import classifier.labeled as L
where = sys.argv[1]
if where == "staged":  # killed once both files are staged, before the journal
    real = L._staged
    def staged(target, data):
        tmp = real(target, data)
        if target.name == "history.csv":
            os.kill(os.getpid(), signal.SIGKILL)
        return tmp
    L._staged = staged
elif where == "journal-temp":  # killed while the journal is written, in its temp file, before it is in place
    def write_synced(tmp, payload):
        with open(tmp, "wb") as f:
            f.write(payload)
        os.kill(os.getpid(), signal.SIGKILL)
    L.write_synced = write_synced
else:  # killed after the journal and the first rename (labels.csv new, history.csv old)
    real = os.replace
    def replace(src, dst, *a, **kw):
        real(src, dst, *a, **kw)
        if str(dst).endswith("labels.csv"):
            os.kill(os.getpid(), signal.SIGKILL)
    L.os.replace = replace
from classifier.cli import cli
cli(sys.argv[2:])
'''
