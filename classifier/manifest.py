"""Save and load a trained model directory: ``model.joblib`` plus ``manifest.json``.

The manifest records what the model was trained for and from (taxonomy id/version/sha256, shared-vocabulary hash,
labeled-data hash, library versions, metrics, review threshold) and the model file's sha256. Loading refuses a model
whose file does not hash to its manifest, or whose taxonomy is not the one in use, and says what to run instead.

What the hash does and does not do: it catches a corrupted, truncated or swapped model file and a model paired with
the wrong manifest. It is not protection against tampering — whoever can write the model folder can rewrite the hash
too, and ``model.joblib`` is a pickle, which runs code when loaded. Load models only from folders you trust.
"""
from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import joblib

from .config import project_path
from .errors import ModelError
from .io import atomic_write_bytes
from .taxonomy import Taxonomy

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
DEFAULT_MODEL_REL = "models/default"
DEFAULT_MODEL_DIR = project_path(DEFAULT_MODEL_REL)  # the model shipped with the tool
LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "jieba", "rapidfuzz", "joblib", "opencc")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "absent"
    return out


def save_model(model_dir: str | Path, model, manifest: dict) -> dict:
    """Write the model file then the manifest (each atomically); returns the manifest as written."""
    d = Path(model_dir)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(d / MODEL_FILE, lambda t: joblib.dump(model, t, compress=3))
    manifest = dict(manifest)
    manifest["model_file"] = MODEL_FILE
    manifest["model_sha256"] = sha256_file(d / MODEL_FILE)
    manifest.setdefault("libraries", library_versions())
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(d / MANIFEST_FILE, lambda t: Path(t).write_text(text, encoding="utf-8"))
    return manifest


def read_manifest(model_dir: str | Path) -> dict:
    """The manifest, checked for shape: a JSON object whose model file is a plain name inside the model folder,
    whose taxonomy is an object and whose review threshold is a number in (0, 1.01]."""
    path = Path(model_dir) / MANIFEST_FILE
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: no manifest; train a model with `fundclass train -o {model_dir}`") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc})") from exc
    retrain = f"; retrain with `fundclass train -o {model_dir}`"
    if not isinstance(m, dict):
        raise ModelError(f"{path}: the manifest is a JSON {type(m).__name__}, not an object" + retrain)
    mf = m.get("model_file", MODEL_FILE)
    if not isinstance(mf, str) or not mf or Path(mf).name != mf or mf in (".", ".."):
        raise ModelError(f"{path}: model_file {mf!r} must be a file name inside the model folder" + retrain)
    if not isinstance(m.get("taxonomy", {}), dict):
        raise ModelError(f"{path}: 'taxonomy' must be an object (id, version, sha256)" + retrain)
    thr = m.get("threshold", 0.5)
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 < thr <= 1.01:
        raise ModelError(f"{path}: threshold {thr!r} is not a review threshold in (0, 1.01]" + retrain)
    return m


def load_model(model_dir: str | Path, taxonomy: Taxonomy):
    """Return (model, manifest) after checking the file hash and the taxonomy."""
    d = Path(model_dir)
    manifest = read_manifest(d)
    path = d / manifest.get("model_file", MODEL_FILE)
    if not path.exists():
        raise ModelError(f"{path}: model file missing (named in {d / MANIFEST_FILE})")
    actual = sha256_file(path)
    if actual != manifest.get("model_sha256"):
        raise ModelError(f"{path}: sha256 {actual[:12]}… does not match the manifest ({str(manifest.get('model_sha256'))[:12]}…); "
                         f"the file was changed or corrupted — retrain with `fundclass train -o {d}`")
    t = manifest.get("taxonomy", {})
    if t.get("sha256") != taxonomy.sha256:
        raise ModelError(
            f"model {d} was trained for taxonomy {t.get('id')} {t.get('version')} (sha256 {str(t.get('sha256'))[:12]}…), "
            f"but the taxonomy in use is {taxonomy.id} {taxonomy.version} (sha256 {taxonomy.sha256[:12]}…, {taxonomy.path}). "
            f"Run `fundclass train --taxonomy {taxonomy.path} -o MODEL_DIR` to train for it, or tag with "
            f"--taxonomy pointing to the file the model was trained for.")
    from .vocabulary import load_vocabulary

    vocab_sha = load_vocabulary().sha256
    if manifest.get("vocabulary_sha256") and manifest["vocabulary_sha256"] != vocab_sha:
        raise ModelError(f"model {d} was trained with another taxonomy/common.toml (sha256 "
                         f"{manifest['vocabulary_sha256'][:12]}…, now {vocab_sha[:12]}…): its text processing would "
                         f"differ. Run `fundclass train --taxonomy {taxonomy.path} -o MODEL_DIR`.")
    try:
        model = joblib.load(path)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from exc
    return model, manifest
