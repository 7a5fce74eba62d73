"""Python's cyclic garbage collector paused while many objects that stay are made (one job, no heavy imports, so
that the command line can pause it while it imports pandas, NumPy and pyarrow)."""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    """The collector paused while many objects that stay are made: the tagging code's imports (pandas, NumPy,
    pyarrow: ~150 collections over objects that all stay cost 40-60 ms of CPU, an eighth of the imports), a file's
    rows (a few hundred thousand lists that hold only strings form no cycles, and collecting over them as they pile
    up more than doubled the reading time: 250k rows, 2.2-2.7 s, 0.9-1.3 s paused), or a chunk's tagging
    (:mod:`classifier.batch`). Restored as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
