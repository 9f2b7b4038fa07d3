"""Arrow batches -> Parquet shards of one split, in the layout and with the settings `push_to_hub` uses.

Rows are cut into row groups by their own size, never by how they arrived, so the same rows give the
same bytes whatever the batch size; a shard is closed before a row group would take it past the cap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataset_builder.layout import SHARD_DIR, shard_path
from dataset_builder.read import sha256_of

# push_to_hub's defaults (datasets.config): 500 MB shards, content-defined chunking so that the Hub's
# storage only re-uploads changed chunks, and a page index for readers that skip pages.
DEFAULT_MAX_SHARD_BYTES = 500 * 1000 * 1000
# datasets.config.DEFAULT_CDC_OPTIONS, spelled out so that a build need not import datasets
# (tests/test_shards.py checks that they agree).
CDC_OPTIONS = {"min_chunk_size": 256 * 1024, "max_chunk_size": 1024 * 1024, "norm_level": 0}
# Row groups far below the dataset viewer's limit: a viewer page reads one row group.
ROW_GROUP_BYTES = 16 * 1024 * 1024
_LONG_TEXT = {"title", "abstract"}
_FOOTER_PER_GROUP_GUESS = 2048


@dataclass(frozen=True)
class Shard:
    path: str
    rows: int
    num_bytes: int
    size: int
    sha256: str = ""


class SplitWriter:
    """Writes one split incrementally: `write` batches in order, then `close` for the shard list."""

    def __init__(
        self, root: Path, split: str, schema: pa.Schema, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES
    ) -> None:
        self.root = root
        self.split = split
        self.schema = schema
        self.max_shard_bytes = max_shard_bytes
        self.row_group_bytes = min(ROW_GROUP_BYTES, max_shard_bytes)
        self._pending: list[pa.Table] = []
        self._pending_sizes: list[np.ndarray] = []  # `_row_bytes` of each pending table, made once
        self._pending_bytes = 0
        self._parts: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._sink: pa.OSFile | None = None
        # Size predictions for the cap: compressed / uncompressed bytes of the last row group, and
        # the footer bytes each row group adds at close (learned when a shard closes).
        self._compression = 1.0
        self._footer_per_group = _FOOTER_PER_GROUP_GUESS
        self._groups = 0

    def write(self, table: pa.Table) -> None:
        """Buffer rows and write every full row group."""
        if table.num_rows == 0:
            return
        table = table.cast(self.schema)
        sizes = _row_bytes(table)
        self._pending.append(table)
        self._pending_sizes.append(sizes)
        self._pending_bytes += int(sizes.sum())
        if self._pending_bytes >= self.row_group_bytes:
            self._flush(final=False)

    def close(self) -> list[Shard]:
        """Write what is left, close the last shard and give the shards their final names."""
        self._flush(final=True)
        self._close_shard()
        shards = []
        for index, part in enumerate(self._parts):
            final = self.root / shard_path(self.split, index, len(self._parts))
            part.rename(final)
            meta = pq.read_metadata(final)
            num_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            relative = final.relative_to(self.root).as_posix()
            shards.append(Shard(relative, meta.num_rows, num_bytes, final.stat().st_size, sha256_of(final)))
        return shards

    def _flush(self, final: bool) -> None:
        """Write the buffered rows as row groups of `row_group_bytes`; keep a partial one unless final."""
        if not self._pending:
            return
        rows = pa.concat_tables(self._pending)
        row_sizes = np.concatenate(self._pending_sizes)
        sizes = np.cumsum(row_sizes)
        start, consumed = 0, 0
        while start < rows.num_rows:
            end = int(np.searchsorted(sizes, consumed + self.row_group_bytes, side="right"))
            end = max(end, start + 1)
            if end == rows.num_rows and not final and sizes[-1] - consumed < self.row_group_bytes:
                break
            # One contiguous chunk per row group: Parquet pages must not depend on how rows arrived.
            group = rows.slice(start, end - start).combine_chunks()
            self._write_group(group, int(sizes[end - 1]) - consumed)
            start, consumed = end, int(sizes[end - 1])
        self._pending = [rows.slice(start)] if start < rows.num_rows else []
        self._pending_sizes = [row_sizes[start:]] if start < rows.num_rows else []
        self._pending_bytes = int(sizes[-1]) - consumed

    def _write_group(self, group: pa.Table, text_bytes: int) -> None:
        expected = text_bytes * self._compression + (self._groups + 1) * self._footer_per_group
        if self._sink is not None and self._sink.tell() + expected > self.max_shard_bytes:
            self._close_shard()
        if self._writer is None:
            self._open_shard()
        assert self._writer is not None and self._sink is not None
        before = self._sink.tell()
        self._writer.write_table(group, row_group_size=group.num_rows)
        self._groups += 1
        written = self._sink.tell() - before
        if text_bytes:
            self._compression = written / text_bytes

    def _open_shard(self) -> None:
        part = self.root / SHARD_DIR / f"{self.split}-{len(self._parts):05d}.parquet.partial"
        part.parent.mkdir(parents=True, exist_ok=True)
        self._parts.append(part)
        self._sink = pa.OSFile(str(part), "wb")
        self._writer = pq.ParquetWriter(
            self._sink,
            self.schema,
            compression="zstd",
            write_page_index=True,
            # A CRC per page, which readers (and `validate --dist`) check: a damaged byte is caught.
            write_page_checksum=True,
            use_content_defined_chunking=CDC_OPTIONS,
            # Min/max statistics of long text help no reader and would make every row group's
            # footer entry (and the page index) kilobytes long.
            write_statistics=[f.name for f in self.schema if f.name not in _LONG_TEXT],
        )
        self._writer.add_key_value_metadata({"content_defined_chunking": json.dumps(CDC_OPTIONS)})

    def _close_shard(self) -> None:
        if self._writer is not None and self._sink is not None:
            before = self._sink.tell()
            self._writer.close()
            self._footer_per_group = (self._sink.tell() - before) / max(self._groups, 1)
            self._sink.close()
        self._writer = self._sink = None
        self._groups = 0


def _row_bytes(table: pa.Table) -> np.ndarray:
    """Approximate uncompressed size of each row: its string bytes plus fixed-width fields.

    List columns (`also_in`) are left out on purpose: they change when a later dump repeats a paper,
    and row-group boundaries that moved with them would change every shard after the first change
    instead of one column's pages.
    """
    total = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_string(column.type):
            total += pc.binary_length(column).fill_null(0).to_numpy(zero_copy_only=False)
        elif not pa.types.is_list(column.type):
            total += column.type.byte_width
    return total
