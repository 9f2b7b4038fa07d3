"""A built dataset folder read back: shards against the schema, the card against the shards.

`validate --dist` runs this, and so does `publish` before anything leaves the machine: a folder whose
card and shards disagree (edited, half-copied, or left from another build) is refused.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from dataset_builder.card import BuiltCard, features_yaml, hub_schema, read_card
from dataset_builder.errors import CardError, DatasetError
from dataset_builder.layout import (
    CARD,
    DEFAULT_CONFIG,
    PROVENANCE_KEY,
    SHARD_DIR,
    dump_of,
    is_valid_split,
    shard_path,
)
from dataset_builder.read import sha256_of
from dataset_builder.records import Problem, StrPath
from dataset_builder.report import FileSummary, Report
from dataset_builder.schema import check, paper_schema

_READ_ROWS = 10_000


def verify_dist(dist: StrPath, progress: bool = False) -> Report:
    """Check a build output folder; every disagreement is a Problem in the report. `progress` draws a
    bar (shards checked) on stderr."""
    dist = Path(dist)
    if not dist.is_dir():
        raise DatasetError(f"{dist}: no such folder; build it first with `dataset-builder build`")
    report = Report()
    card_path = dist / CARD
    if not card_path.is_file():
        report.problems.append(
            Problem(str(card_path), None, "card-missing", "no dataset card; was this folder built?")
        )
        return report
    card = str(card_path)
    try:
        built = read_card(card_path)
        splits = _declared_splits(built)
    except CardError as e:
        report.problems.append(Problem(card, None, e.rule, str(e)))
        return report
    except ValueError as e:
        report.problems.append(
            Problem(card, None, "card-yaml", f"card metadata is not what build writes: {e}")
        )
        return report
    recorded = built.shards
    if built.info.get("features") != features_yaml():
        report.problems.append(Problem(card, None, "card-features", "features differ from the paper schema"))
    for dump, paths in built.dumps.items():
        for index, relative in enumerate(paths):
            if relative != shard_path(dump, index, len(paths)):
                report.problems.append(
                    Problem(card, None, "shard-name", f"dump {dump}: {relative} is not shard {index + 1}")
                )
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
        for relative in paths:
            listed.add(relative)
            summary = _read_shard(
                dist, relative, dump_of(relative), ids, report.problems, recorded.get(relative)
            )
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
    if built.info.get("download_size") != size:
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


def _declared_splits(built: BuiltCard) -> dict[str, tuple[list[str], int]]:
    """split -> (shard paths, rows from `dataset_info`) of the default config.

    Raises ValueError when the configs disagree: other configs may only list shards of the default
    config (they regroup them)."""
    default = built.configs[DEFAULT_CONFIG]
    rows = built.rows
    if set(rows) != set(default):
        raise ValueError(f"configs lists splits {sorted(default)}, dataset_info {sorted(rows)}")
    shards = {p for listed in default.values() for p in listed}
    for name, config in built.configs.items():
        extra = sorted({p for paths in config.values() for p in paths} - shards)
        if extra:
            raise ValueError(f"config {name!r} lists {extra[0]}, not a shard of default")
    return {split: (default[split], rows[split]) for split in default}


def _read_shard(
    dist: Path, relative: str, dump: str, ids: set[str], problems: list[Problem], recorded: str | None
) -> FileSummary | None:
    """`_check_shard`, with damaged bytes (a page whose CRC fails, data that does not decompress) as
    one `shard-corrupt` problem."""
    try:
        return _check_shard(dist, relative, dump, ids, problems, recorded)
    except (OSError, pa.ArrowException) as e:
        shown = str(dist / relative)
        if not any(p.file == shown and p.rule == "shard-corrupt" for p in problems):
            problems.append(Problem(shown, None, "shard-corrupt", f"cannot be read back: {e}"))
        return None


def _check_shard(
    dist: Path, relative: str, dump: str, ids: set[str], problems: list[Problem], recorded: str | None
) -> FileSummary | None:
    path = dist / relative
    shown = str(path)
    if not relative.startswith(f"{SHARD_DIR}/") or not path.is_file():
        problems.append(
            Problem(shown, None, "shard-missing", f"dump {dump}: shard listed in the card is missing")
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
    return FileSummary(relative, shown, sha256, read=rows, kept=rows, split=dump)
