"""shards.py: Hub layout, push_to_hub's Parquet settings, the size cap, and bytes independent of batching."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from dataset_builder.card import hub_schema
from dataset_builder.layout import shard_path
from dataset_builder.schema import paper_schema
from dataset_builder.shards import CDC_OPTIONS, SplitWriter


def rows(count: int) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "paper_id": f"{n:016x}",
                "title": f"Paper number {n}",
                "abstract": f"Abstract {n}: " + " ".join(f"word{(n * 7 + k) % 997}" for k in range(150)),
                "source_file": "d.txt",
                "source_line": 2 * n + 1,
                "also_in": ["e.txt"] if n % 5 == 0 else [],
            }
            for n in range(count)
        ],
        schema=paper_schema().arrow,
    )


def write(root: Path, table: pa.Table, batch: int, cap: int) -> list:
    writer = SplitWriter(root, "train", hub_schema(paper_schema().arrow), cap)
    for start in range(0, table.num_rows, batch):
        writer.write(table.slice(start, batch))
    return writer.close()


def test_parquet_settings_are_the_ones_datasets_uses() -> None:
    assert datasets.config.DEFAULT_CDC_OPTIONS == CDC_OPTIONS


def test_shard_names_follow_push_to_hub() -> None:
    assert shard_path("train", 3, 12) == "data/train-00003-of-00012.parquet"


def test_one_shard_with_hub_settings_and_features(tmp_path: Path) -> None:
    table = rows(50)
    [shard] = write(tmp_path, table, batch=7, cap=10**9)
    assert shard.path == "data/train-00000-of-00001.parquet" and shard.rows == 50
    path = tmp_path / shard.path
    meta = pq.read_metadata(path)
    assert meta.row_group(0).column(1).compression == "ZSTD"
    assert json.loads(meta.metadata[b"content_defined_chunking"]) == CDC_OPTIONS
    features = json.loads(meta.schema.to_arrow_schema().metadata[b"huggingface"])["info"]["features"]
    assert features["also_in"] == {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"}
    with pq.ParquetFile(path) as parquet:
        assert parquet.metadata.row_group(0).column(0).has_offset_index  # page index written
    assert pq.read_table(path).to_pylist() == table.to_pylist()


def test_size_cap_rolls_over_to_more_shards_in_order(tmp_path: Path) -> None:
    table = rows(3000)
    cap = 100_000
    shards = write(tmp_path, table, batch=128, cap=cap)
    assert len(shards) > 2
    assert [s.path for s in shards] == [shard_path("train", i, len(shards)) for i in range(len(shards))]
    for shard in shards:
        assert (tmp_path / shard.path).stat().st_size <= cap * 1.1  # cap plus the Parquet footer
    back = pa.concat_tables(pq.read_table(tmp_path / s.path) for s in shards)
    assert back.to_pylist() == table.to_pylist()
    assert not list((tmp_path / "data").glob("*.partial"))


def test_bytes_do_not_depend_on_the_batch_size(tmp_path: Path) -> None:
    table = rows(1500)
    outputs = []
    for batch in (1, 97, 1500):
        root = tmp_path / str(batch)
        shards = write(root, table, batch=batch, cap=150_000)
        outputs.append([(root / s.path).read_bytes() for s in shards])
    assert outputs[0] == outputs[1] == outputs[2]
