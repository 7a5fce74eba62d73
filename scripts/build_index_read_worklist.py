"""Worklist of CSI indices no labeled fund tracks, for blind reads (data/labeled/reads/indices/).

New listings mostly track indices published before they list, and most indices in the CSI list have no fund in the
labeled sets: a fund tracking one is an unseen head, whose doubt the tool can only guess. Blind reads of those indices
(readers given the taxonomy and the report only, the index's code and short name, no fund) give such a fund the
readers' agreement as a known head's does (``head_reads`` of the model's agreement calibrator).

Rows: the CSI index list's indices (yalishanyi_csindex_list/csindex_index_list.csv) whose code key and subject key
are not a labeled fund's (data/labeled/labels.csv, which E Fund's set shares), bond and money-market indices left out
by name (out of both taxonomies' scope: nothing to read), then a seeded random sample of ``--n`` of them, in code order.
Never reads the holdout.

A second round, ``--after`` the first round's worklist: the indices of the pool it does not hold (``--n 0``: all of
them), numbered on from its last head_id.

Usage: python scripts/build_index_read_worklist.py [--n 720] [--seed 20261202] [-o data/labeled/reads/indices/worklist.csv]
       python scripts/build_index_read_worklist.py --after data/labeled/reads/indices/worklist.csv --n 0 -o …/worklist_2.csv
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd

from classifier.columns import detect_columns
from classifier.config import project_path, raw_data_dir
from classifier.index_key import code_keys, subject_keys
from classifier.labeled import ID_COLUMNS, read_labels
from classifier.prepare import key_fields

CSI_LIST = "yalishanyi_csindex_list/csindex_index_list.csv"
# bond, rate, credit and money-market indices: no equity fund's class to read (an input filter of this script only)
NOT_EQUITY = re.compile(r"债|利率|信用|货币|存单|久期|国开|政金|城投|可转|同业|ABS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=720)
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--after", default=None, help="an earlier round's worklist: leave its indices out, number on")
    ap.add_argument("-o", "--output", default=str(project_path("data/labeled/reads/indices/worklist.csv")))
    a = ap.parse_args()
    csi = pd.read_csv(raw_data_dir() / CSI_LIST, dtype=str, keep_default_na=False)
    labels = read_labels(project_path("data/labeled/labels.csv"))
    known_p = key_fields(labels[ID_COLUMNS], detect_columns(ID_COLUMNS))
    known = (set(code_keys(known_p)) | set(subject_keys(known_p))) - {""}
    frame = pd.DataFrame({"fund_code": "", "fund_name": "", "full_name": "", "index_code": csi["index_code"],
                          "index_name": csi["display_name"], "fund_type": ""})
    p = key_fields(frame, detect_columns(list(frame.columns)))
    seen = np.array([c in known or s in known for c, s in zip(code_keys(p), subject_keys(p))])
    equity = ~csi["display_name"].str.contains(NOT_EQUITY).to_numpy()
    pool = csi[~seen & equity]
    first = 0
    if a.after:
        before = pd.read_csv(a.after, dtype=str, keep_default_na=False)
        pool = pool[~pool["index_code"].isin(set(before["index_code"]))]
        first = max(int(h[1:]) for h in before["head_id"])
    n = len(pool) if a.n == 0 else min(a.n, len(pool))
    rng = np.random.default_rng(a.seed)
    pick = pool.iloc[np.sort(rng.choice(len(pool), size=n, replace=False))]
    out = pd.DataFrame({"head_id": [f"I{first + i + 1:04d}" for i in range(len(pick))],
                        "index_code": pick["index_code"].tolist(), "index_name": pick["display_name"].tolist(),
                        "publish_date": pick["publish_date"].tolist()})
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(a.output, index=False)
    print(f"{len(csi)} CSI indices; {int(seen.sum())} a labeled fund tracks; {int((~equity).sum())} bond or money "
          f"market; {len(pool)} left; {len(out)} sampled (seed {a.seed}) -> {a.output}")


if __name__ == "__main__":
    main()
