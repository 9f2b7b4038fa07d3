"""Lines -> papers: the blank-line and compact layouts of a Daily Papers page copy.

A dump is a preamble of page UI lines (`new`, `Subscribe`, a date label, ...), then title and abstract
lines in turn, and, in a copy that runs to the end of the page, the site footer (`Company`, `TOS`, ...).
Blank lines are already gone (read.py), which makes the two layouts one. A line that is neither page UI
nor part of a title/abstract pair is reported where it stands, and pairing resumes after it, so one stray
line never shifts the records behind it. Among the papers, a UI-looking line followed by an abstract is
a paper's title (papers may be called `New`); a date label never is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import PurePath

from dataset_builder.records import Line, Paper, Problem


def _folded(texts: Iterable[str]) -> frozenset[str]:
    """Compared case-folded with white space removed: `byAK and ...` and `by AK and ...` are one line."""
    return frozenset("".join(text.casefold().split()) for text in texts)


_HEADERS = _folded(
    (
        "new",
        "Subscribe",
        "Daily Papers",
        "by AK and the research community",
        "Get trending papers in your email inbox!",
        "Get trending papers in your email inbox once a day!",
    )
)
# The site footer at the end of a copy that runs to the bottom of the page.
_FOOTER = _folded(
    (
        "System theme",
        "Company",
        "TOS",
        "Privacy",
        "About",
        "Jobs",
        "Website",
        "Models",
        "Datasets",
        "Spaces",
        "Pricing",
        "Docs",
    )
)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
# `Mar 12`, `Mar 12, 2024`, `March 12 2024`, `12 Mar`, `12 March 2024`, `2024-03-12`, `2024/03/12`.
_YEAR = r"(?:,? \d{4})?"
_DATE_LABEL = re.compile(
    rf"{_MONTH} \d{{1,2}}{_YEAR}|\d{{1,2}} {_MONTH}{_YEAR}|\d{{4}}([-/])\d\d\1\d\d", re.I
)
_SUBSCRIBE = "Subscribe"
_LONGEST_HEADER = 80  # longer lines are never page UI, however they are spaced
# How a complete abstract ends: a full stop, question or exclamation mark, maybe inside quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")

# The schema's bounds (schemas/paper.yaml) used as layout evidence: a line longer than any title is an
# abstract, a line shorter than any abstract is a title. Lines in between are told apart by what follows.
TITLE_MAX_CHARS = 300
ABSTRACT_MIN_CHARS = 50


class _Kind(Enum):
    TITLE = "title"
    ABSTRACT = "abstract"
    EITHER = "either"


def is_header(text: str) -> bool:
    """True for a line of the page's UI above the papers (or a date label)."""
    if len(text) > _LONGEST_HEADER:
        return False
    return "".join(text.casefold().split()) in _HEADERS or is_date_label(text)


def is_date_label(text: str) -> bool:
    """True for the date the page shows above the papers, in any of the forms copies carry."""
    return bool(_DATE_LABEL.fullmatch(text))


def is_footer(text: str) -> bool:
    """True for a line of the site footer."""
    return len(text) <= _LONGEST_HEADER and "".join(text.casefold().split()) in _FOOTER


def parse(items: Iterable[Line | Problem], file: str) -> Iterator[Paper | Problem]:
    """Pair the lines of one dump into papers; problems from reading pass through in order.

    `file` is the dump's path as given, used in problems; papers record its file name as their source.
    """
    found = False
    for result in _pair(_without_footer(items), file):
        found = True
        yield result
    if not found:
        yield Problem(file, None, "no-papers", "no papers found, only page header or blank lines")


def _without_footer(items: Iterable[Line | Problem]) -> Iterator[Line | Problem]:
    """The items without the trailing run of footer lines; footer-like lines with text after them stay."""
    held: list[Line] = []
    for item in items:
        if isinstance(item, Line) and is_footer(item.text):
            held.append(item)
            continue
        yield from held
        held.clear()
        yield item


def _pair(items: Iterable[Line | Problem], file: str) -> Iterator[Paper | Problem]:
    source = PurePath(file).name
    in_preamble = True
    header_seen = subscribe_alone = False
    title: Line | None = None
    # The abstract on the line just before, when it completed a paper: a broken abstract continues it.
    previous_abstract: Line | None = None
    # After an unreadable line that was not a pending title's abstract, that line was a title: its
    # abstract goes with it, reported once (by the read problem) rather than as an orphan.
    skip_abstract = False
    iterator = iter(items)
    following = next(iterator, None)  # one line of lookahead
    while following is not None:
        item, following = following, next(iterator, None)
        if isinstance(item, Problem):
            skip_abstract = title is None and item.line is not None
            title = previous_abstract = None
            yield item
            continue
        # Among the papers, page UI text is a title when a title is expected and an abstract follows (a
        # paper called `New`). In the preamble it is page UI whatever follows.
        header = is_header(item.text) and not (
            not in_preamble and title is None and not is_date_label(item.text) and _looks_abstract(following)
        )
        kind = _kind(item.text)
        if skip_abstract:
            skip_abstract = False
            if kind is not _Kind.TITLE and not header:
                continue
        if in_preamble:
            if header:
                header_seen = True
                subscribe_alone = subscribe_alone or item.text.casefold() == _SUBSCRIBE.casefold()
                continue
            in_preamble = False
            if not subscribe_alone:
                item = _unglue_subscribe(item, header_seen)
                kind = _kind(item.text)
        elif header:
            previous_abstract = None
            yield Problem(
                file,
                item.number,
                "stray-ui-line",
                "page UI text between papers; delete the line",
                value=item.text,
            )
            continue
        if title is None:
            if _abstract_like(item.text) and not _looks_abstract(following):
                yield _lone_abstract(file, item, previous_abstract)
                previous_abstract = item
            else:
                # A line over TITLE_MAX_CHARS followed by an abstract is a too-long title: paired, it
                # gets one `title-length` problem from the schema at its line.
                title, previous_abstract = item, None
            continue
        # A pending title meets another title, or a title-sized line that does not end like a sentence
        # and is followed by an abstract (its own: the pending title has none).
        if kind is _Kind.TITLE or (not _abstract_like(item.text) and _is_abstract(following)):
            yield Problem(
                file,
                title.number,
                "orphan-title",
                f"title has no abstract: line {item.number} looks like the next title",
                value=title.text,
            )
            title = item
            continue
        yield Paper(title.text, item.text, source, title.number, item.number)
        title, previous_abstract = None, item
    if title is not None:
        yield Problem(
            file,
            title.number,
            "orphan-title",
            "title at the end of the file has no abstract",
            value=title.text,
        )


def _lone_abstract(file: str, line: Line, previous: Line | None) -> Problem:
    """An abstract-like line where a title is expected: the rest of a broken abstract, or an orphan."""
    if previous is not None and (not _SENTENCE_END.search(previous.text) or line.text[0].islower()):
        return Problem(
            file,
            line.number,
            "broken-abstract",
            f"the abstract on line {previous.number} seems to continue here; join the two lines",
            value=line.text,
        )
    return Problem(
        file,
        line.number,
        "orphan-abstract",
        f"abstract-like line ({len(line.text):,} chars) with no title before it",
        value=line.text,
    )


def _unglue_subscribe(line: Line, header_seen: bool) -> Line:
    """`SubscribexLSTM: ...` -> `xLSTM: ...`: the compact copy glues the button to the first title.

    Below a page header that had no `Subscribe` line of its own the button is cut whatever follows it;
    with no header at all only before a capital or a digit (`Subscriber churn` stays a title).
    """
    rest = line.text.removeprefix(_SUBSCRIBE)
    if rest != line.text and rest.strip() and (header_seen or not rest[0].islower()):
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


def _abstract_like(text: str) -> bool:
    """Longer than any title, or a title-sized line that ends like a sentence."""
    kind = _kind(text)
    return kind is _Kind.ABSTRACT or (kind is _Kind.EITHER and text.endswith("."))


def _is_abstract(item: object) -> bool:
    return isinstance(item, Line) and not is_header(item.text) and _kind(item.text) is _Kind.ABSTRACT


def _looks_abstract(item: object) -> bool:
    return isinstance(item, Line) and not is_header(item.text) and _abstract_like(item.text)
