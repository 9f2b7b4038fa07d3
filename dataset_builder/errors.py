"""The library's exceptions: what a failed run raises; only cli.py turns them into messages and exit codes."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from dataset_builder.records import RULES

if TYPE_CHECKING:
    from dataset_builder.report import Report


class DatasetError(Exception):
    """A run failed; the message says what to do about it.

    `file` and `rule` place it like a Problem when it is about one path (`--format json` shows it so);
    `rule` must be a key of records.RULES.
    """

    def __init__(self, message: str, *, file: str = "", rule: str = "refused") -> None:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}: add it to RULES in records.py")
        super().__init__(message)
        self.file = file
        self.rule = rule


class FileSystemError(DatasetError):
    """Reading or writing a file failed for a reason outside the tool: a full disk, a read-only file
    system, a name too long for the file system, a symlink loop."""

    def __init__(self, path: object, error: OSError | RuntimeError, done: str = "") -> None:
        cause = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        super().__init__(f"{path}: {cause}{f'; {done}' if done else ''}", file=str(path), rule="file-system")
        self.errno = error.errno if isinstance(error, OSError) else None


class InvalidInput(DatasetError):
    """The dumps have problems; `report` lists every one of them."""

    def __init__(self, report: Report) -> None:
        self.report = report
        count = report.problem_count
        super().__init__(f"{count} problem{'' if count == 1 else 's'} in the input; nothing was written")


class CardError(DatasetError):
    """A dataset card this tool did not write, or one edited so that it no longer says what a build is."""

    def __init__(self, message: str, *, file: str = "", rule: str = "card-yaml") -> None:
        super().__init__(message, file=file, rule=rule)


class PublishError(DatasetError):
    """Publishing to the Hub failed; the repository was left as it was."""

    def __init__(self, message: str) -> None:
        super().__init__(message, rule="publish-failed")


class FetchError(DatasetError):
    """Fetching a day's listing from the Hub failed; the message names the day. Days before it were
    written, the rest not tried."""

    def __init__(self, message: str, *, file: str = "") -> None:
        super().__init__(message, file=file, rule="fetch-failed")


# The signals that stop a run: Ctrl-C, `kill`, and SIGHUP when the terminal or SSH session closes.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """One of STOP_SIGNALS stopped the run. A KeyboardInterrupt, so every `except Exception` lets it
    through and every clean-up on the way out runs; `completed` is True when it came after the new
    build was already in place."""

    def __init__(self, signum: int, completed: bool = False) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.completed = completed
