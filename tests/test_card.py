"""card.py: the card's YAML is what the Hub and datasets read, and agrees with the shards."""

from __future__ import annotations

import yaml
from conftest import SPLIT_ROWS
from huggingface_hub import DatasetCard

from dataset_builder.card import dataset_info_yaml, hub_schema, size_category
from dataset_builder.pipeline import BuildResult
from dataset_builder.read import sha256_of
from dataset_builder.schema import paper_schema


def test_card_loads_with_huggingface_hub_and_matches_the_shards(built: BuildResult) -> None:
    card = DatasetCard.load(built.out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["language"] == ["en"]
    assert data["license_name"] and data["license_link"].startswith("https://")  # the Hub wants both
    assert data["size_categories"] == ["n<1K"] and data["pretty_name"]
    config, every = data["configs"]
    assert config["config_name"] == "default" and every["config_name"] == "all"
    [whole] = every["data_files"]
    assert whole["split"] == "train"
    assert whole["path"] == [s.path for shards in built.splits.values() for s in shards]
    files = {entry["split"]: entry["path"] for entry in config["data_files"]}
    assert set(files) == set(SPLIT_ROWS)
    for split, paths in files.items():
        assert paths == [s.path for s in built.splits[split]]
        assert all((built.out / p).is_file() for p in paths)
    info = data["dataset_info"]
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == SPLIT_ROWS
    assert info["download_size"] == sum(p.stat().st_size for p in (built.out / "data").iterdir())
    assert {"name": "also_in", "list": "string"} in info["features"]
    assert {"name": "source_line", "dtype": "int32"} in info["features"]


def test_yaml_is_plain_data_safe_to_load(built: BuildResult) -> None:
    text = (built.out / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["configs"][0]["config_name"] == "default"


def test_body_documents_fields_splits_and_provenance(built: BuildResult) -> None:
    body = DatasetCard.load(built.out / "README.md").text
    for column in ("paper_id", "title", "abstract", "source_file", "source_line", "also_in"):
        assert f"| `{column}` |" in body
    for summary in built.report.files:
        assert summary.sha256 in body and f"`{summary.name}`" in body
    assert "load_dataset(" in body and "schema 2." in body


def test_size_categories() -> None:
    assert [size_category(n) for n in (0, 999, 1000, 250_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "100K<n<1M",
    ]


def test_provenance_block_records_every_dump_and_shard_by_sha256(built: BuildResult) -> None:
    data = DatasetCard.load(built.out / "README.md").data.to_dict()
    block = data["dataset_builder"]
    assert block["schema_version"] == paper_schema().version
    assert [s["file"] for s in block["sources"]] == [f.name for f in built.report.files]
    assert [s["sha256"] for s in block["sources"]] == [f.sha256 for f in built.report.files]
    for shard in block["shards"]:
        assert shard["sha256"] == sha256_of(built.out / shard["path"])
    assert len(block["shards"]) == len(list((built.out / "data").iterdir()))


def test_schema_and_dataset_info_equal_what_datasets_writes(built: BuildResult) -> None:
    import datasets

    arrow = paper_schema().arrow
    theirs = datasets.Features.from_arrow_schema(arrow).arrow_schema
    assert hub_schema(arrow).equals(theirs, check_metadata=True)
    assert hub_schema(arrow).metadata == theirs.metadata
    split_dict = datasets.SplitDict()
    for name, shards in built.splits.items():
        split_dict.add(
            datasets.SplitInfo(
                name=name,
                num_bytes=sum(s.num_bytes for s in shards),
                num_examples=sum(s.rows for s in shards),
            )
        )
    info = datasets.DatasetInfo(
        features=datasets.Features.from_arrow_schema(arrow),
        splits=split_dict,
        download_size=sum(s.size for shards in built.splits.values() for s in shards),
        dataset_size=sum(s.num_bytes for shards in built.splits.values() for s in shards),
    )
    assert dataset_info_yaml(built.splits) == info._to_yaml_dict()
