"""The pipeline: read -> parse -> validate -> dedup -> shards -> card, and the atomic swap of the output.

`validate_dumps` is the first pass alone. `build` runs it, refuses invalid input, then reads the dumps a
second time to write the shards, so memory holds the small dedup index and one batch, never the text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
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
T = TypeVar("T")


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
class _Scan:
    report: Report
    keys: list[dedup.FileKeys]
    plan: dedup.Plan


def validate_dumps(inputs: Iterable[Path] = (DEFAULT_INPUT,), batch_size: int = DEFAULT_BATCH_SIZE) -> Report:
    """Check dumps as `build` would, without writing anything; every problem is in the report."""
    return _scan(find_dumps(inputs), batch_size, progress=False).report


def build(
    inputs: Iterable[Path] = (DEFAULT_INPUT,),
    out: Path = DEFAULT_OUT,
    *,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    repo_id: str = DEFAULT_REPO_ID,
    progress: bool = False,
) -> BuildResult:
    """Build the dataset into `out`, replacing it only once everything is written.

    Raises InvalidInput (with the full report) when any dump has a problem; `out` is then untouched.
    """
    paths = find_dumps(inputs)
    scan = _scan(paths, batch_size, progress)
    if not scan.report.ok:
        raise InvalidInput(scan.report)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        staging.chmod(0o755)
        result = BuildResult(scan.report, out)
        files = tqdm(
            list(zip(paths, scan.report.files, scan.plan.files, scan.keys, strict=True)),
            desc="writing",
            unit="dump",
            disable=not progress,
        )
        for path, summary, file_plan, keys in files:
            if summary.split is not None:
                result.splits[summary.split] = _write_split(
                    path, summary.split, file_plan, keys, staging, batch_size, max_shard_bytes
                )
        card = render_card(scan.report.files, result.splits, repo_id)
        (staging / "README.md").write_text(card, encoding="utf-8")
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info(result.summary())
    return result


def _scan(paths: Sequence[Path], batch_size: int, progress: bool) -> _Scan:
    """First pass: read, parse and validate every dump, then plan deduplication across all of them."""
    report = Report()
    keys = []
    for path in tqdm(paths, desc="checking", unit="dump", disable=not progress):
        summary, file_keys, problems = _scan_file(path, batch_size)
        report.files.append(summary)
        report.problems.extend(problems)
        keys.append(file_keys)
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


def _scan_file(path: Path, batch_size: int) -> tuple[FileSummary, dedup.FileKeys, list[Problem]]:
    """Read, parse and validate one dump; only valid papers enter its dedup keys."""
    shown = str(path)
    summary = FileSummary(path.name, shown, _sha256(path))
    keys = dedup.FileKeys(path.name, shown)
    problems: list[Problem] = []
    for batch in _batched(parse(read_dump(path), shown), batch_size):
        papers = [item for item in batch if isinstance(item, Paper)]
        found = [item for item in batch if isinstance(item, Problem)]
        lost = sum(1 for p in found if p.rule in _LOST_RECORDS)
        if papers:
            ids = [dedup.paper_id(dedup.title_hash(p.title)) for p in papers]
            invalid = check(_table(papers, ids, [[] for _ in papers]), shown)
            found.extend(invalid)
            bad_lines = {p.line for p in invalid}
            for paper in papers:
                if paper.line not in bad_lines:
                    keys.add(paper.title, paper.abstract, paper.line)
            summary.rejected += len(bad_lines)
        summary.read += len(papers) + lost
        summary.rejected += lost
        problems.extend(sorted(found, key=lambda p: p.line or 0))
    return summary, keys, problems


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
    path: Path,
    split: str,
    file_plan: dedup.FilePlan,
    keys: dedup.FileKeys,
    root: Path,
    batch_size: int,
    max_shard_bytes: int,
) -> list[Shard]:
    """Second pass over one dump: the kept papers, in input order, into the split's shards."""
    writer = SplitWriter(root, split, paper_schema().arrow, max_shard_bytes)
    index = 0
    for batch in _batched(parse(read_dump(path), str(path)), batch_size):
        papers, ids, also_in = [], [], []
        for item in batch:
            if not isinstance(item, Paper) or index >= len(keys.lines):
                raise DatasetError(f"{path}: the file changed during the build; build again")
            if file_plan.keep[index]:
                papers.append(item)
                ids.append(dedup.paper_id(keys.titles[index]))
                also_in.append(file_plan.also_in.get(index, []))
            index += 1
        writer.write(_table(papers, ids, also_in))
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
