"""The pipeline, the only place that chains the stages: read -> parse -> validate -> dedup -> shards ->
card, then the swap (staging.py).

`validate_dumps` is the first pass alone. `build` runs it, refuses invalid input, then writes the shards
from the valid papers the first pass spilled to disk, so memory holds the small dedup index and one
batch, never the text.
"""

from __future__ import annotations

import logging
import os
import shutil
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq
from tqdm import tqdm

from dataset_builder import dedup
from dataset_builder.dedup import ConflictPolicy, NearDuplicatePolicy
from dataset_builder.errors import DatasetError, InvalidInput
from dataset_builder.layout import (
    CARD,
    DEFAULT_INPUT,
    DEFAULT_OUT,
    DEFAULT_REPO_ID,
    is_valid_split,
    split_name,
)
from dataset_builder.passes import read_abstracts, scan_file, system_memory_pool, write_split
from dataset_builder.read import dump_paths
from dataset_builder.records import Problem
from dataset_builder.report import FileSummary, Report, counted
from dataset_builder.schema import load_in_background, paper_schema
from dataset_builder.settings import Settings
from dataset_builder.shards import DEFAULT_MAX_SHARD_BYTES, Shard
from dataset_builder.staging import check_replaceable, staging_folder, swap, target_of
from dataset_builder.timing import timed

log = logging.getLogger(__name__)

# Papers per pandera call, hash call and spill write: large, since each call has a fixed cost (7 ms for
# pandera), small enough that two threads' batches stay well inside the memory target (with 50,000, a
# 20k-paper dump was one batch and peak RSS grew 1.5x from 50k to 200k papers).
DEFAULT_BATCH_SIZE = 10_000
_SPILL_DIR = ".spill"
T = TypeVar("T")


def _spill_name(index: int) -> str:
    return f"{index:05d}.arrow"


@dataclass
class BuildResult:
    """What a build wrote: the report and, per dump (by its name in the build, layout.py), its shards."""

    report: Report
    out: Path
    splits: dict[str, list[Shard]] = field(default_factory=dict)

    def summary(self, width: int = 100) -> str:
        """The paragraph printed at the end of a build, wrapped at `width` without breaking a name."""
        report = self.report
        size = sum(s.size for shards in self.splits.values() for s in shards)
        rows = ", ".join(f"{name} {sum(s.rows for s in shards):,}" for name, shards in self.splits.items())
        empty = [f.name for f in report.files if f.split is None]
        skipped = f" Nothing from {', '.join(empty)}: all its papers were duplicates." if empty else ""
        near = report.near_duplicates
        found = f"; found {counted(len(near), 'near-duplicate')}" if near else ""
        text = (
            f"{counted(len(report.files), 'dump')}, {report.accounting()}{found}; wrote "
            f"{counted(report.total('kept'), 'row')} ({rows}) to "
            f"{self.out} ({size / 1e6:.1f} MB).{skipped}"
        )
        return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def find_dumps(inputs: Iterable[Path]) -> list[Path]:
    """The dump files named by INPUT arguments (files, or folders of `*.txt`), sorted by file name.

    Raises DatasetError naming every path that is not a readable dump file; `validate_dumps` and
    `build` report those as problems instead.
    """
    paths, problems = dump_paths(inputs)
    if problems:
        raise DatasetError("; ".join(map(str, problems)), file=problems[0].file, rule=problems[0].rule)
    return paths


@dataclass(frozen=True)
class _Policy:
    on_conflict: ConflictPolicy
    near_duplicates: NearDuplicatePolicy


@dataclass
class _Scan:
    report: Report
    plan: dedup.Plan


def validate_dumps(
    inputs: Iterable[Path] = (DEFAULT_INPUT,),
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    *,
    on_conflict: ConflictPolicy = "error",
    near_duplicates: NearDuplicatePolicy = "warn",
) -> Report:
    """Check dumps as `build` would, without writing anything; every problem is in the report."""
    paths, path_problems = dump_paths(inputs)
    policy = _Policy(on_conflict, near_duplicates)
    with system_memory_pool(), _pool(_workers(workers, paths)) as pool:
        report = _scan(paths, None, batch_size, pool, False, policy).report
    report.problems[:0] = path_problems
    return report


def build(
    inputs: Iterable[Path] = (DEFAULT_INPUT,),
    out: Path = DEFAULT_OUT,
    *,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    repo_id: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    on_conflict: ConflictPolicy = "error",
    near_duplicates: NearDuplicatePolicy = "warn",
    settings: Settings | None = None,
) -> BuildResult:
    """Build the dataset into `out`, replacing it only once everything is written.

    The first pass checks every dump and spills its valid papers to an Arrow file in the staging folder;
    the second writes the kept ones from there into shards. `workers` threads (default: one per core)
    work on separate dumps; the output is the same whatever their number. `repo_id` is the one the
    card names (default: a placeholder). `on_conflict` says what a revised paper (same title, another
    abstract) becomes: a problem (`error`), its first or its last version; `near_duplicates` whether
    papers with close titles and abstracts are reported (`warn`), also removed (`remove`), or not
    looked for (`off`); `settings` give the card's pretty name and license. Raises InvalidInput (with
    the full report) when any dump has a problem; `out` is then untouched.
    """
    from dataset_builder.card import hub_schema, render_card  # imports huggingface_hub

    paths, path_problems = dump_paths(inputs)
    check_replaceable(out)
    count = _workers(workers, paths)
    target = target_of(out)  # a symlinked --out keeps pointing at the new build
    with staging_folder(target) as staging:
        spills = staging / _SPILL_DIR
        spills.mkdir()
        with system_memory_pool(), _pool(count) as pool:
            scan = _scan(paths, spills, batch_size, pool, progress, _Policy(on_conflict, near_duplicates))
            scan.report.problems[:0] = path_problems
            if not scan.report.ok:
                raise InvalidInput(scan.report)
            result = BuildResult(scan.report, out)
            schema = hub_schema(paper_schema().arrow)
            abstracts = _revised_abstracts(scan.plan, spills)
            jobs = [
                (spills / _spill_name(i), summary.split, plan, staging, max_shard_bytes, schema, abstracts[i])
                for i, (summary, plan) in enumerate(zip(scan.report.files, scan.plan.files, strict=True))
                if summary.split is not None
            ]
            names = [job[1] for job in jobs]
            rows = [job[2].kept for job in jobs]
            with timed("write"):
                written = _run(write_split, jobs, names, rows, pool, "writing", progress)
        result.splits = {job[1]: shards for job, shards in zip(jobs, written, strict=True)}
        shutil.rmtree(spills)
        report = scan.report
        with timed("card"):
            card = render_card(
                report.files,
                result.splits,
                repo_id or DEFAULT_REPO_ID,
                settings,
                revisions=report.revisions,
                near_duplicates=report.near_duplicates,
                titles=_titles(staging, result.splits, {r.paper_id for r in report.revisions}),
                near_policy=near_duplicates,
            )
            (staging / CARD).write_text(card, encoding="utf-8")
        swap(staging, target)
    return result


def _titles(root: Path, dumps: dict[str, list[Shard]], ids: set[str]) -> dict[str, str]:
    """paper_id -> title of the papers `ids`, read back from the shards written under `root`."""
    if not ids:
        return {}
    found: dict[str, str] = {}
    for shard in (s for shards in dumps.values() for s in shards):
        table = pq.read_table(
            root / shard.path, columns=["paper_id", "title"], filters=[("paper_id", "in", ids)]
        )
        found.update(
            zip(table.column("paper_id").to_pylist(), table.column("title").to_pylist(), strict=True)
        )
    return found


def _revised_abstracts(plan: dedup.Plan, spills: Path) -> list[dict[int, str]]:
    """Per dump, position -> the abstract a revised paper takes from a later version (`last`)."""
    wanted: dict[int, set[int]] = {}
    for file_plan in plan.files:
        for source, position in file_plan.abstract_from.values():
            wanted.setdefault(source, set()).add(position)
    texts = {
        source: read_abstracts(spills / _spill_name(source), positions)
        for source, positions in wanted.items()
    }
    return [
        {kept: texts[source][position] for kept, (source, position) in file_plan.abstract_from.items()}
        for file_plan in plan.files
    ]


def _workers(requested: int | None, paths: Sequence[Path]) -> int:
    """Threads to use: as asked, or one per core (at most one per dump). Arrow, polars and the Parquet
    writer release the GIL, so threads share the cores without importing anything twice."""
    if requested is not None:
        return max(1, requested)
    return max(1, min(os.cpu_count() or 1, len(paths)))


def _pool(workers: int) -> ThreadPoolExecutor | nullcontext[None]:
    """Worker threads for both passes, started once; none when one worker is enough."""
    if workers <= 1:
        return nullcontext()
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataset-builder")


class _Stopped(Exception):
    """Raised in a worker thread at its next batch once the run is failing or stopped."""


def _run(
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
                    raise _Stopped(name)
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
                raise _Stopped(name)
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
                results = list(pool.map(call, range(len(jobs))))
        except BaseException:
            stop.set()
            raise
        bar.set_postfix_str(f"{papers[0]:,} papers; {last[0]}", refresh=True)
    return results


def _scan(
    paths: Sequence[Path],
    spills: Path | None,
    batch_size: int,
    pool: ThreadPoolExecutor | None,
    progress: bool,
    policy: _Policy,
) -> _Scan:
    """First pass: read, parse and validate every dump, then plan deduplication across all of them."""
    load_in_background()  # pandera's import overlaps the first reads
    near = policy.near_duplicates != "off"
    jobs = [
        (path, spills / _spill_name(i) if spills else None, batch_size, near) for i, path in enumerate(paths)
    ]
    names = [path.name for path in paths]
    with timed("first pass (read, parse, validate)"):
        scans = _run(scan_file, jobs, names, [p.stat().st_size for p in paths], pool, "checking", progress)
    report = Report()
    for scan in scans:
        report.files.append(scan.summary)
        report.problems.extend(scan.problems)
    keys = [scan.keys for scan in scans]
    plan = dedup.plan(keys, policy.on_conflict, policy.near_duplicates)
    report.problems.extend(plan.conflicts)
    report.duplicates = plan.duplicates
    report.revisions = plan.revisions
    report.near_duplicates = plan.near_duplicates
    if plan.near_skipped:
        log.info("near-duplicates: %s candidate pairs skipped by the caps", f"{plan.near_skipped:,}")
    near_duplicates = Counter(n.later.file for n in plan.near_duplicates)
    duplicates = Counter(d.file for d in plan.duplicates)
    conflicts = Counter(c.file for c in plan.conflicts)  # conflicts name the path as given
    for summary, file_plan in zip(report.files, plan.files, strict=True):
        summary.kept = file_plan.kept
        summary.duplicates = duplicates[summary.name]
        summary.revisions = plan.revised.get(summary.name, 0)
        summary.near_duplicates = near_duplicates[summary.name]
        summary.rejected += conflicts[summary.path]
    report.problems.extend(_assign_splits(report.files))
    return _Scan(report, plan)  # not the keys: their signatures and titles can go before pass 2


def _assign_splits(files: Sequence[FileSummary]) -> list[Problem]:
    """Name each dump's split; a dump whose papers were all duplicates gets none (no empty splits)."""
    problems = []
    taken: dict[str, str] = {}
    for summary in files:
        name = split_name(summary.name)
        if not is_valid_split(name):
            problems.append(
                Problem(summary.path, None, "split-name", f"cannot make a split name from {name!r}")
            )
        elif name in taken:
            problems.append(
                Problem(
                    summary.path,
                    None,
                    "split-collision",
                    f"split name {name!r} is also the name of {taken[name]}'s split; rename a file",
                )
            )
        else:
            taken[name] = summary.name
            if summary.kept:
                summary.split = name
    return problems
