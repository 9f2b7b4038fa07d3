"""Lines -> papers: the blank-line and compact layouts of a Daily Papers page copy.

A dump is a preamble of page UI lines (`new`, `Subscribe`, a date label, ...), then title and abstract
lines in turn, and, in a copy that runs to the end of the page, the site footer (`Company`, `TOS`, ...).
Blank lines are already gone (read.py), which makes the two layouts one.

Three parts, each rule written once:

- the rules as data (UI_WORDS, FOOTER_WORDS, DATE_LABEL, the lengths) and `classify`, which gives every
  line a `Code` (page UI, date label, title-sized, abstract-sized, ...), with Arrow kernels;
- `step`, the pairing state machine: (state, code, next code) -> (new state, what the line is);
- `parse_dump`, which runs `step` line by line where it must and takes runs of plain title/abstract
  pairs (PLAIN_PAIRS, from a state in PAIRING) as arrays; tests/test_parse.py checks over every state,
  code and next code that `step` would have paired them the same way.

A line that is neither page UI nor part of a title/abstract pair is reported where it stands and pairing
resumes after it, so one stray line never shifts the records behind it.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum, IntEnum
from pathlib import Path, PurePath
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dataset_builder.read import PIECE_BYTES, Piece, file_problem, read_pieces
from dataset_builder.records import Line, Paper, Problem

# --- The rules, as data -------------------------------------------------------------------------------

# The page's UI above the papers (a date label is UI too), and the site footer at the end of a copy that
# runs to the bottom of the page. Compared case-folded with white space removed (`fold`).
UI_WORDS = (
    "new",
    "Subscribe",
    "Daily Papers",
    "by AK and the research community",
    "Get trending papers in your email inbox!",
    "Get trending papers in your email inbox once a day!",
)
FOOTER_WORDS = (
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
LONGEST_UI = 80  # longer lines are never page UI or footer, however they are spaced
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = rf"(?:{'|'.join(MONTHS)})[a-z]*\.?"
_YEAR = r"(?:,? \d{4})?"
# The date the page shows above the papers: `Mar 12`, `Mar 12, 2024`, `March 12 2024`, `12 Mar`,
# `12 March 2024`, `2024-03-12`, `2024/03/12`. One pattern for Python's `re` and Arrow's RE2.
DATE_LABEL = (
    rf"(?i)^(?:{_MONTH} \d{{1,2}}{_YEAR}|\d{{1,2}} {_MONTH}{_YEAR}|\d{{4}}-\d\d-\d\d|\d{{4}}/\d\d/\d\d)$"
)
# The schema's bounds (schemas/paper.yaml) used as layout evidence: a line longer than any title is an
# abstract, a line shorter than any abstract is a title. Lines in between are told apart by what follows.
TITLE_MAX_CHARS = 300
ABSTRACT_MIN_CHARS = 50
# Where a title-sized line reads as running text: a sentence ends inside it (`... in depth. Our ...`).
# Three lower-case letters before the stop keep `vs. `, `et al. ` and `e.g. ` in titles from counting.
PROSE = r"[a-z]{3}[.!?] [A-Z]"
# How the rest of a line broken mid-sentence starts.
CONTINUES = r"^[a-z]"
# How a complete abstract ends: a full stop, question or exclamation mark, maybe inside quotes or brackets.
SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
SUBSCRIBE = "Subscribe"


def fold(text: str) -> str:
    """Case-folded with white space removed: `byAK and ...` and `by AK and ...` are one line."""
    return "".join(text.casefold().split())


_UI = frozenset(map(fold, UI_WORDS))
_FOOTER = frozenset(map(fold, FOOTER_WORDS))
_DATE_LABEL = re.compile(DATE_LABEL)
_PROSE = re.compile(PROSE)
_CONTINUES = re.compile(CONTINUES)


def is_date_label(text: str) -> bool:
    """True for the date the page shows above the papers, in any of the forms copies carry."""
    return bool(_DATE_LABEL.search(text))


def is_header(text: str) -> bool:
    """True for a line of the page's UI above the papers (or a date label)."""
    return len(text) <= LONGEST_UI and (fold(text) in _UI or is_date_label(text))


def is_footer(text: str) -> bool:
    """True for a line of the site footer."""
    return len(text) <= LONGEST_UI and fold(text) in _FOOTER


def page_date(label: str) -> datetime.date | None:
    """The date a date label names when it carries a year (`Mar 12, 2024`, `2024-03-12`); None for a
    label without a year (`Mar 12`), a day that does not exist, or text that is not a date label."""
    if not is_date_label(label):
        return None
    numbers = re.findall(r"\d+", label)
    word = re.search(r"[a-z]+", label, re.I)
    if word is None:  # 2024-03-12, 2024/03/12
        year, month, day = (int(n) for n in numbers)
    elif len(numbers) == 2:  # a month name, and a day and a year in either order
        day_digits, year_digits = sorted(numbers, key=len)
        year, day = int(year_digits), int(day_digits)
        month = MONTHS.index(word.group().casefold()[:3]) + 1
    else:
        return None
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


class Code(IntEnum):
    """What a line is, as far as pairing needs to know; END stands for "no next line"."""

    PROBLEM = 0  # a line that could not be read (read.py's problem)
    DATE = 1  # a date label: page UI, never a title
    UI = 2  # a page UI word: a title among the papers when an abstract follows
    FOOTER = 3  # a footer word: dropped in the file's last run of them, else a title-sized line
    TITLE = 4  # shorter than any abstract, not ending in a full stop
    MID = 5  # title- and abstract-sized, not ending in a full stop
    PROSE = 6  # MID, reading as running text (PROSE)
    DOT = 7  # title-sized, ending in a full stop: a short abstract more likely than a title
    LONG = 8  # longer than any title
    REST = 9  # DOT or LONG, starting in lower case (CONTINUES): the rest of a line broken mid-sentence
    END = 10


def kind_code(text: str) -> Code:
    """The code of a line that is not page UI, from its length and how it ends."""
    if len(text) > TITLE_MAX_CHARS or text.endswith("."):
        if _CONTINUES.search(text):
            return Code.REST
        return Code.LONG if len(text) > TITLE_MAX_CHARS else Code.DOT
    if len(text) < ABSTRACT_MIN_CHARS:
        return Code.TITLE
    return Code.PROSE if _PROSE.search(text) else Code.MID


def code_of(text: str) -> Code:
    """The code of one cleaned line (`classify` gives the same for arrays of them)."""
    if is_date_label(text) and len(text) <= LONGEST_UI:
        return Code.DATE
    if is_header(text):
        return Code.UI
    return Code.FOOTER if is_footer(text) else kind_code(text)


@functools.cache
def _word_sets() -> tuple[tuple[pa.Array, Code], ...]:
    """The footer and UI words as Arrow arrays with their codes, for `classify`. Made on first use, not
    at import: pyarrow's first `pa.array` call imports pandas (0.25 s), which a command that parses
    nothing (`--help`) should not pay."""
    footer, ui = (pa.array(sorted(words), pa.string()) for words in (_FOOTER, _UI))
    return (footer, Code.FOOTER), (ui, Code.UI)


# Up to this many lines, `classify` asks `code_of` line by line: its twenty-odd Arrow calls cost about
# 0.5 ms whatever the lines, as much as a day's dump of one paper takes to read.
FEW_LINES = 8


def classify(texts: pa.Array, length: npt.NDArray[np.int32] | None = None) -> npt.NDArray[np.int8]:
    """The `Code` of every line (PROBLEM rows are set by the caller), given their lengths if known.

    Arrow on ASCII lines; the few short non-ASCII lines go through `code_of`, since case folding and
    `\\d` differ between Python and RE2 outside ASCII; so do all the lines of a piece of FEW_LINES or
    fewer.
    """
    if len(texts) <= FEW_LINES:
        return np.array([code_of(text) for text in texts.to_pylist()], dtype=np.int8)
    if length is None:
        length = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
    dot = pc.ends_with(texts, ".").to_numpy(zero_copy_only=False)
    codes = np.full(len(texts), Code.MID, dtype=np.int8)
    codes[length < ABSTRACT_MIN_CHARS] = Code.TITLE
    mid = np.flatnonzero((length >= ABSTRACT_MIN_CHARS) & ~dot & (length <= TITLE_MAX_CHARS))
    if len(mid):
        prose = pc.match_substring_regex(texts.take(pa.array(mid)), PROSE).to_numpy(zero_copy_only=False)
        codes[mid[prose]] = Code.PROSE
    codes[dot] = Code.DOT
    codes[length > TITLE_MAX_CHARS] = Code.LONG
    rest = pc.match_substring_regex(texts, CONTINUES).to_numpy(zero_copy_only=False)
    codes[rest & (dot | (length > TITLE_MAX_CHARS))] = Code.REST
    short = np.flatnonzero(length <= LONGEST_UI)
    if len(short):
        sub = texts.take(pa.array(short))
        ascii_ = pc.string_is_ascii(sub).to_numpy(zero_copy_only=False)
        folded = pc.replace_substring(pc.ascii_lower(sub), " ", "")
        for words, code in _word_sets():
            codes[short[pc.is_in(folded, words).to_numpy(zero_copy_only=False) & ascii_]] = code
        date = pc.match_substring_regex(sub, DATE_LABEL).to_numpy(zero_copy_only=False)
        codes[short[date & ascii_]] = Code.DATE
        others = short[~ascii_]
        if len(others):
            codes[others] = [code_of(text) for text in texts.take(pa.array(others)).to_pylist()]
    return codes


# --- The pairing state machine ----------------------------------------------------------------------


class State(NamedTuple):
    """Where pairing stands: still in the preamble; a title waiting for its abstract; the line before
    completed an abstract (a broken abstract continues it); a read problem dropped a pending title, so
    the next abstract-like line is that title's abstract (reported once, by the read problem)."""

    preamble: bool
    title: bool
    after_abstract: bool
    skip: bool


class Emit(Enum):
    """What `step` makes of a line."""

    SKIP = "skip"  # page UI in the preamble, or the abstract of a title a read problem took
    PASS = "pass"  # a read problem, passed on
    TITLE = "title"  # the line waits for its abstract
    PAPER = "paper"  # the line is the waiting title's abstract
    ORPHAN_TITLE = "orphan-title"  # the waiting title has no abstract; the line waits instead
    ORPHAN_ABSTRACT = "orphan-abstract"  # abstract-like, no title before it
    BROKEN = "broken-abstract"  # abstract-like, right after an abstract: its rest
    STRAY = "stray-ui-line"  # page UI between papers


START = State(preamble=True, title=False, after_abstract=False, skip=False)
_ABSTRACT_LIKE = frozenset({Code.DOT, Code.LONG, Code.REST})
_HEADER = frozenset({Code.DATE, Code.UI})
# Shorter than any abstract and not ending like a sentence: surely a title, never an abstract.
_SURELY_TITLE = frozenset({Code.TITLE, Code.UI, Code.FOOTER})


def step(state: State, code: Code, following: Code) -> tuple[State, Emit]:
    """Pair one line: what it is and the state after it, from the state, its code and the next line's."""
    if code is Code.PROBLEM:
        return State(state.preamble, False, False, skip=not state.title), Emit.PASS
    # Among the papers, a UI word is a title when no title waits and an abstract follows (a paper called
    # `New`). In the preamble it is page UI whatever follows; a date label always is.
    header = code in _HEADER and not (
        not state.preamble and not state.title and code is Code.UI and following in _ABSTRACT_LIKE
    )
    if state.skip and not header and code not in _SURELY_TITLE:
        return state._replace(skip=False), Emit.SKIP
    state = state._replace(skip=False)
    if header:
        if state.preamble:
            return state, Emit.SKIP
        return state._replace(after_abstract=False), Emit.STRAY
    state = state._replace(preamble=False)
    if not state.title:
        # A line over TITLE_MAX_CHARS followed by an abstract is a too-long title: paired, it gets one
        # `title-length` problem from the schema at its line.
        if code in _ABSTRACT_LIKE and following not in _ABSTRACT_LIKE:
            emit = Emit.BROKEN if state.after_abstract else Emit.ORPHAN_ABSTRACT
            return state._replace(after_abstract=True), emit
        return state._replace(title=True, after_abstract=False), Emit.TITLE
    # A waiting title meets another title, or a title-sized line that does not end like a sentence and
    # has none in it (MID: it reads as a title; were it this title's abstract cut short, the problem
    # says to join it). Running text (PROSE), or a line whose rest follows (REST), is the waiting
    # title's abstract, broken.
    if following is not Code.REST and (code in _SURELY_TITLE or code is Code.MID):
        return state, Emit.ORPHAN_TITLE
    return state._replace(title=False, after_abstract=True), Emit.PAPER


# Pairs of codes that `step` pairs as title and abstract from any state in PAIRING, whatever follows,
# leaving it in a state in PAIRING again (checked over every combination by tests/test_parse.py): any
# title-like line before an abstract-like one, and a title before running text (a short or broken
# abstract: what follows it is reported on its own).
PAIRING = frozenset(State(False, False, after, False) for after in (False, True))
_TITLE_LIKE = (Code.UI, Code.FOOTER, Code.TITLE, Code.MID, Code.PROSE, *_ABSTRACT_LIKE)
PLAIN_PAIRS = frozenset(
    [(title, abstract) for title in _TITLE_LIKE for abstract in _ABSTRACT_LIKE]
    + [(title, Code.PROSE) for title in (Code.FOOTER, Code.TITLE, Code.MID, Code.PROSE)]
)
_PLAIN = np.zeros((len(Code), len(Code)), dtype=bool)
for _title, _abstract in PLAIN_PAIRS:
    _PLAIN[_title, _abstract] = True


# --- The production entry point -----------------------------------------------------------------------


@dataclass
class Papers:
    """Consecutive papers of one dump as Arrow arrays: title, abstract and their line numbers."""

    titles: pa.Array
    abstracts: pa.Array
    lines: npt.NDArray[np.int64]
    abstract_lines: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.titles)

    def to_list(self, source: str) -> list[Paper]:
        """The papers as Paper objects with `source` as their file name."""
        return [
            Paper(t, a, source, int(n), int(m))
            for t, a, n, m in zip(
                self.titles.to_pylist(),
                self.abstracts.to_pylist(),
                self.lines,
                self.abstract_lines,
                strict=True,
            )
        ]


Chunk = Papers | list[Paper | Problem]


def parse_dump(
    path: Path,
    piece_bytes: int = PIECE_BYTES,
    on_read: Callable[[int], None] | None = None,
    on_label: Callable[[str], None] | None = None,
) -> Iterator[Chunk]:
    """The papers and problems of one dump in file order: runs of papers as `Papers`, the rest as lists.

    `on_read(bytes)` is told how far the file has been read after each piece; `on_label(text)` is
    given each date label of the preamble (see `page_date`).
    """
    problem = file_problem(path)
    if problem is not None:
        yield [problem]
        return
    yield from _Pairing(str(path), on_label).run(read_pieces(path, piece_bytes, on_read))


@dataclass
class _Lines:
    """Lines not yet paired: a piece's, after what the previous pieces left, with their codes."""

    piece: Piece
    codes: npt.NDArray[np.int8]

    @classmethod
    def of(cls, piece: Piece) -> _Lines:
        codes = classify(piece.texts, piece.lengths())
        codes[list(piece.problems)] = Code.PROBLEM
        return cls(piece, codes)

    def then(self, other: _Lines) -> _Lines:
        a, b = self.piece, other.piece
        problems = {**a.problems, **{i + len(a): p for i, p in b.problems.items()}}
        texts = pa.concat_arrays([a.texts, b.texts])
        piece = Piece(texts, np.concatenate([a.numbers, b.numbers]), problems, b.last)
        return _Lines(piece, np.concatenate([self.codes, other.codes]))

    def since(self, start: int) -> _Lines:
        p = self.piece
        problems = {i - start: v for i, v in p.problems.items() if i >= start}
        return _Lines(Piece(p.texts.slice(start), p.numbers[start:], problems, p.last), self.codes[start:])


class _Pairing:
    """`step` run over the pieces of one dump, with runs of plain pairs taken as arrays."""

    def __init__(self, name: str, on_label: Callable[[str], None] | None) -> None:
        self.name = name
        self.source = PurePath(name).name
        self.on_label = on_label
        self.state = START
        self.title: Line | None = None  # the title waiting for its abstract
        self.abstract: Line | None = None  # the abstract on the line before, when there is one
        self.header_seen = self.subscribe_alone = False
        self.found = False

    def run(self, pieces: Iterable[Piece]) -> Iterator[Chunk]:
        held: _Lines | None = None  # the lines of the previous piece that wait for what follows
        for piece in pieces:
            if not len(piece) and not piece.last:  # only blank lines: nothing follows yet
                continue
            lines = _Lines.of(piece)
            if held is not None and len(held.codes) == 1 and held.codes[0] != Code.FOOTER:
                # One line waits (the usual case): paired on its own, without joining the arrays.
                following = Code(lines.codes[0]) if len(lines.codes) else Code.END
                after = int(lines.piece.numbers[0]) if len(lines.codes) else None
                yield from self._chunk(self._step(held.piece, 0, Code(held.codes[0]), following, after))
            elif held is not None:
                lines = held.then(lines)
            done = yield from self._pair(lines, self._footer(lines))
            held = lines.since(done) if done < len(lines.codes) else None
        if self.state.title and self.title is not None:
            self.found = True
            yield [self._orphan_title(self.title, "title at the end of the file has no abstract")]
        if not self.found:
            yield [Problem(self.name, None, "no-papers", "no papers found, only page header or blank lines")]

    @staticmethod
    def _footer(lines: _Lines) -> int:
        """Where the run of footer lines at the end starts. At the end of the file the run is dropped
        (END); footer lines with a line after them are title-sized lines like any other."""
        codes = lines.codes
        tail = len(codes)
        while tail and codes[tail - 1] == Code.FOOTER:
            tail -= 1
        codes[:tail][codes[:tail] == Code.FOOTER] = Code.TITLE
        if lines.piece.last:
            codes[tail:] = Code.END
        return tail

    def _pair(self, lines: _Lines, tail: int) -> Generator[Chunk, None, int]:
        """Pair the lines before `tail` whose next line is known; return how many were paired. A plain
        pair needs no next line, so runs of them may end at `tail`."""
        codes = lines.codes
        ready = tail if lines.piece.last else tail - 1
        chain = _chain_ends(_PLAIN[codes[:-1], codes[1:]]) if len(codes) > 1 else codes
        results: list[Paper | Problem] = []
        i = 0
        while i < ready:
            if self.state in PAIRING and i + 1 < len(codes) and _PLAIN[codes[i], codes[i + 1]]:
                end = min(int(chain[i]), tail - (tail - i) % 2)  # whole pairs before the footer
                yield from self._chunk(results)
                results = []
                yield self._papers(lines.piece, i, end)
                i = end
                continue
            following = Code(codes[i + 1]) if i + 1 < len(codes) else Code.END
            after = int(lines.piece.numbers[i + 1]) if i + 1 < len(codes) else None
            results.extend(self._step(lines.piece, i, Code(codes[i]), following, after))
            i += 1
        yield from self._chunk(results)
        return i

    def _chunk(self, results: list[Paper | Problem]) -> Iterator[Chunk]:
        """`results` as a chunk, if there are any."""
        if results:
            self.found = True
            yield results

    def _papers(self, piece: Piece, start: int, end: int) -> Papers:
        """The plain pairs from `start` to `end` (exclusive), as arrays."""
        index = np.arange(start, end, 2)
        self.state = State(False, False, True, False)
        self.title = None
        self.abstract = Line(self.name, int(piece.numbers[end - 1]), piece.texts[end - 1].as_py())
        self.found = True
        return Papers(
            piece.texts.take(pa.array(index)),
            piece.texts.take(pa.array(index + 1)),
            piece.numbers[index],
            piece.numbers[index + 1],
        )

    def _step(
        self, piece: Piece, i: int, code: Code, following: Code, after: int | None
    ) -> list[Paper | Problem]:
        """One line through `step`, and what it gives; `after` is the next line's number, if any."""
        problem = piece.problems.get(i)
        if problem is not None:
            self.state, _ = step(self.state, code, following)
            self.title = self.abstract = None
            return [problem]
        line = Line(self.name, int(piece.numbers[i]), piece.texts[i].as_py())
        before = self.state
        self.state, emit = step(before, code, following)
        if before.preamble and not self.state.preamble:
            line = self._unglue_subscribe(line)
            self.state, emit = step(before._replace(skip=False), kind_code(line.text), following)
        if emit is Emit.SKIP and before.preamble and code in _HEADER:
            self.header_seen = True
            self.subscribe_alone = self.subscribe_alone or line.text.casefold() == SUBSCRIBE.casefold()
            if code is Code.DATE and self.on_label is not None:
                self.on_label(line.text)
        return self._emit(emit, line, after)

    def _emit(self, emit: Emit, line: Line, after: int | None) -> list[Paper | Problem]:
        """The papers and problems `emit` stands for, with their messages."""
        out: list[Paper | Problem] = []
        if emit is Emit.TITLE:
            self.title, self.abstract = line, None
        elif emit is Emit.PAPER and self.title is not None:
            out.append(Paper(self.title.text, line.text, self.source, self.title.number, line.number))
            self.title, self.abstract = None, line
        elif emit is Emit.ORPHAN_TITLE and self.title is not None:
            message = f"title has no abstract: line {line.number} looks like the next title"
            if after is not None and kind_code(line.text) is not Code.TITLE:  # could start an abstract
                message += f" (or it starts this title's abstract: join lines {line.number} and {after})"
            out.append(self._orphan_title(self.title, message))
            self.title = line
        elif emit in (Emit.ORPHAN_ABSTRACT, Emit.BROKEN):
            out.append(self._lone_abstract(line, self.abstract if emit is Emit.BROKEN else None))
            self.abstract = line
        elif emit is Emit.STRAY:
            self.abstract = None
            message = "page UI text between papers; delete the line"
            out.append(Problem(self.name, line.number, "stray-ui-line", message, value=line.text))
        return out

    def _orphan_title(self, title: Line, message: str) -> Problem:
        return Problem(self.name, title.number, "orphan-title", message, value=title.text)

    def _lone_abstract(self, line: Line, previous: Line | None) -> Problem:
        """An abstract-like line where a title is expected: the rest of a broken abstract, or an orphan."""
        if previous is None:
            message = f"abstract-like line ({len(line.text):,} chars) with no title before it"
            return Problem(self.name, line.number, "orphan-abstract", message, value=line.text)
        message = f"the abstract on line {previous.number} seems to continue here; join the two lines"
        if SENTENCE_END.search(previous.text) and not _CONTINUES.search(line.text):
            message = (
                f"the abstract on line {previous.number} may continue here: join the two lines, or, "
                "if this is another paper's abstract, add its title above it"
            )
        return Problem(self.name, line.number, "broken-abstract", message, value=line.text)

    def _unglue_subscribe(self, line: Line) -> Line:
        """`SubscribexLSTM: ...` -> `xLSTM: ...`: the compact copy glues the button to the first title.

        Below a page header that had no `Subscribe` line of its own the button is cut whatever follows it;
        with no header at all only before a capital or a digit (`Subscriber churn` stays a title).
        """
        if self.subscribe_alone:
            return line
        rest = line.text.removeprefix(SUBSCRIBE)
        if rest != line.text and rest.strip() and (self.header_seen or not rest[0].islower()):
            return Line(line.file, line.number, rest.lstrip())
        return line


def _chain_ends(pair: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """For each index i, the end of the run of pairs starting there: the first j >= i of the same
    parity where no pair starts."""
    count = len(pair)
    ends = np.empty(count, dtype=np.int64)
    for parity in (0, 1):
        sub = pair[parity::2]
        stops = np.where(sub, len(sub), np.arange(len(sub)))
        ends[parity::2] = np.minimum.accumulate(stops[::-1])[::-1] * 2 + parity
    return ends
