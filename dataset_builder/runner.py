"""Running jobs: the worker threads, their progress bar, stops (SIGINT, SIGTERM, SIGHUP) and the
process's memory allocator; nothing about what the jobs do (pipeline.py chains the stages, passes.py
holds them).

`stop_on_signals` turns SIGINT, SIGTERM and SIGHUP into `Interrupted`, so a run's clean-up (the staging
folder) happens on the way out like after any failure; `deferred_stops` holds a stop while a block that must
not be cut in half runs (staging.py's swap). `use_system_memory` changes the whole process and is only
for a program that owns its process, like the `dataset-builder` command; the library never calls it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import pyarrow as pa
from tqdm import tqdm

from dataset_builder.errors import STOP_SIGNALS, Interrupted

T = TypeVar("T")
# mallopt's parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


class Stopped(Exception):
    """Raised in a worker thread at its next batch once the run is failing or stopped."""


def worker_count(requested: int | None, jobs: int) -> int:
    """Threads to use: as asked, or one per core (at most one per job). Arrow, polars and the Parquet
    writer release the GIL, so threads share the cores without importing anything twice."""
    if requested is not None:
        return max(1, requested)
    return max(1, min(os.cpu_count() or 1, jobs))


def thread_pool(workers: int) -> ThreadPoolExecutor | nullcontext[None]:
    """Worker threads for every pass of a run, started once; none when one worker is enough."""
    if workers <= 1:
        return nullcontext()
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataset-builder")


def run_jobs(
    function: Callable[..., T],
    jobs: Sequence[tuple[Any, ...]],
    names: Sequence[str],
    sizes: Sequence[int],
    pool: ThreadPoolExecutor | None,
    desc: str,
    progress: bool,
) -> list[T]:
    """Run `function(*job, progress=...)` for every job, in the pool if there is one; results in job
    order. The bar counts `sizes` (bytes of dumps, or rows of splits) as each job reports them, batch
    by batch, and the papers done, and names every job in progress.

    When the run fails or is stopped (Ctrl-C, SIGTERM: raised in the main thread), the other worker
    threads stop at their next batch, so the staging folder is removed only once nothing writes to it.
    """
    stop = threading.Event()
    unit = "B" if desc == "checking" else " rows"
    with tqdm(total=sum(sizes), desc=desc, unit=unit, unit_scale=True, disable=not progress) as bar:
        lock = threading.Lock()
        active: dict[str, int] = {}
        papers = [0]
        last = [""]  # the job that reported last: named in the bar once none is in progress

        def reporter(name: str) -> Callable[[int, int], None]:
            def report(done: int, count: int) -> None:
                if stop.is_set():
                    raise Stopped(name)
                with lock:
                    bar.update(done - active.get(name, 0))
                    active[name] = done
                    papers[0] += count
                    bar.set_postfix_str(f"{papers[0]:,} papers; {', '.join(active)}", refresh=False)
                    last[0] = name

            return report

        def call(index: int) -> T:
            name = names[index]
            if stop.is_set():
                raise Stopped(name)
            with lock:
                active.setdefault(name, 0)
            result = function(*jobs[index], progress=reporter(name))
            with lock:
                bar.update(sizes[index] - active.pop(name, 0))
            return result

        try:
            if pool is None or len(jobs) <= 1:
                results = [call(i) for i in range(len(jobs))]
            else:
                futures = [pool.submit(call, i) for i in range(len(jobs))]
                # Not pool.map: it waits for the jobs in order, so a later job's failure would stop
                # nobody until every earlier job had finished.
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                for future in futures:
                    error = future.exception() if future in done else None
                    if error is not None:
                        raise error
                results = [future.result() for future in futures]
        except BaseException:
            stop.set()
            raise
        bar.set_postfix_str(f"{papers[0]:,} papers; {last[0]}", refresh=True)
    return results


class _Stops:
    """While `deferring`, a stop signal is kept in `pending` instead of raised."""

    deferring = False
    pending: int | None = None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise `Interrupted` in the main thread on any of STOP_SIGNALS; later ones are ignored while the
    run cleans up. The previous handlers are restored after the block."""

    def stop(signum: int, frame: object) -> None:
        if _Stops.deferring:
            _Stops.pending = signum
            return
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the caller's own stay in charge
        return
    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def deferred_stops() -> Iterator[None]:
    """Hold a stop until the block is done; then raise it, marked as coming after the work."""
    _Stops.deferring, _Stops.pending = True, None
    try:
        yield
    finally:
        _Stops.deferring = False
    if _Stops.pending is not None:
        signum, _Stops.pending = _Stops.pending, None
        raise Interrupted(signum, completed=True)


def use_system_memory() -> None:
    """For the rest of the process, Arrow allocates with the system allocator and glibc's malloc maps
    buffers of 1 MiB and more and unmaps them when freed.

    Process-wide, so only a program that owns its process calls it (cli.py for `dataset-builder`);
    builds run as a library keep their host's allocator. pyarrow's default pool (mimalloc) keeps freed
    pages resident: on 200k papers it cost 30 MB more peak RSS and was no faster. glibc's mmap
    threshold grows to 32 MiB as pieces are freed, after which each thread's arena keeps the freed
    pieces resident: 200k papers took 350 MB with one thread and 530-590 MB with two, against 290 and
    400 MB with this (ru_maxrss, interleaved runs). Other C libraries (musl, macOS) do without it.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    libc.mallopt(_M_TRIM_THRESHOLD, 4 << 20)
