"""verify.py (`validate --dist`): a built folder is checked against the schema and its own card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dataset_builder.cli import cli
from dataset_builder.errors import DatasetError
from dataset_builder.pipeline import BuildResult
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
    card.write_text(card.read_text().replace("num_examples: 596", "num_examples: 597"))
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


def flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_shard_is_caught(dist: Path) -> None:
    flip_middle_byte(shard(dist))
    assert rules(dist) == [(shard(dist).name, "shard-corrupt")]
    result = CliRunner().invoke(cli, ["validate", "--dist", str(dist), "--format", "json"])
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert (problem["file"], problem["rule"]) == (str(shard(dist)), "shard-corrupt")


def test_page_checksums_catch_a_flipped_byte_without_the_card(dist: Path) -> None:
    """Shards carry Parquet page CRCs: a reader that checks them fails on the damaged page."""
    flip_middle_byte(shard(dist))
    with pytest.raises(OSError, match="CRC"):
        pq.read_table(shard(dist), page_checksum_verification=True)
    card = dist / "README.md"
    card.write_text(card.read_text().replace("dataset_builder:", "other_tool:", 1))  # no sha256 record
    assert rules(dist) == [("README.md", "card-provenance")]  # not a build: nothing more to compare


def test_cards_that_do_not_parse_or_lack_configs_are_card_yaml_problems(dist: Path) -> None:
    card = dist / "README.md"
    text = card.read_text()
    card.write_text(text.replace("configs:", "configs: [unclosed", 1))
    [problem] = verify_dist(dist).problems
    assert (problem.rule, problem.file) == ("card-yaml", str(card)) and "does not parse" in problem.message
    head, rest = text.split("configs:\n", 1)
    card.write_text(head + rest[rest.index("dataset_info:") :])
    [problem] = verify_dist(dist).problems
    assert problem.rule == "card-yaml" and "no configs" in problem.message
    result = CliRunner().invoke(cli, ["validate", "--dist", str(dist), "--format", "json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["problems"][0]["rule"] == "card-yaml"


def test_more_configs_may_regroup_the_default_shards_but_not_add_files(dist: Path) -> None:
    card = dist / "README.md"
    text = card.read_text()
    paths = sorted(p.relative_to(dist).as_posix() for p in (dist / "data").iterdir())
    listing = "".join(f"    - {p}\n" for p in paths)
    extra = f"- config_name: some_days\n  data_files:\n  - split: train\n    path:\n{listing}"
    card.write_text(text.replace("dataset_info:", extra + "dataset_info:", 1))
    assert verify_dist(dist).ok
    card.write_text(text.replace("dataset_info:", extra + "    - data/other.parquet\ndataset_info:", 1))
    [problem] = verify_dist(dist).problems
    assert problem.rule == "card-yaml" and "data/other.parquet" in problem.message


def test_a_card_without_the_provenance_block_is_reported(dist: Path) -> None:
    card = dist / "README.md"
    text = card.read_text()
    card.write_text(text.replace("dataset_builder:", "other_tool:", 1))
    assert rules(dist) == [("README.md", "card-provenance")]


def test_a_shard_out_of_its_dumps_numbering_is_reported(dist: Path) -> None:
    card = dist / "README.md"
    old = f"data/{SPLIT}-00000-of-00001.parquet"
    new = f"data/{SPLIT}-00000-of-00002.parquet"
    card.write_text(card.read_text().replace(old, new))
    shard(dist).rename(dist / new)
    assert ("README.md", "shard-name") in rules(dist)
