"""The `dataset-builder` command: a thin layer that turns library results into output and exit codes.

Exit codes: 0 success or valid input, 1 invalid input or a failed run, 2 usage error (click's own).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from dataset_builder.build import DEFAULT_BATCH_SIZE, DEFAULT_INPUT, DEFAULT_OUT, build, validate_dumps
from dataset_builder.dedup import CONFLICT_POLICIES, ConflictPolicy
from dataset_builder.records import DatasetError, InvalidInput
from dataset_builder.report import FORMATS, Report
from dataset_builder.shards import DEFAULT_MAX_SHARD_BYTES

# card.DEFAULT_REPO_ID, spelled out: card.py imports huggingface_hub, which `validate` does not need.
DEFAULT_REPO_ID = "ORG/NAME"
# The units `datasets.utils.py_utils.convert_file_size_to_int` reads (tests/test_cli.py checks the two
# agree): binary ones, then decimal ones, where a lower-case `b` means bits.
_BINARY_UNITS = {"PIB": 2**50, "TIB": 2**40, "GIB": 2**30, "MIB": 2**20, "KIB": 2**10}
_DECIMAL_UNITS = {"PB": 10**15, "TB": 10**12, "GB": 10**9, "MB": 10**6, "KB": 10**3}

_INPUTS = click.argument(
    "inputs", nargs=-1, type=click.Path(exists=True, path_type=Path), metavar="[INPUT]..."
)
_ON_CONFLICT = click.option(
    "--on-conflict",
    type=click.Choice(CONFLICT_POLICIES),
    default="error",
    show_default=True,
    help="A revised paper (same title, another abstract): an error, or keep its first or last version.",
)
_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to print problems: text (FILE:LINE: [rule] message), json, or github annotations.",
)


def parse_size(text: str) -> int:
    """`500MB`, `64KiB`, `1Gb` as bytes, as `datasets` reads sizes; ValueError for anything else."""
    upper = text.upper()
    for unit, factor in _BINARY_UNITS.items():
        if upper.endswith(unit):
            return int(text[:-3]) * factor
    for unit, factor in _DECIMAL_UNITS.items():
        if upper.endswith(unit):
            size = int(text[:-2]) * factor
            return size // 8 if text.endswith("b") else size
    raise ValueError(f"{text!r} is not a size")


def _size(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        size = parse_size(value)
    except ValueError as e:
        raise click.BadParameter(f"{value!r} is not a size like 500MB or 64KiB") from e
    if size <= 0:
        raise click.BadParameter("must be positive")
    return size


def _emit(report: Report, fmt: str, err: bool = False) -> None:
    click.echo(report.render(fmt), err=err)


@contextmanager
def _library_errors(fmt: str, refused: str = "") -> Iterator[None]:
    """Library exceptions as output and exit codes: refused input prints its report and exits 1, any
    other DatasetError becomes click's error message (also exit 1)."""
    try:
        yield
    except InvalidInput as e:
        _emit(e.report, fmt, err=True)
        if refused:
            click.echo(refused, err=True)
        sys.exit(1)
    except DatasetError as e:
        raise click.ClickException(str(e)) from e


@click.group()
@click.version_option(package_name="dataset-builder")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """Build, check and publish the Daily Papers dataset from text dumps of the page."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )


@cli.command("build")
@_INPUTS
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Output folder, replaced only when the build succeeds.",
)
@click.option(
    "--max-shard-size",
    "max_shard_bytes",
    default=f"{DEFAULT_MAX_SHARD_BYTES // 1_000_000}MB",
    show_default=True,
    callback=_size,
    help="Largest Parquet shard, e.g. 500MB or 64KiB.",
)
@click.option(
    "--batch-size",
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(1),
    help="Papers validated, hashed and spilled at once, per worker thread.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="Threads working on separate dumps. Default: one per core.",
)
@click.option(
    "--repo-id", default=DEFAULT_REPO_ID, show_default=True, help="Hub id shown in the card's snippet."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars (they only show on a terminal).")
@_ON_CONFLICT
@_FORMAT
def build_command(
    inputs: tuple[Path, ...],
    out: Path,
    max_shard_bytes: int,
    batch_size: int,
    workers: int | None,
    repo_id: str,
    quiet: bool,
    on_conflict: ConflictPolicy,
    fmt: str,
) -> None:
    """Build the dataset from dumps (files, or folders of *.txt; default: dumps/) into --out."""
    with _library_errors(fmt, "Build refused: nothing was written."):
        result = build(
            inputs or (DEFAULT_INPUT,),
            out,
            max_shard_bytes=max_shard_bytes,
            batch_size=batch_size,
            workers=workers,
            repo_id=repo_id,
            progress=not quiet and sys.stderr.isatty(),
            on_conflict=on_conflict,
        )
    for note in result.report.notes():
        click.echo(note)
    click.echo(result.summary())


@cli.command("validate")
@_INPUTS
@click.option(
    "--dist",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Check a built dataset folder instead: shards against the schema, card against shards.",
)
@_ON_CONFLICT
@_FORMAT
def validate_command(
    inputs: tuple[Path, ...], dist: Path | None, on_conflict: ConflictPolicy, fmt: str
) -> None:
    """Check dumps as build would, without writing anything. Exit 1 when any problem is found."""
    if dist is not None and inputs:
        raise click.UsageError("give dump INPUTs or --dist, not both")
    with _library_errors(fmt):
        if dist is not None:
            from dataset_builder.verify import verify_dist

            report = verify_dist(dist)
        else:
            report = validate_dumps(inputs or (DEFAULT_INPUT,), on_conflict=on_conflict)
    _emit(report, fmt)
    sys.exit(0 if report.ok else 1)


@cli.command("publish")
@click.argument("dist", default=DEFAULT_OUT, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repo-id", required=True, help="Dataset repository on the Hub, as ORG/NAME.")
@click.option("--private", is_flag=True, help="Create the repository private (when it does not exist).")
@click.option("--revision", help="Branch to commit to (created from main if missing). Default: main.")
@click.option("--create-pr", is_flag=True, help="Open a pull request instead of committing to the branch.")
@click.option("--message", help="Commit message. Default: a count of added, updated and deleted files.")
@click.option("--dry-run", is_flag=True, help="Print the plan and send nothing that writes.")
@_FORMAT
def publish_command(
    dist: Path,
    repo_id: str,
    private: bool,
    revision: str | None,
    create_pr: bool,
    message: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Publish a built DIST folder (default: dist/) to the Hub in one commit.

    The token comes from HF_TOKEN or the saved login, the endpoint from HF_ENDPOINT.
    """
    from huggingface_hub.utils.tqdm import disable_progress_bars

    from dataset_builder.publish import publish

    if not sys.stderr.isatty():
        disable_progress_bars()
    with _library_errors(fmt, f"Publish refused: {dist} does not pass `validate --dist`; rebuild it."):
        result = publish(
            dist,
            repo_id,
            private=private,
            revision=revision,
            create_pr=create_pr,
            message=message,
            dry_run=dry_run,
        )
    click.echo(result.summary())


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="dataset-builder")
