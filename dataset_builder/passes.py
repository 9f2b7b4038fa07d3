"""The two passes over one dump, as the build's worker threads run them.

`scan_file` reads, parses and validates a dump, keeps its dedup keys and spills its valid papers to an
Arrow file (`scan_files` does it for a group of small dumps at once); `write_split` writes the kept
ones from the spill into the split's shards. This module imports only what those need: neither
`datasets` nor `huggingface_hub`.
"""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc

from dataset_builder import apidump, dedup, neardup
from dataset_builder.errors import DatasetError
from dataset_builder.keys import abstract_hashes, arxiv_hashes, key_hashes, paper_ids, title_keys
from dataset_builder.layout import JSONL_SUFFIX, name_date
from dataset_builder.parse import Chunk, Papers, page_date, parse_dump
from dataset_builder.read import sha256_of
from dataset_builder.records import LOST_RECORD_RULES, Paper, Problem
from dataset_builder.report import FileSummary, ProblemCap
from dataset_builder.schema import all_rows_pass, check, paper_schema
from dataset_builder.shards import Shard, SplitWriter


@dataclass
class FileScan:
    """First pass over one dump: its accounting, dedup keys and problems."""

    summary: FileSummary
    keys: dedup.FileKeys
    problems: list[Problem]  # the first of each rule; `omitted` counts the others
    omitted: Counter[tuple[str, str]]


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
    scan = _FileScan(path, batch_size, near, progress)
    with _spill_writer(spill) as writer:
        for item in scan.batches():
            scan.take(item, [] if item.table is None else check(item.table, scan.shown), writer)
    return scan.result()


# Dumps this small (a day's page is about 60 KB) are scanned SMALL_GROUP at a time by `scan_files`.
SMALL_DUMP_BYTES = 256 * 1024
SMALL_GROUP = 32
# The second pass reads consecutive spill batches together until they hold this many papers: a dump's
# parser chunks (a paper read line by line, then the rest as arrays) are separate batches, and writing
# one to the shards costs about 1 ms whatever its rows. A full batch (`batch_size`) is read alone.
SLAB_PAPERS = 1_000


def scan_files(
    jobs: Sequence[tuple[Path, Path | None]],
    batch_size: int,
    near: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[FileScan]:
    """`scan_file` of each (dump, spill) of a group of small dumps, the same results for a fraction of
    the fixed costs: the schema verdict (about 5 ms a call whatever the rows) and the polars queries of
    the keys (about 0.3 ms each, 16 a batch) are paid once for the group. The dumps are read whole first
    (they are small), their titles keyed at once, and one verdict asked for all their papers; when all
    pass, the rest of their keys is derived at once too (`_Derived`), else each batch gets its own
    `check`, for its problems, and its own keys. `progress` counts the group's bytes. A group of one is
    `scan_file`, read as it is checked."""
    if len(jobs) == 1:
        return [scan_file(*jobs[0], batch_size, near, progress)]
    sizes = [path.stat().st_size for path, _ in jobs]
    offsets = itertools.accumulate(sizes[:-1], initial=0)
    group_progress = _furthest(progress)
    scans = [
        _FileScan(path, batch_size, near, _shifted(group_progress, at))
        for (path, _), at in zip(jobs, offsets, strict=True)
    ]
    read = [list(scan.read_batches()) for scan in scans]
    # The group's titles keyed at once, then each batch made a table with its share.
    papers = [batch for parsed in read for batch in parsed if len(batch.lines)]
    whole_keys = title_keys(pa.chunked_array([c for b in papers for c in b.titles.chunks], pa.string()))
    whole_hashes = key_hashes(whole_keys)
    whole_ids, at = paper_ids(whole_hashes), 0
    items: list[list[_Prepared]] = []
    for scan, parsed in zip(scans, read, strict=True):
        items.append([])
        for batch in parsed:
            rows = slice(at, at + len(batch.lines))
            items[-1].append(scan.prepare(batch, whole_keys[rows], whole_hashes[rows], whole_ids[rows]))
            at = rows.stop
    tables = [item.table for batches in items for item in batches if item.table is not None]
    papers_table = pa.concat_tables(tables) if tables else None
    # When every paper passes, none is dropped: what the keys take of them is derived for all at once.
    passed = papers_table is None or all_rows_pass(papers_table)
    whole = _Derived.of(papers_table, whole_keys, near) if passed and papers_table is not None else None
    at = 0
    for scan, batches, (_, spill) in zip(scans, items, jobs, strict=True):
        with _spill_writer(spill) as writer:
            for item in batches:
                if item.table is None:
                    scan.take(item, [], writer)
                elif whole is not None:
                    scan.take(item, [], writer, whole.rows(at, at + item.table.num_rows))
                    at += item.table.num_rows
                else:
                    scan.take(item, check(item.table, scan.shown), writer)
    return [scan.result() for scan in scans]


def _shifted(progress: Callable[[int, int], None] | None, at: int) -> Callable[[int, int], None] | None:
    """`progress` told positions `at` bytes further on: one file's place in its group."""
    if progress is None:
        return None
    return lambda position, papers: progress(at + position, papers)


def _furthest(progress: Callable[[int, int], None] | None) -> Callable[[int, int], None] | None:
    """`progress` told the furthest position yet: a group's dumps are all read before their papers are
    counted, so a count comes with an earlier dump's position."""
    if progress is None:
        return None
    furthest = 0

    def report(position: int, papers: int) -> None:
        nonlocal furthest
        furthest = max(furthest, position)
        progress(furthest, papers)

    return report


@contextmanager
def _spill_writer(spill: Path | None) -> Iterator[pa.ipc.RecordBatchFileWriter | None]:
    """An Arrow IPC file writer of the paper schema at `spill`, or None without one."""
    if spill is None:
        yield None
        return
    with pa.OSFile(str(spill), "wb") as sink, pa.ipc.new_file(sink, paper_schema().arrow) as writer:
        yield writer


@dataclass
class _Prepared:
    """A batch of a dump with its papers as a table of the paper schema (None: no papers) and the keys
    of their titles, ready for the schema's verdict."""

    batch: _Batch
    table: pa.Table | None = None
    title_keys: pl.Series | None = None
    hashes: npt.NDArray[np.uint64] | None = None


@dataclass
class _Derived:
    """What the dedup keys take of a batch's valid papers besides their title hashes: abstract and arXiv
    id hashes and, for near-duplicates, abstract signatures and title forms. Each is per row, so the
    rows of several batches derived at once are theirs derived one by one."""

    abstracts: npt.NDArray[np.uint64]
    arxiv: npt.NDArray[np.uint64]
    signatures: npt.NDArray[np.uint32] | None = None
    forms: pa.Array | None = None

    @classmethod
    def of(cls, table: pa.Table, title_keys_of: pl.Series, near: bool) -> _Derived:
        derived = cls(abstract_hashes(table["abstract"]), arxiv_hashes(table["arxiv_id"]))
        if near:
            derived.signatures = neardup.signatures(table["abstract"].combine_chunks())
            derived.forms = neardup.title_forms(title_keys_of)
        return derived

    def rows(self, start: int, stop: int) -> _Derived:
        """The share of rows start..stop."""
        part = _Derived(self.abstracts[start:stop], self.arxiv[start:stop])
        if self.signatures is not None and self.forms is not None:
            part.signatures, part.forms = self.signatures[start:stop], self.forms.slice(start, stop - start)
        return part


class _FileScan:
    """One dump's first pass in two steps, so that a group of small dumps can share one verdict:
    `batches` reads and parses it into tables, `take` keeps a batch's valid papers given its problems."""

    def __init__(
        self, path: Path, batch_size: int, near: bool, progress: Callable[[int, int], None] | None
    ) -> None:
        self.path, self.shown, self.batch_size, self.near = path, str(path), batch_size, near
        self.progress = progress
        self.summary = FileSummary(path.name, self.shown, sha256_of(path))
        self.keys = dedup.FileKeys(path.name, self.shown)
        self.problems: list[Problem] = []
        self.cap = ProblemCap()
        # The day the page listed a text dump's papers: the ISO date in its file name, else the page's
        # date label when it carries a year (it comes before the papers, so every batch sees it); never
        # guessed. `.jsonl` entries carry their own.
        self.listed_on = name_date(path.name)
        self.read = 0

    def _reading(self, position: int) -> None:
        self.read = position
        if self.progress is not None:
            self.progress(position, 0)

    def _label(self, text: str) -> None:
        if self.listed_on is None:
            self.listed_on = page_date(text)

    def batches(self) -> Iterator[_Prepared]:
        """The dump's batches with their tables and title keys, as it is read."""
        return (self.prepare(batch) for batch in self.read_batches())

    def read_batches(self) -> Iterator[_Batch]:
        """The dump's batches as parsed."""
        return _dump_batches(self.path, self.batch_size, self._reading, self._label, self.cap)

    def prepare(
        self,
        batch: _Batch,
        keys: pl.Series | None = None,
        hashes: npt.NDArray[np.uint64] | None = None,
        ids: pa.Array | None = None,
    ) -> _Prepared:
        """A batch with its table and title keys; `keys`, `hashes` and `ids` when already made (a
        group's, for all its titles at once)."""
        if not len(batch.lines):
            return _Prepared(batch)
        if keys is None or hashes is None or ids is None:
            keys = title_keys(batch.titles)
            hashes = key_hashes(keys)
            ids = paper_ids(hashes)
        return _Prepared(batch, _table(batch, ids, self.path.name, self.listed_on), keys, hashes)

    def take(
        self,
        item: _Prepared,
        invalid: list[Problem],
        writer: pa.ipc.RecordBatchFileWriter | None,
        derived: _Derived | None = None,
    ) -> None:
        """Count a batch, keep its problems and `invalid` (the schema's, one per failing value), and
        put its valid papers in the keys (and the spill); `derived` when already made for its rows."""
        batch, found, summary = item.batch, item.batch.problems, self.summary
        summary.read += len(batch.lines) + batch.lost
        summary.rejected += batch.lost
        if item.table is not None and item.title_keys is not None and item.hashes is not None:
            table, title_keys_of, hashes, lines = item.table, item.title_keys, item.hashes, batch.lines
            found.extend(self.cap.keep(_at_abstract_lines(invalid, batch)))
            bad_lines = {p.line for p in invalid if p.line is not None}
            summary.rejected += len(bad_lines)
            if bad_lines:
                good = ~np.isin(lines, np.array(sorted(bad_lines), dtype=np.int64))
                table, hashes, lines = table.filter(pa.array(good)), hashes[good], lines[good]
                title_keys_of = title_keys_of.filter(good)
                derived = None  # made for the rows before the invalid ones went
            if derived is None:
                derived = _Derived.of(table, title_keys_of, self.near)
            self.keys.add(hashes, derived.abstracts, lines, derived.arxiv)
            self.keys.add_titles(table["title"].combine_chunks())
            if derived.signatures is not None and derived.forms is not None:
                self.keys.add_near(derived.signatures, derived.forms)
            if writer is not None:
                writer.write_table(table)
        self.problems.extend(sorted(found, key=lambda p: p.line or 0))
        if self.progress is not None:
            self.progress(self.read, len(batch.lines))

    def result(self) -> FileScan:
        return FileScan(self.summary, self.keys, self.problems, self.cap.omitted)


def read_rows(spill: Path, positions: Iterable[int], columns: Sequence[str]) -> dict[int, dict[str, Any]]:
    """These `columns` of the papers at `positions` (in file order) of one spill: the abstract a revised
    paper takes under `--on-conflict last`, the arXiv id, authors, ... a paper takes from an API dump."""
    wanted = sorted(set(positions))
    found: dict[int, dict[str, Any]] = {}
    start = 0
    with pa.OSFile(str(spill)) as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            here = [p - start for p in wanted if start <= p < start + batch.num_rows]
            if here:
                rows = batch.select(list(columns)).take(pa.array(here)).to_pylist()
                found.update(zip((start + p for p in here), rows, strict=True))
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
    fills: dict[int, dict[str, Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Shard]:
    """Second pass over one dump: its kept papers, in input order, from the spill into the split's shards.

    `abstracts` replaces the abstract of the papers at those positions (revised papers under `last`);
    `fills` gives the papers at those positions values for columns they hold no value in (null): what
    another dump's version of the paper carries, `near_duplicate_of`; `progress(rows, papers)` is told
    the rows written so far after each batch.
    """
    writer = SplitWriter(root, split, schema, max_shard_bytes)
    start = written = 0
    with pa.OSFile(str(spill)) as source:  # not memory-mapped: mapped pages would count as resident
        for slab in _slabs(pa.ipc.open_file(source)):
            keep = file_plan.keep[start : start + slab.num_rows]
            kept = (np.flatnonzero(keep) + start).tolist()  # Python ints: the dicts' keys
            also_in = [file_plan.also_in.get(index, ()) for index in kept]  # no new object a row
            table = slab.filter(pa.array(keep))
            if abstracts and not abstracts.keys().isdisjoint(kept):
                texts = table.column(2).to_pylist()
                texts = [abstracts.get(index, text) for index, text in zip(kept, texts, strict=True)]
                table = table.set_column(2, "abstract", pa.array(texts, pa.string()))
            if fills and not fills.keys().isdisjoint(kept):
                filled = {row: fills[index] for row, index in enumerate(kept) if index in fills}
                table = _filled(table, filled)
            writer.write(table.set_column(5, "also_in", pa.array(also_in, pa.list_(pa.string()))))
            start += slab.num_rows
            written += table.num_rows
            if progress is not None:
                progress(written, table.num_rows)
    if start != len(file_plan.keep):
        raise DatasetError(f"{spill}: holds {start} papers, expected {len(file_plan.keep)}")
    return writer.close()


def _slabs(reader: pa.ipc.RecordBatchFileReader) -> Iterator[pa.Table]:
    """The spill's batches in order, consecutive ones together until they hold SLAB_PAPERS papers."""
    held: list[pa.RecordBatch] = []
    papers = 0
    for i in range(reader.num_record_batches):
        held.append(reader.get_batch(i))
        papers += held[-1].num_rows
        if papers >= SLAB_PAPERS:
            yield pa.Table.from_batches(held)
            held, papers = [], 0
    if held:
        yield pa.Table.from_batches(held)


def _filled(table: pa.Table, fills: dict[int, dict[str, Any]]) -> pa.Table:
    """`table` with the null columns of the rows `fills` names taken from their entries where they have
    them."""
    for name in sorted({name for fill in fills.values() for name in fill}):
        column = table[name]
        given: list[Any] = [None] * table.num_rows
        for row, fill in fills.items():
            given[row] = fill.get(name)
        values = pa.array(given, column.type)
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.field(index), pc.if_else(pc.is_null(column), values, column))
    return table


@dataclass
class _Batch:
    """Consecutive papers of one dump as arrays, the problems among them, and how far the file was read."""

    titles: pa.ChunkedArray
    abstracts: pa.ChunkedArray
    lines: npt.NDArray[np.int64]
    abstract_lines: npt.NDArray[np.int64]
    problems: list[Problem]
    # Columns of the paper record only some dumps carry (arxiv_id, authors, ...): `.jsonl` dumps.
    columns: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    lost: int = 0  # records the parser rejected whole (counted as read and rejected)


def _dump_batches(
    path: Path, size: int, on_read: Callable[[int], None], on_label: Callable[[str], None], cap: ProblemCap
) -> Iterator[_Batch]:
    """The batches of one dump, a text dump's or a `.jsonl` API dump's, their problems through `cap`;
    `on_label` gets a text dump's preamble date labels."""
    if path.suffix.lower() == JSONL_SUFFIX:
        for entries in apidump.read_entries(path, size, on_read):
            titles, abstracts = pa.chunked_array([entries.titles]), pa.chunked_array([entries.abstracts])
            columns = {name: pa.chunked_array([array]) for name, array in entries.columns.items()}
            lost = sum(1 for p in entries.problems if p.rule in LOST_RECORD_RULES)
            problems = cap.keep(entries.problems)
            yield _Batch(titles, abstracts, entries.lines, entries.lines, problems, columns, lost)
    else:
        yield from _batches(parse_dump(path, on_read=on_read, on_label=on_label), path.name, size, cap)


def _batches(chunks: Iterable[Chunk], source: str, size: int, cap: ProblemCap) -> Iterator[_Batch]:
    """The parser's chunks joined into batches of at least `size` papers (the last may hold fewer);
    their problems go through `cap`."""
    held: list[Papers] = []
    problems: list[Problem] = []
    count = lost = 0
    for chunk in chunks:
        if isinstance(chunk, Papers):
            held.append(chunk)
        else:
            papers = [item for item in chunk if isinstance(item, Paper)]
            found = [item for item in chunk if isinstance(item, Problem)]
            lost += sum(1 for p in found if p.rule in LOST_RECORD_RULES)
            problems.extend(cap.keep(found))
            if papers:
                held.append(_papers(papers))
        count = sum(len(p) for p in held)
        if count >= size:
            yield replace(_join(held, problems), lost=lost)
            held, problems, lost = [], [], 0
    if held or problems or lost:
        yield replace(_join(held, problems), lost=lost)


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


def _table(batch: _Batch, ids: pa.Array, source: str, listed_on: datetime.date | None) -> pa.Table:
    """A batch against the one Arrow schema of the paper record (`also_in` filled in by pass 2); the
    columns the dump does not carry are null, `listed_on` the dump's day when it has one."""
    count = len(batch.lines)
    no_lists = pa.ListArray.from_arrays(pa.array(np.zeros(count + 1, np.int32)), pa.array([], pa.string()))
    schema = paper_schema().arrow
    columns: dict[str, Any] = {
        "paper_id": ids,
        "title": batch.titles,
        "abstract": batch.abstracts,
        "source_file": pa.array([source] * count, pa.string()),
        "source_line": pa.array(batch.lines.astype(np.int32)),
        "also_in": no_lists,
        "listed_on": pa.array([listed_on] * count, pa.date32()),
    }
    columns |= batch.columns
    for name in schema.names:
        if name not in columns:
            columns[name] = pa.nulls(count, schema.field(name).type)
    return pa.table({name: columns[name] for name in schema.names}, schema=schema)
