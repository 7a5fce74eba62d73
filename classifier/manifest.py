"""Save and load a trained model directory: ``model.npz`` + ``model.json`` (no pickle), then ``manifest.json``.

The manifest records what the model was trained for and from (taxonomy id/version/sha256, shared-vocabulary hash,
labeled-data hash, library versions, metrics, review threshold) and, in ``model_files``, the name and sha256 of each of
the model's two files (:mod:`classifier.model_store`: the numeric arrays, and every other field as JSON). The three files
are replaced as one commit through a journal (:func:`save_model`), so a folder holds the old model or the new one. Loading reads each file once, checks
its bytes against the manifest's sha256 before parsing anything, and refuses a model whose taxonomy or shared
vocabulary is not the one in use, saying what to run instead. A folder holding only an old ``model.joblib`` is refused
with the command to retrain: this version never unpickles a model.

What the hashes protect against: a corrupted or truncated file, a file from another training (a mismatched
``model.npz``/``model.json`` pair, or a file swapped in from another folder), and a model trained for another taxonomy.
What they do not: whoever can write the model folder can rewrite the files and the hashes together, so the folder
must still be one you trust for its predictions. But nothing in the folder runs code on load any more: the arrays are
read with ``allow_pickle=False`` and the rest is JSON.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .config import shipped_path
from .errors import ModelError
from .io import atomic_write_bytes, stale_temps, sync_folder, write_synced
from .model_store import ARRAYS_FILE, FIELDS_FILE, model_bytes, sha256_bytes
from .taxonomy import DEFAULT_TAXONOMY, Taxonomy

MODEL_FILES = {"arrays": ARRAYS_FILE, "fields": FIELDS_FILE}  # role → file name written by save_model
OLD_PICKLE_FILE = "model.joblib"  # the format before issue 13: a pickle, never loaded
MANIFEST_FILE = "manifest.json"
DEFAULT_MODEL_DIR = shipped_path("model_dir")  # the model shipped with the tool (defaults.toml [paths])
LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "jieba", "rapidfuzz", "opencc")
_HEX = set("0123456789abcdef")
LOCK_TIMEOUT = 120.0  # seconds a save or a load of a model folder waits for another save of it


class OldPickleModelError(ModelError):
    """The folder holds a model in the old pickle format (``model.joblib``), which is not loaded."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    from importlib import metadata  # here: ~20 ms (it loads the email package) that only training needs

    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "absent"
    return out


def save_model(model_dir: str | Path, model, manifest: dict) -> dict:
    """Write ``model.npz``, ``model.json`` and the manifest naming both with their sha256, as one commit; returns the
    manifest as written. An old ``model.joblib`` in the folder is removed once the manifest is written.

    The three files are staged under temporary names, then a journal naming them is written, then each is renamed
    into place and the journal removed: a save interrupted before the journal (killed, an exception) leaves the
    folder's old model as it was, one interrupted after it is completed by the next reader of the folder
    (:func:`read_manifest`). Renamed one by one without it, a retraining killed between the files left the new
    ``model.npz`` beside the old manifest: neither model loaded."""
    d = Path(model_dir)
    data = model_bytes(model)
    files = {role: {"file": name, "sha256": sha256_bytes(data[name])} for role, name in MODEL_FILES.items()}
    manifest = {k: v for k, v in manifest.items() if k not in ("model_file", "model_sha256")}
    manifest["model_files"] = files
    manifest.setdefault("libraries", library_versions())
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    written = [(name, data[name]) for name in MODEL_FILES.values()] + [(MANIFEST_FILE, text.encode("utf-8"))]
    with folder_lock(d):  # one save at a time, and no load meanwhile (:func:`load_model`)
        if not d.exists():
            _save_new(d, written)
            return manifest
        _recover_interrupted(d)
        try:
            _commit(d, written)
        except OSError as exc:  # staging or the journal failed (a full disk, a quota, an I/O error): nothing replaced
            raise _not_saved(d, exc) from exc
        (d / OLD_PICKLE_FILE).unlink(missing_ok=True)
    return manifest


@contextmanager
def folder_lock(model_dir: str | Path, reading: bool = False):
    """Hold the lock of model folder ``model_dir`` (``.NAME.lock`` beside it, ``filelock``: portable, released when a
    process dies), as the labeled set's changes hold its lock: two trainings saving into one folder wait for each
    other (the second replaces the first's model, whole; a first model of a folder not made yet too), and a load
    (``reading``) reads the manifest and the two files of one save, never the manifest of one and a file of the next.
    A load of a folder where no lock can be made (the models shipped inside the installed package, a folder you may
    only read) goes on without it: no save writes there."""
    import errno

    from filelock import FileLock, Timeout

    d = Path(model_dir)
    if reading:
        from .errors import InputError
        from .workspace import check_writable

        try:
            check_writable(d)
        except InputError:
            yield
            return
        if not d.parent.is_dir():
            yield
            return
    else:
        try:
            d.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _not_saved(d, exc) from exc
    lock = FileLock(str(d.parent / f".{d.name}.lock"), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout as exc:
        raise ModelError(f"{d}: another training has been saving a model into this folder for {LOCK_TIMEOUT:.0f} s; "
                         f"try again when it has finished") from exc
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        if not reading:
            raise _not_saved(d, exc) from exc
        lock = None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def _save_new(d: Path, files: list[tuple[str, bytes]]) -> None:
    """Save a first model into ``d``, a folder that does not exist: written whole in a hidden temp folder beside it
    (``.NAME.<pid>-<random>.tmp``), then renamed into place, so that ``d`` appears with its model or not at all. A
    save killed or failing before that leaves no folder ``d``: a workspace's ``models/default`` without a model would
    hide the shipped one (every `tag` there: no manifest). Temp folders that saves killed earlier left are removed
    (once their process has ended; only the tool's own names)."""
    import shutil

    try:
        d.parent.mkdir(parents=True, exist_ok=True)
        for stale in stale_temps(d, folders=True):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{d.name}.{os.getpid()}-", suffix=".tmp", dir=d.parent))
    except OSError as exc:
        raise _not_saved(d, exc) from exc
    try:
        _commit(tmp, files)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700; a folder made gets the usual mode
        os.rename(tmp, d)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _not_saved(d, exc) from exc
        raise


def _not_saved(d: Path, exc: OSError) -> ModelError:
    """The error of a save of model folder ``d`` that failed before its journal (``exc``: a full disk, a quota, a
    folder that cannot be written): the folder, the cause, that its model is the one from before, and what to do.
    The staged files are gone (:func:`_commit`, :func:`_save_new`)."""
    import errno

    fix = ("free some space there" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else
           "choose a folder you can write with -o" if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else
           "check the folder")
    kept = ("the model there is the one from before, untouched" if (d / MANIFEST_FILE).exists() else
            "no model was written there")
    return ModelError(f"{d}: the model could not be saved ({exc.strerror or exc}); nothing was changed: {kept}; {fix} "
                      f"and train again")


def _journal(model_dir: Path) -> Path:
    return model_dir / f".{MANIFEST_FILE}.journal"


def _commit(d: Path, files: list[tuple[str, bytes]]) -> None:
    """Replace the files of model folder ``d`` (name → bytes) together, through a journal (see :func:`save_model`)."""
    staged: list[tuple[Path, str]] = []
    mask = os.umask(0)
    os.umask(mask)
    try:
        for name, data in files:
            # named as io's temp files, with this process's id: once it has ended, a staged file no journal names is
            # a save that never committed (:func:`_remove_stale_staged`)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}-", suffix=".tmp", dir=d)
            staged.append((Path(tmp), name))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a written file gets the usual mode
        payload = json.dumps([[t.name, name] for t, name in staged]).encode("utf-8")
        atomic_write_bytes(_journal(d), lambda t: write_synced(t, payload))
        sync_folder(d)  # the journal's name on disk before any file it names is renamed into place
    except BaseException:
        for t, _ in staged:
            t.unlink(missing_ok=True)
        raise
    _recover(d)


def _recover_interrupted(d: Path) -> None:
    """Settle what a save of model folder ``d`` killed or crashed part way left (a `fundclass train` killed while it
    saved its model), before the folder is read or saved into: complete a save its journal names, remove the files
    one staged before its journal. Each says what became of the interrupted save (a :class:`ChangeRecovered`
    warning, which the command line prints as one ``warning:`` line), as the labeled set's recovery does: no output
    said it before."""
    import warnings

    from .errors import ChangeRecovered

    if _recover(d):
        warnings.warn(f"{d}: a model save (`fundclass train -o {d}`) was interrupted after it was committed (its "
                      f"command killed or crashed): it is now complete, the new model is in place", ChangeRecovered,
                      stacklevel=3)
    elif _remove_stale_staged(d):
        try:
            had = json.loads((d / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            had = None
        warnings.warn(f"{d}: a model save (`fundclass train -o {d}`) was interrupted before it was committed (its "
                      f"command killed or crashed): nothing of it was saved, the folder holds the model it had; run "
                      f"{_retrain_command(d, had)} again for the new one", ChangeRecovered, stacklevel=3)


def _recover(d: Path) -> bool:
    """Complete a save of model folder ``d`` that its journal names (interrupted between its renames, or this one's
    own): rename each staged file still there into place, then remove the journal. True when it completed one."""
    j = _journal(d)
    if not j.exists():
        return False
    try:
        names = json.loads(j.read_text(encoding="utf-8"))
        for tmp, name in names:
            try:
                os.replace(d / Path(tmp).name, d / Path(name).name)
            except FileNotFoundError:  # renamed already (by the save itself, or another reader completing it)
                pass
        sync_folder(d)  # the renames on disk before the journal that completes them is gone
        j.unlink(missing_ok=True)
    except FileNotFoundError:  # completed meanwhile by another process
        return False
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"{d}: a model save was interrupted and cannot be completed here ({exc}); run the command "
                         f"again where the folder can be written, or retrain with `fundclass train -o {d}`") from exc
    return True


def _remove_stale_staged(d: Path) -> list[Path]:
    """Remove what a save of model folder ``d`` staged and never committed (killed, or the power cut, before its
    journal was written): the folder's model is the one from before, and the staged copies (a model's size) would lie
    there unseen. Only files of the tool's own names (``.model.npz.<pid>-<random>.tmp``, … of the three files and the
    journal) whose process has ended (in the older form without a pid: untouched for ten minutes), and none the
    journal names: those are the new model, which :func:`_recover` puts in place. The pids are checked before the
    journal is read, and a process that has ended writes no journal, so no save's committed files are taken."""
    stale = [t for name in (*MODEL_FILES.values(), MANIFEST_FILE, _journal(d).name) for t in stale_temps(d / name)]
    if not stale:
        return []
    j = _journal(d)
    try:
        named = {Path(t).name for t, _ in json.loads(j.read_text(encoding="utf-8"))} if j.exists() else set()
    except (OSError, ValueError, TypeError):
        return []  # a journal that cannot be read: _recover says so; nothing is removed meanwhile
    removed = []
    for t in stale:
        if t.name not in named:
            try:
                t.unlink()
                removed.append(t)
            except FileNotFoundError:
                pass
            except OSError:  # a folder this user may only read: the files stay, the model loads as it is
                continue
    return removed


def _retrain_command(model_dir, manifest: dict | None = None) -> str:
    """The command that retrains ``model_dir``: with the taxonomy and labeled set its manifest names, when those are
    not the defaults."""
    cmd = "fundclass train"
    tax = ((manifest or {}).get("taxonomy") or {}).get("path") if isinstance(manifest, dict) else None
    if isinstance(tax, str) and tax and Path(tax).name != Path(DEFAULT_TAXONOMY).name:
        cmd += f" --taxonomy taxonomy/{Path(tax).name}"
        labeled = ((manifest or {}).get("labeled_data") or {}).get("path")
        cmd += f" --labeled {labeled}" if isinstance(labeled, str) and labeled else " --labeled LABELS.csv"
    return f"`{cmd} -o {model_dir}`"


def _train_command(taxonomy: Taxonomy, model_dir) -> str:
    """`fundclass train` for ``taxonomy`` into ``model_dir``: a taxonomy shipped with the tool named as the user
    types it (taxonomy/efund2025.toml, which any folder finds), the default one (the file the workspace's labeled set
    was migrated to, when it is: :func:`classifier.taxonomy.default_taxonomy_path`) not at all."""
    from .config import project_path
    from .errors import FundClassifierError
    from .taxonomy import default_taxonomy_path

    tax = Path(taxonomy.path)
    shipped = project_path(f"taxonomy/{tax.name}")
    same = shipped.exists() and shipped.resolve() == tax.resolve()
    try:
        default = default_taxonomy_path().resolve() == tax.resolve()
    except FundClassifierError:
        default = False
    opt = "" if default or (same and tax.name == Path(DEFAULT_TAXONOMY).name) else \
        f" --taxonomy {'taxonomy/' + tax.name if same else tax}"
    return f"`fundclass train{opt} -o {model_dir}`"


def _stale_help(d: Path, taxonomy: Taxonomy, vocab_sha: str) -> str:
    """The ways out for model ``d``, which an upgrade of the taxonomy or the shared vocabulary left behind: retrain it
    (the command, into ``d``; a folder inside the installed package: into the workspace's folder of its name), or
    read the shipped model of its folder when that one fits (:func:`classifier.workspace.stale_model_help`)."""
    from .workspace import check_writable, stale_model_help

    try:
        check_writable(d)
        out = d
    except Exception:  # noqa: BLE001 - inside the installed package: train writes into the workspace
        out = Path("models") / d.name

    def fits(shipped: Path) -> bool:
        try:
            m = read_manifest(shipped)
        except ModelError:
            return False
        return m.get("taxonomy", {}).get("sha256") == taxonomy.sha256 and m.get("vocabulary_sha256") in (None, vocab_sha)

    return stale_model_help(d, _train_command(taxonomy, out), fits)


def _old_pickle(model_dir, manifest: dict | None = None) -> OldPickleModelError:
    return OldPickleModelError(
        f"{Path(model_dir)}: {OLD_PICKLE_FILE} is an old pickle model, which this version of fundclass will not load "
        f"(loading a pickle can run code); retrain it with {_retrain_command(model_dir, manifest)}")


def _plain_name(name) -> bool:
    return isinstance(name, str) and bool(name) and Path(name).name == name and name not in (".", "..") \
        and "/" not in name and "\\" not in name


def read_manifest(model_dir: str | Path) -> dict:
    """The manifest, checked for shape: a JSON object whose ``model_files`` name the arrays and fields files by plain
    names inside the model folder, each with a sha256; whose taxonomy is an object and whose review threshold is a
    number in (0, 1.01]. A manifest of the old pickle format is refused (:class:`OldPickleModelError`)."""
    path = Path(model_dir) / MANIFEST_FILE
    # a save interrupted between its renames: completed before anything is read; one killed before its journal: its
    # staged files removed; either said (a ChangeRecovered warning)
    _recover_interrupted(Path(model_dir))
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        if (Path(model_dir) / OLD_PICKLE_FILE).exists():
            raise _old_pickle(model_dir) from exc
        raise ModelError(f"{path}: no manifest; train a model with `fundclass train -o {model_dir}`") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc})") from exc
    retrain = f"; retrain with `fundclass train -o {model_dir}`"
    if not isinstance(m, dict):
        raise ModelError(f"{path}: the manifest is a JSON {type(m).__name__}, not an object" + retrain)
    mf = m.get("model_file")  # the old format's single file
    if mf is not None and not _plain_name(mf):
        raise ModelError(f"{path}: model_file {mf!r} must be a file name inside the model folder" + retrain)
    files = m.get("model_files")
    if files is None:
        if mf is not None or (Path(model_dir) / OLD_PICKLE_FILE).exists():
            raise _old_pickle(model_dir, m)
        raise ModelError(f"{path}: the manifest names no model files (model_files)" + retrain)
    if not isinstance(files, dict) or set(files) != set(MODEL_FILES):
        raise ModelError(f"{path}: model_files must be an object with exactly {sorted(MODEL_FILES)}" + retrain)
    names = []
    for role in MODEL_FILES:
        f = files[role]
        name = f.get("file") if isinstance(f, dict) else None
        if not _plain_name(name):
            raise ModelError(f"{path}: model_files.{role} {name!r} must be a file name inside the model folder"
                             + retrain)
        sha = f.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64 or not set(sha) <= _HEX:
            raise ModelError(f"{path}: model_files.{role} has no sha256 (64 hex digits)" + retrain)
        names.append(name)
    if len(set(names)) != len(names) or MANIFEST_FILE in names:
        raise ModelError(f"{path}: model_files must name two different files, neither the manifest" + retrain)
    if not isinstance(m.get("taxonomy", {}), dict):
        raise ModelError(f"{path}: 'taxonomy' must be an object (id, version, sha256)" + retrain)
    thr = m.get("threshold", 0.5)
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 < thr <= 1.01:
        raise ModelError(f"{path}: threshold {thr!r} is not a review threshold in (0, 1.01]" + retrain)
    return m


def manifest_taxonomy(model_dir: str | Path, key: str = "sha256") -> str:
    """The taxonomy hash (``key="id"``: id) a model folder's manifest names ('' when it has no valid manifest)."""
    try:
        return str(read_manifest(model_dir).get("taxonomy", {}).get(key, ""))
    except ModelError:
        return ""


def load_model(model_dir: str | Path, taxonomy: Taxonomy, labels_version: str = ""):
    """Return (model, manifest) after checking both files' hashes, the taxonomy and the shared vocabulary.
    ``labels_version``: the taxonomy version of the labeled set the run reads beside the model ('' unknown); a model
    refused for another version of the taxonomy that the set is of too (migrated to it) is named as such, with the
    --taxonomy to pass, instead of a retraining the set's version would refuse.

    Each file is read once; its bytes are hashed and only then parsed (JSON, and ``np.load`` with
    ``allow_pickle=False``). Nothing is unpickled."""
    d = Path(model_dir)
    with folder_lock(d, reading=True):  # the manifest and the files of one save (a training saving meanwhile waits)
        manifest = read_manifest(d)
        data = {}
        for role, f in manifest["model_files"].items():
            path = d / f["file"]
            try:
                data[role] = path.read_bytes()
            except FileNotFoundError as exc:
                raise ModelError(f"{path}: model file missing (named in {d / MANIFEST_FILE})") from exc
            except OSError as exc:
                raise ModelError(f"{path}: cannot read the model file ({exc})") from exc
    for role, f in manifest["model_files"].items():
        path = d / f["file"]
        actual = sha256_bytes(data[role])
        if actual != f["sha256"]:
            raise ModelError(f"{path}: sha256 {actual[:12]}… does not match the manifest ({f['sha256'][:12]}…); "
                             f"the file was changed, corrupted or comes from another training — retrain with "
                             f"{_retrain_command(d, manifest)}")
    from .vocabulary import load_vocabulary

    vocab = load_vocabulary()
    t = manifest.get("taxonomy", {})
    if t.get("sha256") != taxonomy.sha256:
        other = t.get("id") != taxonomy.id
        # the set read beside it is of another version than the one in use (a migration's new taxonomy file was not
        # passed): retraining for the one in use would be refused, the set's labels being of the other version
        migrated = not other and bool(labels_version) and labels_version != taxonomy.version
        raise ModelError(
            f"model {d} was trained for taxonomy {t.get('id')} {t.get('version')} (sha256 {str(t.get('sha256'))[:12]}…), "
            f"but the taxonomy in use is {taxonomy.id} {taxonomy.version} (sha256 {taxonomy.sha256[:12]}…, {taxonomy.path}). "
            + (f"Tag with --taxonomy pointing to the file the model was trained for, or train a model for this "
               f"taxonomy: {_train_command(taxonomy, 'MODEL_DIR')}." if other else
               f"The labeled set is of {labels_version}{' too' if labels_version == t.get('version') else ''}: "
               f"pass that version's taxonomy file (--taxonomy FILE) to this command and every other one that reads "
               f"the set"
               + (f" (the model was trained with one named {t.get('path') or 'in its manifest'})"
                  if labels_version == t.get("version") else
                  f", and train the model for it (`fundclass train --taxonomy FILE -o {d}`)")
               + f"; `--config` a file whose [paths] taxonomy names it makes it the default. To use "
               f"{taxonomy.version} instead, migrate the set to it first (`fundclass taxonomy migrate MAP --from FILE "
               f"--to {taxonomy.path}`), then {_train_command(taxonomy, d)}." if migrated else
               _stale_help(d, taxonomy, vocab.sha256)))
    if manifest.get("vocabulary_sha256") and manifest["vocabulary_sha256"] != vocab.sha256:
        raise ModelError(f"model {d} was trained with another taxonomy/common.toml, the shared vocabulary (with "
                         f"classifier/reference/index_synonyms.csv; sha256 "
                         f"{manifest['vocabulary_sha256'][:12]}…, now {vocab.sha256[:12]}…): its text "
                         f"processing would differ. " + _stale_help(d, taxonomy, vocab.sha256))
    from .model_store import read_json, read_npz

    files = manifest["model_files"]
    try:
        arrays = read_npz(data["arrays"])
    except Exception as exc:  # noqa: BLE001 - any failure to read is the file's
        raise ModelError(f"{d / files['arrays']['file']}: cannot read the model arrays ({type(exc).__name__}: {exc})") from exc
    try:
        fields = read_json(data["fields"])
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{d / files['fields']['file']}: cannot read the model fields ({type(exc).__name__}: {exc})") from exc
    from .inference import CompiledModel

    try:
        model = CompiledModel.from_arrays(arrays, fields)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{d / files['arrays']['file']} and {files['fields']['file']} do not describe a model "
                         f"({type(exc).__name__}: {exc}); retrain with {_retrain_command(d, manifest)}") from exc
    return model, manifest
