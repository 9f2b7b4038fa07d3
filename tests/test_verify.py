"""verify.py (`validate --dist`): a built folder is checked against the schema and its own card."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dataset_builder.build import BuildResult
from dataset_builder.cli import cli
from dataset_builder.records import DatasetError
from dataset_builder.verify import verify_dist

SPLIT = "001_1bef2119a8aaeb71"


@pytest.fixture
def dist(built: BuildResult, tmp_path: Path) -> Path:
    """A private copy of the session build, free to break."""
    return Path(shutil.copytree(built.out, tmp_path / "dist"))


def rules(dist: Path) -> list[tuple[str, str]]:
    return [(Path(p.file).name, p.rule) for p in verify_dist(dist).problems]


def shard(dist: Path) -> Path:
    return dist / "data" / f"{SPLIT}-00000-of-00001.parquet"


def test_a_fresh_build_passes(dist: Path) -> None:
    report = verify_dist(dist)
    assert report.ok and report.total("kept") == 596 and len(report.files) == 5


def test_a_missing_shard_is_reported(dist: Path) -> None:
    shard(dist).unlink()
    assert (shard(dist).name, "shard-missing") in rules(dist)


def test_a_stray_file_is_reported(dist: Path) -> None:
    (dist / "data" / "old-00000-of-00001.parquet").write_bytes(shard(dist).read_bytes())
    assert rules(dist) == [("old-00000-of-00001.parquet", "stray-file")]


def test_card_row_counts_must_match_the_shards(dist: Path) -> None:
    card = dist / "README.md"
    card.write_text(card.read_text().replace("num_examples: 48", "num_examples: 49"))
    assert ("README.md", "card-rows") in rules(dist)


def test_rows_are_checked_against_the_schema_by_row_number(dist: Path) -> None:
    table = pq.read_table(shard(dist))
    abstracts = table.column("abstract").to_pylist()
    abstracts[4] = "short"
    table = table.set_column(2, "abstract", [abstracts])
    pq.write_table(table, shard(dist))
    problems = verify_dist(dist).problems
    located = [(Path(p.file).name, p.line, p.rule) for p in problems]
    assert (shard(dist).name, 5, "abstract-length") in located


def test_a_file_that_is_not_parquet_is_reported(dist: Path) -> None:
    shard(dist).write_bytes(b"not parquet at all")
    assert (shard(dist).name, "shard-unreadable") in rules(dist)


def test_missing_card_and_missing_folder(dist: Path, tmp_path: Path) -> None:
    (dist / "README.md").unlink()
    assert rules(dist) == [("README.md", "card-missing")]
    with pytest.raises(DatasetError, match="no such folder"):
        verify_dist(tmp_path / "nowhere")


def test_cli_validate_dist_exit_codes(dist: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["validate", "--dist", str(dist)]).exit_code == 0
    shard(dist).unlink()
    result = runner.invoke(cli, ["validate", "--dist", str(dist)])
    assert result.exit_code == 1 and "[shard-missing]" in result.output
    assert runner.invoke(cli, ["validate", "--dist", str(dist), str(dist)]).exit_code == 2
