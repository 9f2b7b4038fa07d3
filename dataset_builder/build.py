"""The pipeline: read -> parse -> validate -> dedup -> shards -> card, then the swap (staging.py).

`validate_dumps` is the first pass alone. `build` runs it, refuses invalid input, then writes the shards
from the valid papers the first pass spilled to disk, so memory holds the small dedup index and one
batch, never the text.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from dataset_builder import dedup
from dataset_builder.card import DEFAULT_REPO_ID, hub_schema, render_card
from dataset_builder.dedup import ConflictPolicy, NearDuplicatePolicy
from dataset_builder.passes import read_abstracts, scan_file, start_worker, system_memory_pool, write_split
from dataset_builder.read import dump_paths
from dataset_builder.records import DatasetError, InvalidInput, Problem
from dataset_builder.report import FileSummary, Report, counted
from dataset_builder.schema import paper_schema
from dataset_builder.settings import Settings
from dataset_builder.shards import DEFAULT_MAX_SHARD_BYTES, Shard
from dataset_builder.staging import check_replaceable, staging_folder, swap, target_of

log = logging.getLogger(__name__)

DEFAULT_INPUT = Path("dumps")
DEFAULT_OUT = Path("dist")
DEFAULT_BATCH_SIZE = 5_000
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")  # datasets.splits._split_re
# Below this much input, worker processes (each imports pyarrow, polars and pandera) save under a second
# and more than double peak memory (docs/benchmarks.md: 285 MB of dumps build as fast with one process).
_PARALLEL_FROM_BYTES = 512 * 1024 * 1024
_SPILL_DIR = ".spill"
T = TypeVar("T")


def _spill_name(index: int) -> str:
    return f"{index:05d}.arrow"


@dataclass
class BuildResult:
    """What a build wrote: the report and, per split, its shards."""

    report: Report
    out: Path
    splits: dict[str, list[Shard]] = field(default_factory=dict)

    def summary(self) -> str:
        """The paragraph printed at the end of a build."""
        report = self.report
        size = sum(s.size for shards in self.splits.values() for s in shards)
        rows = ", ".join(f"{name} {sum(s.rows for s in shards)}" for name, shards in self.splits.items())
        empty = [f.name for f in report.files if f.split is None]
        skipped = f" No split for {', '.join(empty)}: all its papers were duplicates." if empty else ""
        revised = report.total("revisions")
        merged = f"; merged {counted(revised, 'revision')} of {counted(len(report.revisions), 'paper')}"
        merged = merged if revised else ""
        if report.near_duplicates:
            merged += f"; found {counted(len(report.near_duplicates), 'near-duplicate')}"
        return (
            f"Read {report.total('read')} papers from {len(report.files)} dump(s); removed "
            f"{report.total('duplicates')} duplicates{merged}; wrote {report.total('kept')} rows in "
            f"{len(self.splits)} split(s) ({rows}) to {self.out} ({size / 1e6:.1f} MB).{skipped}"
        )


def find_dumps(inputs: Iterable[Path]) -> list[Path]:
    """The dump files named by INPUT arguments (files, or folders of `*.txt`), sorted by file name.

    Raises DatasetError naming every path that is not a readable dump file; `validate_dumps` and
    `build` report those as problems instead.
    """
    paths, problems = dump_paths(inputs)
    if problems:
        raise DatasetError("; ".join(map(str, problems)), file=problems[0].file, rule=problems[0].rule)
    return paths


def split_name(file_name: str) -> str:
    """The split a dump becomes: its file stem, with what a split name cannot hold replaced by `_`."""
    return re.sub(r"\W+", "_", Path(file_name).stem).strip("_")


@dataclass(frozen=True)
class _Policy:
    on_conflict: ConflictPolicy
    near_duplicates: NearDuplicatePolicy


@dataclass
class _Scan:
    report: Report
    keys: list[dedup.FileKeys]
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
    repo_id: str = DEFAULT_REPO_ID,
    workers: int | None = None,
    progress: bool = False,
    on_conflict: ConflictPolicy = "error",
    near_duplicates: NearDuplicatePolicy = "warn",
    settings: Settings | None = None,
) -> BuildResult:
    """Build the dataset into `out`, replacing it only once everything is written.

    The first pass checks every dump and spills its valid papers to an Arrow file in the staging folder;
    the second writes the kept ones from there into shards. `workers` processes (default: one per core
    when the input is large enough to pay for starting them) work on separate dumps; the output is the
    same whatever their number. `on_conflict` says what a revised paper (same title, another abstract)
    becomes: a problem (`error`), its first or its last version; `near_duplicates` whether papers with
    close titles and abstracts are reported (`warn`), also removed (`remove`), or not looked for
    (`off`); `settings` give the card's pretty name and license. Raises InvalidInput (with the full
    report) when any dump has a problem; `out` is then untouched.
    """
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
            written = _run(write_split, jobs, pool, "writing", progress)
        result.splits = {job[1]: shards for job, shards in zip(jobs, written, strict=True)}
        shutil.rmtree(spills)
        report = scan.report
        card = render_card(
            report.files,
            result.splits,
            repo_id,
            settings,
            revisions=report.revisions,
            near_duplicates=report.near_duplicates,
        )
        (staging / "README.md").write_text(card, encoding="utf-8")
        swap(staging, target)
    log.info(result.summary())
    return result


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
    """Processes to use: as asked, or one per core (at most one per dump) for inputs worth it."""
    if requested is not None:
        return max(1, requested)
    if sum(p.stat().st_size for p in paths) < _PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, len(paths)))


@contextmanager
def _pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes for both passes, started once; none when one worker is enough.

    On any failure or stop the workers are terminated at once (they may be mid-file), not waited for.
    """
    if workers <= 1:
        yield None
        return
    # spawn, not fork: the parent may hold threads of pyarrow and polars, which fork would copy locked.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=start_worker)
    try:
        yield pool
    except BaseException:
        processes = list((pool._processes or {}).values())  # no public way before Python 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        raise
    pool.shutdown()


def _run(
    function: Callable[..., T],
    jobs: Sequence[tuple[Any, ...]],
    pool: ProcessPoolExecutor | None,
    desc: str,
    progress: bool,
) -> list[T]:
    """Run `function(*job)` for every job, in the pool if there is one; results in job order.

    Each job's first element is the file it reads; the progress bar counts their bytes and names the
    file last finished.
    """
    results: list[T] = []
    files = [Path(job[0]) for job in jobs]
    total = sum(f.stat().st_size for f in files)
    with tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=not progress) as bar:
        if pool is None or len(jobs) <= 1:
            calls: Iterable[T] = (function(*job) for job in jobs)
        else:
            calls = pool.map(function, *zip(*jobs, strict=True))
        for file, result in zip(files, calls, strict=True):
            results.append(result)
            bar.set_postfix_str(file.name, refresh=False)
            bar.update(file.stat().st_size)
    return results


def _scan(
    paths: Sequence[Path],
    spills: Path | None,
    batch_size: int,
    pool: ProcessPoolExecutor | None,
    progress: bool,
    policy: _Policy,
) -> _Scan:
    """First pass: read, parse and validate every dump, then plan deduplication across all of them."""
    near = policy.near_duplicates != "off"
    jobs = [
        (path, spills / _spill_name(i) if spills else None, batch_size, near) for i, path in enumerate(paths)
    ]
    scans = _run(scan_file, jobs, pool, "checking", progress)
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
    return _Scan(report, keys, plan)


def _assign_splits(files: Sequence[FileSummary]) -> list[Problem]:
    """Name each dump's split; a dump whose papers were all duplicates gets none (no empty splits)."""
    problems = []
    taken: dict[str, str] = {}
    for summary in files:
        name = split_name(summary.name)
        if not _SPLIT_NAME.match(name) or name == "all":
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
