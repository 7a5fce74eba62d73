"""Tag a whole file: read it, tag it in chunks (memory stays flat as files grow), write it atomically.

A file longer than one chunk is first read once for its identifying columns alone (code, name, tracked index,
benchmark: :func:`classifier.prepare.identify`), to link share classes and feeders and flag duplicate codes over the
whole file (:func:`classifier.linking.file_links`); each chunk is then tagged with the rows it follows from other
chunks beside it, so its output is what tagging the whole file at once would give."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from .columns import detect_columns
from .config import defaults
from .errors import InputError
from .io import CSV_SUFFIXES, read_table, write_csv_parts, write_table
from .linking import file_links
from .pipeline import TagSummary, Tagger
from .prepare import identify


def _release_free_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere nothing happens)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def tag_file(input_path, output_path, model_dir=None, taxonomy_path=None, threshold=None, holdings_path=None,
             sw_map_path=None, name_column=None, progress=True, tagger: Tagger | None = None,
             labels_path=None, sheet=None, raw_csv=False, chunk_rows: int | None = None) -> TagSummary:
    """Tag ``input_path`` into ``output_path``; nothing is written unless every row was tagged.

    ``sheet``: the worksheet of an XLSX input; ``raw_csv``: a CSV output without formula neutralisation (see
    :func:`classifier.io.write_table`, whose warnings join the summary's); ``chunk_rows``: rows per chunk (default
    ``tag.chunk_rows`` of the configuration)."""
    t0 = time.perf_counter()
    if Path(output_path).resolve() == Path(input_path).resolve():
        raise InputError(f"{output_path}: output would overwrite the input; choose another file")
    table = read_table(input_path, sheet=sheet)
    tagger = tagger or Tagger.load(model_dir, taxonomy_path, threshold, holdings_path, sw_map_path, labels_path)
    summary = TagSummary(warnings=list(table.warnings))
    frame = table.frame
    if len(frame) == 0:
        summary.warnings.append(f"{input_path}: header only, no rows; writing an empty output with the new columns")
    size = int(chunk_rows or defaults()["tag"]["chunk_rows"])
    starts = range(0, max(len(frame), 1), size)
    links = None
    if len(frame) > size:
        colmap = detect_columns(list(frame.columns), str(input_path), name_column)
        links = file_links(identify(frame.iloc[s:s + size], colmap, tagger.vocab) for s in starts)
        _release_free_memory()  # what the light pass left free goes back before the chunks' work
    bar = None
    if progress and len(frame) > size:
        from tqdm import tqdm

        bar = tqdm(total=len(frame), unit="fund", desc="tagging", leave=False)

    def tagged():
        for s in starts:
            chunk = frame.iloc[s:s + size]
            cl = links.chunk(s, s + len(chunk)) if links is not None else None
            yield tagger.tag(chunk, name_column=name_column, source=str(input_path), summary=summary, links=cl,
                             context=frame.iloc[cl.context] if cl is not None else None)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()

    suffix = Path(output_path).suffix.lower()
    if suffix in CSV_SUFFIXES and len(starts) > 1:  # each chunk written as it is tagged: memory stays flat
        write_csv_parts(tagged(), output_path, sep="\t" if suffix == ".tsv" else ",", bom=True,
                        neutralize_formulas=not raw_csv)
    else:
        parts = list(tagged())
        # only the output is kept while it is written: the input rows (copied into it) and the chunks are let go, and
        # the pages the chunks' work left free go back to the system, so that the write's own peak does not stack on
        # theirs
        frame = table.frame = links = None
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        del parts
        if len(out) > size:
            _release_free_memory()
        summary.warnings += write_table(out, output_path, raw_csv=raw_csv, typed=table.typed)
    summary.seconds = time.perf_counter() - t0
    return summary
