"""Speed and memory, each as a fresh process (start-up and model load included), beside the pandas read+write floor.

Sets (``--sets``):

- ``list``: the whole fund list and its first 1k and 10k rows: the floor, the bare 表 4 keyword baseline,
  `fundclass tag` and `fundclass tag --rules-only`.
- ``realistic``: the fund list resampled to ``--sizes`` rows (default 25k and 250k) with new codes. Each extra copy
  of a fund carries a mark after its manager's name (华夏甲中证机器人ETF联接A), so share classes, feeders and their
  ETFs occur as in reality, each copy's among its own; codes interleave the copies (the ETFs, 5xxxxx/159xxx in the
  list, stay at the end), so in a 250k file the feeders at the front follow ETFs several chunks later. CSV and XLSX.
- ``unique``: every name unique (three rare characters after the manager's name) and 40% ETFs, 40% feeders whose
  ETF is nowhere (their characters come from another set), 20% other funds, real names of each kind: no share-class
  families, and every feeder goes through the fuzzy search against every ETF's key (the case that was quadratic:
  100k feeders × 100k ETFs at 250k rows). CSV.

Wall and CPU time (user + system: steadier on a shared machine; the CPU of every process, workers included) are
medians of ``--repeat`` runs; wall time is taken when the process ends. Every process runs with NumPy's BLAS on one
thread (``OPENBLAS_NUM_THREADS=1``, as fundclass sets for itself), so no idle BLAS thread's spinning counts as CPU. Every row gives both as a multiple of the
pandas read+write floor of the same set, format and size (``× floor``), and the list set ends with whether the whole
list meets issue 10's targets (≤ 2.0× the floor, ≤ 250 MB peak). `fundclass tag` tags a large file in one process
per CPU core (``tag.jobs``); the list set also shows it with ``--jobs 1``. Peak memory: of the whole process tree (its processes' proportional set sizes
summed, sampled every 20 ms: a page a forked worker shares with its parent counts once; at least the largest
process's), and of the largest single process (its maximum resident set size). With several sizes, a second table gives, per set and method, how time and
memory grew from the smallest size to the largest against the rows' growth (≤ 1: no worse than linear), CPU also net
of start-up (`fundclass tag` of a one-row file: imports, model and labels).

The package `fundclass` imports is byte-compiled first, as `pip install` does (Python then loads the compiled
modules rather than compiling each source file at every start): a development checkout run with
PYTHONDONTWRITEBYTECODE=1 would otherwise time the compilation of the package on every run, which no installed copy
pays.

Usage: python scripts/benchmark_speed.py [--sets list,realistic,unique] [--sizes 25000,250000] [--formats csv,xlsx]
       [--repeat 1] [--input FUND_LIST.csv] [--keep DIR]
"""
from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

import classifier
from classifier.config import defaults, project_path, raw_data_dir

# the `fundclass` of the environment running this script (its venv need not be on PATH), else the one on PATH
FUNDCLASS = shutil.which("fundclass", path=os.path.dirname(sys.executable)) or shutil.which("fundclass") or "fundclass"
DEFAULT_INPUT = "eastmoney_fundcode_20251117/fundcode_search_20251117.csv"
FLOOR = {"csv": "import sys, pandas as pd; pd.read_csv(sys.argv[1], dtype=str).to_csv(sys.argv[2], index=False)",
         "xlsx": "import sys, pandas as pd; pd.read_excel(sys.argv[1], dtype=str).to_excel(sys.argv[2], index=False)"}
KEYWORDS = ("import sys, pandas as pd; from classifier.taxonomy import load_taxonomy; "
            "from classifier.rules import KeywordBaseline; df = pd.read_csv(sys.argv[1], dtype=str); "
            "df['secondary'] = KeywordBaseline(load_taxonomy()).predict(df['fund_short_name']); "
            "df.to_csv(sys.argv[2], index=False)")
MARKS = "甲乙丙丁戊己辛壬癸子丑寅卯辰巳午未申酉戌亥"  # one per extra copy; no taxonomy term holds any of them
NAME = "fund_short_name"
SAMPLE_S = 0.02  # memory sampling interval (wall time does not depend on it)
TARGET = 2.0  # issue 10: the whole list in at most this multiple of the floor's time
MAX_MB = 250  # and at most this peak memory
FLOOR_METHOD = "pandas read+write (floor)"
# every process measured with NumPy's BLAS on one thread, as fundclass sets it for itself (classifier/cli.py): with
# its default thread per core, OpenBLAS's idle threads spin after NumPy loads, ~0.1 s of CPU the floor spent doing
# nothing (measured: the floor's CPU 0.50-0.53 s, 0.39-0.41 s on one thread, wall 0.41 s either way), which made the
# CPU ratios look ~20% better than the wall ones
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux /proc)."""
    out, i = [pid], 0
    while i < len(out):
        try:
            for task in os.listdir(f"/proc/{out[i]}/task"):
                with open(f"/proc/{out[i]}/task/{task}/children") as f:
                    out += [int(c) for c in f.read().split()]
        except OSError:
            pass
        i += 1
    return out


def _pss_kb(pid: int) -> int:
    """The proportional set size of ``pid``: its private resident pages, plus each page it shares with n processes
    as 1/n (summed over a process tree, every page counts once)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def run_once(cmd: list[str]) -> tuple[float, float, float, float]:
    """Wall time, CPU time (user + system, of the process and every process it waited for), the largest single
    process's peak resident memory (MB), and the peak memory of the whole process tree (MB): the larger of that and
    the tree's proportional set sizes summed, sampled every ``SAMPLE_S`` by a thread (a process that forks workers is
    counted with them, each page they share once). Wall time is taken when the process ends (``wait4`` blocks on it),
    not at the next sample."""
    peak = {"kb": 0}
    done = threading.Event()
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=ENV)

        def sample() -> None:
            while not done.is_set():
                peak["kb"] = max(peak["kb"], sum(_pss_kb(p) for p in _tree(proc.pid)))
                done.wait(SAMPLE_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read().decode('utf-8', 'replace')[-2000:]}")
    # wait4's usage of a child includes the processes it waited for itself (the workers a pool ends)
    largest = usage.ru_maxrss / 1024
    return wall, usage.ru_utime + usage.ru_stime, largest, max(peak["kb"] / 1024, largest)


def measure(cmd: list[str], repeat: int) -> tuple[float, float, float, float]:
    """Median wall time, median CPU time (user + system), and the largest peak memory (MB) of ``repeat`` runs: of the
    largest single process, and of the process tree (see :func:`run_once`)."""
    runs = [run_once(cmd) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), max(r[2] for r in runs),
            max(r[3] for r in runs))


def _after_manager(names: list[str], inserts: list[str]) -> list[str]:
    """Each name with its insert placed after the manager's name (at the start when none is known)."""
    from classifier.vocabulary import load_vocabulary

    prefix = load_vocabulary().manager_prefix
    out = []
    for name, ins in zip(names, inserts):
        m = prefix.match(name)
        k = m.end() if m else 0
        out.append(name[:k] + ins + name[k:])
    return out


def realistic(full: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows resampled from the fund list: ⌈n / len⌉ copies (copy r > 0 marked by MARKS[r-1] after the
    manager), codes interleaved copy by copy, then rows dropped at random down to ``n`` (order kept)."""
    size = len(full)
    copies = -(-n // size)
    if copies > len(MARKS) + 1:
        raise SystemExit(f"at most {(len(MARKS) + 1) * size} realistic rows")
    parts = []
    for r in range(copies):
        c = full.copy()
        c[NAME] = _after_manager(c[NAME].tolist(), [MARKS[r - 1] if r else ""] * size)
        c["_order"] = np.arange(size) * copies + r
        parts.append(c)
    out = pd.concat(parts, ignore_index=True).sort_values("_order", kind="stable")
    keep = np.sort(np.random.default_rng(seed).choice(len(out), n, replace=False))
    out = out.iloc[keep].reset_index(drop=True)
    out["fund_code"] = [f"{k:06d}" for k in out.pop("_order")]
    return out


def _rare_characters(full: pd.DataFrame, k: int) -> list[str]:
    """``k`` CJK characters that occur in no fund name of the list and no taxonomy file, and that normalization
    (traditional → simplified) keeps as they are."""
    seen = set("".join(full[NAME].tolist()))
    for f in project_path("taxonomy").glob("*.toml"):
        seen |= set(f.read_text(encoding="utf-8"))
    from classifier.normalize import clean_many

    chars = [chr(c) for c in range(0x4E00, 0x9FA6) if chr(c) not in seen]
    return [c for c, cl in zip(chars, clean_many(chars)) if c == cl][:k]  # kept as they are by normalization


def unique_names(full: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows, every name unique and no feeder with an ETF: row by row two ETFs, two feeders (联接), one other
    fund, each a real name of that kind (with its fund type) drawn at random, made unique by three characters (the
    row number in base 200) after the manager. Feeders draw theirs from another 200 characters than the other rows, so
    no feeder is within fuzzy reach of any ETF: every feeder goes through the fuzzy search against 40% of the rows."""
    names = full[NAME]
    feeder = names.str.contains("联接").to_numpy()
    etf = names.str.contains("ETF").to_numpy() & ~feeder
    kinds = [np.flatnonzero(etf), np.flatnonzero(feeder), np.flatnonzero(~etf & ~feeder)]
    role = np.array([0, 0, 1, 1, 2])[np.arange(n) % 5]
    rng = np.random.default_rng(seed)
    pick = np.empty(n, dtype=np.int64)
    for r, rows in enumerate(kinds):
        at = role == r
        pick[at] = rng.choice(rows, int(at.sum()))
    out = full.iloc[pick].reset_index(drop=True)
    rare = _rare_characters(full, 400)
    pools = (rare[:200], rare[200:])

    def serial(i: int, pool: list[str]) -> str:
        return pool[i // 40000 % 200] + pool[i // 200 % 200] + pool[i % 200]

    out[NAME] = _after_manager(out[NAME].tolist(), [serial(i, pools[int(r == 1)]) for i, r in enumerate(role)])
    out["fund_code"] = [f"{i:06d}" for i in range(n)]
    return out


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False, engine="xlsxwriter")
    else:
        frame.to_csv(path, index=False)


def with_floor_ratio(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the columns ``cpu × floor`` and ``wall × floor``: each row's CPU and wall time over those of the
    pandas read+write floor of the same set, format and size (from the unrounded medians)."""
    floor = table[table["method"] == FLOOR_METHOD].set_index(["set", "format", "rows"])
    key = pd.MultiIndex.from_frame(table[["set", "format", "rows"]])
    out = table.copy()
    for col, src in (("cpu × floor", "_cpu"), ("wall × floor", "_wall")):
        out[col] = (table[src].to_numpy() / floor[src].reindex(key).to_numpy()).round(2)
    return out


def verdict(table: pd.DataFrame, n: int) -> str:
    """One line per `fundclass tag` method on the whole list (``n`` rows): its ratios to the floor and peak memory,
    against issue 10's targets (≤ TARGET× the floor, ≤ MAX_MB)."""
    lines = [f"whole list ({n:,} rows), target ≤ {TARGET:.1f}× the floor and ≤ {MAX_MB} MB peak:"]
    part = table[(table["set"] == "list") & (table["rows"] == n) & table["method"].str.startswith("fundclass tag")]
    for r in part.to_dict("records"):
        marks = ["meets" if ok else "misses" for ok in
                 (r["cpu × floor"] <= TARGET, r["wall × floor"] <= TARGET, r["peak MB"] <= MAX_MB)]
        lines.append(f"- {r['method']}: CPU {r['cpu × floor']:.2f}× ({marks[0]}), wall {r['wall × floor']:.2f}× "
                     f"({marks[1]}), peak {r['peak MB']} MB ({marks[2]})")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=str(raw_data_dir() / DEFAULT_INPUT))
    ap.add_argument("--sets", default="list,realistic,unique")
    ap.add_argument("--sizes", default="25000,250000")
    ap.add_argument("--formats", default="csv,xlsx", help="formats of the realistic set (the others are CSV)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", default=None, help="keep the generated inputs and the outputs in this folder")
    a = ap.parse_args()
    package = Path(classifier.__file__).parent
    if not compileall.compile_dir(str(package), quiet=1):
        raise SystemExit(f"could not byte-compile {package}")
    full = pd.read_csv(a.input, dtype=str, keep_default_na=False)
    sizes = [int(s) for s in a.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)

        def run(label: str, fmt: str, frame: pd.DataFrame, methods) -> None:
            n = len(frame)
            src, out = work / f"{label}_{n}.{fmt}", work / f"{label}_{n}_tagged.{fmt}"
            _write(frame, src)
            for method, cmd in methods(src, out):
                wall, cpu, largest, peak = measure(cmd, a.repeat)
                rows.append({"set": label, "format": fmt, "rows": n, "method": method, "wall s": round(wall, 2),
                             "cpu s": round(cpu, 2), "rows/s": int(n / wall), "peak MB": round(peak),
                             "largest process MB": round(largest), "_wall": wall, "_cpu": cpu})
                print(rows[-1], file=sys.stderr, flush=True)

        def tag_only(fmt):
            return lambda src, out: (
                (FLOOR_METHOD, [sys.executable, "-c", FLOOR[fmt], str(src), str(out)]),
                ("fundclass tag", [FUNDCLASS, "tag", str(src), "-o", str(out), "-s"]))

        sets = a.sets.split(",")
        startup = None
        if len(sizes) > 1 and ({"realistic", "unique"} & set(sets)):
            src, out = work / "one_row.csv", work / "one_row_tagged.csv"
            full.head(1).to_csv(src, index=False)
            startup = measure([FUNDCLASS, "tag", str(src), "-o", str(out), "-s"], max(a.repeat, 3))[1]
        if "list" in sets:
            for n in (1000, 10000, len(full)):
                run("list", "csv", full.head(n), lambda src, out: (
                    (FLOOR_METHOD, [sys.executable, "-c", FLOOR["csv"], str(src), str(out)]),
                    ("bare 表4 keywords", [sys.executable, "-c", KEYWORDS, str(src), str(out)]),
                    ("fundclass tag", [FUNDCLASS, "tag", str(src), "-o", str(out), "-s"]),
                    ("fundclass tag --jobs 1", [FUNDCLASS, "tag", str(src), "-o", str(out), "-s", "--jobs", "1"]),
                    ("fundclass tag --rules-only", [FUNDCLASS, "tag", str(src), "-o", str(out), "-s",
                                                    "--rules-only"])))
        for n in sizes:
            if "realistic" in sets:
                frame = realistic(full, n)
                for fmt in a.formats.split(","):
                    run("realistic", fmt, frame, tag_only(fmt))
            if "unique" in sets:
                run("unique", "csv", unique_names(full, n), tag_only("csv"))
    print(f"input: {a.input}; chunk_rows {defaults()['tag']['chunk_rows']}; median of {a.repeat} run(s); each a "
          f"fresh process (start-up and model load included); {package} byte-compiled as an install is" +
          (f"; start-up (fundclass tag of one row) {startup:.1f} s CPU" if startup is not None else "") + "\n")
    table = with_floor_ratio(pd.DataFrame(rows))
    print(table.drop(columns=["_wall", "_cpu"]).to_markdown(index=False))
    if "list" in sets:
        print("\n" + verdict(table, len(full)))
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        g = table[table["rows"].isin([lo, hi]) & (table["set"] != "list")]
        growth = []
        for (s, f, m), part in g.groupby(["set", "format", "method"], sort=False):
            x = part.set_index("rows")
            if lo in x.index and hi in x.index:
                t_lo, t_hi = x.at[lo, "wall s"], x.at[hi, "wall s"]
                c_lo, c_hi = x.at[lo, "cpu s"], x.at[hi, "cpu s"]
                row = {"set": s, "format": f, "method": m, f"wall ×{hi / lo:g} rows": round(t_hi / t_lo, 1),
                       "wall growth / rows growth": round(t_hi / t_lo / (hi / lo), 2),
                       "cpu growth / rows growth": round(c_hi / c_lo / (hi / lo), 2)}
                if m == "fundclass tag" and startup is not None and c_lo > startup:
                    row["cpu, net of start-up"] = round((c_hi - startup) / (c_lo - startup) / (hi / lo), 2)
                row["memory ×"] = round(x.at[hi, "peak MB"] / x.at[lo, "peak MB"], 1)
                growth.append(row)
        if growth:  # sizes of the realistic or unique set (the list set has no growth row)
            g = pd.DataFrame(growth)
            first = [c for c in g.columns if c != "memory ×"]
            print("\n" + g[first + ["memory ×"]].to_markdown(index=False))


if __name__ == "__main__":
    main()
