"""card.py: the card's YAML is what the Hub and datasets read, and agrees with the shards."""

from __future__ import annotations

import re
from pathlib import Path

import datasets
import pytest
import yaml
from conftest import SPLIT_ROWS, WriteDump, abstract
from huggingface_hub import DatasetCard

from dataset_builder.card import dataset_info_yaml, hub_schema, read_card, size_category
from dataset_builder.errors import CardError
from dataset_builder.layout import dump_files
from dataset_builder.pipeline import BuildResult, build
from dataset_builder.read import sha256_of
from dataset_builder.schema import paper_schema


def test_card_loads_with_huggingface_hub_and_matches_the_shards(built: BuildResult) -> None:
    card = DatasetCard.load(built.out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["language"] == ["en"]
    assert data["license_name"] and data["license_link"].startswith("https://")  # the Hub wants both
    assert data["size_categories"] == ["n<1K"] and data["pretty_name"]
    default, every = data["configs"]
    assert default["config_name"] == "default" and every["config_name"] == "all"
    shards = [s.path for shards in built.splits.values() for s in shards]
    assert default["data_files"] == every["data_files"] == [{"split": "train", "path": shards}]
    assert all((built.out / p).is_file() for p in shards)
    info = data["dataset_info"]
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {"train": sum(SPLIT_ROWS.values())}
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
    arrow = paper_schema().arrow
    theirs = datasets.Features.from_arrow_schema(arrow).arrow_schema
    assert hub_schema(arrow).equals(theirs, check_metadata=True)
    assert hub_schema(arrow).metadata == theirs.metadata
    shards = [s for listed in built.splits.values() for s in listed]
    split_dict = datasets.SplitDict()
    split_dict.add(
        datasets.SplitInfo(
            name="train", num_bytes=sum(s.num_bytes for s in shards), num_examples=sum(s.rows for s in shards)
        )
    )
    info = datasets.DatasetInfo(
        features=datasets.Features.from_arrow_schema(arrow),
        splits=split_dict,
        download_size=sum(s.size for s in shards),
        dataset_size=sum(s.num_bytes for s in shards),
    )
    assert dataset_info_yaml(shards) == info._to_yaml_dict()


def test_read_card_gives_a_typed_view_of_a_build(built: BuildResult) -> None:
    card = read_card(built.out / "README.md")
    assert card == read_card((built.out / "README.md").read_text())
    assert list(card.sources) == [f.name for f in built.report.files]
    assert card.shards == {s.path: s.sha256 for shards in built.splits.values() for s in shards}
    assert card.dumps == {name: [s.path for s in shards] for name, shards in built.splits.items()}
    assert card.rows == {"train": 596} and card.repo_id == "ORG/NAME" and card.releases == []
    assert card.schema_version == paper_schema().version


def test_read_card_refuses_cards_this_tool_did_not_write(built: BuildResult) -> None:
    text = (built.out / "README.md").read_text()
    with pytest.raises(CardError) as other:
        read_card(text.replace("dataset_builder:", "other_tool:", 1))
    assert other.value.rule == "card-provenance"
    with pytest.raises(CardError, match="does not parse") as broken:
        read_card(text.replace("configs:", "configs: [unclosed", 1))
    assert broken.value.rule == "card-yaml"
    with pytest.raises(CardError, match="no configs"):
        read_card("---\nlicense: mit\n---\n# Some dataset\n")


def body(out: Path) -> str:
    return " ".join(DatasetCard.load(out / "README.md").text.split())


def test_a_card_without_repeats_revisions_or_near_duplicates_claims_none(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    write_dump("2024-01-30.txt", ["Alpha", abstract("alpha"), "Beta", abstract("beta")])
    write_dump("2024-02-01.txt", ["Gamma", abstract("gamma")])
    result = build([tmp_path / "dumps"], tmp_path / "out", near_duplicates="off")
    text = body(result.out)
    assert "It holds **3** distinct papers" in text
    assert "No paper was read twice with the same title and abstract." in text
    assert "were not looked for in this build" in text
    assert "this build has no revised papers" in text
    assert "## Revised papers" not in text and "every revision is listed" not in text
    assert "rejected" not in text and "| dump | source file | sha256 | read | kept |" in text
    assert (
        f"| `2024_01_30` | `2024-01-30.txt` | `{result.report.files[0].sha256}` | 2 | 2 | 0 | 0 | 0 |" in text
    )
    # the loading lines of the card run as printed, against this build
    code = DatasetCard.load(result.out / "README.md").text.split("```python\n")[1].split("```")[0]
    code = code.replace('"ORG/NAME"', repr(str(result.out)))
    names: dict[str, object] = {}
    exec(code, names)
    assert len(names["papers"]) == 3  # type: ignore[arg-type]
    assert names["one_dump"]["title"] == names["same"]["title"] == ["Alpha", "Beta"]  # type: ignore[index]
    assert names["one_month"]["title"] == ["Alpha", "Beta"]  # type: ignore[index]


def test_a_card_with_repeats_revisions_and_removed_near_duplicates_counts_them(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    sparse = "Sparse Mixture-of-Experts for Long Context"
    write_dump(
        "a.txt", ["Alpha", abstract("alpha"), sparse, abstract("sparse experts"), "Beta", abstract("beta")]
    )
    write_dump("b.txt", ["Alpha", abstract("alpha"), "Gamma", abstract("gamma"), "Beta", abstract("beta 2")])
    write_dump("c.txt", ["Sparse Mixture of Experts for Long Contexts", abstract("sparse experts")])
    result = build([tmp_path / "dumps"], tmp_path / "out", on_conflict="last", near_duplicates="remove")
    report = result.report
    assert (len(report.revisions), len(report.near_duplicates), report.total("duplicates")) == (1, 1, 2)
    text = body(result.out)
    assert "It holds **4** distinct papers" in text
    assert "1 paper was read again with the same title and abstract" in text
    assert "1 paper is a near-duplicate" in text and "1 of them was removed" in text
    assert "kept as a row" not in text and "kept as rows" not in text
    assert "every revision is listed above" in text and "`--on-conflict last`" in text
    [revision] = report.revisions
    row = f"| `{revision.paper_id}` | Beta | `a.txt:5`, `b.txt:5` | `b.txt:5` |"
    assert row in text
    assert "| none | `c.txt` |" in text and "Dumps with no shard" in text
    papers = datasets.load_dataset(str(result.out), split="train", cache_dir=str(tmp_path / "cache"))
    sparse_row = papers.filter(lambda p: p["title"] == sparse)[0]
    assert sparse_row["also_in"] == ["c.txt"]


def test_kept_counts_in_the_card_are_the_rows_of_each_dump(built: BuildResult, tmp_path: Path) -> None:
    text = body(built.out)
    for name, shards in built.splits.items():
        [kept] = re.findall(rf"\| `{name}` \| `{name}.txt` \| `[0-9a-f]+` \| \d+ \| (\d+) \|", text)
        files = dump_files(name)
        loaded = datasets.load_dataset(
            str(built.out), data_files=files, split="train", cache_dir=str(tmp_path)
        )
        assert int(kept) == loaded.num_rows == sum(s.rows for s in shards)
