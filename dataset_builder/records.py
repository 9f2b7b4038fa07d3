"""The types every stage shares: lines, papers, problems, places, duplicates, revisions, near-duplicates.

Nothing here imports another module of the package."""

from __future__ import annotations

import re
from dataclasses import dataclass


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


# Up to the last `@` before the host: a password may hold `@` unencoded (`http://user:p@ss@host`).
_USERINFO = re.compile(r"(?<=://)[^/?#\s]+@")


def hide_passwords(text: str) -> str:
    """`text` with the password of any `scheme://user:password@host` URL (and the user) as `***`."""
    return _USERINFO.sub("***@", text)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A removed paper and the kept first occurrence it repeats."""

    file: str
    line: int
    paper_id: str
    first_file: str
    first_line: int


@dataclass(frozen=True, slots=True)
class Place:
    """Where one version of a paper was read: file name, path as given, title line."""

    file: str
    path: str
    line: int


@dataclass(frozen=True)
class Revision:
    """A paper read with more than one title (retitled: one arXiv id) or abstract: every distinct
    version, first place first, its title (`titles`, when known) and the version whose abstract the
    dataset holds (`kept`). The row stays at `versions[0]`, with its title."""

    paper_id: str
    versions: tuple[Place, ...]
    kept: Place
    policy: str
    titles: tuple[str, ...] = ()

    @property
    def retitled(self) -> bool:
        return len(set(self.titles)) > 1


@dataclass(frozen=True)
class NearDuplicate:
    """A paper whose title and abstract are close to an earlier, different paper's (neardup.py)."""

    later: Place
    first: Place
    paper_id: str
    first_paper_id: str
    title_similarity: float
    abstract_similarity: float
    removed: bool
