"""The types every stage shares: lines, papers, problems, and the library's exceptions."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataset_builder.report import Report


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line of a dump, cleaned (read.py) and NFC-normalized, with its 1-based line number."""

    file: str
    number: int
    text: str


@dataclass(frozen=True, slots=True)
class Paper:
    """A title/abstract pair as parsed from a dump; `line` is the line of the title, `abstract_line`
    that of the abstract (problems with the abstract point there)."""

    title: str
    abstract: str
    source: str
    line: int
    abstract_line: int


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the input, located as precisely as the input allows.

    `line` is None for problems of a whole file (empty, not UTF-8) or of the set of files (split names).
    `rule` is a short stable identifier (`orphan-title`, `abstract-length`, ...) that tools can match on.
    """

    file: str
    line: int | None
    rule: str
    message: str
    value: str = ""
    column: int | None = None

    def location(self) -> str:
        """`FILE:LINE:COL` as far as known, the form editors and CI logs link to."""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        value = f" ({shorten(self.value)})" if self.value else ""
        return f"{self.location()}: [{self.rule}] {self.message}{value}"


def shorten(text: str, width: int = 60) -> str:
    """Quote a possibly huge offending value for a one-line message."""
    if len(text) > width:
        text = text[: width - 3] + "..."
    return repr(text)


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def hide_passwords(text: str) -> str:
    """`text` with the password of any `scheme://user:password@host` URL (and the user) as `***`."""
    return _USERINFO.sub("***@", text)


# The YAML key of the card's provenance block (card.provenance): only this tool writes it, so a folder
# whose card has it is a build (staging.check_replaceable).
PROVENANCE_KEY = "dataset_builder"


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
