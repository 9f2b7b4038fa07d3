"""The pipeline: read -> parse -> validate -> dedup -> shards -> card, and the atomic swap of the output.

`validate_dumps` is the first pass alone. `build` runs it, refuses invalid input, then reads the dumps a
second time to write the shards, so memory holds the small dedup index and one batch, never the text.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.ipc
from tqdm import tqdm

from dataset_builder import dedup
from dataset_builder.card import DEFAULT_REPO_ID, render_card
from dataset_builder.parse import parse
from dataset_builder.read import read_dump
from dataset_builder.records import DatasetError, InvalidInput, Paper, Problem
from dataset_builder.report import FileSummary, Report
from dataset_builder.schema import check, paper_schema
from dataset_builder.shards import DEFAULT_MAX_SHARD_BYTES, Shard, SplitWriter

log = logging.getLogger(__name__)

DEFAULT_INPUT = Path("dumps")
DEFAULT_OUT = Path("dist")
DEFAULT_BATCH_SIZE = 10_000
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")  # datasets.splits._split_re
# Problems that each stand for one input record lost (the others are about lines that are not records,
# or about papers, which are counted as papers).
_LOST_RECORDS = {"orphan-title", "orphan-abstract", "not-utf8", "control-char", "line-too-long"}
# Below this much input, starting worker processes (each imports pyarrow, polars and pandera) costs
# more than it saves.
_PARALLEL_FROM_BYTES = 32 * 1024 * 1024
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
        return (
            f"Read {report.total('read')} papers from {len(report.files)} dump(s); removed "
            f"{report.total('duplicates')} duplicates; wrote {report.total('kept')} rows in "
            f"{len(self.splits)} split(s) ({rows}) to {self.out} ({size / 1e6:.1f} MB).{skipped}"
        )


def find_dumps(inputs: Iterable[Path]) -> list[Path]:
    """The dump files named by INPUT arguments (files, or folders of `*.txt`), sorted by file name."""
    found: dict[str, Path] = {}
    for given in inputs:
        if given.is_dir():
            paths = sorted(given.glob("*.txt"))
            if not paths:
                raise DatasetError(f"{given}: no *.txt dump files in this folder")
        elif given.is_file():
            paths = [given]
        else:
            raise DatasetError(f"{given}: no such file or folder")
        for path in paths:
            if path.name in found and found[path.name] != path:
                raise DatasetError(f"{path}: a dump named {path.name} is already given ({found[path.name]})")
            found[path.name] = path
    if not found:
        raise DatasetError("no dump files given")
    return [found[name] for name in sorted(found)]


def split_name(file_name: str) -> str:
    """The split a dump becomes: its file stem, with what a split name cannot hold replaced by `_`."""
    return re.sub(r"\W+", "_", Path(file_name).stem).strip("_")


@dataclass
class _FileScan:
    """First pass over one dump: its accounting, dedup keys and problems."""

    summary: FileSummary
    keys: dedup.FileKeys
    problems: list[Problem]


@dataclass
class _Scan:
    report: Report
    keys: list[dedup.FileKeys]
    plan: dedup.Plan


def validate_dumps(
    inputs: Iterable[Path] = (DEFAULT_INPUT,),
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
) -> Report:
    """Check dumps as `build` would, without writing anything; every problem is in the report."""
    paths = find_dumps(inputs)
    with _pool(_workers(workers, paths)) as pool:
        return _scan(paths, None, batch_size, pool, progress=False).report


def build(
    inputs: Iterable[Path] = (DEFAULT_INPUT,),
    out: Path = DEFAULT_OUT,
    *,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    repo_id: str = DEFAULT_REPO_ID,
    workers: int | None = None,
    progress: bool = False,
) -> BuildResult:
    """Build the dataset into `out`, replacing it only once everything is written.

    The first pass checks every dump and spills its valid papers to an Arrow file in the staging folder;
    the second writes the kept ones from there into shards. `workers` processes (default: one per core
    when the input is large enough to pay for starting them) work on separate dumps; the output is the
    same whatever their number. Raises InvalidInput (with the full report) when any dump has a problem;
    `out` is then untouched.
    """
    paths = find_dumps(inputs)
    _check_replaceable(out)
    count = _workers(workers, paths)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        staging.chmod(0o755)
        spills = staging / _SPILL_DIR
        spills.mkdir()
        with _pool(count) as pool:
            scan = _scan(paths, spills, batch_size, pool, progress)
            if not scan.report.ok:
                raise InvalidInput(scan.report)
            result = BuildResult(scan.report, out)
            jobs = [
                (spills / _spill_name(i), summary.split, file_plan, staging, max_shard_bytes)
                for i, (summary, file_plan) in enumerate(zip(scan.report.files, scan.plan.files, strict=True))
                if summary.split is not None
            ]
            written = _run(_write_split, jobs, pool, "writing", progress)
        result.splits = {job[1]: shards for job, shards in zip(jobs, written, strict=True) if job[1]}
        shutil.rmtree(spills)
        card = render_card(scan.report.files, result.splits, repo_id)
        (staging / "README.md").write_text(card, encoding="utf-8")
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info(result.summary())
    return result


def _workers(requested: int | None, paths: Sequence[Path]) -> int:
    """Processes to use: as asked, or one per core (at most one per dump) for inputs worth it."""
    if requested is not None:
        return max(1, requested)
    if sum(p.stat().st_size for p in paths) < _PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, len(paths)))


def _pool(workers: int) -> ProcessPoolExecutor | nullcontext[None]:
    """Worker processes for both passes, started once; none when one worker is enough."""
    if workers <= 1:
        return nullcontext()
    # spawn, not fork: the parent may hold threads of pyarrow and polars, which fork would copy locked.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _run(
    function: Callable[..., T],
    jobs: Sequence[tuple[Any, ...]],
    pool: ProcessPoolExecutor | None,
    desc: str,
    progress: bool,
) -> list[T]:
    """Run `function(*job)` for every job, in the pool if there is one; results in job order."""
    results: list[T] = []
    with tqdm(total=len(jobs), desc=desc, unit="dump", disable=not progress) as bar:
        if pool is None or len(jobs) <= 1:
            calls: Iterable[T] = (function(*job) for job in jobs)
        else:
            calls = pool.map(function, *zip(*jobs, strict=True))
        for result in calls:
            results.append(result)
            bar.update()
    return results


def _scan(
    paths: Sequence[Path],
    spills: Path | None,
    batch_size: int,
    pool: ProcessPoolExecutor | None,
    progress: bool,
) -> _Scan:
    """First pass: read, parse and validate every dump, then plan deduplication across all of them."""
    jobs = [(path, spills / _spill_name(i) if spills else None, batch_size) for i, path in enumerate(paths)]
    scans = _run(_scan_file, jobs, pool, "checking", progress)
    report = Report()
    for scan in scans:
        report.files.append(scan.summary)
        report.problems.extend(scan.problems)
    keys = [scan.keys for scan in scans]
    plan = dedup.plan(keys)
    report.problems.extend(plan.conflicts)
    report.duplicates = plan.duplicates
    duplicates = Counter(d.file for d in plan.duplicates)
    conflicts = Counter(c.file for c in plan.conflicts)  # conflicts name the path as given
    for summary, file_plan in zip(report.files, plan.files, strict=True):
        summary.kept = file_plan.kept
        summary.duplicates = duplicates[summary.name]
        summary.rejected += conflicts[summary.path]
    report.problems.extend(_assign_splits(report.files))
    return _Scan(report, keys, plan)


def _scan_file(path: Path, spill: Path | None, batch_size: int) -> _FileScan:
    """Read, parse and validate one dump; valid papers enter its dedup keys (and the spill file)."""
    shown = str(path)
    summary = FileSummary(path.name, shown, _sha256(path))
    keys = dedup.FileKeys(path.name, shown)
    problems: list[Problem] = []
    schema = paper_schema().arrow
    with ExitStack() as stack:
        writer = None
        if spill is not None:
            sink = stack.enter_context(pa.OSFile(str(spill), "wb"))
            writer = stack.enter_context(pa.ipc.new_file(sink, schema))
        for batch in _batched(parse(read_dump(path), shown), batch_size):
            papers = [item for item in batch if isinstance(item, Paper)]
            found = [item for item in batch if isinstance(item, Problem)]
            lost = sum(1 for p in found if p.rule in _LOST_RECORDS)
            summary.read += len(papers) + lost
            summary.rejected += lost
            if papers:
                hashes = [dedup.title_hash(p.title) for p in papers]
                table = _table(papers, [dedup.paper_id(h) for h in hashes], [[] for _ in papers])
                invalid = check(table, shown)
                found.extend(invalid)
                bad_lines = {p.line for p in invalid}
                summary.rejected += len(bad_lines)
                if bad_lines:
                    good = [i for i, p in enumerate(papers) if p.line not in bad_lines]
                    table = table.take(good)
                    papers = [papers[i] for i in good]
                    hashes = [hashes[i] for i in good]
                for paper, title_hash in zip(papers, hashes, strict=True):
                    keys.add(title_hash, dedup.abstract_hash(paper.abstract), paper.line)
                if writer is not None:
                    writer.write_table(table)
            problems.extend(sorted(found, key=lambda p: p.line or 0))
    return _FileScan(summary, keys, problems)


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


def _write_split(
    spill: Path, split: str, file_plan: dedup.FilePlan, root: Path, max_shard_bytes: int
) -> list[Shard]:
    """Second pass over one dump: its kept papers, in input order, from the spill into the split's shards."""
    writer = SplitWriter(root, split, paper_schema().arrow, max_shard_bytes)
    start = 0
    with pa.memory_map(str(spill)) as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            keep = file_plan.keep[start : start + batch.num_rows]
            kept = np.flatnonzero(keep) + start
            also_in = [file_plan.also_in.get(int(index), []) for index in kept]
            table = pa.Table.from_batches([batch]).filter(pa.array(keep))
            writer.write(table.set_column(5, "also_in", pa.array(also_in, pa.list_(pa.string()))))
            start += batch.num_rows
    if start != len(file_plan.keep):
        raise DatasetError(f"{spill}: holds {start} papers, expected {len(file_plan.keep)}")
    return writer.close()


def _table(papers: Sequence[Paper], ids: list[str], also_in: list[list[str]]) -> pa.Table:
    """A batch against the one Arrow schema of the paper record."""
    return pa.table(
        {
            "paper_id": ids,
            "title": [p.title for p in papers],
            "abstract": [p.abstract for p in papers],
            "source_file": [p.source for p in papers],
            "source_line": [p.line for p in papers],
            "also_in": also_in,
        },
        schema=paper_schema().arrow,
    )


def _check_replaceable(out: Path) -> None:
    """Refuse to replace a folder that is not a previous build: `--out` must never eat user files."""
    if not out.exists():
        return
    if not out.is_dir() or any(p.name not in {"README.md", "data"} for p in out.iterdir()):
        raise DatasetError(
            f"{out} exists and does not look like a build output (only README.md and data/); "
            "choose another --out or remove it"
        )


def _swap(staging: Path, out: Path) -> None:
    """Put the new build in place; the old one is removed only after the new one is there."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
        old.rmdir()
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
