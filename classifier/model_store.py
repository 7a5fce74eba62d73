"""The saved model's two files, no pickle: ``model.npz`` (every numeric array) and ``model.json`` (everything else).

``model.npz`` is a zip of ``.npy`` members written here, not by ``np.savez``: members in sorted name order, stored
uncompressed, with a fixed timestamp (1980-01-01) and fixed attributes, so the same model gives the same bytes on every
save. It is read with ``np.load(..., allow_pickle=False)``: an object array (which would need pickle) is refused.
``model.json`` holds the classes, column names, vocabularies as term lists in column order, categories, n-gram ranges,
block weights, the tokenizer's terms, the calibrator's scalars, the pattern table's keys and the head reads; keys
sorted, floats in Python's shortest round-trip repr, NaN refused.

What goes into the files is spelled out by the compiled classes' ``to_arrays()`` / ``from_arrays()``
(:mod:`classifier.inference`, :mod:`classifier.doubt`); :mod:`classifier.manifest` hashes both files into the manifest.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np

ARRAYS_FILE = "model.npz"
FIELDS_FILE = "model.json"
FORMAT = "fundclass-compiled-model"
FORMAT_VERSION = 1
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats: nothing that needs pickle


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The ``.npz`` bytes of ``arrays`` (name → numeric array), the same for the same arrays."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            a = arrays[name]
            if not isinstance(a, np.ndarray) or a.dtype.kind not in NUMERIC_KINDS or a.dtype.hasobject:
                raise ValueError(f"array {name!r} is not a numeric NumPy array ({getattr(a, 'dtype', type(a))})")
            member = io.BytesIO()
            # little-endian on every machine; the memory order (C or Fortran) is kept, np.load restores it
            np.lib.format.write_array(member, a.astype(a.dtype.newbyteorder("<"), copy=False), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def read_npz(data: bytes) -> dict[str, np.ndarray]:
    """Every array of ``.npz`` bytes, loaded without pickle. Raises ValueError (an object array, not an npz, a
    non-numeric array) or zipfile/OSError errors for a damaged file."""
    z = np.load(io.BytesIO(data), allow_pickle=False)
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError("not an .npz archive")
    with z:
        out = {name: z[name] for name in z.files}
    for name, a in out.items():
        if a.dtype.kind not in NUMERIC_KINDS:
            raise ValueError(f"array {name!r} has dtype {a.dtype}, not a number type")
    return out


def json_bytes(fields: dict) -> bytes:
    """``fields`` as UTF-8 JSON: sorted keys, compact separators, floats in their shortest round-trip repr."""
    text = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "model": fields}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


def read_json(data: bytes) -> dict:
    """The model fields from ``model.json`` bytes; ValueError when the file is not this format."""
    doc = json.loads(data.decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"format version {doc.get('format_version')!r}; this version of fundclass reads "
                         f"{FORMAT_VERSION}")
    if not isinstance(doc.get("model"), dict):
        raise ValueError("no 'model' object")
    return doc["model"]


def model_bytes(model) -> dict[str, bytes]:
    """File name → bytes of a compiled model's two files."""
    arrays, fields = model.to_arrays()
    return {ARRAYS_FILE: npz_bytes(arrays), FIELDS_FILE: json_bytes(fields)}


def model_from_bytes(arrays_data: bytes, fields_data: bytes):
    """The compiled model from the two files' bytes (ValueError/KeyError/TypeError when they do not describe one)."""
    from .inference import CompiledModel

    return CompiledModel.from_arrays(read_npz(arrays_data), read_json(fields_data))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
