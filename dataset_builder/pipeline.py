"""The pipeline, the only place that chains the stages: read -> parse -> validate -> dedup -> shards ->
card, then the swap (staging.py); runner.py runs each pass's jobs on the worker threads.

`validate_dumps` is the first pass alone. `build` runs it, refuses invalid input, then writes the shards
from the valid papers the first pass spilled to disk, so memory holds the small dedup index and one
batch, never the text.
"""

from __future__ import annotations

import logging
import shutil
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dataset_builder import dedup
from dataset_builder.apidump import API_COLUMNS
from dataset_builder.dedup import ConflictPolicy, NearDuplicatePolicy
from dataset_builder.errors import DatasetError, FileSystemError, InvalidInput
from dataset_builder.layout import (
    CARD,
    DEFAULT_INPUT,
    DEFAULT_OUT,
    DEFAULT_REPO_ID,
    is_valid_split,
    split_name,
)
from dataset_builder.passes import SMALL_DUMP_BYTES, SMALL_GROUP, read_rows, scan_files, write_split
from dataset_builder.read import dump_paths
from dataset_builder.records import Problem, StrPath
from dataset_builder.report import FileSummary, Report, counted
from dataset_builder.runner import run_jobs, thread_pool, worker_count
from dataset_builder.schema import paper_schema
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


# A summary names this many dumps at most: years of daily dumps would fill the terminal (the JSON report
# and the card have every one).
SUMMARY_NAMES = 10


def _listed(items: list[str]) -> str:
    """`items` joined by commas; past SUMMARY_NAMES, the first ones and how many more."""
    if len(items) <= SUMMARY_NAMES:
        return ", ".join(items)
    return ", ".join(items[: SUMMARY_NAMES - 1]) + f", and {len(items) - SUMMARY_NAMES + 1:,} more"


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
        rows = _listed([f"{name} {sum(s.rows for s in shards):,}" for name, shards in self.splits.items()])
        empty = [f.name for f in report.files if f.split is None]
        their = "its" if len(empty) == 1 else "their"
        skipped = f" Nothing from {_listed(empty)}: all {their} papers were duplicates." if empty else ""
        near = report.near_duplicates
        found = f"; found {counted(len(near), 'near-duplicate')}" if near else ""
        shown = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"  # not "0.0 MB"
        text = (
            f"{counted(len(report.files), 'dump')}, {report.accounting()}{found}; wrote "
            f"{counted(report.total('kept'), 'row')} ({rows}) to {self.out} ({shown}).{skipped}"
        )
        return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def find_dumps(inputs: StrPath | Iterable[StrPath]) -> list[Path]:
    """The dump files named by INPUT arguments (files, or folders of `*.txt` and `*.jsonl`), sorted by
    file name.

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
    inputs: StrPath | Iterable[StrPath] = DEFAULT_INPUT,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    *,
    on_conflict: ConflictPolicy = "error",
    near_duplicates: NearDuplicatePolicy = "warn",
) -> Report:
    """Check dumps as `build` would, without writing anything; every problem is in the report."""
    paths, path_problems = dump_paths(inputs)
    policy = _Policy(on_conflict, near_duplicates)
    with thread_pool(worker_count(workers, len(paths))) as pool:
        report = _scan(paths, None, batch_size, pool, False, policy).report
    report.problems[:0] = path_problems
    return report


def build(
    inputs: StrPath | Iterable[StrPath] = DEFAULT_INPUT,
    out: StrPath = DEFAULT_OUT,
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

    out = Path(out)
    paths, path_problems = dump_paths(inputs)
    check_replaceable(out)
    count = worker_count(workers, len(paths))
    target = target_of(out)  # a symlinked --out keeps pointing at the new build
    with _file_system_errors(out, target), staging_folder(target) as staging:
        spills = staging / _SPILL_DIR
        spills.mkdir()
        with thread_pool(count) as pool:
            scan = _scan(paths, spills, batch_size, pool, progress, _Policy(on_conflict, near_duplicates))
            scan.report.problems[:0] = path_problems
            if not scan.report.ok:
                raise InvalidInput(scan.report)
            result = BuildResult(scan.report, out)
            schema = hub_schema(paper_schema().arrow)
            abstracts = _revised_abstracts(scan.plan, spills)
            fills = _fills(scan.plan, spills)
            jobs = [
                (
                    spills / _spill_name(i),
                    summary.split,
                    plan,
                    staging,
                    max_shard_bytes,
                    schema,
                    abstracts[i],
                    fills[i],
                )
                for i, (summary, plan) in enumerate(zip(scan.report.files, scan.plan.files, strict=True))
                if summary.split is not None
            ]
            names = [job[1] for job in jobs]
            rows = [job[2].kept for job in jobs]
            with timed("write"):
                written = run_jobs(write_split, jobs, names, rows, pool, "writing", progress)
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
                policies={"on_conflict": on_conflict, "near_duplicates": near_duplicates},
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


@contextmanager
def _file_system_errors(out: Path, target: Path) -> Iterator[None]:
    """An OSError while building (a full disk, a read-only file system, a name too long for the file
    system) as a FileSystemError naming the path and the cause: not the tool's fault."""
    try:
        yield
    except OSError as e:
        raise FileSystemError(e.filename or target, e, f"{out} was left as it was") from e


def _revised_abstracts(plan: dedup.Plan, spills: Path) -> list[dict[int, str]]:
    """Per dump, position -> the abstract a revised paper takes from a later version (`last`)."""
    wanted: dict[int, set[int]] = {}
    for file_plan in plan.files:
        for source, position in file_plan.abstract_from.values():
            wanted.setdefault(source, set()).add(position)
    texts = {
        source: read_rows(spills / _spill_name(source), positions, ["abstract"])
        for source, positions in wanted.items()
    }
    return [
        {
            kept: texts[source][position]["abstract"]
            for kept, (source, position) in file_plan.abstract_from.items()
        }
        for file_plan in plan.files
    ]


def _fills(plan: dedup.Plan, spills: Path) -> list[dict[int, dict[str, Any]]]:
    """Per dump, position -> values for the null columns of a kept paper: the arXiv id, authors and
    dates of the first API dump's version of it (`enrich_from`), `near_duplicate_of`."""
    wanted: dict[int, set[int]] = {}
    for file_plan in plan.files:
        for source, position in file_plan.enrich_from.values():
            wanted.setdefault(source, set()).add(position)
    rows = {
        source: read_rows(spills / _spill_name(source), positions, API_COLUMNS)
        for source, positions in wanted.items()
    }
    fills: list[dict[int, dict[str, Any]]] = []
    for file_plan in plan.files:
        filled = {kept: dict(rows[src][at]) for kept, (src, at) in file_plan.enrich_from.items()}
        for kept, first in file_plan.near_duplicate_of.items():
            filled.setdefault(kept, {})["near_duplicate_of"] = first
        fills.append(filled)
    return fills


def _scan(
    paths: Sequence[Path],
    spills: Path | None,
    batch_size: int,
    pool: ThreadPoolExecutor | None,
    progress: bool,
    policy: _Policy,
) -> _Scan:
    """First pass: read, parse and validate every dump, then plan deduplication across all of them."""
    near = policy.near_duplicates != "off"
    sizes = [path.stat().st_size for path in paths]
    groups = _groups(sizes)
    jobs = [
        ([(paths[i], spills / _spill_name(i) if spills else None) for i in group], batch_size, near)
        for group in groups
    ]
    names = [_group_name([paths[i].name for i in group]) for group in groups]
    totals = [sum(sizes[i] for i in group) for group in groups]
    with timed("first pass (read, parse, validate)"):
        scanned = run_jobs(scan_files, jobs, names, totals, pool, "checking", progress)
    scans = [scan for group in scanned for scan in group]
    report = Report()
    for scan in scans:
        report.files.append(scan.summary)
        report.problems.extend(scan.problems)
        report.omitted.update(scan.omitted)
    keys = [scan.keys for scan in scans]
    plan = dedup.plan(keys, policy.on_conflict, policy.near_duplicates, pool)
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
        summary.with_arxiv_id = file_plan.with_arxiv_id
        summary.rejected += conflicts[summary.path]
    report.problems.extend(_assign_splits(report.files))
    return _Scan(report, plan)  # not the keys: their signatures and titles can go before pass 2


def _groups(sizes: Sequence[int]) -> list[list[int]]:
    """The dumps' indices in jobs of the first pass: a run of small dumps (passes.SMALL_DUMP_BYTES) in
    groups of up to passes.SMALL_GROUP, scanned together (passes.scan_files); every other dump alone."""
    groups: list[list[int]] = []
    for index, size in enumerate(sizes):
        small = size <= SMALL_DUMP_BYTES
        last = groups[-1] if groups else None
        if small and last and sizes[last[-1]] <= SMALL_DUMP_BYTES and len(last) < SMALL_GROUP:
            last.append(index)
        else:
            groups.append([index])
    return groups


def _group_name(names: Sequence[str]) -> str:
    """A job's name in the progress bar: its dump, or the first and last of its group."""
    return names[0] if len(names) == 1 else f"{names[0]}..{names[-1]} ({len(names)} dumps)"


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
