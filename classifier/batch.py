"""Tag a whole file: read it, tag it in chunks (memory stays flat as files grow), write it atomically.

A file longer than one chunk is first read once for its identifying columns alone (code, name, tracked index,
benchmark: :func:`classifier.prepare.identify`), to link share classes and feeders and flag duplicate codes over the
whole file (:func:`classifier.linking.file_links`); each chunk is then tagged with the rows it follows from other
chunks beside it, so its output is what tagging the whole file at once would give.

Where processes fork (Linux), a file of ``tag.parallel_rows`` rows or more is cut into chunks that up to ``tag.jobs``
processes (default: one per CPU core this process may use) tag side by side: each chunk in a process forked for it
after the model, the file and the links are loaded, so it reads them without copying (:mod:`classifier.forked`);
chunks come back in file order, a CSV output as its text. The output is the same bytes as with one process (the
chunks' outputs do not depend on the chunking).
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .collector import collector_paused
from .columns import detect_columns
from .config import DEFAULTS_FILE, config_file, defaults, shipped_defaults
from .errors import InputError
from .io import CSV_SUFFIXES, csv_blocks, ends_on_sigterm, read_table, write_bytes_parts, write_table
from .linking import file_links, part_keys
from .pipeline import TagSummary, Tagger
from .prepare import identify

# What the chunk tasks read: set before the worker processes fork (they inherit it, nothing is pickled), cleared after.
_WORK: dict = {}


def _release_free_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere nothing happens)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def cpu_count() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def workers(rows: int, jobs: int | None = None) -> int:
    """How many processes tag a file of ``rows`` rows: ``jobs`` (default ``tag.jobs``; 0 = :func:`cpu_count`), but
    one for files under ``tag.parallel_rows`` rows and where processes cannot be forked (Windows; macOS, where forking
    a process that has loaded system frameworks is unsafe)."""
    cfg = defaults()["tag"]
    jobs = int(cfg["jobs"] if jobs is None else jobs)
    if jobs < 0:
        raise InputError(f"jobs = {jobs}: give 0 (one process per CPU core) or a positive number")
    if rows < int(cfg["parallel_rows"]) or sys.platform == "darwin":
        return 1
    import multiprocessing  # here, not at the top: a file tagged in one process does not load it

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return jobs or cpu_count()


def _chunk_size(rows: int, chunk_rows: int, n_workers: int) -> int:
    """Rows per chunk: ``chunk_rows`` rows are tagged at once over all the workers (memory stays that of one process
    tagging ``chunk_rows``), in a number of chunks that is a multiple of the workers (none idles while another tags
    the last chunk). A file of no rows is one chunk."""
    if n_workers <= 1 or rows <= 0:
        return chunk_rows
    k = -(-rows // max(1, chunk_rows // n_workers))
    k = -(-k // n_workers) * n_workers
    return max(1, -(-rows // k))


def _identify_task(start: int):
    w = _WORK
    chunk = w["frame"].iloc[start:start + w["size"]]
    with collector_paused():
        return part_keys(identify(chunk, w["colmap"], w["tagger"].vocab))


def _tag_task(start: int):
    """Tag one chunk; returns (its output: for a CSV file its text as UTF-8 pieces of up to ``CSV_BLOCK_ROWS`` rows,
    else the frame; its summary). The garbage collector is paused meanwhile
    (:func:`classifier.collector.collector_paused`): a chunk's work makes several hundred thousand lists, tuples and dicts, most of which stay to its end, and the
    collections over them (and over the model and the file, at each full one) cost the fund list 60-100 ms of its
    CPU and a 250k-row file in one process about a tenth; paused, the peak memory stayed the same (220 MB; 250k
    rows, ``--jobs 1``: 561 MB against 566)."""
    with collector_paused():
        return _tag_chunk(start)


def _tag_chunk(start: int):
    w = _WORK
    frame, links = w["frame"], w["links"]
    chunk = frame.iloc[start:start + w["size"]]
    cl = links.chunk(start, start + len(chunk)) if links is not None else None
    summary = TagSummary()
    out = w["tagger"].tag(chunk, name_column=w["name_column"], source=w["source"], summary=summary, links=cl,
                          context=frame.iloc[cl.context] if cl is not None else None, objects=w["csv"] is not None)
    if w["csv"] is not None:
        sep, neutralize = w["csv"]
        out = [t.encode("utf-8") for t in csv_blocks(out, sep, neutralize, header=start == 0)]
    return out, summary


@contextmanager
def _cleared():
    try:
        yield
    finally:
        _WORK.clear()


@contextmanager
def _runner(n_workers: int):
    """A ``map`` over chunk tasks, results in task order: in this process, or each task in a process forked for it
    (:func:`classifier.forked.forked_map`), which sees ``_WORK`` as it is when the task starts. Every forked map still
    running when the block ends is closed (its processes ended and waited for)."""
    if n_workers <= 1:
        yield map
        return
    from .forked import forked_map  # only where processes fork (it loads multiprocessing)

    maps = []

    def run(fn, tasks):
        maps.append(forked_map(fn, tasks, n_workers))
        return maps[-1]

    try:
        yield run
    finally:
        for m in maps:
            m.close()


def tag_file(input_path, output_path, model_dir=None, taxonomy_path=None, threshold=None, holdings_path=None,
             sw_map_path=None, name_column=None, progress=True, tagger: Tagger | None = None,
             labels_path="", sheet=None, raw_csv=False, chunk_rows: int | None = None,
             jobs: int | None = None) -> TagSummary:
    """Tag ``input_path`` into ``output_path``; nothing is written unless every row was tagged.

    ``labels_path``: the labeled set whose review decisions apply ('' the workspace's, else the shipped one; None
    none; see :meth:`Tagger.load`); ``sheet``: the worksheet of an XLSX input; ``raw_csv``: a CSV output without
    formula neutralisation (see :func:`classifier.io.write_table`, whose warnings join the summary's);
    ``chunk_rows``: rows tagged at once, over all processes (default ``tag.chunk_rows`` of the configuration);
    ``jobs``: processes (see :func:`workers`)."""
    t0 = time.perf_counter()
    rows_at_once = int(chunk_rows or defaults()["tag"]["chunk_rows"])
    if rows_at_once < 1:  # range() would give no chunk (every row lost) or fail
        raise InputError(f"{config_file() or DEFAULTS_FILE}: tag.chunk_rows = {rows_at_once}: give the rows tagged "
                         f"at once, a positive number (default {shipped_defaults()['tag']['chunk_rows']}); nothing "
                         f"written")
    if Path(output_path).resolve() == Path(input_path).resolve():
        raise InputError(f"{output_path}: output would overwrite the input; choose another file")
    table = read_table(input_path, sheet=sheet)
    tagger = tagger or Tagger.load(model_dir, taxonomy_path, threshold, holdings_path, sw_map_path, labels_path)
    summary = TagSummary(warnings=list(table.warnings), decisions=len(tagger.reviewed),
                         decisions_from=tagger.decisions_from, holdings=tagger.holdings is not None,
                         decisions_not_applied=tagger.reviewed_not_applied)
    summary.warnings += [f"{tagger.decisions_from}: {w}" for w in tagger.reviewed_ignored]
    frame = table.frame
    if len(frame) == 0:
        summary.warnings.append(f"{input_path}: header only, no rows; writing an empty output with the new columns")
    n_workers = workers(len(frame), jobs)
    size = _chunk_size(len(frame), rows_at_once, n_workers)
    starts = range(0, max(len(frame), 1), size)
    n_workers = min(n_workers, len(starts))
    suffix = Path(output_path).suffix.lower()
    csv = ("\t" if suffix == ".tsv" else ",", not raw_csv) if suffix in CSV_SUFFIXES else None
    colmap = detect_columns(list(frame.columns), str(input_path), name_column) if len(starts) > 1 else None
    _WORK.update(frame=frame, tagger=tagger, size=size, colmap=colmap, name_column=name_column, source=str(input_path),
                 csv=csv, links=None)
    # SIGTERM: the workers are ended and waited for, the temp file removed. Each task's process forks when the task
    # starts, so the tagging processes see the links found before them.
    with ends_on_sigterm(), _cleared(), _runner(n_workers) as run:
        if len(starts) > 1:
            _WORK["links"] = file_links(run(_identify_task, starts))
            _release_free_memory()  # what the light pass left free goes back before the chunks' work

        def tagged(run):
            bar = None
            if progress and len(starts) > 1:
                from tqdm import tqdm

                class Bar(tqdm):
                    monitor_interval = 0  # no monitor thread: this process forks while the bar is shown

                bar = Bar(total=len(frame), unit="fund", desc="tagging", leave=False)
            for s, (out, part) in zip(starts, run(_tag_task, starts)):
                summary.add(part)
                if bar is not None:
                    bar.update(min(size, len(frame) - s))
                yield out
            if bar is not None:
                bar.close()

        if csv is not None:  # each chunk written as it comes: memory stays flat
            write_bytes_parts((piece for pieces in tagged(run) for piece in pieces), output_path, bom=True)
            parts = None
        else:
            parts = list(tagged(run))
    if parts is not None:
        # only the output is kept while it is written (the worker processes have ended): the input rows (copied into
        # it) and the chunks are let go, and the pages the chunks' work left free go back to the system, so that the
        # write's own peak does not stack on theirs
        frame = table.frame = None
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        del parts
        if len(out) > size:
            _release_free_memory()
        summary.warnings += write_table(out, output_path, raw_csv=raw_csv, typed=table.typed, cells=table.cells)
    summary.seconds = time.perf_counter() - t0
    return summary
