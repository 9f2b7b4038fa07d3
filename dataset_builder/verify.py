"""A built dataset folder read back: shards against the schema, the card against the shards.

`validate --dist` runs this, and so does `publish` before anything leaves the machine: a folder whose
card and shards disagree (edited, half-copied, or left from another build) is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import DatasetCard
from tqdm import tqdm

from dataset_builder.card import features_yaml, hub_schema
from dataset_builder.read import sha256_of
from dataset_builder.records import DatasetError, Problem
from dataset_builder.report import FileSummary, Report
from dataset_builder.schema import check, paper_schema
from dataset_builder.shards import SHARD_DIR, shard_path

CARD = "README.md"
_READ_ROWS = 10_000


def verify_dist(dist: Path, progress: bool = False) -> Report:
    """Check a build output folder; every disagreement is a Problem in the report. `progress` draws a
    bar (shards checked) on stderr."""
    if not dist.is_dir():
        raise DatasetError(f"{dist}: no such folder; build it first with `dataset-builder build`")
    report = Report()
    card_path = dist / CARD
    if not card_path.is_file():
        report.problems.append(
            Problem(str(card_path), None, "card-missing", "no dataset card; was this folder built?")
        )
        return report
    try:
        data = DatasetCard.load(card_path).data.to_dict()
        splits = _declared_splits(data)
    except (ValueError, KeyError, TypeError) as e:
        report.problems.append(
            Problem(str(card_path), None, "card-yaml", f"card metadata is not what build writes: {e}")
        )
        return report
    card = str(card_path)
    if data["dataset_info"].get("features") != features_yaml():
        report.problems.append(Problem(card, None, "card-features", "features differ from the paper schema"))
    listed: set[str] = set()
    ids: set[str] = set()
    total = sum(len(paths) for paths, _ in splits.values())
    bar = tqdm(total=total, desc="checking", unit="shard", disable=not progress)
    for split, (paths, declared_rows) in splits.items():
        rows = 0
        for index, relative in enumerate(paths):
            listed.add(relative)
            if relative != shard_path(split, index, len(paths)):
                report.problems.append(
                    Problem(card, None, "shard-name", f"split {split}: {relative} is not shard {index + 1}")
                )
            summary = _check_shard(dist, relative, split, ids, report.problems)
            if summary is not None:
                report.files.append(summary)
                rows += summary.read
            bar.update(1)
        if rows != declared_rows:
            report.problems.append(
                Problem(
                    card,
                    None,
                    "card-rows",
                    f"split {split}: card says {declared_rows} rows, shards hold {rows}",
                )
            )
    bar.close()
    size = sum((dist / p).stat().st_size for p in listed if (dist / p).is_file())
    if data["dataset_info"].get("download_size") != size:
        report.problems.append(
            Problem(card, None, "card-size", f"card's download_size is not the {size} bytes of the shards")
        )
    for path in sorted(dist.rglob("*")):
        relative = path.relative_to(dist).as_posix()
        if path.is_file() and relative != CARD and relative not in listed:
            report.problems.append(
                Problem(str(path), None, "stray-file", "not listed in the card; remove it or rebuild")
            )
    return report


def _declared_splits(data: dict[str, Any]) -> dict[str, tuple[list[str], int]]:
    """split -> (shard paths from the `default` config, row count from `dataset_info`). Any other
    config (the `all` one) must list exactly the default config's shards, in another arrangement."""
    configs = {c["config_name"]: c for c in data["configs"]}
    config = configs["default"]
    shards = sorted(p for entry in config["data_files"] for p in entry["path"])
    for name, other in configs.items():
        if sorted(p for entry in other["data_files"] for p in entry["path"]) != shards:
            raise ValueError(f"config {name!r} does not list the default config's shards")
    rows = {s["name"]: int(s["num_examples"]) for s in data["dataset_info"]["splits"]}
    paths = {entry["split"]: list(entry["path"]) for entry in config["data_files"]}
    if set(rows) != set(paths):
        raise ValueError(f"configs lists splits {sorted(paths)}, dataset_info {sorted(rows)}")
    return {split: (paths[split], rows[split]) for split in paths}


def _check_shard(
    dist: Path, relative: str, split: str, ids: set[str], problems: list[Problem]
) -> FileSummary | None:
    path = dist / relative
    shown = str(path)
    if not relative.startswith(f"{SHARD_DIR}/") or not path.is_file():
        problems.append(
            Problem(shown, None, "shard-missing", f"split {split}: shard listed in the card is missing")
        )
        return None
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as e:
        problems.append(Problem(shown, None, "shard-unreadable", f"not a Parquet file: {e}"))
        return None
    with parquet:
        expected = hub_schema(paper_schema().arrow)
        if not parquet.schema_arrow.remove_metadata().equals(expected.remove_metadata()):
            problems.append(
                Problem(shown, None, "shard-schema", "columns or types differ from the paper schema")
            )
            return None
        row = 1
        for batch in parquet.iter_batches(batch_size=_READ_ROWS):
            table = pa.Table.from_batches([batch]).cast(paper_schema().arrow)
            problems.extend(check(table, shown, first_row=row))
            for offset, paper_id in enumerate(table.column("paper_id").to_pylist()):
                if paper_id in ids:
                    problems.append(
                        Problem(
                            shown, row + offset, "duplicate-id", "paper_id already in another row", paper_id
                        )
                    )
                ids.add(paper_id)
            row += table.num_rows
    rows = row - 1
    return FileSummary(relative, shown, sha256_of(path), read=rows, kept=rows, split=split)
