"""classifier.forked: each task in a process forked for it, at most n at once, results in task order."""
import os
import time

import pytest

from classifier.batch import workers
from classifier.forked import forked_map

pytestmark = pytest.mark.skipif(workers(10**9, 2) < 2, reason="processes do not fork here")


def _slow_square(x):
    time.sleep(0.05 * (5 - x % 5))  # later tasks finish first
    return x * x, os.getpid()


def test_results_come_in_task_order_each_from_its_own_process():
    got = list(forked_map(_slow_square, range(12), 3))
    assert [v for v, _ in got] == [x * x for x in range(12)]
    pids = [p for _, p in got]
    assert len(set(pids)) == 12 and os.getpid() not in pids


def _fails_on_3(x):
    if x == 3:
        raise ValueError("bad row 3")
    return x


def test_a_task_exception_is_raised_in_the_parent():
    with pytest.raises(ValueError, match="bad row 3"):
        list(forked_map(_fails_on_3, range(6), 2))


def _dies_on_2(x):
    if x == 2:
        os._exit(9)  # a process killed or out of memory sends nothing
    return x


def test_a_process_that_ends_without_a_result_is_an_error():
    with pytest.raises(RuntimeError, match=r"part 3 ended without a result \(exit code 9"):
        list(forked_map(_dies_on_2, range(5), 2))


def _quick_or_slow(path):
    if path is None:
        return "quick"
    path.write_text(str(os.getpid()))
    time.sleep(60)


def test_stopping_early_ends_the_running_processes(tmp_path):
    pid_file = tmp_path / "slow.pid"
    it = forked_map(_quick_or_slow, [None, pid_file], 2)
    assert next(it) == "quick"  # the slow task runs meanwhile
    deadline = time.time() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert os.path.exists(f"/proc/{pid}")
    it.close()
    assert not os.path.exists(f"/proc/{pid}")  # terminated and waited for


def test_a_sigterm_between_the_fork_and_the_childs_handlers_ends_the_child_not_a_copy_of_the_parent(tmp_path,
                                                                                                    monkeypatch):
    """The parent ends its running children with SIGTERM when one fails. One that arrived in a child between the
    fork and `_child` setting its own handlers ran the parent's handler there (`fundclass tag` raises to unwind):
    the child unwound through forked_map and the caller as if it were the parent (under pytest-xdist a CI run hung,
    the copy waiting for tests). The signal is now held from before the fork until the child's handlers are set,
    and then ends the child. Here each fork sends itself SIGTERM at once, to a parent whose handler marks a child
    that runs it."""
    import multiprocessing.popen_fork
    import signal

    parent = os.getpid()
    real_fork = os.fork

    def fork_then_term():
        pid = real_fork()
        if pid == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        return pid

    def handler(signum, frame):
        if os.getpid() != parent:  # the parent's handler run in a child
            (tmp_path / f"ran-in-{os.getpid()}").write_text("x")
            os._exit(0)
        raise KeyboardInterrupt

    monkeypatch.setattr(multiprocessing.popen_fork.os, "fork", fork_then_term)
    old = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(RuntimeError, match="ended without a result"):
            list(forked_map(_slow_square, range(2), 2))
    finally:
        signal.signal(signal.SIGTERM, old)
    assert not list(tmp_path.iterdir())
