"""Vectorized parse of clean pieces: what `parse(read_dump(path))` gives, with Arrow kernels doing the
per-line work.

A dump is read in large pieces of whole lines. Arrow splits a piece into lines, trims them and measures
them; a line that is not plain printable ASCII without double spaces goes through read.py's own
`_clean`, so every item (a cleaned line, or a reading problem) is exactly what `read_dump` yields. The
items are then classified with array operations. A run of title/abstract pairs whose pairing provably
does not depend on anything around them (no page UI or footer text, lengths that leave no doubt, see
`_features`) becomes papers as Arrow arrays. Everything else (the preamble, stray lines, problems, doubtful
lengths) goes through parse.py's own pairing, which stays the single definition of the rules and of every
message:

- a run of pairs always leaves the parser in the same state (no pending title, past the preamble, the
  run's last abstract as the "previous abstract"), so the parser takes up a segment after a run by being
  given that last pair first (its paper is dropped);
- a segment is closed by a pair that puts the parser back into that state whatever state the segment
  left it in (a non-UI title followed by a line longer than any title), which the parser is given too.

tests/test_fastparse.py checks the result equals the line parser's on every test input, the bundled
dumps and synthetic data, with pieces small enough that their boundaries fall everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dataset_builder import parse as _parse
from dataset_builder import read as _read
from dataset_builder.records import Line, Paper, Problem

# Bytes read at a time: large enough that the per-piece work (a few Python calls) is negligible.
PIECE_BYTES = 4 << 20
# A line is plain when it is printable ASCII without a double space: then `_clean` would only strip it.
_NOT_PLAIN = r"[^\x20-\x7e]|  "
# parse.is_header and is_footer on ASCII text: the folded forms, and the date label in RE2 syntax (no
# backreference), which on ASCII text matches exactly what parse._DATE_LABEL matches.
_UI_FOLDED = pa.array(sorted(_parse._HEADERS | _parse._FOOTER), pa.string())
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_YEAR = r"(?:,? \d{4})?"
_DATE = rf"(?i)^(?:{_MONTH} \d{{1,2}}{_YEAR}|\d{{1,2}} {_MONTH}{_YEAR}|\d{{4}}-\d\d-\d\d|\d{{4}}/\d\d/\d\d)$"
_NONE = np.zeros(0, dtype=np.int64)
# A segment of the line parser's longer than this many items is not worth holding: the parser then
# takes the rest of the file, item by item (only for files that are hardly ever pairs).
_MAX_SEGMENT = 100_000


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
    path: Path, piece_bytes: int = PIECE_BYTES, on_read: Callable[[int], None] | None = None
) -> Iterator[Chunk]:
    """The papers and problems of one dump, in the order `parse(read_dump(path), str(path))` gives them:
    runs of papers as `Papers`, the line parser's results as lists. `on_read(bytes)` is told how far
    the file has been read after each piece."""
    name = str(path)
    with path.open("rb") as raw:
        head = raw.read(_read._SNIFF_BYTES)
        problem = _read._sniff(name, head)
        if problem:
            yield [problem]
            return
        raw.seek(3 if head.startswith(b"\xef\xbb\xbf") else 0)  # utf-8-sig drops a BOM
        yield from _Scanner(name).run(_items(name, raw, piece_bytes, on_read))


@dataclass
class _Items:
    """What `read_dump` yields for consecutive lines: texts ("" for a problem), numbers, problems."""

    name: str
    texts: pa.Array
    numbers: npt.NDArray[np.int64]
    problems: dict[int, Problem]
    last: bool = False
    count: int = 0  # lines of the file these items come from, blank ones included

    def __len__(self) -> int:
        return len(self.numbers)

    def python(self, start: int, stop: int) -> list[Line | Problem]:
        texts = self.texts.slice(start, stop - start).to_pylist()
        name = self.name
        out: list[Line | Problem] = []
        for i, text in enumerate(texts, start):
            problem = self.problems.get(i)
            if problem is not None:
                out.append(problem)
            else:
                out.append(Line(name, int(self.numbers[i]), text))
        return out


def _items(
    name: str, raw: BinaryIO, piece_bytes: int, on_read: Callable[[int], None] | None = None
) -> Iterator[_Items]:
    """The file in pieces of whole lines, each as the items `read_dump` yields for its lines; the last
    one (maybe empty) is marked `last`."""
    number = 0
    carry = b""
    while True:
        data = raw.read(piece_bytes)
        eof = not data
        if on_read is not None:
            on_read(raw.tell())
        block, carry = carry + data, b""
        if not eof:
            if block.endswith(b"\r"):  # its LF may come next
                block, carry = block[:-1], b"\r"
            cut = max(block.rfind(b"\n"), block.rfind(b"\r")) + 1
            if not cut:  # no line end yet
                if len(block) > 4 * (_read.MAX_LINE_CHARS + 1):
                    problem, carry = _skip_line(name, number + 1, block + carry, raw, piece_bytes)
                    number += 1
                    yield _Items(name, pa.array([""], pa.string()), np.array([number]), {0: problem})
                else:
                    carry = block + carry
                continue
            block, carry = block[:cut], block[cut:] + carry
        if b"\r" in block:  # CR LF and CR end lines too (read_dump reads with newline=None)
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        items = _piece(name, number, block) if block else _Items(name, pa.array([], pa.string()), _NONE, {})
        items.last = eof
        number += items.count
        yield items
        if eof:
            return


def _skip_line(
    name: str, number: int, block: bytes, raw: BinaryIO, piece_bytes: int
) -> tuple[Problem, bytes]:
    """A line too long to be a dump line: its problem, and what follows its end."""
    text = block[: 4 * (_read.MAX_LINE_CHARS + 1)].decode("utf-8", "surrogateescape")
    problem = _read._too_long(name, number, text)
    while True:
        ends = [i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0]
        if ends:
            end = min(ends)
            rest = block[end + 1 :]
            if block[end : end + 1] == b"\r":
                if not rest:
                    rest = raw.read(1)
                rest = rest.removeprefix(b"\n")
            return problem, rest
        block = raw.read(piece_bytes)
        if not block:
            return problem, b""


def _piece(name: str, number: int, block: bytes) -> _Items:
    """The items of a piece of whole lines (LF line ends) whose first line is line `number + 1`."""
    ascii_ = block.isascii()
    if not ascii_:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:  # bytes that are not UTF-8: read.py's per-line way
            return _python_piece(name, number, block)
    # One string holding the piece, without a copy (the bytes are valid UTF-8).
    offsets = pa.py_buffer(np.array([0, len(block)], dtype=np.int32))
    array = pa.StringArray.from_buffers(1, offsets, pa.py_buffer(block))
    lines = pc.list_flatten(pc.split_pattern(array, "\n"))
    if block.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    count = len(lines)
    numbers = np.arange(number + 1, number + 1 + count, dtype=np.int64)
    trim = True
    if ascii_:  # the cheap tests: printable characters, and a double space anywhere in the piece
        odd = pc.invert(pc.ascii_is_printable(lines)).to_numpy(zero_copy_only=False)
        data = np.frombuffer(block, dtype=np.uint8)
        spaces = data == 0x20
        if np.any(spaces[1:] & spaces[:-1]):
            odd |= pc.match_substring(lines, "  ").to_numpy(zero_copy_only=False)
        # A space at the start or end of a line: after a line end, before one, or at the piece's ends.
        ends = data == 0x0A
        trim = bool(
            spaces[0] or spaces[-1] or np.any(spaces[1:] & ends[:-1]) or np.any(spaces[:-1] & ends[1:])
        )
    else:
        odd = pc.match_substring_regex(lines, _NOT_PLAIN).to_numpy(zero_copy_only=False)
    length = pc.binary_length(lines) if ascii_ else pc.utf8_length(lines)
    odd |= pc.greater(length, _read.MAX_LINE_CHARS).to_numpy(zero_copy_only=False)
    texts = pc.ascii_trim(lines, " ") if trim else lines  # plain lines need only that stripped
    keep = pc.greater(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    problems: dict[int, Problem] = {}
    if odd.any():
        where = np.flatnonzero(odd)
        cleaned: list[str] = []
        for i, line in zip(where.tolist(), lines.take(where).to_pylist(), strict=True):
            results = (
                [_read._too_long(name, i + number + 1, line)]
                if len(line) > _read.MAX_LINE_CHARS
                else list(_read._clean(name, i + number + 1, line))
            )
            keep[i] = bool(results)
            result = results[0] if results else None
            if isinstance(result, Line):
                cleaned.append(result.text)
            else:
                cleaned.append("")
                if result is not None:
                    problems[i] = result
        mask = np.zeros(count, dtype=bool)
        mask[where] = True
        texts = pc.replace_with_mask(texts, pa.array(mask), pa.array(cleaned, pa.string()))
    kept = np.flatnonzero(keep)
    if len(kept) < count:
        position = np.full(count, -1)
        position[kept] = np.arange(len(kept))
        problems = {int(position[i]): p for i, p in problems.items()}
        texts, numbers = texts.take(pa.array(kept)), numbers[kept]
    return _Items(name, texts, numbers, problems, count=count)


def _python_piece(name: str, number: int, block: bytes) -> _Items:
    lines = block.decode("utf-8", "surrogateescape").split("\n")
    if block.endswith(b"\n"):
        lines.pop()
    texts: list[str] = []
    numbers: list[int] = []
    problems: dict[int, Problem] = {}
    for offset, line in enumerate(lines, number + 1):
        if len(line) > _read.MAX_LINE_CHARS:
            results: list[Line | Problem] = [_read._too_long(name, offset, line)]
        else:
            results = list(_read._clean(name, offset, line))
        for result in results:
            if isinstance(result, Problem):
                problems[len(texts)] = result
                texts.append("")
            else:
                texts.append(result.text)
            numbers.append(offset)
    numbers_ = np.array(numbers, dtype=np.int64)
    return _Items(name, pa.array(texts, pa.string()), numbers_, problems, count=len(lines))


def _concat(a: _Items, b: _Items) -> _Items:
    shifted = {i + len(a): p for i, p in b.problems.items()}
    texts = pa.concat_arrays([a.texts, b.texts]) if len(a) else b.texts
    return _Items(a.name, texts, np.concatenate([a.numbers, b.numbers]), {**a.problems, **shifted}, b.last)


def _slice(items: _Items, start: int) -> _Items:
    problems = {i - start: p for i, p in items.problems.items() if i >= start}
    return _Items(items.name, items.texts.slice(start), items.numbers[start:], problems, items.last)


def _features(items: _Items) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per item: whether a pair starts there that the parser pairs whatever surrounds it but the line
    after it (`pair`), and whether a pair starts there that ends any segment in the parser's neutral
    state (`closing`). Indexes the last two items cannot start either unless the file ends there."""
    count = len(items)
    texts = items.texts
    length = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
    dot = pc.ends_with(texts, ".").to_numpy(zero_copy_only=False)
    line = np.ones(count, dtype=bool)
    if items.problems:
        line[list(items.problems)] = False
    # Page UI or footer text (only lines of up to 80 characters can be): Arrow on ASCII, parse.py else.
    ui = np.zeros(count, dtype=bool)
    short = np.flatnonzero(line & (length <= _parse._LONGEST_HEADER))
    if len(short):
        sub = texts.take(pa.array(short))
        ascii_ = pc.string_is_ascii(sub).to_numpy(zero_copy_only=False)
        folded = pc.replace_substring(pc.ascii_lower(sub), " ", "")
        hit = pc.or_(pc.is_in(folded, _UI_FOLDED), pc.match_substring_regex(sub, _DATE))
        ui[short] = hit.to_numpy(zero_copy_only=False) & ascii_
        others = short[~ascii_]
        if len(others):
            for i, text in zip(others.tolist(), texts.take(pa.array(others)).to_pylist(), strict=True):
                ui[i] = _parse.is_header(text) or _parse.is_footer(text)
    abstract = length > _parse.TITLE_MAX_CHARS  # _Kind.ABSTRACT
    title_kind = (length < _parse.ABSTRACT_MIN_CHARS) & ~dot & ~abstract
    abstract_like = abstract | (~title_kind & dot)
    big = line & abstract  # what parse._is_abstract sees
    good_title = line & ~ui & ~abstract
    good_abstract = line & ~ui & ~title_kind
    after = np.zeros(count, dtype=bool)  # big[i + 2]
    after[: max(count - 2, 0)] = big[2:]
    nxt = np.zeros(count, dtype=bool)
    nxt[: max(count - 1, 0)] = True
    pair = good_title & np.roll(good_abstract, -1) & nxt
    pair &= ~abstract_like | np.roll(abstract_like, -1)
    pair &= np.roll(abstract, -1) | ~after
    before_problem = np.zeros(count, dtype=bool)
    before_problem[1:] = ~line[:-1]
    # A title pending before i takes i as its abstract when i ends like a sentence (parse.py), so only a
    # title-kind line, or one that does not end like a sentence and follows no problem, surely starts anew.
    closing = good_title & np.roll(big, -1) & nxt & (title_kind | (~abstract_like & ~before_problem))
    if not items.last:  # what follows the piece is not known yet
        pair[max(count - 2, 0) :] = False
        closing[max(count - 2, 0) :] = False
    return pair, closing


def _chain_ends(pair: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """For each index i, the first index j >= i of the same parity where no pair starts."""
    count = len(pair)
    ends = np.empty(count, dtype=np.int64)
    for parity in (0, 1):
        sub = pair[parity::2]
        positions = np.arange(len(sub))
        stops = np.where(sub, len(sub), positions)
        nxt = np.minimum.accumulate(stops[::-1])[::-1]
        ends[parity::2] = nxt * 2 + parity
    return ends


def _next_true(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """For each index i, the first index j >= i where flags[j], or len(flags)."""
    count = len(flags)
    stops = np.where(flags, np.arange(count), count)
    return np.minimum.accumulate(stops[::-1])[::-1] if count else stops


class _Scanner:
    """Walks the items: runs of pairs as arrays, the rest through parse.py's pairing."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = PurePath(name).name
        self.previous: list[Line | Problem] = []  # the last pair before the position, for the parser
        self.found = False

    def run(self, pieces: Iterator[_Items]) -> Iterator[Chunk]:
        carry: _Items | None = None
        for piece in pieces:
            items = _concat(carry, piece) if carry is not None else piece
            carry = None
            stop = yield from self._scan(items)
            if stop < len(items):
                carry = _slice(items, stop)
                if len(carry) > _MAX_SEGMENT and not carry.last:
                    yield from self._rest(carry, pieces)
                    carry = None
                    break
        if not self.found:
            yield [Problem(self.name, None, "no-papers", "no papers found, only page header or blank lines")]

    def _scan(self, items: _Items) -> Generator[Chunk, None, int]:
        """Parse what the items decide; return the index from which they must wait for the next piece."""
        count = len(items)
        pair, closing = _features(items)
        ends = _chain_ends(pair)
        closes = _next_true(closing)
        pos = 0
        while pos < count:
            if self.previous and pair[pos]:
                end = int(ends[pos])
                index = np.arange(pos, end, 2)
                papers = Papers(
                    items.texts.take(pa.array(index)),
                    items.texts.take(pa.array(index + 1)),
                    items.numbers[index],
                    items.numbers[index + 1],
                )
                self.found = True
                yield papers
                self.previous = items.python(end - 2, end)
                pos = end
                continue
            close = int(closes[pos])
            if close >= count:  # no closing pair in sight
                if items.last:
                    yield from self._segment(items.python(pos, count), [])
                    return count
                return pos
            suffix = items.python(close, close + 2)
            yield from self._segment(items.python(pos, close), suffix)
            self.previous = suffix
            pos = close + 2
        return pos

    def _segment(self, lines: list[Line | Problem], suffix: list[Line | Problem]) -> Iterator[Chunk]:
        """parse.py's pairing over `lines` then `suffix`, taken up after the previous pair."""
        results = list(self._pair(self.previous + lines + suffix))
        if self.previous:
            results = results[1:]  # the previous pair's paper, already given
        if results:
            self.found = True
            yield results

    def _pair(self, lines: list[Line | Problem]) -> Iterator[Paper | Problem]:
        return _parse._pair(_parse._without_footer(lines), self.name)

    def _rest(self, carry: _Items, pieces: Iterator[_Items]) -> Iterator[Chunk]:
        """The rest of the file through parse.py alone, in bounded memory."""

        def lines() -> Iterator[Line | Problem]:
            yield from self.previous
            yield from carry.python(0, len(carry))
            for piece in pieces:
                yield from piece.python(0, len(piece))

        results = _parse._pair(_parse._without_footer(lines()), self.name)
        if self.previous:
            next(results, None)
        batch: list[Paper | Problem] = []
        for result in results:
            batch.append(result)
            if len(batch) >= 10_000:
                self.found = True
                yield batch
                batch = []
        if batch:
            self.found = True
            yield batch


def reference(path: Path) -> list[Paper | Problem]:
    """The line parser's results for one dump: what `parse_dump` must equal."""
    return list(_parse.parse(_read.read_dump(path), str(path)))


def expand(chunks: Iterator[Chunk], source: str) -> list[Paper | Problem]:
    """The chunks as the line parser's flat list of results."""
    out: list[Paper | Problem] = []
    for chunk in chunks:
        out.extend(chunk.to_list(source) if isinstance(chunk, Papers) else chunk)
    return out
