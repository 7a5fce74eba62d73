"""Tag a whole file: read it, tag it in chunks (memory stays flat as files grow), write it atomically."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from .config import defaults
from .errors import InputError
from .io import read_table, write_table
from .pipeline import TagSummary, Tagger


def tag_file(input_path, output_path, model_dir=None, taxonomy_path=None, threshold=None, holdings_path=None,
             sw_map_path=None, name_column=None, progress=True, tagger: Tagger | None = None,
             labels_path=None) -> TagSummary:
    """Tag ``input_path`` into ``output_path``; nothing is written unless every row was tagged."""
    t0 = time.perf_counter()
    if Path(output_path).resolve() == Path(input_path).resolve():
        raise InputError(f"{output_path}: output would overwrite the input; choose another file")
    table = read_table(input_path)
    tagger = tagger or Tagger.load(model_dir, taxonomy_path, threshold, holdings_path, sw_map_path, labels_path)
    summary = TagSummary(warnings=list(table.warnings))
    frame = table.frame
    if len(frame) == 0:
        summary.warnings.append(f"{input_path}: header only, no rows; writing an empty output with the new columns")
    size = int(defaults()["tag"]["chunk_rows"])
    starts = range(0, max(len(frame), 1), size)
    bar = None
    if progress and len(frame) > size:
        from tqdm import tqdm

        bar = tqdm(total=len(frame), unit="fund", desc="tagging", leave=False)
    parts = []
    for s in starts:
        chunk = frame.iloc[s:s + size]
        parts.append(tagger.tag(chunk, name_column=name_column, source=str(input_path), summary=summary))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    write_table(out, output_path)
    summary.seconds = time.perf_counter() - t0
    return summary
