"""The two passes over one dump, as worker processes run them.

`scan_file` reads, parses and validates a dump, keeps its dedup keys and spills its valid papers to an
Arrow file; `write_split` writes the kept ones from the spill into the split's shards. This module
imports only what those need, so a worker process starts without `datasets` and `huggingface_hub`.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.ipc

from dataset_builder import dedup, neardup
from dataset_builder.errors import DatasetError
from dataset_builder.keys import abstract_hashes, paper_ids, title_hashes
from dataset_builder.parse import Chunk, Papers, parse_dump
from dataset_builder.read import sha256_of
from dataset_builder.records import Paper, Problem
from dataset_builder.report import FileSummary
from dataset_builder.schema import check, paper_schema
from dataset_builder.shards import Shard, SplitWriter

# mallopt's parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Problems that each stand for one input record lost (the others are about lines that are not records,
# or about papers, which are counted as papers).
_LOST_RECORDS = {"orphan-title", "orphan-abstract", "not-utf8", "control-char", "line-too-long"}


@contextmanager
def system_memory_pool() -> Iterator[None]:
    """Send Arrow's allocations to the system allocator while the passes run, then restore the default.

    pyarrow's default pool (mimalloc) keeps freed pages resident: on 200k papers it cost 30 MB more
    peak RSS (`build-1` in benchmarks/run.py) and was no faster.
    """
    _map_large_buffers()
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


@functools.cache
def _map_large_buffers() -> None:
    """Have glibc's malloc map buffers of 1 MiB and more and unmap them when freed, for good.

    By default its threshold grows to 32 MiB as pieces are freed, after which each thread's arena keeps
    the freed pieces resident: 200k papers took 350 MB with one thread and 530-590 MB with two, against
    290 and 400 MB with this (ru_maxrss, interleaved runs). The setting is per process and stays; other
    C libraries (musl, macOS) do without it.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    libc.mallopt(_M_TRIM_THRESHOLD, 4 << 20)


@dataclass
class FileScan:
    """First pass over one dump: its accounting, dedup keys and problems."""

    summary: FileSummary
    keys: dedup.FileKeys
    problems: list[Problem]


def scan_file(
    path: Path,
    spill: Path | None,
    batch_size: int,
    near: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> FileScan:
    """Read, parse and validate one dump; valid papers enter its dedup keys (and the spill file).

    Each batch of about `batch_size` papers is one pandera call, one hash call and one spill write;
    `progress(bytes, papers)` is told how far the file has been read after each piece, and the papers
    of each batch. With `near`, the keys also get the abstract signatures and titles near-duplicates
    are found by.
    """
    shown = str(path)
    summary = FileSummary(path.name, shown, sha256_of(path))
    keys = dedup.FileKeys(path.name, shown)
    problems: list[Problem] = []
    schema = paper_schema().arrow
    with ExitStack() as stack:
        writer = None
        if spill is not None:
            sink = stack.enter_context(pa.OSFile(str(spill), "wb"))
            writer = stack.enter_context(pa.ipc.new_file(sink, schema))
        read = [0]

        def reading(position: int) -> None:
            read[0] = position
            if progress is not None:
                progress(position, 0)

        for batch in _batches(parse_dump(path, on_read=reading), path.name, batch_size):
            found = batch.problems
            lost = sum(1 for p in found if p.rule in _LOST_RECORDS)
            summary.read += len(batch.lines) + lost
            summary.rejected += lost
            if len(batch.lines):
                hashes = title_hashes(batch.titles)
                table = _table(batch, paper_ids(hashes), path.name)
                invalid = check(table, shown)
                found.extend(_at_abstract_lines(invalid, batch))
                bad_lines = {p.line for p in invalid if p.line is not None}
                summary.rejected += len(bad_lines)
                lines = batch.lines
                if bad_lines:
                    good = ~np.isin(lines, np.array(sorted(bad_lines), dtype=np.int64))
                    table, hashes, lines = table.filter(pa.array(good)), hashes[good], lines[good]
                keys.add(hashes, abstract_hashes(table["abstract"]), lines)
                if near:
                    abstracts = table["abstract"].combine_chunks()
                    keys.add_near(neardup.signatures(abstracts), table["title"].combine_chunks())
                if writer is not None:
                    writer.write_table(table)
            problems.extend(sorted(found, key=lambda p: p.line or 0))
            if progress is not None:
                progress(read[0], len(batch.lines))
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
    progress: Callable[[int, int], None] | None = None,
) -> list[Shard]:
    """Second pass over one dump: its kept papers, in input order, from the spill into the split's shards.

    `abstracts` replaces the abstract of the papers at those positions (revised papers under `last`);
    `progress(rows, papers)` is told the rows written so far after each batch.
    """
    writer = SplitWriter(root, split, schema, max_shard_bytes)
    start = written = 0
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
            written += table.num_rows
            if progress is not None:
                progress(written, table.num_rows)
    if start != len(file_plan.keep):
        raise DatasetError(f"{spill}: holds {start} papers, expected {len(file_plan.keep)}")
    return writer.close()


@dataclass
class _Batch:
    """Consecutive papers of one dump as arrays, the problems among them, and how far the file was read."""

    titles: pa.ChunkedArray
    abstracts: pa.ChunkedArray
    lines: npt.NDArray[np.int64]
    abstract_lines: npt.NDArray[np.int64]
    problems: list[Problem]


def _batches(chunks: Iterable[Chunk], source: str, size: int) -> Iterator[_Batch]:
    """The parser's chunks joined into batches of at least `size` papers (the last may hold fewer)."""
    held: list[Papers] = []
    problems: list[Problem] = []
    count = 0
    for chunk in chunks:
        if isinstance(chunk, Papers):
            held.append(chunk)
        else:
            papers = [item for item in chunk if isinstance(item, Paper)]
            problems.extend(item for item in chunk if isinstance(item, Problem))
            if papers:
                held.append(_papers(papers))
        count = sum(len(p) for p in held)
        if count >= size:
            yield _join(held, problems)
            held, problems = [], []
    if held or problems:
        yield _join(held, problems)


def _papers(papers: Sequence[Paper]) -> Papers:
    return Papers(
        pa.array([p.title for p in papers], pa.string()),
        pa.array([p.abstract for p in papers], pa.string()),
        np.array([p.line for p in papers], dtype=np.int64),
        np.array([p.abstract_line for p in papers], dtype=np.int64),
    )


def _join(held: Sequence[Papers], problems: list[Problem]) -> _Batch:
    if not held:
        empty = pa.chunked_array([], pa.string())
        return _Batch(empty, empty, np.zeros(0, np.int64), np.zeros(0, np.int64), problems)
    return _Batch(  # chunked, not concatenated: Arrow, polars and the spill take chunks as they are
        pa.chunked_array([p.titles for p in held], pa.string()),
        pa.chunked_array([p.abstracts for p in held], pa.string()),
        np.concatenate([p.lines for p in held]),
        np.concatenate([p.abstract_lines for p in held]),
        problems,
    )


def _at_abstract_lines(problems: list[Problem], batch: _Batch) -> list[Problem]:
    """Problems of the abstract column moved from the title's line (the row's `source_line`) to the
    abstract's own line, where an editor should take the user; the others stay at the title's line."""
    moved = {p.line for p in problems if p.rule.startswith("abstract-") and p.line is not None}
    if not moved:
        return problems
    at = np.flatnonzero(np.isin(batch.lines, np.array(sorted(moved), dtype=np.int64)))
    abstract_line = dict(zip(batch.lines[at].tolist(), batch.abstract_lines[at].tolist(), strict=True))
    return [
        replace(p, line=abstract_line[p.line])
        if p.rule.startswith("abstract-") and p.line in abstract_line
        else p
        for p in problems
    ]


def _table(batch: _Batch, ids: pa.Array, source: str) -> pa.Table:
    """A batch against the one Arrow schema of the paper record (`also_in` filled in by pass 2)."""
    count = len(batch.lines)
    no_lists = pa.ListArray.from_arrays(pa.array(np.zeros(count + 1, np.int32)), pa.array([], pa.string()))
    return pa.table(
        {
            "paper_id": ids,
            "title": batch.titles,
            "abstract": batch.abstracts,
            "source_file": pa.array([source] * count, pa.string()),
            "source_line": pa.array(batch.lines.astype(np.int32)),
            "also_in": no_lists,
        },
        schema=paper_schema().arrow,
    )
