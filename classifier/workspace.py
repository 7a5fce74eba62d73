"""Where a user's data lives: the workspace (labeled set, review history, trained models), never the package.

The workspace is ``--workspace DIR`` (or ``$FUNDCLASS_WORKSPACE``), else the current directory. ``fundclass init``
fills it with a copy of the shipped labeled sets; a model of its own comes only from ``fundclass train`` (a copy of
the shipped model would go stale when an upgrade changes the taxonomy or the shared vocabulary). Reading falls back to what ships with the tool (so
``fundclass tag`` works out of the box); writing goes to the workspace only, and a path inside the installed package
is refused, since a reinstall would delete it. In a development checkout run from its root, the workspace is the
checkout itself.
"""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
from functools import lru_cache
from pathlib import Path

from .config import default_path, project_path, shipped_defaults
from .errors import InputError

ENV = "FUNDCLASS_WORKSPACE"
_PACKAGE = Path(__file__).resolve().parent


SHIPPED_MODELS = _PACKAGE / "reference" / "shipped_models.csv"  # the manifests of the models releases shipped


def shipped() -> tuple[str, ...]:
    """What `fundclass init` copies: the labeled sets' folder (defaults.toml [paths]). Not the model: the shipped one
    is read until the workspace trains its own."""
    return (str(Path(shipped_defaults()["paths"]["labeled"]).parent.as_posix()),)


@lru_cache(maxsize=1)
def shipped_manifests() -> frozenset[str]:
    """The sha256 of every ``models/default/manifest.json`` a release shipped (``reference/shipped_models.csv``)."""
    with open(SHIPPED_MODELS, encoding="utf-8") as f:
        return frozenset(r["manifest_sha256"] for r in csv.DictReader(line for line in f if not line.startswith("#")))


def untouched_copy(folder: str | Path) -> bool:
    """Whether model ``folder`` is an unchanged copy of a model a release shipped, as `fundclass init` made one before
    it stopped copying the model: its ``manifest.json`` is byte for byte a shipped one, and the folder holds nothing
    but it and the files it names, each with its sha256. Such a folder holds nothing of the user's."""
    d = Path(folder)
    try:
        data = (d / "manifest.json").read_bytes()
        if hashlib.sha256(data).hexdigest() not in shipped_manifests():
            return False
        import json

        files = json.loads(data).get("model_files") or {}
        named = {f["file"]: f["sha256"] for f in files.values()}
        present = {f.name for f in d.iterdir()}
        return present == set(named) | {"manifest.json"} and all(
            hashlib.sha256((d / n).read_bytes()).hexdigest() == sha for n, sha in named.items())
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False


def stale_model_help(model_dir: str | Path, retrain: str, fits_shipped) -> str:
    """What to do with ``model_dir``, a model the taxonomy or shared vocabulary in use no longer fits (an upgrade
    changed them): retrain it (``retrain``: the command), or, when it is the workspace's own copy of a model folder the
    tool ships and ``fits_shipped(shipped folder)`` holds, move it out so the shipped one is read; an unchanged copy an
    earlier `fundclass init` made is named as such (`fundclass init` removes it)."""
    d = Path(model_dir)
    out = f"Retrain it: {retrain}"
    rel = f"models/{d.name}"
    try:
        mine = d.resolve() == user_path(rel).resolve() and project_path(rel).resolve() != d.resolve()
    except OSError:
        mine = False
    if mine and (project_path(rel) / "manifest.json").exists() and fits_shipped(project_path(rel)):
        if untouched_copy(d):
            out = (f"{d} is an unchanged copy of the model an earlier version shipped, made by `fundclass init`, which "
                   f"no longer copies the model: run `fundclass init` to remove it (it holds nothing of yours), and "
                   f"the model shipped with this version is used; or retrain it: {retrain}")
        else:
            out += (f"; or move the folder {d} out of the workspace's models/ folder (or delete it), and the model "
                    f"shipped with this version is used")
    return out + "."


def root() -> Path:
    """The workspace folder: ``$FUNDCLASS_WORKSPACE`` (set by ``--workspace``), else the current directory."""
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else Path.cwd()


def user_path(rel: str) -> Path:
    """Where the workspace keeps ``rel`` (written there, whether or not it exists yet)."""
    return root() / rel


def data_path(rel: str) -> Path:
    """What a command reads by default: the workspace's copy of ``rel`` if there is one, else the shipped one."""
    mine = user_path(rel)
    return mine if mine.exists() else project_path(rel)


def for_taxonomy(key: str, matches, kin=None) -> str:
    """The configured ``[paths].key`` (``model_dir`` or ``labeled``) when ``matches(path)`` holds of it, else the
    first folder or file beside it (workspace, then shipped) of which it holds: E Fund's model in ``models/efund``, its
    labeled set in ``data/labeled/efund``, so that ``--taxonomy`` alone switches all three. When none matches, the
    first of which ``kin(path)`` holds (a model of an earlier version of the same taxonomy: the folder a training after
    a migration replaces, not another taxonomy's); else the configured path (a command then says why)."""
    rel = Path(default_path(key))
    base = rel.parent
    found: list[Path] = [rel]
    for top in (user_path(str(base)), project_path(str(base))):
        if top.is_dir():
            hits = sorted(top.glob("*/manifest.json")) if key == "model_dir" else \
                sorted(top.glob("labels.csv")) + sorted(top.glob("*/labels.csv"))
            hits = [h for h in hits if not h.parent.name.startswith(".")]  # (a folder init is removing)
            found += [base / h.relative_to(top) if key == "labeled" else base / h.parent.relative_to(top)
                      for h in hits]
    for test in (matches, kin):
        for cand in dict.fromkeys(found) if test is not None else ():
            if test(data_path(str(cand))):
                return str(cand)
    return str(rel)


def readable(path: str | Path) -> Path:
    """A path a command reads, as the user gave it: itself when it exists; a relative path that does not exist from
    here is looked for in the workspace, then among the files shipped with the tool, so that `--taxonomy
    taxonomy/efund2025.toml --model models/efund` works from any folder; else itself (the error then names it)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    for alt in (user_path(str(p)), project_path(str(p))):
        if alt.exists():
            return alt
    return p


def check_writable(path: str | Path) -> Path:
    """Refuse to write inside the installed package (``site-packages``): a reinstall would lose it."""
    p = Path(path).resolve()
    if p == _PACKAGE or _PACKAGE in p.parents:
        raise InputError(f"{path} is inside the installed package, where a reinstall would delete it; run "
                         f"`fundclass init` to make a workspace (or pass --workspace DIR) and work there")
    return p


KEY_FILES = ("labels.csv", "manifest.json")  # the file that makes a folder one labeled set or one model


def _units(src: Path) -> dict[Path, list[Path]]:
    """The files of a shipped folder by unit: each folder holding a key file (a labeled set, a model) owns the files
    under it that no deeper unit owns; files outside every unit belong to the shipped folder itself."""
    files = [f for f in sorted(src.rglob("*"))
             if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".py"]
    heads = sorted({f.parent for f in files if f.name in KEY_FILES} | {src}, key=lambda d: len(d.parts), reverse=True)
    units: dict[Path, list[Path]] = {}
    for f in files:
        units.setdefault(next(d for d in heads if d == f.parent or d in f.parents), []).append(f)
    return units


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True  # another user's process
    return True


def own_models(target: str | Path | None = None) -> list[Path]:
    """The model folders of the workspace ``target`` (default: the workspace) that commands read instead of the
    shipped ones: each folder of its ``models/`` holding a ``manifest.json`` (one ``fundclass train`` wrote, or kept
    by :func:`init`), but the shipped folders themselves (a development checkout is its own workspace)."""
    dest = Path(target) if target else root()
    models = dest / Path(shipped_defaults()["paths"]["model_dir"]).parent
    if not models.is_dir():
        return []
    return sorted(m.parent for m in models.glob("[!.]*/manifest.json")
                  if m.parent.resolve() != project_path(str(m.parent.relative_to(dest))).resolve())


def init(target: str | Path | None = None) -> tuple[list[Path], list[Path], list[Path]]:
    """Copy the shipped labeled sets into ``target`` (default: the workspace); never overwrite.

    A labeled set the workspace already has (its ``labels.csv`` exists) is kept as it is, whole; one it lacks (a set
    shipped after the workspace was made, such as another taxonomy's) is copied. A model folder of the workspace that
    is an unchanged copy of a shipped model (:func:`untouched_copy`: made by an earlier init, which copied the model)
    is removed, so the model shipped with this version is read (an upgrade would have made the copy stale); every
    other model (one the user trained) is kept. Returns the files written, the folders kept and the folders removed."""
    dest = Path(target) if target else root()
    check_writable(dest)
    plan, kept = [], []
    models = dest / Path(shipped_defaults()["paths"]["model_dir"]).parent
    # (never the shipped folder itself: a development checkout is its own workspace)
    removed = sorted(m.parent for m in models.glob("[!.]*/manifest.json") if untouched_copy(m.parent)
                     and m.parent.resolve() != project_path(str(m.parent.relative_to(dest))).resolve()) \
        if models.is_dir() else []
    for rel in shipped():
        src = project_path(rel)
        if not src.is_dir():
            raise InputError(f"{src}: the shipped {rel} is missing from this installation")
        for unit, files in _units(src).items():
            home = dest / rel / unit.relative_to(src)
            if any((home / k).exists() for k in KEY_FILES):
                kept.append(home)
                continue
            for f in files:
                to = dest / rel / f.relative_to(src)
                if to.exists():
                    # an init killed while it copied this set left the files before its key file: those still the
                    # shipped ones are kept and the copy completed; a file of another content is the user's
                    if to.is_file() and not to.is_symlink() and to.read_bytes() == f.read_bytes():
                        continue
                    raise InputError(f"{to} exists already; `fundclass init` never overwrites a workspace")
                plan.append((f, to))
    # each file whole (a temp file renamed), a set's key file (labels.csv) last: a workspace holds a set once all of
    # its files are there, so an interrupted init leaves no half-copied file and no set missing a file of its own
    plan.sort(key=lambda ft: ft[0].name in KEY_FILES)
    for rel in shipped():  # the temp files of an init killed while it copied
        for tmp in (dest / rel).rglob(".*.init-*.tmp") if (dest / rel).is_dir() else ():
            if not _alive(tmp.name.rsplit("-", 1)[-1][:-4]):
                tmp.unlink(missing_ok=True)
    for f, to in plan:
        to.parent.mkdir(parents=True, exist_ok=True)
        tmp = to.with_name(f".{to.name}.init-{os.getpid()}.tmp")
        try:
            shutil.copy2(f, tmp)
            os.replace(tmp, to)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    for m in removed:
        # out of models/ in one rename, then deleted: an init killed while deleting leaves no folder of some of the
        # model's files (which every command would read, and fail on) but one no command reads, removed next time
        gone = m.with_name(f".{m.name}.removed-{os.getpid()}")
        os.replace(m, gone)
        shutil.rmtree(gone)
    if models.is_dir():
        for gone in models.glob(".*.removed-*"):
            if gone.is_dir():
                shutil.rmtree(gone, ignore_errors=True)
    return [to for _, to in plan], kept, removed
