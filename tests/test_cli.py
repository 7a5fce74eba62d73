import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier.cli import cli
from classifier.config import project_path
from classifier.pipeline import OUTPUT_COLUMNS


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def csv_in(tmp_path, small_frame):
    p = tmp_path / "in.csv"
    small_frame.to_csv(p, index=False)
    return p


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet"])
def test_tag_writes_the_outputs_format(runner, tmp_path, csv_in, small_frame, model_tagger, ext):
    out = tmp_path / f"out.{ext}"
    r = runner.invoke(cli, ["tag", str(csv_in), "-o", str(out), "-s"])
    assert r.exit_code == 0, r.output
    df = {"csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False),
          "xlsx": lambda p: pd.read_excel(p, dtype=str).fillna(""), "parquet": pd.read_parquet}[ext](out)
    assert list(df.columns) == list(small_frame.columns) + OUTPUT_COLUMNS
    # every input cell and every class comes back as tagged, in each format
    assert df[list(small_frame.columns)].astype(str).equals(small_frame)
    want = model_tagger.tag(small_frame)
    for col in ("primary", "secondary", "asset_class", "linked_fund", "evidence"):
        assert df[col].astype(str).tolist() == want[col].astype(str).tolist(), col
    assert df["confidence"].astype(float).round(6).tolist() == want["confidence"].astype(float).round(6).tolist()


def test_summary_is_printed(runner, tmp_path, csv_in):
    out = tmp_path / "o.csv"
    r = runner.invoke(cli, ["tag", str(csv_in), "-o", str(out)])
    assert r.exit_code == 0
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert f"rows: {len(got)}  review: {(got.needs_review == 'True').sum()} " in r.output
    for label, n in got["secondary"].value_counts().items():
        assert f"  {label}: {n}\n" in r.output


def test_bad_input_is_one_line_exit_2_and_no_output(runner, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,x\n1,2\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    r = runner.invoke(cli, ["tag", str(bad), "-o", str(out)])
    assert r.exit_code == 2
    assert "bad.csv: no fund-name column" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_every_command_is_documented_with_an_example(runner):
    def walk(group, prefix):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from walk(cmd, prefix + [name])
            else:
                yield prefix + [name], cmd
    for path, cmd in walk(cli, []):
        r = runner.invoke(cli, path + ["--help"])
        assert r.exit_code == 0, path
        assert "Example:" in (cmd.help or ""), f"{' '.join(path)} has no example in its help"


def test_taxonomy_check_and_labels_audit(runner):
    r = runner.invoke(cli, ["taxonomy", "check", "taxonomy/jrj2026.toml"])
    assert r.exit_code == 0 and "14 secondary classes" in r.output
    # the file read, to copy from (a user's folder has no taxonomy/: the installed package's file is read)
    (shown,) = [line[len("file: "):] for line in r.output.splitlines() if line.startswith("file: ")]
    import hashlib

    from classifier.taxonomy import load_taxonomy

    assert Path(shown).is_absolute() and Path(shown).name == "jrj2026.toml"
    assert hashlib.sha256(Path(shown).read_bytes()).hexdigest() == load_taxonomy("taxonomy/jrj2026.toml").sha256
    r = runner.invoke(cli, ["labels", "audit"])
    assert r.exit_code == 0, r.output
    assert ", 0 errors" in r.output
    # the second taxonomy's set, widened to the families (scripts/add_efund_family_reads.py), audits clean too
    r = runner.invoke(cli, ["labels", "audit", "--taxonomy", "taxonomy/efund2025.toml", "data/labeled/efund/labels.csv"])
    assert r.exit_code == 0, r.output
    assert "4988 funds" in r.output and ", 0 errors" in r.output


def test_second_taxonomy_from_the_cli(runner, tmp_path, monkeypatch):
    # from a folder that is not the checkout: the relative paths are found among the files shipped with the tool (the
    # checkout's in development; classifier/_data in an installed package, as in CI)
    monkeypatch.chdir(tmp_path)
    sample = str(project_path("examples/new_listings.csv"))
    out = tmp_path / "ef.csv"
    r = runner.invoke(cli, ["tag", sample, "-o", str(out), "-s", "--model", "models/efund",
                            "--taxonomy", "taxonomy/efund2025.toml", "--labeled", "data/labeled/efund/labels.csv"])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(got["primary"]) <= {"规模指数", "风格因子", "行业", "主题", "不适用"}
    assert got["taxonomy_version"].unique().tolist() == ["efund-2025.1-r1"]
    by_name = dict(zip(got["证券简称"], got["secondary"]))
    assert by_name["示例中证A500ETF"] == "中国" and by_name["示例中证红利低波动ETF"] == "红利"
    assert by_name["示例黄金ETF"] == "不适用"  # commodities are outside E Fund's passive-stock taxonomy
    # and the default model, given, refuses the E Fund taxonomy (not given, E Fund's own is chosen:
    # test_a_taxonomy_alone_chooses_its_model_and_labeled_set)
    r = runner.invoke(cli, ["tag", sample, "-o", str(tmp_path / "x.csv"), "--taxonomy", "taxonomy/efund2025.toml",
                            "--model", "models/default"])
    assert r.exit_code == 2 and "fundclass train --taxonomy " in r.output and "efund2025.toml -o MODEL_DIR" in r.output
    # a relative path found nowhere is named as given
    r = runner.invoke(cli, ["tag", sample, "-o", str(tmp_path / "y.csv"), "--taxonomy", "taxonomy/nosuch.toml"])
    assert r.exit_code == 2 and "taxonomy/nosuch.toml: cannot read taxonomy file" in r.output


def test_eval_writes_report_and_reliability_diagram(runner, tmp_path):
    out = tmp_path / "ev"
    r = runner.invoke(cli, ["eval", "--gold", "data/labeled/report_examples.csv", "--out-dir", str(out)])
    assert r.exit_code == 0, r.output
    assert "rows 39  accuracy" in r.output and "confusion matrix" in r.output
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| 科技成长主题ETF |" in report and "## Confusion matrix" in report
    assert (out / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rules_report_lists_every_rule_with_its_statistics(runner, taxonomy):
    r = runner.invoke(cli, ["rules", "report", "--show-errors", "2"])
    assert r.exit_code == 0, r.output
    for rule in taxonomy.rules:
        assert rule.id in r.output
    assert "coverage" in r.output and "decisive_accuracy" in r.output


def test_tagging_twice_gives_byte_identical_files(runner, tmp_path, csv_in):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (a, b):
        assert runner.invoke(cli, ["tag", str(csv_in), "-o", str(out), "-s"]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()


def test_help_and_init_start_without_pandas(tmp_path):
    """`import classifier` loads the library's parts when first used: `fundclass --help` and `init` need neither
    pandas nor the model (they start in ~0.15 s instead of ~1.2 s)."""
    import subprocess
    import sys

    code = ("import sys; from classifier.cli import main\n"
            "sys.argv = ['fundclass'] + sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "heavy = sorted(m for m in ('pandas', 'numpy', 'sklearn', 'classifier.pipeline') if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    for args in (["--help"], ["init"]):
        p = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    assert (tmp_path / "data" / "labeled" / "labels.csv").exists()  # init made the workspace
    import classifier

    assert classifier.Tagger.__module__ == "classifier.pipeline"  # the names are still there when used


# What a `fundclass tag` process does around its work, read from one process per environment instead of one per test
# (each such process imports pandas, scikit-learn and the model: ~1 s of CPU, and there were seven): the program
# below runs the console entry point (`main`) on a small CSV with every probe of the tests that follow installed; the
# probes' readings are written to a JSON file by the last exit handler registered (exit handlers run last-registered
# first, so it runs before the teardown test's own handler prints, and nothing of it reaches stdout).
TAG_PROBES = """import atexit, gc, json, sys
from classifier.cli import main
class Teardown:
    def __del__(self):
        sys.stderr.write('torn down')
kept = Teardown()
atexit.register(lambda: print('exit handler ran'))
print('buffered', end=' ')
seen, during = [0], []
def count(phase, info):
    if phase != 'start':
        return
    m = sys.modules.get('classifier.batch')
    if m is not None and not hasattr(m, 'tag_file'):  # while batch is imported
        during.append(info['generation'])
    if m is not None:
        seen[0] = max(seen[0], sum(len(gc.get_objects(g)) for g in range(info['generation'] + 1)))
gc.callbacks.append(count)
def report():
    gc.callbacks.remove(count)  # what follows is the probes' own work, not the command's
    probes = {'seen': seen[0], 'during': len(during), 'pandas': 'pandas' in sys.modules, 'gc_on': gc.isenabled()}
    from threadpoolctl import threadpool_info
    probes['blas_threads'] = sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'})
    import pyarrow
    probes['arrow_pool'] = pyarrow.default_memory_pool().backend_name
    with open('probes.json', 'w') as f:
        json.dump(probes, f)
atexit.register(report)
sys.argv = ['fundclass'] + sys.argv[1:]
main()
"""
PROBED_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "ARROW_DEFAULT_MEMORY_POOL")


def _probed_tag(folder, csv_in, env):
    """Run TAG_PROBES (`fundclass tag CSV_IN -o FOLDER/out.csv -s`) in a fresh process in ``folder`` with ``env``: the
    finished process and the probes' readings."""
    import json
    import subprocess
    import sys

    folder.mkdir()
    p = subprocess.run([sys.executable, "-c", TAG_PROBES, "tag", str(csv_in), "-o", str(folder / "out.csv"), "-s"],
                       cwd=folder, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p, json.loads((folder / "probes.json").read_text())


@pytest.fixture(scope="module")
def probed_tag(tmp_path_factory):
    """TAG_PROBES run twice on the same small CSV: with none of PROBED_VARIABLES set ("default") and with the user's
    own OPENBLAS_NUM_THREADS=2 and ARROW_DEFAULT_MEMORY_POOL=mimalloc ("user"): {name: (process, readings, folder)},
    and the CSV."""
    import pandas as pd

    base = tmp_path_factory.mktemp("probed_tag")
    csv_in = base / "in.csv"
    pd.DataFrame({"基金代码": ["159995", "510300", "511880", "000001", "159995"],
                  "基金简称": ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF", "银华日利", "华夏成长混合", "华夏国证半导体芯片ETF"],
                  "备注": ["a", "b", "c", "d", "e"]}).to_csv(csv_in, index=False)  # conftest's small_frame
    env = {k: v for k, v in os.environ.items() if k not in PROBED_VARIABLES}
    runs = {}
    for name, given in [("default", {}), ("user", {"OPENBLAS_NUM_THREADS": "2", "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"})]:
        runs[name] = (*_probed_tag(base / name, csv_in, {**env, **given}), base / name)
    return runs, csv_in


def test_a_command_that_succeeds_ends_without_tearing_the_interpreter_down(tmp_path, probed_tag):
    """`fundclass tag` spent about a tenth of its CPU after its work was done, freeing pandas', NumPy's and the
    model's objects one by one at interpreter exit. A command that succeeds now ends its process at once: its output
    file is complete, the standard streams are flushed and the exit handlers run, as at any exit, but objects left
    to the end are not freed one by one (the object TAG_PROBES keeps is never finalized)."""
    import subprocess
    import sys

    runs, _ = probed_tag
    for p, _, folder in runs.values():
        assert p.stdout == "buffered exit handler ran\n"  # the buffered output, then the exit handler's
        assert "torn down" not in p.stderr
        out = folder / "out.csv"
        assert out.read_bytes().startswith("\ufeff".encode())
        assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 6
    out = tmp_path / "out.csv"
    p = subprocess.run([sys.executable, "-c", TAG_PROBES, "tag", str(tmp_path / "none.csv"), "-o", str(out), "-s"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 2 and "no such file" in p.stderr  # a failed command exits as before


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: OpenBLAS starts one thread anyway")
def test_a_command_runs_numpy_blas_on_one_thread_unless_the_user_says_otherwise(probed_tag):
    """`fundclass tag` ran NumPy's BLAS on a thread per core: its products are small (rows × classes), and OpenBLAS's
    second thread cost about 0.1 s of the fund list's CPU (1.50 s against 1.40 s, the least of six runs each) for no
    gain. A command now runs it on one thread, unless the user's OPENBLAS_NUM_THREADS says otherwise."""
    runs, _ = probed_tag
    assert runs["default"][1]["blas_threads"] == [1]
    assert runs["user"][1]["blas_threads"] == [2]


def test_a_command_gives_freed_arrow_memory_back_unless_the_user_says_otherwise(probed_tag):
    """pandas' text columns are Arrow arrays, and Arrow's default allocator (mimalloc) kept the pages freed during
    `fundclass tag` of the fund list: peak 258 MB against 240 MB with the C library's malloc (the same CPU and
    bytes). A command now uses the system allocator, unless the user's ARROW_DEFAULT_MEMORY_POOL says otherwise."""
    runs, _ = probed_tag
    assert runs["default"][1]["arrow_pool"] == "system"
    assert runs["user"][1]["arrow_pool"] == "mimalloc"


def test_tagging_keeps_what_its_imports_made_out_of_the_collectors_sight(probed_tag):
    """The collector paused while pandas and the tagging code were imported only put its work off: the first
    collection after the pause went over every object the imports made (~40 ms for the fund list), and the next
    older one over them again (~35 ms). They stay to the end, so `fundclass tag` hides them from the collector
    (``gc.freeze``) before it resumes: no collection while tagging goes over them."""
    runs, _ = probed_tag
    for _, probes, _ in runs.values():
        assert probes["seen"] < 50_000, probes  # ~100,000 with the imports in sight, ~5,000 without


def test_tagging_pauses_the_garbage_collector_while_it_imports_and_tags_and_restores_it(tmp_path, probed_tag,
                                                                                         monkeypatch):
    """Python's cyclic garbage collector went over every object the tagging made and kept: ~150 collections while
    pandas, NumPy and the tagging code were imported (40-60 ms of CPU) and hundreds while a chunk was tagged (60-100
    ms for the fund list, with full collections over the model and the file). It is paused for both, and on again
    after (a program tagging file after file collects as before)."""
    import gc

    from classifier import batch, pipeline

    runs, csv_in = probed_tag
    for _, probes, _ in runs.values():
        assert probes["during"] == 0  # no collection while the tagging code was imported
        assert probes["pandas"] and probes["gc_on"]
    seen = []
    tag = pipeline.Tagger.tag

    def recording(self, *a, **kw):
        seen.append(gc.isenabled())
        return tag(self, *a, **kw)

    monkeypatch.setattr(pipeline.Tagger, "tag", recording)
    assert gc.isenabled()
    batch.tag_file(csv_in, tmp_path / "b.csv", model_dir="", progress=False)  # as `fundclass tag` above
    assert seen == [False] and gc.isenabled()
    assert (runs["default"][2] / "out.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_init_adds_a_labeled_set_shipped_after_the_workspace_was_made_and_keeps_the_users_own(runner, tmp_path):
    """A workspace made before E Fund's labeled set shipped: `review import --taxonomy efund…` asks for
    `fundclass init`, which refused any workspace with files. init now copies a set or model the workspace lacks,
    keeps each one it has byte for byte, and still refuses to overwrite a file of a set it would copy."""
    import shutil

    ws = tmp_path / "ws"
    assert runner.invoke(cli, ["init", str(ws)]).exit_code == 0
    shutil.rmtree(ws / "data" / "labeled" / "efund")  # as made before the set shipped
    own = ws / "data" / "labeled" / "labels.csv"
    own.write_bytes(own.read_bytes() + b"\r\n")  # the user's own set: any bytes of theirs
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    r = runner.invoke(cli, ["init", str(ws)])
    assert r.exit_code == 0, r.output
    assert (ws / "data" / "labeled" / "efund" / "labels.csv").read_bytes() == \
        project_path("data/labeled/efund/labels.csv").read_bytes()
    assert {p: p.read_bytes() for p in before} == before  # nothing of the workspace's own changed
    assert "kept as it is" in r.output and str(ws / "data" / "labeled") in r.output
    r = runner.invoke(cli, ["init", str(ws)])  # everything there: nothing copied, nothing changed
    assert r.exit_code == 0 and "0 files copied" in r.output
    shutil.rmtree(ws / "data" / "labeled" / "efund")
    (ws / "data" / "labeled" / "efund").mkdir()
    (ws / "data" / "labeled" / "efund" / "history.csv").write_text("mine")  # a set half there: never overwritten
    r = runner.invoke(cli, ["init", str(ws)])
    assert r.exit_code == 2 and "history.csv exists already" in r.output
    assert (ws / "data" / "labeled" / "efund" / "history.csv").read_text() == "mine"


def test_tag_says_whose_review_decisions_it_applied(runner, tmp_path, monkeypatch):
    """Run outside a workspace, tag reads the shipped labeled set: it says so, and where a user's decisions live;
    in a workspace it names the workspace's labeled set and counts the rows its decisions settled."""
    monkeypatch.delenv("FUNDCLASS_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    batch = tmp_path / "in.csv"
    pd.DataFrame({"基金代码": ["990901", "990902"], "基金简称": ["示例机器人ETF", "示例机器人ETF联接A"]}).to_csv(batch,
                                                                                                 index=False)
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    assert "review decisions: " in r.output and "the labeled set shipped with the tool" in r.output
    assert r.output.count("--workspace DIR") == 1
    assert runner.invoke(cli, ["init"]).exit_code == 0
    sheet = tmp_path / "d.csv"
    pd.DataFrame({"fund_code": ["990901"], "fund_name": ["示例机器人ETF"], "decision": ["制造业主题ETF"],
                  "reviewer": ["张三"], "taxonomy_version": ["jrj-2026.01-r1"]}).to_csv(sheet, index=False)
    assert runner.invoke(cli, ["review", "import", str(sheet)]).exit_code == 0
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(tmp_path / "b.csv")])
    assert r.exit_code == 0, r.output
    mine = tmp_path / "data" / "labeled" / "labels.csv"
    assert f"in {mine}; 2 rows settled by them" in r.output and "shipped with the tool" not in r.output


def test_a_taxonomy_alone_chooses_its_model_and_labeled_set(runner, tmp_path, monkeypatch):
    """`--taxonomy taxonomy/efund2025.toml` alone failed (the default model was trained for jrj2026, and the error
    said to train one, though E Fund's ships), and with --model, the jrj labeled set's decisions could not apply:
    three options to switch taxonomy. The taxonomy now chooses the model and labeled set made for it (by the
    manifest's taxonomy hash, the set's taxonomy version): E Fund's decisions, imported with the same option, settle
    their fund; `train --taxonomy` writes beside them, not over models/default."""
    from classifier.cli import _default_rel
    from classifier.taxonomy import load_taxonomy

    monkeypatch.delenv("FUNDCLASS_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["init"]).exit_code == 0
    efund = load_taxonomy("taxonomy/efund2025.toml")
    ef = "taxonomy/efund2025.toml"
    assert (_default_rel("model_dir", ef), _default_rel("labeled", ef)) == (
        "models/efund", "data/labeled/efund/labels.csv")
    assert _default_rel("model_dir", "taxonomy/jrj2026.toml") == "models/default"
    sheet = tmp_path / "d.csv"
    pd.DataFrame({"fund_code": ["990901"], "fund_name": ["示例机器人ETF"], "decision": ["高端制造"],
                  "reviewer": ["张三"], "taxonomy_version": [efund.version]}).to_csv(sheet, index=False)
    r = runner.invoke(cli, ["review", "import", str(sheet), "--taxonomy", "taxonomy/efund2025.toml"])
    assert r.exit_code == 0, r.output
    batch = tmp_path / "in.csv"
    pd.DataFrame({"基金代码": ["990901", "990902"], "基金简称": ["示例机器人ETF", "示例沪深300ETF"]}).to_csv(batch, index=False)
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(tmp_path / "out.csv"),
                            "--taxonomy", "taxonomy/efund2025.toml"])
    assert r.exit_code == 0, r.output
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    manifest = (project_path("models/efund") / "manifest.json").read_text(encoding="utf-8")
    assert set(out["taxonomy_version"]) == {efund.version} and out["model_version"].iloc[0] in manifest
    assert out["secondary"].iloc[0] == "高端制造" and out["evidence"].iloc[0].startswith("人工复核: 张三")
    assert f"in {tmp_path / 'data' / 'labeled' / 'efund' / 'labels.csv'}; 1 row settled by them" in r.output


def test_the_python_api_applies_the_decisions_of_the_taxonomy_it_is_given(runner, tmp_path, monkeypatch):
    """`Tagger.load(taxonomy_path="taxonomy/efund2025.toml")` loaded the jrj model (refused: trained for another
    taxonomy), and with E Fund's model given, it read the jrj labeled set: the E Fund decisions imported with
    `review import --taxonomy` were not applied, and only an attribute said so. The API now chooses the model and
    labeled set of the taxonomy it is given, as `fundclass tag --taxonomy` does, and says which set it read."""
    from classifier.pipeline import Tagger
    from classifier.taxonomy import load_taxonomy

    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    ef = "taxonomy/efund2025.toml"
    efund = load_taxonomy(ef)
    mine = tmp_path / "data" / "labeled" / "efund" / "labels.csv"
    mine.parent.mkdir(parents=True)
    (tmp_path / "data" / "labeled" / "labels.csv").write_bytes(project_path("data/labeled/labels.csv").read_bytes())
    shipped = project_path("data/labeled/efund/labels.csv")
    lab = pd.read_csv(shipped, dtype=str, keep_default_na=False)
    lab.iloc[:200].to_csv(mine, index=False)
    sheet = tmp_path / "d.csv"
    pd.DataFrame({"fund_code": ["990901"], "fund_name": ["示例机器人ETF"], "decision": ["医药"],
                  "reviewer": ["张三"], "taxonomy_version": [efund.version]}).to_csv(sheet, index=False)
    r = runner.invoke(cli, ["review", "import", str(sheet), "--taxonomy", ef])
    assert r.exit_code == 0, r.output
    batch = pd.DataFrame({"基金代码": ["990901"], "基金简称": ["示例机器人ETF"]})
    for tagger in (Tagger.load(taxonomy_path=ef), Tagger.load(project_path("models/efund"), ef)):
        assert tagger.decisions_from == str(mine) and not tagger.reviewed_ignored
        out = tagger.tag(batch)
        assert out["secondary"].iloc[0] == "医药" and out["evidence"].iloc[0].startswith("人工复核: 张三")
        assert set(out["taxonomy_version"]) == {efund.version}


def test_training_a_migrated_second_taxonomy_does_not_replace_the_default_model(runner, tmp_path, monkeypatch):
    """After E Fund's labeled set was migrated to a new version of E Fund's taxonomy, `fundclass train --taxonomy
    NEW` (the command the migration prints) found no model made for NEW and wrote the workspace's models/default, the
    jrj model: every plain `fundclass tag` was then refused (trained for another taxonomy) until jrj was retrained.
    A model of an earlier version of the same taxonomy (the manifest's taxonomy id) is the folder it replaces:
    models/efund."""
    import shutil

    from conftest import write_labeled_subset

    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    shutil.copytree(project_path("models/default"), tmp_path / "models" / "default")
    before = {p.name: p.read_bytes() for p in (tmp_path / "models" / "default").iterdir()}
    mine = tmp_path / "data" / "labeled" / "efund" / "labels.csv"
    mine.parent.mkdir(parents=True)
    write_labeled_subset(project_path("data/labeled/efund/labels.csv"), mine, n_groups=60)
    text = project_path("taxonomy/efund2025.toml").read_text(encoding="utf-8")
    (tmp_path / "efund2026.toml").write_text(text.replace('version = "efund-2025.1-r1"', 'version = "efund-2026.1-r1"'),
                                             encoding="utf-8")
    (tmp_path / "mig.toml").write_text('[migration]\nfrom = "efund-2025.1-r1"\nto = "efund-2026.1-r1"\n[map]\n',
                                       encoding="utf-8")
    r = runner.invoke(cli, ["taxonomy", "migrate", "mig.toml", "--from", "taxonomy/efund2025.toml", "--to",
                            "efund2026.toml", "--labeled", str(mine), "-o", "queue.xlsx"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["train", "--taxonomy", "efund2026.toml", "--no-holdings"])
    assert r.exit_code == 0, r.output
    assert f"writing the model to: {tmp_path / 'models' / 'efund'}" in r.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "models" / "default").iterdir()} == before
    pd.DataFrame({"基金简称": ["示例中证机器人ETF"]}).to_csv("in.csv", index=False)
    for extra, version in (([], "jrj-2026.01-r1"), (["--taxonomy", "efund2026.toml"], "efund-2026.1-r1")):
        r = runner.invoke(cli, ["tag", "in.csv", "-o", "out.csv", "-s"] + extra)
        assert r.exit_code == 0, r.output
        assert pd.read_csv("out.csv", dtype=str)["taxonomy_version"].tolist() == [version]


def test_eval_on_a_gold_file_of_another_taxonomy_names_the_column_rows_and_taxonomy(runner, tmp_path):
    """`fundclass eval --gold` on rows of E Fund's labeled set without --taxonomy stopped on an internal error
    (ValueError: At least one label specified must be in y_true; audit round 10), and a label typed by hand (a
    full-width bracket) in a gold file of the right taxonomy was silently counted as the model's error. The gold
    file's labels that are not classes are now named, by row and column, with the taxonomy its taxonomy_version
    gives or the class meant, and nothing is evaluated."""
    gold = tmp_path / "gold.csv"
    ef = pd.read_csv(project_path("data/labeled/efund/labels.csv"), dtype=str, keep_default_na=False).head(5)
    ef.to_csv(gold, index=False)
    r = runner.invoke(cli, ["eval", "--gold", str(gold), "--out-dir", str(tmp_path / "ev")])
    assert r.exit_code == 2 and "internal error" not in r.output, r.output
    assert "column 'secondary'" in r.output and "row 2:" in r.output and "efund-2025.1-r1" in r.output, r.output
    assert "--taxonomy" in r.output and not (tmp_path / "ev").exists()
    pd.DataFrame({"基金简称": ["示例中证机器人ETF", "示例沪深300ETF"],
                  "secondary": ["科技成长主题ETF", "（申万）行业ETF"]}).to_csv(gold, index=False)
    r = runner.invoke(cli, ["eval", "--gold", str(gold), "--out-dir", str(tmp_path / "ev")])
    assert r.exit_code == 2 and "row 3: '（申万）行业ETF' (did you mean '(申万)行业ETF'?)" in r.output, r.output


def test_every_command_given_the_second_taxonomy_reads_its_labeled_set_and_model(runner, tmp_path, monkeypatch):
    """`labels audit --taxonomy taxonomy/efund2025.toml` audited the jrj labeled set against E Fund's classes (4,378
    errors for a set with none), `rules report` scored E Fund's rules on jrj labels (accuracy 0), `eval` loaded the jrj
    model (refused) and `taxonomy migrate --from` E Fund's taxonomy tried to change the jrj set: only `tag`, `train`
    and `review import` chose the files of the taxonomy. Every command now reads the labeled set and model of its
    --taxonomy (of --from, for a migration)."""
    monkeypatch.delenv("FUNDCLASS_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    ef = "taxonomy/efund2025.toml"
    r = runner.invoke(cli, ["labels", "audit", "--taxonomy", ef])
    assert r.exit_code == 0 and ", 0 errors" in r.output.splitlines()[0], r.output[:300]
    r = runner.invoke(cli, ["rules", "report", "--taxonomy", ef])
    assert r.exit_code == 0 and str(project_path("data/labeled/efund/labels.csv")) in r.output.splitlines()[0]
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"基金简称": ["示例中证机器人ETF", "示例沪深300ETF"], "secondary": ["高端制造", "中国"]}).to_csv(
        gold, index=False)
    r = runner.invoke(cli, ["eval", "--gold", str(gold), "--taxonomy", ef, "--out-dir", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    mine = tmp_path / "data" / "labeled" / "efund" / "labels.csv"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(project_path("data/labeled/efund/labels.csv").read_bytes())
    text = project_path(ef).read_text(encoding="utf-8")
    (tmp_path / "new.toml").write_text(text.replace('version = "efund-2025.1-r1"', 'version = "efund-2026.1-r1"'),
                                       encoding="utf-8")
    (tmp_path / "mig.toml").write_text('[migration]\nfrom = "efund-2025.1-r1"\nto = "efund-2026.1-r1"\n[map]\n',
                                       encoding="utf-8")
    r = runner.invoke(cli, ["taxonomy", "migrate", "mig.toml", "--from", ef, "--to", "new.toml", "-o", "q.xlsx"])
    assert r.exit_code == 0, r.output
    assert f"changing the labeled set: {mine}" in r.output


def test_a_workspace_model_an_upgrade_made_stale_names_its_folder_and_the_ways_out(runner, tmp_path, monkeypatch):
    """`fundclass init` copied the shipped model into the workspace (models/default): once a later version changed
    taxonomy/common.toml, every `fundclass tag` there failed ("trained with another taxonomy/common.toml", naming a
    taxonomy inside site-packages and `-o MODEL_DIR`), and init kept the stale copy (audit round 8). init now copies
    the labeled sets only (commands read the shipped model until `fundclass train` writes the workspace's own); a
    stale workspace model is refused naming its folder, the exact retrain command and, as the shipped model fits,
    moving the folder out; an unchanged copy an earlier init made is named as such, and init removes it, never a
    model the user trained."""
    import json
    import shutil

    from classifier import workspace
    from classifier.manifest import sha256_file

    monkeypatch.delenv("FUNDCLASS_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    shipped = project_path("models/default")
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert not (tmp_path / "models").exists()
    assert sha256_file(shipped / "manifest.json") in workspace.shipped_manifests()  # retrained: add its line
    batch = tmp_path / "in.csv"
    pd.DataFrame({"基金代码": ["990901"], "基金简称": ["示例机器人ETF"]}).to_csv(batch, index=False)
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    # a model of an earlier version, as init copied it: trained with another shared vocabulary
    mine = tmp_path / "models" / "default"
    shutil.copytree(shipped, mine)
    m = json.loads((mine / "manifest.json").read_text(encoding="utf-8"))
    m["vocabulary_sha256"] = "0" * 64
    (mine / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(tmp_path / "b.csv")])
    assert r.exit_code == 2
    assert f"`fundclass train -o {mine}`" in r.output and f"move the folder {mine} out" in r.output, r.output
    assert "MODEL_DIR" not in r.output and "unchanged copy" not in r.output
    r = runner.invoke(cli, ["init"])  # a model not known as a shipped one's copy is the user's: kept
    assert r.exit_code == 0 and (mine / "manifest.json").exists() and "removed" not in r.output
    # the same folder known as an unchanged copy of a shipped model (its manifest one a release shipped)
    monkeypatch.setattr(workspace, "shipped_manifests", lambda: frozenset({sha256_file(mine / "manifest.json")}))
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(tmp_path / "b.csv")])
    assert r.exit_code == 2 and "unchanged copy" in r.output and "run `fundclass init` to remove it" in r.output
    r = runner.invoke(cli, ["init"])
    assert r.exit_code == 0 and f"removed {mine}" in r.output and not mine.exists()
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(tmp_path / "b.csv")])
    assert r.exit_code == 0, r.output


class _Killed(BaseException):
    """Stands for kill -9 inside a test process: nothing of the command's own handling catches it."""


def test_an_init_killed_while_it_copies_or_removes_leaves_a_workspace_the_next_init_completes(runner, tmp_path,
                                                                                               monkeypatch):
    """`fundclass init` copied the set's files one by one in place (shutil.copy2), labels.csv before
    report_examples.csv, and deleted an unchanged copy of a shipped model file by file inside models/: killed part way
    (audit round 11, kill -9 at the Nth copy), the next init refused the workspace ('GUIDE.md exists already; init
    never overwrites'), or kept a set missing a file of its own, or half a labels.csv; killed while it removed the
    model, it left models/default with its manifest and without model.json, on which every `fundclass tag` failed
    ('model file missing') and the next init kept it. Now each file is copied whole under a temp name and renamed, a
    set's labels.csv last, the shipped files an interrupted init left are kept and the copy completed, and a model is
    moved out of models/ in one rename before it is deleted."""
    import shutil

    from classifier import workspace
    from classifier.manifest import sha256_file

    shipped_set = {p.relative_to(project_path("data/labeled")): p.read_bytes()
                   for p in project_path("data/labeled").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    copy2 = shutil.copy2
    for n in (1, 3, 5, 6):
        ws = tmp_path / f"ws{n}"
        calls = []

        def dying(src, dst, *a, **k):
            calls.append(dst)
            if len(calls) == n:  # half the file written, then killed
                open(dst, "wb").write(open(src, "rb").read()[:100])
                raise _Killed
            return copy2(src, dst, *a, **k)

        monkeypatch.setattr(shutil, "copy2", dying)
        with pytest.raises(_Killed):
            workspace.init(ws)
        monkeypatch.setattr(shutil, "copy2", copy2)
        labels = ws / "data" / "labeled" / "labels.csv"
        assert not labels.exists() or labels.read_bytes() == shipped_set[Path("labels.csv")], n
        r = runner.invoke(cli, ["init", str(ws)])
        assert r.exit_code == 0, (n, r.output)
        got = {p.relative_to(ws / "data" / "labeled"): p.read_bytes()
               for p in (ws / "data" / "labeled").rglob("*") if p.is_file()}
        assert got == shipped_set, (n, sorted(set(got) ^ set(shipped_set)))

    # a temp file a kill -9 left (its process gone) is removed by the next init
    ws = tmp_path / "ws1"
    stale = ws / "data" / "labeled" / ".labels.csv.init-999999999.tmp"
    stale.write_bytes(b"half")
    assert runner.invoke(cli, ["init", str(ws)]).exit_code == 0 and not stale.exists()

    # an unchanged copy of the shipped model, as an earlier init made it, removed by an init killed part way
    monkeypatch.delenv("FUNDCLASS_WORKSPACE", raising=False)
    monkeypatch.chdir(ws)
    mine = ws / "models" / "default"
    shutil.copytree(project_path("models/default"), mine)
    assert workspace.untouched_copy(mine) and sha256_file(mine / "manifest.json")
    rmtree = shutil.rmtree

    def dying_rmtree(path, *a, **k):
        for f in sorted(Path(path).iterdir())[1:]:  # model.json, model.npz gone, manifest.json left
            f.unlink()
        raise _Killed

    monkeypatch.setattr(shutil, "rmtree", dying_rmtree)
    with pytest.raises(_Killed):
        workspace.init(ws)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    batch = ws / "in.csv"
    pd.DataFrame({"基金代码": ["990901"], "基金简称": ["示例机器人ETF"]}).to_csv(batch, index=False)
    r = runner.invoke(cli, ["tag", str(batch), "-o", str(ws / "out.csv")])
    assert r.exit_code == 0, r.output  # the shipped model is read
    r = runner.invoke(cli, ["init", str(ws)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (ws / "models").iterdir()) == []


def test_a_workspace_folder_that_does_not_exist_is_refused_by_every_command_but_init(runner, tmp_path, monkeypatch):
    """`--workspace` naming a folder that does not exist (a typo): `fundclass train` made the folder and wrote a model
    of the shipped labeled set into it, and `tag` read the shipped set, without the user's decisions, saying so only
    in a note (audit round 11). Every command but init now refuses it, naming the folder and `fundclass init`; init
    makes it."""
    monkeypatch.delenv("FUNDCLASS_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    nope = tmp_path / "mistyped"
    batch = tmp_path / "in.csv"
    pd.DataFrame({"基金代码": ["990901"], "基金简称": ["示例机器人ETF"]}).to_csv(batch, index=False)
    for args in (["tag", str(batch), "-o", str(tmp_path / "o.csv")], ["labels", "audit"]):
        r = runner.invoke(cli, ["--workspace", str(nope), *args])
        assert r.exit_code == 2 and "no such folder" in r.output and f"fundclass init {nope}" in r.output, r.output
        assert not nope.exists() and not (tmp_path / "o.csv").exists()
    r = runner.invoke(cli, ["--workspace", str(nope), "init"])
    assert r.exit_code == 0 and (nope / "data" / "labeled" / "labels.csv").exists(), r.output
    r = runner.invoke(cli, ["--workspace", str(nope), "tag", str(batch), "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 0, r.output


def test_the_holdings_option_help_shows_a_single_percent_sign():
    """Audit round 15: `fundclass tag --help` and `train --help` showed '--holdings FILE  Long holdings file: fund code,
    stock code, weight %% of NAV' (click prints help text as written, it does not %-format it)."""
    for command in ("tag", "train", "eval"):
        res = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
        assert res.exit_code == 0 and "weight % of NAV" in res.output and "%%" not in res.output, res.output


def test_init_says_the_workspace_reads_its_own_trained_model(runner, tmp_path):
    """Audit round 15: after `fundclass train` wrote the workspace's models/default, `fundclass init` (run again, as
    after an upgrade) said "models: the ones shipped with the tool, until `fundclass train` writes the workspace's
    own", though every command reads the workspace's model (and init keeps it). It now names the workspace's own."""
    import json

    ws = tmp_path / "ws"
    r = runner.invoke(cli, ["init", str(ws)])
    assert r.exit_code == 0 and "models: the ones shipped with the tool" in r.output, r.output
    mine = ws / "models" / "default"
    mine.mkdir(parents=True)
    (mine / "manifest.json").write_text(json.dumps({"trained_by": "fundclass train"}), encoding="utf-8")
    r = runner.invoke(cli, ["init", str(ws)])
    assert r.exit_code == 0 and (mine / "manifest.json").exists(), r.output
    first = r.output.splitlines()[0]
    assert f"models: the workspace's own, kept as they are ({mine})" in first and "shipped with the tool," not in \
        first.split(";", 2)[1], first


def test_train_help_names_e_funds_model_folder_as_the_default_of_its_taxonomy():
    """`fundclass train --help` said -o defaults to "models/default in the workspace"; `fundclass train --taxonomy`
    E Fund's file (before or after a migration) writes models/efund, as the README says (audit round 16)."""
    res = CliRunner().invoke(cli, ["train", "--help"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "models/efund for E Fund's" in text and "(default: models/default in the workspace)" not in text, text


def test_taxonomy_migrate_help_gives_the_migration_files_form():
    """A team with the installed package writes its first migration file: `fundclass taxonomy migrate --help` named
    a "migration file" and nothing of its form, which only the module's docstring gave (audit round 16). The help now
    shows its two tables and the three kinds of line."""
    res = CliRunner().invoke(cli, ["taxonomy", "migrate", "--help"])
    assert res.exit_code == 0, res.output
    assert "[migration]" in res.output and 'from = "OLD VERSION"' in res.output and "[map]" in res.output
    assert '"B" = ["B1", "B2"]        # split: its rows go to the review queue' in res.output, res.output
