"""`.jsonl` dumps of the Daily Papers API: one entry (a JSON object, as the API gives it) per line.

Per line: the arXiv id is `paper.id`, the title `title` (else `paper.title`), the abstract
`paper.summary` (else `summary`), the authors the `name`s of `paper.authors`, `published_on` the day of
`paper.publishedAt`, `upvotes` `paper.upvotes`; `listed_on` is the date in the file name, else the
day of `paper.submittedOnDailyAt` (else the entry's own `submittedOnDailyAt` or `publishedAt`). Text is
cleaned exactly as a text dump's lines are (read.clean_text), with line breaks as white space. A line
that is not a JSON object, lacks the title, abstract or arXiv id, or holds a field of the wrong kind is
a Problem at its line; the schema's checks (lengths, the arXiv id's pattern, ...) come after, as for
text dumps. Entries come in batches of arrays, like the text parser's papers.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dataset_builder.layout import name_date
from dataset_builder.read import clean_text
from dataset_builder.records import Problem

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INT32_MAX = 2**31 - 1
# The columns of the paper record that only API dumps carry; a paper also read from one takes them.
API_COLUMNS = ("arxiv_id", "authors", "published_on", "listed_on", "upvotes")


@dataclass
class Entries:
    """Consecutive entries of one `.jsonl` dump as arrays (`lines`: each entry's line number), the
    columns only API dumps carry, and the problems among them."""

    titles: pa.Array
    abstracts: pa.Array
    lines: npt.NDArray[np.int64]
    columns: dict[str, pa.Array]
    problems: list[Problem] = field(default_factory=list)


class _Bad(Exception):
    """An entry that cannot be read: its rule and message."""

    def __init__(self, rule: str, message: str, value: str = "") -> None:
        super().__init__(message)
        self.rule, self.message, self.value = rule, message, value


@dataclass
class _Held:
    """Entries read but not yet yielded, column by column."""

    titles: list[str] = field(default_factory=list)
    abstracts: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    arxiv_ids: list[str] = field(default_factory=list)
    authors: list[list[str] | None] = field(default_factory=list)
    published: list[datetime.date | None] = field(default_factory=list)
    listed: list[datetime.date | None] = field(default_factory=list)
    upvotes: list[int | None] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def entries(self) -> Entries:
        columns = {
            "arxiv_id": pa.array(self.arxiv_ids, pa.string()),
            "authors": pa.array(self.authors, pa.list_(pa.string())),
            "published_on": pa.array(self.published, pa.date32()),
            "listed_on": pa.array(self.listed, pa.date32()),
            "upvotes": pa.array(self.upvotes, pa.int32()),
        }
        lines = np.array(self.lines, dtype=np.int64)
        titles, abstracts = pa.array(self.titles, pa.string()), pa.array(self.abstracts, pa.string())
        return Entries(titles, abstracts, lines, columns, self.problems)


def read_entries(
    path: Path, batch_size: int, on_read: Callable[[int], None] | None = None
) -> Iterator[Entries]:
    """The entries of one `.jsonl` dump in batches of `batch_size` (the last may hold fewer), each with
    the problems of the lines it spans; `on_read(bytes)` is told how far the file was read after each."""
    name = str(path)
    listed = name_date(path.name)
    held = _Held()
    found = False
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            found = True
            try:
                _add(held, name, number, raw, listed)
            except _Bad as bad:
                held.problems.append(Problem(name, number, bad.rule, bad.message, bad.value))
            if len(held.lines) >= batch_size:
                yield held.entries()
                held = _Held()
                if on_read is not None:
                    on_read(file.tell())
        if not found:
            held.problems.append(Problem(name, None, "jsonl-no-entries", "no entries: the file is blank"))
        if held.lines or held.problems:
            yield held.entries()
        if on_read is not None:
            on_read(file.tell())


def _add(held: _Held, name: str, number: int, raw: bytes, listed: datetime.date | None) -> None:
    """Read one line's entry into `held`, or raise _Bad (the problem of a text field is added as is)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problem = clean_text(name, number, raw.decode("utf-8", "surrogateescape").strip())
        assert isinstance(problem, Problem)  # clean_text reports the bytes that are not UTF-8
        held.problems.append(problem)
        return
    try:
        entry = json.loads(text)
    except json.JSONDecodeError as e:
        raise _Bad("jsonl-not-json", f"not JSON: {e.msg} at column {e.colno}", text.strip()) from None
    if not isinstance(entry, dict):
        raise _Bad("jsonl-not-json", "not a JSON object (one Daily Papers entry per line)", text.strip())
    paper = entry.get("paper")
    if not isinstance(paper, dict):
        raise _Bad("jsonl-missing-field", "no `paper` object")
    arxiv_id = _string(paper, "id", "paper.id")
    title = _string(entry, "title", "title") if "title" in entry else _string(paper, "title", "paper.title")
    abstract = (
        _string(paper, "summary", "paper.summary")
        if "summary" in paper
        else _string(entry, "summary", "paper.summary")
    )
    texts = [title, abstract, *_authors(paper)]
    cleaned = []
    for what, value in zip(["title", "abstract"] + ["author"] * (len(texts) - 2), texts, strict=True):
        result = clean_text(name, number, value)
        if isinstance(result, Problem):
            # Its column counted in the field, not the line: the message names the field instead.
            held.problems.append(replace(result, message=f"{what}: {result.message}", column=None))
            return
        cleaned.append(result)
    day = _day(paper, "publishedAt", "paper.publishedAt")
    upvotes = _upvotes(paper)
    if listed is None:
        for source, key, shown in [
            (paper, "submittedOnDailyAt", "paper.submittedOnDailyAt"),
            (entry, "submittedOnDailyAt", "submittedOnDailyAt"),
            (entry, "publishedAt", "publishedAt"),
        ]:
            listed = _day(source, key, shown)
            if listed is not None:
                break
    held.titles.append(cleaned[0])
    held.abstracts.append(cleaned[1])
    held.lines.append(number)
    held.arxiv_ids.append(arxiv_id.strip())
    held.authors.append(cleaned[2:] if isinstance(paper.get("authors"), list) else None)
    held.published.append(day)
    held.listed.append(listed)
    held.upvotes.append(upvotes)


def _string(source: dict[str, Any], key: str, shown: str) -> str:
    """A text field that must be there; a lone surrogate escape (`\\ud83d`) is not text."""
    value = source.get(key)
    if value is None:
        raise _Bad("jsonl-missing-field", f"no {shown}")
    if not isinstance(value, str):
        raise _Bad("jsonl-missing-field", f"{shown} is not text", str(value))
    if not value.strip():
        raise _Bad("jsonl-missing-field", f"{shown} is empty")
    if not value.isascii() and _SURROGATE.search(value):
        raise _Bad("jsonl-bad-field", f"{shown} holds half of a surrogate pair, not text", value)
    return value


def _authors(paper: dict[str, Any]) -> list[str]:
    """The authors' names (none when the entry has no list of authors)."""
    authors = paper.get("authors")
    if authors is None:
        return []
    if not isinstance(authors, list):
        raise _Bad("jsonl-bad-field", "paper.authors is not a list", str(authors))
    names = []
    for author in authors:
        if not isinstance(author, dict):
            raise _Bad("jsonl-bad-field", "an author of paper.authors is not an object", str(author))
        names.append(_string(author, "name", "the name of an author"))
    return names


def _day(source: dict[str, Any], key: str, shown: str) -> datetime.date | None:
    """The UTC day of an ISO 8601 time stamp (`2024-03-12T17:59:59.000Z`) or date; None when absent."""
    value = source.get(key)
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise _Bad("jsonl-bad-field", f"{shown} is not an ISO 8601 date", str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.date()


def _upvotes(paper: dict[str, Any]) -> int | None:
    value = paper.get("upvotes")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > _INT32_MAX:
        raise _Bad("jsonl-bad-field", "paper.upvotes is not a whole number", str(value))
    return value
