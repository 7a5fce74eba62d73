"""scripts/benchmark_speed.py: wall time not tied to the memory sampling, and every row's ratio to the floor."""
import importlib.util
from pathlib import Path

import pandas as pd

_PATH = Path(__file__).resolve().parent.parent / "scripts" / "benchmark_speed.py"
_spec = importlib.util.spec_from_file_location("benchmark_speed", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_wall_time_resolves_a_tenth_of_a_second():
    """A process of 0.1 s is measured as about 0.1 s, not rounded up to the next memory sample (250 ms before)."""
    wall, cpu, largest, peak = bench.run_once(["sleep", "0.1"])
    assert 0.1 <= wall < 0.24  # the 250 ms sampling sleep made it ≥ 0.25 (0.257 measured); room for a loaded machine
    assert peak >= largest > 0


def _rows(tag_cpu: float, tag_wall: float, tag_mb: int) -> pd.DataFrame:
    rows = []
    for n, floor_cpu in ((1000, 0.3), (25322, 0.5)):
        rows.append({"set": "list", "format": "csv", "rows": n, "method": bench.FLOOR_METHOD, "peak MB": 170,
                     "_cpu": floor_cpu, "_wall": floor_cpu + 0.1})
        rows.append({"set": "list", "format": "csv", "rows": n, "method": "fundclass tag", "peak MB": tag_mb,
                     "_cpu": tag_cpu * n / 25322, "_wall": tag_wall * n / 25322})
    return pd.DataFrame(rows)


def test_ratio_to_the_floor_of_the_same_size():
    t = bench.with_floor_ratio(_rows(1.2, 1.8, 240))
    assert t["cpu × floor"].tolist() == [1.0, round(1.2 * 1000 / 25322 / 0.3, 2), 1.0, 2.4]
    assert t["wall × floor"].tolist() == [1.0, round(1.8 * 1000 / 25322 / 0.4, 2), 1.0, 3.0]


def test_verdict_on_the_whole_list():
    assert "CPU 1.80× (meets), wall 1.50× (meets), peak 240 MB (meets)" in bench.verdict(
        bench.with_floor_ratio(_rows(0.9, 0.9, 240)), 25322)
    assert "CPU 2.40× (misses), wall 3.00× (misses), peak 260 MB (misses)" in bench.verdict(
        bench.with_floor_ratio(_rows(1.2, 1.8, 260)), 25322)
