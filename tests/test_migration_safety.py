"""The review loop's migration and data-safety path (session 28): what a withdrawal after two migrations says, a
migration that queues nothing, the E Fund set's migration record, a migration or import killed part way, and model
saves under a lock."""
import pandas as pd
from click.testing import CliRunner

from classifier.cli import cli
from classifier.labeled import SHIPPED_LABELS
from classifier.taxonomy import DEFAULT_TAXONOMY
from conftest import KILLED_LABELED_CHANGE, split_migrate, write_labeled_subset


def _subset(tmp_path, n_groups=30):
    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=n_groups)
    return labels


def test_a_keyword_only_migration_writes_no_empty_review_queue(tmp_path):
    """A taxonomy change that only adds a keyword moves no class: `taxonomy migrate … -o q.xlsx` still wrote q.xlsx,
    a sheet with a header alone, beside the message 'nothing to review (q.xlsx holds no rows)'. It now writes no
    queue and says so."""
    labels = _subset(tmp_path)
    t = DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace('version = "jrj-2026.01-r1"', 'version = "jrj-2026.01-kw"')
    assert t.count('keywords = ["消费", "消费升级",') == 1
    (tmp_path / "kw.toml").write_text(t.replace('keywords = ["消费", "消费升级",', 'keywords = ["消费", "旅游", "消费升级",'),
                                      encoding="utf-8")
    (tmp_path / "m.toml").write_text('[migration]\nfrom = "jrj-2026.01-r1"\nto = "jrj-2026.01-kw"\n\n[map]\n',
                                     encoding="utf-8")
    for queue in ("q.xlsx", "q.csv"):
        res = CliRunner().invoke(cli, ["taxonomy", "migrate", str(tmp_path / "m.toml"), "--from", str(DEFAULT_TAXONOMY),
                                       "--to", str(tmp_path / "kw.toml"), "--labeled", str(labels), "-o",
                                       str(tmp_path / queue)])
        assert res.exit_code == 0, res.output
        assert "queued 0 for review" in res.output and "no review queue was written" in res.output, res.output
        assert not (tmp_path / queue).exists()
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert set(pd.read_csv(labels, dtype=str)["taxonomy_version"]) == {"jrj-2026.01-kw"}
        labels.unlink()
        (labels.parent / "history.csv").unlink()
        write_labeled_subset(SHIPPED_LABELS, labels, n_groups=30)


def test_withdrawing_a_queue_decision_after_a_later_migration_does_not_send_the_fund_to_a_dead_queue(tmp_path):
    """A team splits 科技成长主题ETF, decides the queue (one decision per index group) and imports it, then migrates
    again (a keyword added). Withdrawing (撤销) one of the queue's decisions took the fund out of the labeled set saying
    'back to the migration's review queue …: decide it there again', but that queue is of the version before, which no
    import accepts any more, and no command then called the fund pending: it was out of the set for good, the message
    said otherwise. The fund still leaves the set (its class before the decision was split), and the message now says
    that queue can no longer be imported and how the fund comes back; the other rows of its index keep their labels."""
    labels = tmp_path / "labeled" / "labels.csv"
    labels.parent.mkdir()
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=20, keep=lambda lab: lab["index_code"] == "H30590.CSI")
    r = CliRunner()
    split, queue, res = split_migrate(r, tmp_path, labels, "q1.csv")
    assert res.exit_code == 0, res.output
    q = pd.read_csv(queue, dtype=str, keep_default_na=False)
    first = ~q["group"].duplicated()
    q.loc[first, "decision"] = q.loc[first, "alternatives"].str.split(";").str[0]
    q.loc[first, "reviewer"] = "张三"
    q.to_csv(queue, index=False)
    res = r.invoke(cli, ["review", "import", str(queue), "--labeled", str(labels), "--taxonomy", str(split)])
    assert res.exit_code == 0, res.output
    head = q.loc[q["index_code"] == "H30590.CSI", "fund_code"].iat[0]
    t = split.read_text(encoding="utf-8").replace('version = "jrj-2026.02-split"', 'version = "jrj-2026.03-kw"')
    (tmp_path / "kw.toml").write_text(t.replace('keywords = ["消费", "消费升级",', 'keywords = ["消费", "旅游", "消费升级",', 1),
                                      encoding="utf-8")
    (tmp_path / "m2.toml").write_text('[migration]\nfrom = "jrj-2026.02-split"\nto = "jrj-2026.03-kw"\n\n[map]\n',
                                      encoding="utf-8")
    res = r.invoke(cli, ["taxonomy", "migrate", str(tmp_path / "m2.toml"), "--from", str(split), "--to",
                         str(tmp_path / "kw.toml"), "--labeled", str(labels), "-o", str(tmp_path / "q2.csv")])
    assert res.exit_code == 0, res.output
    before = pd.read_csv(labels, dtype=str, keep_default_na=False)
    sheet = tmp_path / "w.csv"
    pd.DataFrame({"fund_code": [head], "decision": ["撤销"], "reviewer": ["李四"],
                  "taxonomy_version": ["jrj-2026.03-kw"]}).to_csv(sheet, index=False)
    res = r.invoke(cli, ["review", "import", str(sheet), "--labeled", str(labels), "--taxonomy", str(tmp_path / "kw.toml")])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith(f"  withdrew {head}"))
    assert "decide it there again" not in line and "back to the migration's review queue" not in line, line
    assert "removed from the labeled set" in line and "can no longer be imported" in line, line
    assert "from jrj-2026.01-r1" in line and "jrj-2026.03-kw" in line, line
    after = pd.read_csv(labels, dtype=str, keep_default_na=False)
    assert head not in set(after["fund_code"])
    # exactly the fund's row left; every other row as it was (its index's rows are named, keeping their class)
    assert after.equals(before[before["fund_code"] != head].reset_index(drop=True))
    # the rows its decision relabeled from that queue keep the class, named (their class before was split too)
    assert "back to the migration's review queue" not in res.output, res.output
    kept = [x for x in res.output.splitlines() if x.startswith("warning: ") and "keeps 科技主题ETF" in x]
    assert len(kept) >= int((q.loc[~first, "index_code"] == "H30590.CSI").sum()) > 0, res.output
    assert all("a taxonomy migration split or removed it; label it by hand or review it" in x for x in kept), kept


def test_after_e_funds_set_is_migrated_commands_given_its_old_file_name_its_set_and_the_recorded_file(tmp_path,
                                                                                                      monkeypatch):
    """In a workspace (jrj set and E Fund set), E Fund's set split 房地产 and its queue was left undecided. The record
    (`efund2025 = "ef2.toml"`) and the refusal of a second migration named the right files, but a command given the
    E Fund file the set was migrated from (`--taxonomy taxonomy/efund2025.toml`) read the *jrj* set: `train` refused
    'data/labeled/labels.csv: holds labels of taxonomy jrj-2026.01-r1 … pass the --taxonomy the set was labeled (or
    migrated) for', `labels audit` listed every jrj row as an error, `tag` read the jrj set's decisions, and no message
    named the file to pass. They now read E Fund's set (the one migrated from that version) and name ef2.toml, the file
    fundclass.toml records; the audit's queue warning names it too (it named the old file given)."""
    import tomllib

    from classifier.config import project_path

    ws = tmp_path / "ws"
    (ws / "data" / "labeled" / "efund").mkdir(parents=True)
    write_labeled_subset(SHIPPED_LABELS, ws / "data" / "labeled" / "labels.csv", n_groups=20)
    ef = ws / "data" / "labeled" / "efund" / "labels.csv"
    write_labeled_subset(project_path("data/labeled/efund/labels.csv"), ef, n_groups=30,
                         keep=lambda lab: lab["secondary"] == "房地产")
    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(ws))
    monkeypatch.delenv("FUNDCLASS_CONFIG", raising=False)
    monkeypatch.chdir(ws)
    t = project_path("taxonomy/efund2025.toml").read_text(encoding="utf-8")
    t = t.replace('version = "efund-2025.1-r1"', 'version = "efund-2025.2-r2"')
    t = t.replace('secondary = "房地产"\nkeywords = ["地产"]', 'secondary = "房地产开发"\nkeywords = ["地产"]\n\n[[class]]\n'
                  'primary = "行业"\nsecondary = "物业服务"\nkeywords = ["物业"]').replace('class = "房地产"', 'class = "房地产开发"')
    assert 'secondary = "房地产"' not in t and 'class = "房地产"' not in t
    (ws / "ef2.toml").write_text(t, encoding="utf-8")
    (ws / "m.toml").write_text('[migration]\nfrom = "efund-2025.1-r1"\nto = "efund-2025.2-r2"\n\n[map]\n'
                               '"房地产" = ["房地产开发", "物业服务"]\n', encoding="utf-8")
    r = CliRunner()
    res = r.invoke(cli, ["taxonomy", "migrate", "m.toml", "--from", "taxonomy/efund2025.toml", "--to", "ef2.toml",
                         "-o", "q.csv"])
    assert res.exit_code == 0, res.output
    assert tomllib.loads((ws / "fundclass.toml").read_text(encoding="utf-8"))["taxonomies"] == {"efund2025": "ef2.toml"}
    jrj = (ws / "data" / "labeled" / "labels.csv").read_bytes()
    res = r.invoke(cli, ["train", "--taxonomy", "taxonomy/efund2025.toml", "-o", "models/x", "--no-holdings"])
    assert res.exit_code == 2, res.output
    assert f"{ef}: holds labels of taxonomy efund-2025.2-r2" in res.output, res.output
    assert "pass --taxonomy ef2.toml (the file fundclass.toml records for efund2025)" in res.output, res.output
    assert not (ws / "models" / "x").exists()
    res = r.invoke(cli, ["labels", "audit", "--taxonomy", "taxonomy/efund2025.toml"])
    assert "jrj-2026.01-r1" not in res.output, res.output
    assert "hold labels of taxonomy efund-2025.2-r2" in res.output and "audit with --taxonomy ef2.toml" in res.output
    assert "review import QUEUE --taxonomy ef2.toml" in res.output, res.output
    (ws / "few.csv").write_text("fund_code,fund_name\n510300,华泰柏瑞沪深300ETF\n", encoding="utf-8")
    res = r.invoke(cli, ["tag", "few.csv", "-o", "t.csv", "--taxonomy", "taxonomy/efund2025.toml"])
    assert res.exit_code == 0, res.output
    assert f"in {ws / 'data' / 'labeled' / 'labels.csv'}" not in res.output, res.output
    assert (ws / "data" / "labeled" / "labels.csv").read_bytes() == jrj


def _killed(where, args, cwd):
    import os
    import subprocess
    import sys

    import classifier

    env = dict(os.environ, PYTHONPATH=str(os.path.dirname(os.path.dirname(classifier.__file__))))
    p = subprocess.run([sys.executable, "-c", KILLED_LABELED_CHANGE, where, *args], cwd=cwd, env=env, capture_output=True)
    assert p.returncode == -9, p.stderr.decode()


def test_a_killed_review_import_is_completed_or_cleaned_by_the_next_command_that_only_reads_the_set(tmp_path):
    """`review import` killed (SIGKILL) part way. After its journal (labels.csv replaced, history.csv not yet), the next
    command that reads the set, even one that only reads it (`labels audit`), completes the commit before reading: it
    never reads the new labels with the old history. Before its journal, the files it staged (a copy of labels.csv and
    of history.csv) were left in the set's folder, hidden, by every command that only reads the set, until the next
    change: they are now removed by the next reader once the killed process has ended, as a model save's are."""
    from classifier.labeled import read_history, read_labels

    labels = _subset(tmp_path)
    code = read_labels(labels)["fund_code"].iat[0]
    sheet = tmp_path / "d.csv"
    pd.DataFrame({"fund_code": [code], "decision": ["策略主题ETF"], "reviewer": ["张三"],
                  "taxonomy_version": ["jrj-2026.01-r1"]}).to_csv(sheet, index=False)
    before = labels.read_bytes()
    args = ["review", "import", str(sheet), "--labeled", str(labels), "--overrule"]
    _killed("staged", args, tmp_path)
    hidden = sorted(p.name for p in labels.parent.iterdir() if p.name.endswith(".tmp"))
    assert len(hidden) == 2, hidden
    res = CliRunner().invoke(cli, ["labels", "audit", str(labels)])
    assert res.exit_code == 0, res.output
    assert [p.name for p in labels.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert labels.read_bytes() == before and not (labels.parent / "history.csv").exists()
    _killed("journal", args, tmp_path)
    assert (labels.parent / ".labels.csv.journal").exists() and labels.read_bytes() != before
    res = CliRunner().invoke(cli, ["labels", "audit", str(labels)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in labels.parent.iterdir()) == [".labels.csv.lock", "history.csv", "labels.csv"]
    assert read_history(labels)["fund_code"].tolist() == [code]
    assert read_labels(labels).set_index("fund_code").at[code, "secondary"] == "策略主题ETF"


def _retrained(monkeypatch):
    """Patch the model saves of this test to write another training's bytes (one weight changed): a new model."""
    import classifier.manifest as M
    from classifier import model_store as MS

    real = M.model_bytes

    def model_bytes(model):
        data = dict(real(model))
        arr = MS.read_npz(data["model.npz"])
        k = next(k for k, v in arr.items() if v.dtype.kind == "f" and v.size)
        arr[k] = arr[k] * 1.0000001
        data["model.npz"] = MS.npz_bytes(arr)
        return data
    monkeypatch.setattr(M, "model_bytes", model_bytes)


def _in_thread(name, fn, *args):
    import threading

    out = {}

    def run():
        try:
            out["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            out["error"] = exc
    t = threading.Thread(target=run, name=name)
    t.start()
    return t, out


def test_a_training_saving_into_a_model_folder_waits_for_a_tag_reading_it_and_for_another_save(tmp_path, monkeypatch):
    """Model saves took no lock. A tag that had read a folder's manifest when a training saved a new model there read
    the new model.npz against the old manifest and was refused ('sha256 … does not match the manifest; the file was
    changed, corrupted or comes from another training — retrain'); two trainings saving a first model into one new
    folder at once: the second failed after all its work ('could not be saved (Directory not empty); nothing was
    changed: the model there is the one from before'). A save now holds the folder's lock (`.NAME.lock` beside it) and a
    load reads under it: the tag reads the old model whole, then the save replaces it; the second save waits and
    replaces the first's model, whole. (No timing: events order the threads.)"""
    import os
    import shutil
    import threading

    import filelock

    import classifier.manifest as M
    from classifier.taxonomy import load_taxonomy

    tax = load_taxonomy()
    d = tmp_path / "models" / "m"
    shutil.copytree(M.DEFAULT_MODEL_DIR, d)
    model, man = M.load_model(d, tax)
    old = M.read_manifest(d)["model_files"]["arrays"]["sha256"]
    _retrained(monkeypatch)
    # the save watched went on while the other thread waits: it reached the folder's lock (and waits there), or its
    # rename into place, or it finished
    progressed = threading.Event()
    real_acquire = filelock.BaseFileLock.acquire

    def acquire(self, *a, **k):
        if threading.current_thread().name == "watched":
            progressed.set()
        return real_acquire(self, *a, **k)
    monkeypatch.setattr(filelock.BaseFileLock, "acquire", acquire)

    def save_model(folder, note):
        try:
            return M.save_model(folder, model, dict(man, note=note))
        finally:
            if threading.current_thread().name == "watched":
                progressed.set()

    # (1) a tag reading the folder, paused once it has read the manifest, while a training saves a new model there
    real_read = M.read_manifest
    read, go = threading.Event(), threading.Event()

    def read_manifest(folder):
        out = real_read(folder)
        if threading.current_thread().name == "tag":
            read.set()
            go.wait(60)
        return out
    monkeypatch.setattr(M, "read_manifest", read_manifest)
    tag, loaded = _in_thread("tag", M.load_model, d, tax)
    assert read.wait(60)
    save, saved = _in_thread("watched", save_model, d, "new")
    assert progressed.wait(60)  # the save finished (no lock), or waits for the tag's
    go.set()
    tag.join(60)
    save.join(60)
    assert "error" not in loaded, loaded.get("error")
    assert loaded["value"][1]["model_files"]["arrays"]["sha256"] == old  # the old model, whole
    assert "error" not in saved, saved.get("error")
    assert M.load_model(d, tax)[1]["note"] == "new"  # then the new one, whole
    # (2) two trainings saving a first model into a folder that does not exist yet: the first paused at its rename
    # into place until the second reached its own (no lock) or waits for the first's lock
    new = tmp_path / "models" / "new"
    real_rename = os.rename
    at_rename, first_in = threading.Event(), threading.Event()
    progressed.clear()

    def rename(src, dst, *a, **k):
        if str(dst) == str(new) and threading.current_thread().name == "first":
            at_rename.set()
            assert progressed.wait(60)
            real_rename(src, dst, *a, **k)
            first_in.set()
            return None
        if str(dst) == str(new) and threading.current_thread().name == "watched":
            progressed.set()
            assert first_in.wait(60)
        return real_rename(src, dst, *a, **k)
    monkeypatch.setattr(M.os, "rename", rename)
    a, out_a = _in_thread("first", save_model, new, "A")
    assert at_rename.wait(60)
    b, out_b = _in_thread("watched", save_model, new, "B")
    a.join(60)
    b.join(60)
    assert "error" not in out_a, out_a.get("error")
    assert "error" not in out_b, out_b.get("error")
    assert M.load_model(new, tax)[1]["note"] == "B"  # the later save's model, whole
    assert sorted(p.name for p in new.iterdir()) == ["manifest.json", "model.json", "model.npz"]


_KILLED_MIGRATE = r'''
import os, signal, sys
import classifier.labeled as L
import classifier.taxonomy_change as T
if sys.argv[1] == "committed":  # the labeled set's change committed, its queue and record not yet in place
    T._publish_settings = lambda settings: os.kill(os.getpid(), signal.SIGKILL)
else:  # the queue and the record staged, the labeled set not yet changed
    L._commit = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
from classifier.cli import cli
cli(sys.argv[2:])
'''


def test_a_taxonomy_migrate_killed_part_way_leaves_its_queue_to_the_next_command_not_hidden(tmp_path, monkeypatch):
    """`taxonomy migrate` killed (SIGKILL) after the labeled set's change was committed left the set migrated, its
    review queue and the workspace's record of the new taxonomy only as hidden temp files (.q.csv.<pid>-….tmp,
    .fundclass.toml.<pid>-….tmp) that no command ever put in place or removed; killed before the commit, the same
    hidden files stayed. The next command that reads the set (here `labels audit`, which only reads) now puts them in
    place when the change was committed, and removes them when it was not."""
    import os
    import subprocess
    import sys
    import tomllib

    import classifier
    from classifier.labeled import read_labels
    from conftest import SPLIT_MIGRATION, split_taxonomy

    ws = tmp_path / "ws"
    (ws / "data" / "labeled").mkdir(parents=True)
    labels = ws / "data" / "labeled" / "labels.csv"
    write_labeled_subset(SHIPPED_LABELS, labels, n_groups=20)
    monkeypatch.setenv("FUNDCLASS_WORKSPACE", str(ws))
    monkeypatch.delenv("FUNDCLASS_CONFIG", raising=False)
    monkeypatch.chdir(ws)
    split_taxonomy(ws / "split.toml")
    (ws / "m.toml").write_text(SPLIT_MIGRATION, encoding="utf-8")
    before = labels.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(os.path.dirname(os.path.dirname(classifier.__file__))))
    args = ["taxonomy", "migrate", "m.toml", "--from", str(DEFAULT_TAXONOMY), "--to", "split.toml", "-o", "q.csv"]

    def hidden():
        return sorted(p.name for p in ws.iterdir() if p.name.endswith(".tmp"))

    for when in ("staged", "committed"):
        p = subprocess.run([sys.executable, "-c", _KILLED_MIGRATE, when, *args], cwd=ws, env=env, capture_output=True)
        assert p.returncode == -9, p.stderr.decode()
        assert [n.split(".")[1] for n in hidden()] == ["fundclass", "q"], hidden()
        assert not (ws / "q.csv").exists() and not (ws / "fundclass.toml").exists()
        res = CliRunner().invoke(cli, ["labels", "audit", "--taxonomy", "split.toml" if when == "committed" else
                                       str(DEFAULT_TAXONOMY)])
        assert hidden() == [], hidden()
        assert not [p.name for p in labels.parent.iterdir() if p.name.endswith((".tmp", ".outputs"))]
        if when == "staged":  # not migrated: nothing of it stays
            assert res.exit_code == 0, res.output
            assert labels.read_bytes() == before and not (ws / "q.csv").exists()
            assert not (ws / "fundclass.toml").exists()
    # migrated: its queue and record as the migration would have put them
    assert set(read_labels(labels)["taxonomy_version"]) == {"jrj-2026.02-split"}
    q = pd.read_csv(ws / "q.csv", dtype=str, keep_default_na=False)
    assert len(q) and set(q["alternatives"]) == {"科技主题ETF;成长风格ETF"}
    assert tomllib.loads((ws / "fundclass.toml").read_text(encoding="utf-8"))["taxonomies"] == {"jrj2026": "split.toml"}
    assert "still undecided in its review queue" in res.output, res.output
