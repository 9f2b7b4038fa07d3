"""The `dataset-builder` command: a thin layer that turns library results into output and exit codes.

Exit codes: 0 success or valid input, 1 invalid input or a failed run, 2 usage error (click's own),
130 and 143 when stopped by SIGINT (Ctrl-C) and SIGTERM. An unexpected exception is one line and exit 1,
its traceback only with `--verbose`. Nothing printed shows a token or a password in a URL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from dataset_builder.dedup import CONFLICT_POLICIES, NEAR_DUPLICATE_POLICIES
from dataset_builder.errors import DatasetError, Interrupted, InvalidInput, PublishError
from dataset_builder.hub import defaults as hub_defaults  # light: no Hub client
from dataset_builder.layout import DEFAULT_REPO_ID, DISTRIBUTION
from dataset_builder.pipeline import DEFAULT_BATCH_SIZE, build, validate_dumps
from dataset_builder.records import Problem, hide_passwords
from dataset_builder.report import FORMATS, Report, github_annotation
from dataset_builder.runner import stop_on_signals, use_system_memory
from dataset_builder.settings import SETTINGS_FILE, Settings, SettingsError, check_repo_id
from dataset_builder.shards import DEFAULT_MAX_SHARD_BYTES

# The units `datasets.utils.py_utils.convert_file_size_to_int` reads (tests/test_cli.py checks the two
# agree): binary ones, then decimal ones, where a lower-case `b` means bits.
_BINARY_UNITS = {"PIB": 2**50, "TIB": 2**40, "GIB": 2**30, "MIB": 2**20, "KIB": 2**10}
_DECIMAL_UNITS = {"PB": 10**15, "TB": 10**12, "GB": 10**9, "MB": 10**6, "KB": 10**3}

# What a stopped command has (not) done, by command.
_STOPPED = {
    "build": "nothing was written; --out is as it was",
    "validate": "nothing was written",
    "publish": "the Hub applies a commit whole or not at all; publish again to finish",
    "fetch": "every day's file is complete or as it was; fetch again to finish",
}

_INPUTS = click.argument(
    # Not click.Path(exists=True): a missing path or broken link is a problem in the report, in every
    # --format, like one inside a folder.
    "inputs",
    nargs=-1,
    type=click.Path(path_type=Path),
    metavar="[INPUT]...",
)
_ON_CONFLICT = click.option(
    "--on-conflict",
    type=click.Choice(CONFLICT_POLICIES),
    help="A revised paper (same title, another abstract): an error, or keep its first or last version. "
    "Default: on-conflict of the settings, or error.",
)
_NEAR_DUPLICATES = click.option(
    "--near-duplicates",
    type=click.Choice(NEAR_DUPLICATE_POLICIES),
    help="Papers with close titles and abstracts: report them, also remove them, or don't look. "
    "Default: near-duplicates of the settings, or warn.",
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


def redact(text: str) -> str:
    """`text` without the password of any `user:password@` URL and without the Hub token.

    The token is HF_TOKEN or, once the Hub client is loaded (only commands that use it load it), the
    saved login: a command that never loads the client cannot have printed the saved one.
    """
    text = hide_passwords(text)
    tokens = [os.environ.get("HF_TOKEN")]
    if "huggingface_hub" in sys.modules:
        from huggingface_hub import get_token

        with contextlib.suppress(Exception):  # an unreadable saved login must not stop an error message
            tokens.append(get_token())
    for token in tokens:
        if token and len(token) >= 8:
            text = text.replace(token, "***")
    return text


def _echo(text: str, err: bool = False) -> None:
    click.echo(redact(text), err=err)


def _repo_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else check_repo_id(value)
    except SettingsError as e:
        raise click.BadParameter(str(e)) from e


def _tag(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        from dataset_builder.hub.release import check_tag  # imports huggingface_hub

        return None if value is None else check_tag(value)
    except DatasetError as e:
        raise click.BadParameter(str(e)) from e


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 < value < math.inf:  # false for nan too
        raise click.BadParameter("must be a positive number of seconds")
    return value


_TIMEOUT = click.option(
    "--timeout",
    type=float,
    default=hub_defaults.TIMEOUT,
    show_default=True,
    callback=_seconds,
    help="Seconds a Hub request may go without an answer before it fails (and, if safe, is retried).",
)
_RETRIES = click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=hub_defaults.TRIES - 1,
    show_default=True,
    help="Times a failed Hub request is sent again (a commit only if it cannot have been applied), "
    "after a wait that doubles each time (or the wait the Hub asks for), before the command gives up; "
    "0 fails at once.",
)


def _hub_timeouts(seconds: float) -> None:
    """Give huggingface_hub's shared HTTP client these timeouts (it has none); process-wide, so only the
    CLI does it, for the commands that talk to the Hub."""
    from huggingface_hub import set_client_factory

    from dataset_builder.hub.http import client_factory

    set_client_factory(client_factory(seconds))


def _endpoint() -> str | None:
    """HF_ENDPOINT as the command runs: huggingface_hub reads it once, at import, so a process that sets
    it later (a notebook, a test calling `cli`) would otherwise talk to the Hub it had at import."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or None


def _settings(**options: object) -> Settings:
    """The project settings (dataset-builder.toml or [tool.dataset-builder]) with the options given on
    the command line over them; a bad settings file is a usage error."""
    try:
        return Settings.load(Path(".")).override(**options)
    except SettingsError as e:
        raise click.UsageError(str(e)) from e


def _emit(report: Report, fmt: str, err: bool = False) -> None:
    """The report; JSON always on stdout, where tools read it."""
    _echo(report.render(fmt), err=err and fmt != "json")


@contextmanager
def _library_errors(fmt: str, refused: str = "") -> Iterator[None]:
    """Library exceptions as output and exit codes: refused input prints its report and exits 1, any
    other DatasetError becomes click's error message (also exit 1; with --format json also a report)."""
    try:
        yield
    except InvalidInput as e:
        _emit(e.report, fmt, err=True)
        if refused:
            _echo(refused, err=True)
        sys.exit(1)
    except DatasetError as e:
        problem = Problem(e.file, None, e.rule, redact(str(e)))
        if fmt == "json":
            _emit(Report(problems=[problem]), fmt)
        elif fmt == "github":  # an annotation on the run, besides the error line
            _echo(github_annotation(problem))
        raise click.ClickException(redact(str(e))) from e


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _redact_log_records() -> None:
    """Every log record redacted when it is made, whatever prints it: huggingface_hub logs through a
    handler of its own (with HF_DEBUG=1, each request as a curl command with the full URL)."""
    make = logging.getLogRecordFactory()
    if getattr(make, "__name__", "") == "_redacted_record":
        return
    busy = threading.local()

    def _redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if not getattr(busy, "on", False):  # redact may log (reading the saved token): no recursion
            busy.on = True
            try:
                record.msg, record.args = redact(record.getMessage()), None
            except Exception:  # a malformed record is printed as the logging module would
                pass
            finally:
                busy.on = False
        return record

    logging.setLogRecordFactory(_redacted_record)


def _flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """-v/-q, wherever given (before or after the command), into the meta every context shares."""
    if value:
        ctx.meta[param.name or ""] = True
        if param.name == "verbose":
            logging.getLogger().setLevel(logging.INFO)


def _common_options() -> list[click.Option]:
    """-v/--verbose and -q/--quiet, accepted by the group and by every command."""
    return [
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            expose_value=False,
            callback=_flag,
            help="Log each stage with its time; show tracebacks.",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_flag,
            help="No progress bars (they only show on a terminal).",
        ),
    ]


def _progress(ctx: click.Context) -> bool:
    """Progress bars: on a terminal, unless -q was given."""
    return not ctx.meta.get("quiet") and sys.stderr.isatty()


class _Commands(click.Group):
    """The one place that turns a stop or an unexpected exception into one line and an exit code, and
    that gives every command -v/--verbose and -q/--quiet (unless it has its own)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        taken = {opt for param in cmd.params for opt in param.opts}
        cmd.params.extend(o for o in _common_options() if not taken & set(o.opts))
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with stop_on_signals():
                return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Interrupted as e:
            name = signal.Signals(e.signum).name
            done = (
                "the new build was already in place"
                if e.completed
                else _STOPPED.get(ctx.invoked_subcommand or "", "stopped")
            )
            _echo(f"Interrupted ({name}): {done}.", err=True)
            ctx.exit(128 + e.signum)
        except OSError as e:  # a full disk, a network failure, ... at a place not named yet: not a bug
            if ctx.meta.get("verbose"):
                _echo(traceback.format_exc(), err=True)
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            _echo(f"Error: {where}{e.strerror or e}.", err=True)
            ctx.exit(1)
        except Exception as e:
            if ctx.meta.get("verbose"):
                _echo(traceback.format_exc(), err=True)
            detail = " ".join(str(e).split()).rstrip(".") or "no message"
            _echo(
                f"Error: {type(e).__name__}: {detail}. This is a bug, please report it with the "
                "output of the same command with --verbose.",
                err=True,
            )
            ctx.exit(1)


def _logging(verbose: bool) -> None:
    """Log lines on stderr, secrets hidden: INFO with -v (a command's own -v raises it later), else
    WARNING."""
    _redact_log_records()
    handler = logging.StreamHandler()
    handler.setFormatter(_Redacting("%(levelname)s %(message)s"))
    logging.basicConfig(handlers=[handler])
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)


@click.group(cls=_Commands, params=_common_options())
@click.version_option(package_name=DISTRIBUTION)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Build, check and publish the Daily Papers dataset from text dumps of the page.

    -v/--verbose and -q/--quiet go before or after the command.
    """
    _logging(bool(ctx.meta.get("verbose")))


@cli.command("build")
@_INPUTS
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder, replaced only when the build succeeds. Default: out of the settings, or dist.",
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
    "--repo-id",
    callback=_repo_id,
    help=f"Hub id shown in the card's snippets. Default: repo-id of the settings, or {DEFAULT_REPO_ID}.",
)
@_ON_CONFLICT
@_NEAR_DUPLICATES
@_FORMAT
@click.pass_context
def build_command(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    out: Path | None,
    max_shard_bytes: int,
    batch_size: int,
    workers: int | None,
    repo_id: str | None,
    on_conflict: str | None,
    near_duplicates: str | None,
    fmt: str,
) -> None:
    """Build the dataset from dumps (files, or folders of *.txt and *.jsonl; default: dumps/) into --out."""
    settings = _settings(repo_id=repo_id, out=out, on_conflict=on_conflict, near_duplicates=near_duplicates)
    with _library_errors(fmt, "Build refused: nothing was written."):
        result = build(
            inputs or (settings.input,),
            settings.out,
            max_shard_bytes=max_shard_bytes,
            batch_size=batch_size,
            workers=workers,
            repo_id=settings.repo_id or DEFAULT_REPO_ID,
            progress=_progress(ctx),
            settings=settings,
            on_conflict=settings.on_conflict,
            near_duplicates=settings.near_duplicates,
        )
    if fmt == "json":  # the report on stdout for tools, the summary for people on stderr
        _emit(result.report, fmt)
        _echo(result.summary(), err=True)
    else:  # warnings and notes, then the summary: one line as a github ::notice::
        summary = result.summary(width=sys.maxsize if fmt == "github" else 100)
        _echo(result.report.render(fmt, summary=summary))


@cli.command("validate")
@_INPUTS
@click.option(
    "--dist",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Check a built dataset folder instead: shards against the schema, card against shards.",
)
@_ON_CONFLICT
@_NEAR_DUPLICATES
@_FORMAT
def validate_command(
    inputs: tuple[Path, ...],
    dist: Path | None,
    on_conflict: str | None,
    near_duplicates: str | None,
    fmt: str,
) -> None:
    """Check dumps as build would, without writing anything. Exit 1 when any problem is found."""
    if dist is not None and inputs:
        raise click.UsageError("give dump INPUTs or --dist, not both")
    settings = _settings(on_conflict=on_conflict, near_duplicates=near_duplicates)
    inputs = inputs or (settings.input,)
    with _library_errors(fmt):
        if dist is not None:
            from dataset_builder.verify import verify_dist

            report = verify_dist(dist, _progress(click.get_current_context()))
        else:
            report = validate_dumps(
                inputs, on_conflict=settings.on_conflict, near_duplicates=settings.near_duplicates
            )
    _emit(report, fmt)
    sys.exit(0 if report.ok else 1)


@cli.command("publish")
@click.argument("dist", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--repo-id",
    callback=_repo_id,
    help=f"Dataset repository on the Hub, as ORG/NAME. Default: repo-id of {SETTINGS_FILE}.",
)
@click.option("--tag", callback=_tag, help="Tag the commit with this version, e.g. v1.2.0 (must be new).")
@click.option("--allow-removals", is_flag=True, help="Publish even if over half the papers would go.")
@click.option(
    "--delete-unlisted",
    is_flag=True,
    help="Also delete files under data/ on the Hub that no build of this tool wrote (default: leave them).",
)
@click.option("--private", is_flag=True, help="Create the repository private (when it does not exist).")
@click.option("--revision", help="Branch to commit to (created from main if missing). Default: main.")
@click.option("--create-pr", is_flag=True, help="Open a pull request instead of committing to the branch.")
@click.option("--message", help="Commit message. Default: a count of added, updated and deleted files.")
@click.option("--dry-run", is_flag=True, help="Print the plan and the papers it changes; send nothing.")
@_TIMEOUT
@_RETRIES
@_FORMAT
@click.pass_context
def publish_command(
    ctx: click.Context,
    dist: Path | None,
    repo_id: str | None,
    tag: str | None,
    allow_removals: bool,
    delete_unlisted: bool,
    private: bool,
    revision: str | None,
    create_pr: bool,
    message: str | None,
    dry_run: bool,
    timeout: float,
    retries: int,
    fmt: str,
) -> None:
    """Release the project's dumps to the Hub in one commit: build dist/ if it is missing or out of
    date with them, check it, publish it. With DIST, publish that built folder as it is.

    The token comes from HF_TOKEN or the saved login, the endpoint from HF_ENDPOINT.
    """
    from huggingface_hub import get_token
    from huggingface_hub.utils.tqdm import disable_progress_bars

    from dataset_builder.hub.http import Retries
    from dataset_builder.hub.publish import NO_TOKEN, publish
    from dataset_builder.hub.release import prepare

    _hub_timeouts(timeout)

    settings = _settings(repo_id=repo_id)
    if settings.repo_id is None:
        raise click.UsageError(f"give --repo-id ORG/NAME or set repo-id in {SETTINGS_FILE}")
    if tag is not None and create_pr:
        raise click.UsageError("--tag names a published commit: tag after the pull request is merged")
    progress = _progress(ctx)
    if not progress:
        disable_progress_bars()
    with _library_errors(fmt):
        if not dry_run and get_token() is None:
            raise PublishError(NO_TOKEN)
    sources = None
    if dist is None:
        with _library_errors(fmt, "Release refused: the dumps do not build; nothing was published."):
            dist, sources, rebuilt, built = prepare(settings, progress=progress)
        if rebuilt:
            click.echo(f"Built {dist} first: {rebuilt}.", err=True)
        if built is not None and fmt != "json":  # what the build warns about, before the plan
            for line in [*built.report.warnings(), *built.report.notes()]:
                _echo(line, err=True)
    with _library_errors(fmt, f"Publish refused: {dist} does not pass `validate --dist`."):
        result = publish(
            dist,
            settings.repo_id,
            private=private,
            revision=revision,
            create_pr=create_pr,
            message=message,
            dry_run=dry_run,
            tag=tag,
            allow_removals=allow_removals,
            delete_unlisted=delete_unlisted,
            sources=sources,
            progress=progress,
            retries=Retries(tries=retries + 1, timeout=timeout),
            endpoint=_endpoint(),
        )
    _echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else result.summary())


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    try:
        return None if value is None else date.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter(f"{value!r} is not a day as YYYY-MM-DD") from e


@cli.command("fetch")
@click.option("--date", "day", callback=_day, help="Fetch this one day, YYYY-MM-DD.")
@click.option("--since", callback=_day, help="Fetch every day from this one, YYYY-MM-DD.")
@click.option("--until", callback=_day, help="Last day for --since, YYYY-MM-DD. Default: today (UTC).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of dumps to write YYYY-MM-DD.jsonl into. Default: input of the settings, or dumps.",
)
@click.option("--refresh", is_flag=True, help="Fetch days already fetched again; replace changed ones.")
@_TIMEOUT
@_RETRIES
@click.pass_context
def fetch_command(
    ctx: click.Context,
    day: date | None,
    since: date | None,
    until: date | None,
    out: Path | None,
    refresh: bool,
    timeout: float,
    retries: int,
) -> None:
    """Fetch the Hub's Daily Papers listing: one dump per day with papers, each line one paper as the
    API sends it. The endpoint comes from HF_ENDPOINT, the (optional) token from HF_TOKEN or the login.
    """
    from dataset_builder.hub.fetch import days_between, fetch_days
    from dataset_builder.hub.http import Retries

    first = day or since
    if first is None or (day is not None and since is not None):
        raise click.UsageError("give --date DAY, or --since DAY [--until DAY]")
    if day is not None and until is not None:
        raise click.UsageError("--until goes with --since, not --date")
    last = day or until or datetime.now(UTC).date()
    if last < first:
        raise click.UsageError(f"--until {last} is before --since {first}")
    _hub_timeouts(timeout)
    with _library_errors("text"):
        result = fetch_days(
            days_between(first, last),
            out or _settings().input,
            refresh=refresh,
            retries=Retries(tries=retries + 1, timeout=timeout),
            progress=_progress(ctx),
            endpoint=_endpoint(),
        )
    _echo(result.summary())


def main() -> None:
    """Console-script entry point: the command owns its process, so it takes the allocator settings
    that keep a build's memory down (runner.use_system_memory); `cli` alone, as tests run it, does not."""
    use_system_memory()
    cli(prog_name="dataset-builder")
