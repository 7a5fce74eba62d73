"""Map a function over tasks, each task in a process forked for it from this one: at most ``n`` at a time, results
back in task order (:func:`forked_map`).

Each task gets a fresh process, forked when the task starts, so it sees this process's memory as it is then (the
model, the file, the links) without copying it, and what one task leaves behind (caches, a fragmented heap) is gone
with its process. Only this thread forks, and no helper thread runs meanwhile: forking a process in which another
thread holds a lock copies the lock held, and the child waits on it forever. (``multiprocessing.Pool`` with
``maxtasksperchild`` forks from a handler thread; a 250k-row run ended with a new worker stuck on such a lock and the
pool waiting for it.) Linux only: the caller decides where to fork (:func:`classifier.batch.workers`).
"""
from __future__ import annotations

import gc
import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait


_STOP = {signal.SIGTERM, signal.SIGINT}


def _child(fn: Callable, task, conn) -> None:
    # the parent handles Ctrl-C and SIGTERM (it ends the children and removes its temp files); a child just ends
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP)  # blocked from the fork to here (see forked_map)
    try:
        result = (True, fn(task))
    except BaseException as exc:  # noqa: BLE001 — raised again in the parent, which reports it
        result = (False, exc)
    try:
        conn.send(result)
    except Exception as exc:  # noqa: BLE001 — a result or an exception that cannot be pickled
        conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    conn.close()


def forked_map(fn: Callable, tasks: Iterable, n: int) -> Iterator:
    """``fn(task)`` for each task, in task order, each computed in a process forked for it, at most ``n`` at once.

    An exception raised by a task is raised here, as is a process that ended without a result (killed, out of
    memory). When the iteration stops early (an exception, SIGTERM unwinding, ``close()``), the running processes
    are terminated and waited for. Objects alive now are frozen out of the garbage collector meanwhile (Python's
    advice for fork without exec: a child's collections would otherwise touch, and so copy, every page it shares
    with this process)."""
    ctx = multiprocessing.get_context("fork")
    tasks = list(tasks)
    running: dict[int, tuple] = {}  # task index → (process, connection)
    done: dict[int, tuple] = {}  # task index → (ok, value), waiting for its turn
    start = turn = 0
    gc.freeze()
    try:
        while turn < len(tasks):
            while start < len(tasks) and len(running) < n and len(running) + len(done) < 2 * n:
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(fn, tasks[start], send), daemon=True)
                # SIGTERM and SIGINT held from before the fork until the child has its own handlers: one arriving in
                # between (the parent ending its children after another's error) ran the parent's handler in the
                # child, which unwound through this function as if it were the parent (a test run hung on it)
                old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
                try:
                    proc.start()
                    running[start] = (proc, recv)
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, old)
                send.close()
                start += 1
            if turn in done:
                ok, value = done.pop(turn)
                turn += 1
                if not ok:
                    raise value
                yield value
                continue
            ready = wait([conn for _, conn in running.values()])
            for i, (proc, conn) in list(running.items()):
                if conn not in ready:
                    continue
                try:
                    done[i] = conn.recv()
                except EOFError:
                    proc.join()
                    done[i] = (False, RuntimeError(f"the process tagging part {i + 1} ended without a result "
                                                   f"(exit code {proc.exitcode}; out of memory?)"))
                conn.close()
                proc.join()
                del running[i]
    finally:
        for proc, _ in running.values():
            proc.terminate()
        for proc, conn in running.values():
            proc.join()
            conn.close()
        gc.unfreeze()
