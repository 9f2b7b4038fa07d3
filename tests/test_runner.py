"""runner.py: jobs on worker threads in order, a failure stops the others at their next batch, stops
by signal, and the process-wide allocator settings only when asked for."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable

import pytest
from conftest import PYTHON, WriteDump, abstract

from dataset_builder.errors import Interrupted
from dataset_builder.runner import (
    Stopped,
    deferred_stops,
    run_jobs,
    stop_on_signals,
    thread_pool,
    worker_count,
)


def test_worker_count_is_as_asked_or_one_per_core_and_job() -> None:
    assert worker_count(3, 1) == 3
    assert worker_count(0, 5) == 1
    assert worker_count(None, 1) == 1
    assert worker_count(None, 100) == (os.cpu_count() or 1)


def square(n: int, progress: Callable[[int, int], None]) -> int:
    progress(n, 1)
    return n * n


def test_results_come_in_job_order_with_or_without_threads() -> None:
    jobs = [(n,) for n in range(6)]
    names = [f"job{n}" for n in range(6)]
    for workers in (1, 2):
        with thread_pool(workers) as pool:
            assert run_jobs(square, jobs, names, [n for n in range(6)], pool, "checking", False) == [
                n * n for n in range(6)
            ]


def test_a_failing_job_stops_the_others_at_their_next_batch() -> None:
    """The failing job comes second: the run must not wait for the first to end before stopping it."""
    started = threading.Event()
    stopped: list[Stopped] = []

    def job(n: int, progress: Callable[[int, int], None]) -> None:
        if n == 1:
            started.wait()
            raise ValueError("broken dump")
        started.set()
        try:
            while True:  # batch after batch, as long as nobody stops it
                progress(1, 1)
        except Stopped as e:
            stopped.append(e)
            raise

    with thread_pool(2) as pool, pytest.raises(ValueError, match="broken dump"):
        run_jobs(job, [(0,), (1,)], ["a", "b"], [1, 1], pool, "checking", False)
    assert [str(e) for e in stopped] == ["a"]


def test_a_stop_during_a_deferred_block_waits_until_it_is_done() -> None:
    finished = []
    with stop_on_signals(), pytest.raises(Interrupted) as caught, deferred_stops():
        signal.raise_signal(signal.SIGTERM)  # the handler runs before this returns: it only notes the stop
        finished.append(True)
    assert finished == [True]
    assert caught.value.signum == signal.SIGTERM and caught.value.completed
    with stop_on_signals(), pytest.raises(Interrupted) as caught:
        signal.raise_signal(signal.SIGINT)
        finished.append(False)
    assert finished == [True] and not caught.value.completed


def test_stop_on_signals_restores_the_previous_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_library_leaves_the_allocator_alone_the_command_sets_it(write_dump: WriteDump) -> None:
    dump = write_dump("a.txt", ["A Fine Title", abstract("fine titles")])
    script = (
        "import sys; import pyarrow as pa; from dataset_builder.pipeline import validate_dumps; "
        "from dataset_builder.runner import use_system_memory; "
        "before = pa.default_memory_pool().backend_name; "
        "assert validate_dumps([__import__('pathlib').Path(sys.argv[1])]).ok; "
        "after = pa.default_memory_pool().backend_name; use_system_memory(); "
        "print(before, after, pa.default_memory_pool().backend_name)"
    )
    done = subprocess.run([PYTHON, "-c", script, str(dump)], capture_output=True, text=True, check=True)
    before, after, chosen = done.stdout.split()
    assert before == after != "system"
    assert chosen == "system"
