"""The two passes over one dump, as worker processes run them.

`scan_file` reads, parses and validates a dump, keeps its dedup keys and spills its valid papers to an
Arrow file; `write_split` writes the kept ones from the spill into the split's shards. This module
imports only what those need, so a worker process starts without `datasets` and `huggingface_hub`.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.ipc

from dataset_builder import dedup, neardup
from dataset_builder.parse import parse
from dataset_builder.read import read_dump, sha256_of
from dataset_builder.records import DatasetError, Paper, Problem
from dataset_builder.report import FileSummary
from dataset_builder.schema import check, paper_schema
from dataset_builder.shards import Shard, SplitWriter

# Problems that each stand for one input record lost (the others are about lines that are not records,
# or about papers, which are counted as papers).
_LOST_RECORDS = {"orphan-title", "orphan-abstract", "not-utf8", "control-char", "line-too-long"}
T = TypeVar("T")


@contextmanager
def system_memory_pool() -> Iterator[None]:
    """Send Arrow's allocations to the system allocator while the passes run, then restore the default.

    pyarrow's default pool (mimalloc) keeps freed pages resident: on 200k papers it cost 30 MB more
    peak RSS (`build-1` in benchmarks/run.py) and was no faster.
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def start_worker() -> None:
    """Initializer of a worker process: the system allocator, as `system_memory_pool` gives the parent.

    Ctrl-C reaches every process of the terminal's group: workers ignore it and the parent, which
    cleans up, ends them.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pa.set_memory_pool(pa.system_memory_pool())


@dataclass
class FileScan:
    """First pass over one dump: its accounting, dedup keys and problems."""

    summary: FileSummary
    keys: dedup.FileKeys
    problems: list[Problem]


def scan_file(path: Path, spill: Path | None, batch_size: int, near: bool = True) -> FileScan:
    """Read, parse and validate one dump; valid papers enter its dedup keys (and the spill file).

    With `near`, the keys also get the abstract signatures and titles near-duplicates are found by.
    """
    shown = str(path)
    keys = dedup.FileKeys(path.name, shown)
    try:
        summary = FileSummary(path.name, shown, sha256_of(path))
    except OSError as e:  # gone or unreadable since it was found, or a failing disk
        problem = Problem(shown, None, "unreadable", f"cannot be read: {e.strerror or e}")
        return FileScan(FileSummary(path.name, shown, ""), keys, [problem])
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
                found.extend(_at_abstract_lines(invalid, papers))
                bad_lines = {p.line for p in invalid}
                summary.rejected += len(bad_lines)
                if bad_lines:
                    good = [i for i, p in enumerate(papers) if p.line not in bad_lines]
                    table = table.take(pa.array(good, pa.int64()))
                    hashes = [hashes[i] for i in good]
                lines = table["source_line"].to_pylist()
                abstracts = table["abstract"].combine_chunks()
                keys.add(hashes, dedup.abstract_hashes(abstracts), lines)
                if near:
                    keys.add_near(neardup.signatures(abstracts), table["title"].combine_chunks())
                if writer is not None:
                    writer.write_table(table)
            problems.extend(sorted(found, key=lambda p: p.line or 0))
    return FileScan(summary, keys, problems)


def read_abstracts(spill: Path, positions: Iterable[int]) -> dict[int, str]:
    """The abstracts of the papers at `positions` (in file order) of one spill: the versions a revised
    paper takes under `--on-conflict last`."""
    wanted = sorted(set(positions))
    found: dict[int, str] = {}
    start = 0
    with pa.OSFile(str(spill)) as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            here = [p - start for p in wanted if start <= p < start + batch.num_rows]
            if here:
                texts = batch.column(2).take(pa.array(here)).to_pylist()
                found.update(zip((start + p for p in here), texts, strict=True))
            start += batch.num_rows
    return found


def write_split(
    spill: Path,
    split: str,
    file_plan: dedup.FilePlan,
    root: Path,
    max_shard_bytes: int,
    schema: pa.Schema,
    abstracts: dict[int, str] | None = None,
) -> list[Shard]:
    """Second pass over one dump: its kept papers, in input order, from the spill into the split's shards.

    `abstracts` replaces the abstract of the papers at those positions (revised papers under `last`).
    """
    writer = SplitWriter(root, split, schema, max_shard_bytes)
    start = 0
    with pa.OSFile(str(spill)) as source:  # not memory-mapped: mapped pages would count as resident
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            keep = file_plan.keep[start : start + batch.num_rows]
            kept = np.flatnonzero(keep) + start
            also_in = [file_plan.also_in.get(int(index), []) for index in kept]
            table = pa.Table.from_batches([batch]).filter(pa.array(keep))
            if abstracts and any(int(index) in abstracts for index in kept):
                texts = table.column(2).to_pylist()
                texts = [abstracts.get(int(index), text) for index, text in zip(kept, texts, strict=True)]
                table = table.set_column(2, "abstract", pa.array(texts, pa.string()))
            writer.write(table.set_column(5, "also_in", pa.array(also_in, pa.list_(pa.string()))))
            start += batch.num_rows
    if start != len(file_plan.keep):
        raise DatasetError(f"{spill}: holds {start} papers, expected {len(file_plan.keep)}")
    return writer.close()


def _at_abstract_lines(problems: list[Problem], papers: Sequence[Paper]) -> list[Problem]:
    """Problems of the abstract column moved from the title's line (the row's `source_line`) to the
    abstract's own line, where an editor should take the user; the others stay at the title's line."""
    abstract_line = {p.line: p.abstract_line for p in papers}
    return [
        replace(p, line=abstract_line[p.line])
        if p.rule.startswith("abstract-") and p.line in abstract_line
        else p
        for p in problems
    ]


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


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
