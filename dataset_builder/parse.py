"""Lines -> papers: the blank-line and compact layouts of a Daily Papers page copy.

A dump is a preamble of page UI lines (`new`, `Subscribe`, a date label, ...) and then title and abstract
lines in turn. Blank lines are already gone (read.py), which makes the two layouts one. A line that is
neither a known header nor part of a title/abstract pair is reported where it stands, and pairing resumes
after it, so one stray line never shifts the records behind it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import PurePath

from dataset_builder.records import Line, Paper, Problem

# Page UI lines seen in copies of the page, compared case-folded with white space removed so that
# `byAK and the research community` and `by AK and the research community` are one header.
_HEADERS = frozenset(
    "".join(text.casefold().split())
    for text in (
        "new",
        "Subscribe",
        "Daily Papers",
        "by AK and the research community",
        "Get trending papers in your email inbox!",
        "Get trending papers in your email inbox once a day!",
    )
)
_DATE_LABEL = re.compile(
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}(?:, \d{4})?", re.I
)
_SUBSCRIBE = "Subscribe"
_LONGEST_HEADER = 80  # longer lines are never headers, however they are spaced

# The schema's bounds (schemas/paper.yaml) used as layout evidence: a line longer than any title is an
# abstract, a line shorter than any abstract is a title. Lines in between are told apart by what follows.
TITLE_MAX_CHARS = 300
ABSTRACT_MIN_CHARS = 50


class _Kind(Enum):
    TITLE = "title"
    ABSTRACT = "abstract"
    EITHER = "either"


def is_header(text: str) -> bool:
    """True for a line of the page's UI rather than of a paper."""
    if len(text) > _LONGEST_HEADER:
        return False
    return "".join(text.casefold().split()) in _HEADERS or bool(_DATE_LABEL.fullmatch(text))


def parse(items: Iterable[Line | Problem], file: str) -> Iterator[Paper | Problem]:
    """Pair the lines of one dump into papers; problems from reading pass through in order.

    `file` is the dump's path as given, used in problems; papers record its file name as their source.
    """
    found = False
    for result in _pair(items, file):
        found = True
        yield result
    if not found:
        yield Problem(file, None, "no-papers", "no papers found, only page header or blank lines")


def _pair(items: Iterable[Line | Problem], file: str) -> Iterator[Paper | Problem]:
    source = PurePath(file).name
    in_preamble = True
    title: Line | None = None
    # After an unreadable line that was not a pending title's abstract, that line was a title: its
    # abstract goes with it, reported once (by the read problem) rather than as an orphan.
    skip_abstract = False
    iterator = iter(items)
    following = next(iterator, None)  # one line of lookahead
    while following is not None:
        item, following = following, next(iterator, None)
        if isinstance(item, Problem):
            skip_abstract = title is None and item.line is not None
            title = None
            yield item
            continue
        header = is_header(item.text)
        kind = _kind(item.text)
        if skip_abstract:
            skip_abstract = False
            if kind is not _Kind.TITLE and not header:
                continue
        if in_preamble:
            if header:
                continue
            in_preamble = False
            item = _unglue_subscribe(item)
            kind = _kind(item.text)
        elif header:
            yield Problem(
                file,
                item.number,
                "stray-ui-line",
                "page UI text between papers; delete the line",
                value=item.text,
            )
            continue
        if title is None:
            if kind is _Kind.ABSTRACT:
                yield Problem(
                    file,
                    item.number,
                    "orphan-abstract",
                    f"abstract-like line ({len(item.text):,} chars) with no title before it",
                    value=item.text,
                )
            else:
                title = item
            continue
        if kind is _Kind.TITLE or (kind is _Kind.EITHER and _is_abstract(following)):
            yield Problem(
                file,
                title.number,
                "orphan-title",
                f"title has no abstract: line {item.number} looks like the next title",
                value=title.text,
            )
            title = item
            continue
        yield Paper(title.text, item.text, source, title.number)
        title = None
    if title is not None:
        yield Problem(
            file,
            title.number,
            "orphan-title",
            "title at the end of the file has no abstract",
            value=title.text,
        )


def _unglue_subscribe(line: Line) -> Line:
    """`SubscribeTop2Vec: ...` -> `Top2Vec: ...` (the compact copy glues the button to the first title)."""
    rest = line.text.removeprefix(_SUBSCRIBE)
    if rest != line.text and rest and not rest[0].islower():
        return Line(line.file, line.number, rest.lstrip())
    return line


def _kind(text: str) -> _Kind:
    if len(text) > TITLE_MAX_CHARS:
        return _Kind.ABSTRACT
    if len(text) < ABSTRACT_MIN_CHARS and not text.endswith("."):
        return _Kind.TITLE
    # A short line ending in a full stop is more likely a too-short abstract (for the schema to
    # report) than a title; what follows it decides.
    return _Kind.EITHER


def _is_abstract(item: object) -> bool:
    return isinstance(item, Line) and not is_header(item.text) and _kind(item.text) is _Kind.ABSTRACT
