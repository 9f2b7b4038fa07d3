"""A built dataset folder read back: shards against the schema, the card against the shards.

`validate --dist` runs this, and so does `publish` before anything leaves the machine: a folder whose
card and shards disagree (edited, half-copied, or left from another build) is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from huggingface_hub import DatasetCard
from tqdm import tqdm

from dataset_builder.card import features_yaml, hub_schema
from dataset_builder.errors import DatasetError
from dataset_builder.layout import CARD, PROVENANCE_KEY, SHARD_DIR, is_valid_split, shard_path
from dataset_builder.read import sha256_of
from dataset_builder.records import Problem
from dataset_builder.report import FileSummary, Report
from dataset_builder.schema import check, paper_schema

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
        info = _default_info(data)
    except yaml.YAMLError as e:
        detail = " ".join(str(e).split())
        report.problems.append(Problem(str(card_path), None, "card-yaml", f"YAML does not parse: {detail}"))
        return report
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        detail = f"no {e} entry" if isinstance(e, KeyError) else str(e)
        report.problems.append(
            Problem(str(card_path), None, "card-yaml", f"card metadata is not what build writes: {detail}")
        )
        return report
    card = str(card_path)
    recorded = _recorded_shards(data, report.problems, card)
    if info.get("features") != features_yaml():
        report.problems.append(Problem(card, None, "card-features", "features differ from the paper schema"))
    listed: set[str] = set()
    ids: set[str] = set()
    total = sum(len(paths) for paths, _ in splits.values())
    bar = tqdm(total=total, desc="checking", unit="shard", disable=not progress)
    for split, (paths, declared_rows) in splits.items():
        rows, counted = 0, True  # rows of a shard that cannot be read are unknown, not zero
        if not is_valid_split(split):  # `datasets.load_dataset` refuses it, e.g. `ALL`
            report.problems.append(
                Problem(card, None, "split-name", f"split {split!r} is not a name `datasets` accepts")
            )
        for index, relative in enumerate(paths):
            listed.add(relative)
            if relative != shard_path(split, index, len(paths)):
                report.problems.append(
                    Problem(card, None, "shard-name", f"split {split}: {relative} is not shard {index + 1}")
                )
            summary = _read_shard(dist, relative, split, ids, report.problems, recorded.get(relative))
            if summary is not None:
                report.files.append(summary)
                rows += summary.read
            else:
                counted = False
            bar.update(1)
        if counted and rows != declared_rows:
            report.problems.append(
                Problem(
                    card,
                    None,
                    "card-rows",
                    f"split {split}: card says {declared_rows} rows, shards hold {rows}",
                )
            )
    for relative in sorted(set(recorded) - listed):
        report.problems.append(
            Problem(
                card, None, "card-provenance", f"{relative} is in {PROVENANCE_KEY}.shards, not in configs"
            )
        )
    bar.close()
    size = sum((dist / p).stat().st_size for p in listed if (dist / p).is_file())
    if info.get("download_size") != size:
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
    """split -> (shard paths from the default config, row count from `dataset_info`).

    Other configs may only list shards of the default config (they regroup its splits)."""
    configs = data.get("configs")
    if not configs or not isinstance(configs, list):
        raise ValueError("no configs: the card does not say which files hold which split")
    default = next((c for c in configs if c.get("config_name", "default") == "default"), None)
    if default is None:
        raise ValueError("configs has no default config")
    rows = {s["name"]: int(s["num_examples"]) for s in _default_info(data)["splits"]}
    paths = {entry["split"]: _as_list(entry["path"]) for entry in default["data_files"]}
    if set(rows) != set(paths):
        raise ValueError(f"configs lists splits {sorted(paths)}, dataset_info {sorted(rows)}")
    shards = {p for listed in paths.values() for p in listed}
    for config in configs:
        for entry in config["data_files"]:
            extra = sorted(set(_as_list(entry["path"])) - shards)
            if extra:
                raise ValueError(
                    f"config {config.get('config_name')!r} lists {extra[0]}, not a shard of default"
                )
    return {split: (paths[split], rows[split]) for split in paths}


def _as_list(path: str | list[str]) -> list[str]:
    return [path] if isinstance(path, str) else list(path)


def _default_info(data: dict[str, Any]) -> dict[str, Any]:
    """`dataset_info` of the default config (a list when the card describes several configs)."""
    info = data["dataset_info"]
    if isinstance(info, list):
        info = next((i for i in info if i.get("config_name", "default") == "default"), None)
        if info is None:
            raise ValueError("dataset_info has no entry for the default config")
    if not isinstance(info, dict):
        raise TypeError("dataset_info is not a mapping")
    return info


def _recorded_shards(data: dict[str, Any], problems: list[Problem], card: str) -> dict[str, str]:
    """shard path -> sha256 from the card's provenance block, which build writes and nothing else."""
    block = data.get(PROVENANCE_KEY) or {}
    try:
        return {str(s["path"]): str(s["sha256"]) for s in block["shards"]}
    except (KeyError, TypeError):
        problems.append(
            Problem(
                card, None, "card-provenance", f"no {PROVENANCE_KEY}.shards list with each shard's sha256"
            )
        )
        return {}


def _read_shard(
    dist: Path, relative: str, split: str, ids: set[str], problems: list[Problem], recorded: str | None
) -> FileSummary | None:
    """`_check_shard`, with damaged bytes (a page whose CRC fails, data that does not decompress) as
    one `shard-corrupt` problem."""
    try:
        return _check_shard(dist, relative, split, ids, problems, recorded)
    except (OSError, pa.ArrowException) as e:
        shown = str(dist / relative)
        if not any(p.file == shown and p.rule == "shard-corrupt" for p in problems):
            problems.append(Problem(shown, None, "shard-corrupt", f"cannot be read back: {e}"))
        return None


def _check_shard(
    dist: Path, relative: str, split: str, ids: set[str], problems: list[Problem], recorded: str | None
) -> FileSummary | None:
    path = dist / relative
    shown = str(path)
    if not relative.startswith(f"{SHARD_DIR}/") or not path.is_file():
        problems.append(
            Problem(shown, None, "shard-missing", f"split {split}: shard listed in the card is missing")
        )
        return None
    sha256 = sha256_of(path)
    if recorded is not None and sha256 != recorded:
        problems.append(
            Problem(
                shown,
                None,
                "shard-corrupt",
                f"sha256 is not the one the card records ({PROVENANCE_KEY}.shards): the file changed "
                "since it was built; rebuild",
            )
        )
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
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
    return FileSummary(relative, shown, sha256, read=rows, kept=rows, split=split)
