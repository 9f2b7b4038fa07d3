"""The library's exceptions: what a failed run raises; only cli.py turns them into messages and exit codes."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataset_builder.report import Report


class DatasetError(Exception):
    """A run failed; the message says what to do about it.

    `file` and `rule` place it like a Problem when it is about one path (`--format json` shows it so).
    """

    def __init__(self, message: str, *, file: str = "", rule: str = "refused") -> None:
        super().__init__(message)
        self.file = file
        self.rule = rule


class InvalidInput(DatasetError):
    """The dumps have problems; `report` lists every one of them."""

    def __init__(self, report: Report) -> None:
        self.report = report
        count = len(report.problems)
        super().__init__(f"{count} problem{'' if count == 1 else 's'} in the input; nothing was written")


class CardError(DatasetError):
    """A dataset card this tool did not write, or one edited so that it no longer says what a build is."""

    def __init__(self, message: str, *, file: str = "", rule: str = "card-yaml") -> None:
        super().__init__(message, file=file, rule=rule)


class PublishError(DatasetError):
    """Publishing to the Hub failed; the repository was left as it was."""

    def __init__(self, message: str) -> None:
        super().__init__(message, rule="publish-failed")


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run. A KeyboardInterrupt, so every `except Exception` lets it
    through and every clean-up on the way out runs; `completed` is True when it came after the new
    build was already in place."""

    def __init__(self, signum: int, completed: bool = False) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.completed = completed
