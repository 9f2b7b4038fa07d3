"""The types every stage shares: lines, papers, problems, places, duplicates, revisions, near-duplicates,
and the registry of every problem rule.

Nothing here imports another module of the package."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TypeAlias

# A path as a caller may give it: "dumps", Path("dumps"), or any os.PathLike.
StrPath: TypeAlias = str | os.PathLike[str]


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
    `rule` is a short stable identifier (`orphan-title`, `abstract-length`, ...) that tools can match on;
    it must be a key of RULES.
    """

    file: str
    line: int | None
    rule: str
    message: str
    value: str = ""
    column: int | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}: add it to RULES in records.py")

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


@dataclass(frozen=True, slots=True)
class Rule:
    """What a rule means, in a few words, and whether each of its problems stands for one input record
    lost (a paper's line that never became a paper); the other rules are about lines that are not
    records, about papers (counted as papers), or about whole files and folders."""

    description: str
    loses_record: bool = False


# Every rule a Problem may carry, one line each, in the order README.md's table lists them. A schema
# rule is `{column}-{check}` (schema.py's short check names); every check of schemas/paper.yaml has one.
RULES: dict[str, Rule] = {
    # Lines of a dump (read.py, parse.py)
    "orphan-title": Rule("a title with no abstract after it", loses_record=True),
    "orphan-abstract": Rule("an abstract-like line where a title is expected; never paired", True),
    "broken-abstract": Rule("an abstract that goes on over the next line, reported at the break"),
    "stray-ui-line": Rule("page text between papers"),
    "not-utf8": Rule("a byte that is not UTF-8, at its line and column", loses_record=True),
    "control-char": Rule("a NUL or other control character, at its line and column", loses_record=True),
    "line-too-long": Rule("a line too long to be a dump line; the rest of it is not read", True),
    # Whole dumps
    "utf16": Rule("the file is UTF-16"),
    "binary-file": Rule("the file is mostly control or non-UTF-8 bytes"),
    "empty-file": Rule("the file is empty"),
    "no-papers": Rule("no papers found, only page header or blank lines"),
    # .jsonl dumps (apidump.py): one Daily Papers API entry per line
    "jsonl-not-json": Rule("a `.jsonl` line that is not a JSON object", loses_record=True),
    "jsonl-missing-field": Rule("an entry without a title, abstract or arXiv id", loses_record=True),
    "jsonl-bad-field": Rule("an entry field of the wrong kind (authors, dates, upvotes)", loses_record=True),
    "jsonl-no-entries": Rule("a `.jsonl` dump with no entries"),
    # The paper schema (schemas/paper.yaml), at the title's line (the abstract's for `abstract-*`)
    "paper_id-pattern": Rule("paper_id is not 16 hex digits"),
    "title-length": Rule("a title shorter or longer than the schema allows (one problem per title)"),
    "abstract-length": Rule("an abstract shorter or longer than the schema allows"),
    "source_file-length": Rule("a dump file name longer than the schema allows"),
    "source_line-min": Rule("a line number below 1"),
    "arxiv_id-pattern": Rule("an arXiv id neither `YYMM.NNNN(N)` (optional `vN`) nor `archive/YYMMNNN`"),
    "upvotes-min": Rule("a negative upvote count"),
    "near_duplicate_of-pattern": Rule("near_duplicate_of is not 16 hex digits"),
    "schema": Rule("any other check of the paper schema"),
    # Across dumps (dedup.py, pipeline.py)
    "duplicate-conflict": Rule("same title, different abstract, under `--on-conflict error`"),
    "split-name": Rule("no valid split name can be made from the file name"),
    "split-collision": Rule("two dumps whose names give the same split name"),
    # The paths given (read.py)
    "not-found": Rule("no such file or folder"),
    "not-a-file": Rule("a FIFO, device, folder or broken link; never opened"),
    "unreadable": Rule("the file or folder cannot be read"),
    "no-dumps": Rule("a folder without `*.txt` or `*.jsonl` files"),
    "duplicate-name": Rule("two dumps with the same file name"),
    # A built folder, with `validate --dist` (verify.py)
    "card-missing": Rule("no README.md dataset card"),
    "card-yaml": Rule("card YAML that does not parse, or not the metadata build writes"),
    "card-features": Rule("the card's features differ from the paper schema"),
    "card-rows": Rule("the card's row counts differ from the shards'"),
    "card-size": Rule("the card's download_size differs from the shards' bytes"),
    "card-provenance": Rule("no `dataset_builder.shards` record of every shard's sha256"),
    "shard-missing": Rule("a shard the card lists is missing"),
    "shard-name": Rule("a shard not named as its split and index say"),
    "shard-unreadable": Rule("a shard that is not a Parquet file"),
    "shard-corrupt": Rule("sha256 not the one the card records, or a page checksum fails"),
    "shard-schema": Rule("a shard's columns or types differ from the paper schema"),
    "duplicate-id": Rule("a paper_id in more than one row"),
    "stray-file": Rule("a file the card does not list"),
    # A run refused before any dump is read (errors.py's DatasetError)
    "refused": Rule("the run was refused; the message says why"),
    "out-not-a-build": Rule("`--out` exists and is not a previous build; nothing was touched"),
    "publish-failed": Rule("publishing failed; the repository was left as it was"),
    "fetch-failed": Rule("fetching a day from the Hub failed; files already written are complete"),
    "file-system": Rule("the file system refused (full disk, read-only, name too long); the path is named"),
}
LOST_RECORD_RULES = frozenset(name for name, rule in RULES.items() if rule.loses_record)


def rules_table() -> str:
    """RULES as the Markdown table README.md shows (tests/test_docs.py keeps the two equal)."""
    rows = ["| Rule | Meaning | Loses a record |", "| --- | --- | --- |"]
    for name, rule in RULES.items():
        rows.append(f"| `{name}` | {rule.description} | {'yes' if rule.loses_record else ''} |")
    return "\n".join(rows) + "\n"


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
