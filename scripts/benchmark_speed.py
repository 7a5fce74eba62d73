"""Speed and memory on the whole fund universe, in one run: reading and writing the same file with pandas alone (the
floor), the bare 表 4 keyword baseline, and `fundclass tag` — each as a fresh process (start-up and model load
included), for 1k, 10k and all rows, so the growth with size is visible. Wall time is the median of --repeat runs;
peak memory is the child process's maximum resident set size.

Usage: python scripts/benchmark_speed.py [--input FUND_LIST.csv] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from classifier.config import defaults

DEFAULT_INPUT = "eastmoney_fundcode_20251117/fundcode_search_20251117.csv"
PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
FLOOR = "import sys, pandas as pd; pd.read_csv(sys.argv[1], dtype=str).to_csv(sys.argv[2], index=False)"
KEYWORDS = ("import sys, pandas as pd; from classifier.taxonomy import load_taxonomy; "
            "from classifier.rules import KeywordBaseline; df = pd.read_csv(sys.argv[1], dtype=str); "
            "df['secondary'] = KeywordBaseline(load_taxonomy()).predict(df['fund_short_name']); "
            "df.to_csv(sys.argv[2], index=False)")


def measure(cmd: list[str], repeat: int) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", PEAK, *cmd], capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
        peaks.append(int(r.stdout.strip().splitlines()[-1]) / 1024)
    return statistics.median(walls), max(peaks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=str(Path(defaults()["paths"]["raw_data"]) / DEFAULT_INPUT))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    full = pd.read_csv(a.input, dtype=str, keep_default_na=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1000, 10000, len(full)):
            src = Path(tmp) / f"in_{n}.csv"
            full.head(n).to_csv(src, index=False)
            out = Path(tmp) / f"out_{n}.csv"
            for method, cmd in (("pandas read+write (floor)", [sys.executable, "-c", FLOOR, str(src), str(out)]),
                                ("bare 表4 keywords", [sys.executable, "-c", KEYWORDS, str(src), str(out)]),
                                ("fundclass tag (fused model)", ["fundclass", "tag", str(src), "-o", str(out), "-s"]),
                                ("fundclass tag --rules-only",
                                 ["fundclass", "tag", str(src), "-o", str(out), "-s", "--rules-only"])):
                wall, peak = measure(cmd, a.repeat)
                rows.append({"rows": n, "method": method, "wall s": round(wall, 2), "rows/s": int(n / wall),
                             "peak MB": round(peak)})
    print(f"input: {a.input}; median of {a.repeat} runs; each a fresh process (start-up and model load included)\n")
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
