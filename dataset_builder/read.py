"""Dump files -> numbered, cleaned lines as Arrow arrays, in pieces; and which paths are dump files.

`read_pieces` is the one reader: the parser (parse.py) consumes its pieces, `read_dump` gives the same
lines one by one. What cannot be read honestly (UTF-16, files that are mostly not text, bytes that are
not UTF-8, control characters, absurdly long lines) becomes a Problem with the file, line and column.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dataset_builder.errors import DatasetError
from dataset_builder.layout import DUMP_SUFFIXES
from dataset_builder.records import Line, Problem, StrPath

# Far above the longest abstract the schema allows (10,000 characters): a longer line is not a dump
# line. Only its start is kept, so a huge single-line file stays cheap.
MAX_LINE_CHARS = 100_000
# Bytes read at a time: large enough that the per-piece work (a few Python calls) is negligible.
PIECE_BYTES = 4 << 20
_SNIFF_BYTES = 4096
# Bytes `_byte_stats` looks at in one go: its temporaries stay below 1 MiB.
WINDOW_BYTES = 512 << 10
# Characters a browser copy carries that the page does not show, removed from every line: soft hyphen,
# combining grapheme joiner, zero-width space, non-joiner and joiner, left-to-right and right-to-left
# marks, the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), word
# joiner, the variation selectors (U+FE00-U+FE0F) and BOM / zero-width no-break space.
INVISIBLE = "\u00ad\u034f\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufe00-\ufe0f\ufeff"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
# A line is plain when it is printable ASCII without a double space: then cleaning only strips it.
_NOT_PLAIN = r"[^\x20-\x7e]|  "
# A file whose first bytes are more than this share of control characters or bytes that are not UTF-8
# is not a text dump at all (`binary-file`); fewer are reported one by one where they stand.
_BINARY_SHARE = 0.3
_NONE = np.zeros(0, dtype=np.int64)
# C0 and C1 control characters except tab; line endings are already gone at this point.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Bytes that are not UTF-8 come through `surrogateescape` as lone surrogates U+DC80..U+DCFF.
_NOT_UTF8 = re.compile(r"[\udc80-\udcff]")


@dataclass
class Piece:
    """Consecutive non-blank lines of one dump, cleaned: texts ("" where a problem stands instead of
    the line), 1-based line numbers, and the problems by position. `last` marks the file's last piece."""

    texts: pa.Array
    numbers: npt.NDArray[np.int64]
    problems: dict[int, Problem]
    last: bool = False
    ascii: bool = False  # every text is ASCII: its length in characters is its length in bytes

    def __len__(self) -> int:
        return len(self.numbers)

    def lengths(self) -> npt.NDArray[np.int32]:
        """Each text's length in characters."""
        if self.ascii:
            return _lengths(self.texts)
        return np.asarray(pc.utf8_length(self.texts).to_numpy(zero_copy_only=False), np.int32)

    def items(self, name: str, start: int = 0, stop: int | None = None) -> list[Line | Problem]:
        """Lines `start` to `stop` as Python objects: what `read_dump` yields for them."""
        stop = len(self) if stop is None else stop
        texts = self.texts.slice(start, stop - start).to_pylist()
        return [
            self.problems.get(i) or Line(name, int(self.numbers[i]), text)
            for i, text in enumerate(texts, start)
        ]


def file_problem(path: Path) -> Problem | None:
    """The problem that keeps a whole file from being read as text (empty, UTF-16, binary), if any."""
    with path.open("rb") as raw:
        return _sniff(str(path), raw.read(_SNIFF_BYTES))


def read_pieces(
    path: Path, piece_bytes: int = PIECE_BYTES, on_read: Callable[[int], None] | None = None
) -> Iterator[Piece]:
    """The lines of a readable dump (see `file_problem`) in pieces of about `piece_bytes` bytes.

    Everything a browser copy varies in is absorbed here: CRLF, CR or LF line endings, a UTF-8 BOM,
    blank lines, surrounding white space, runs of white space inside a line (one space, as the page
    showed them), invisible characters (INVISIBLE, removed) and decomposed Unicode (NFC). A line that
    cannot be read honestly (bytes that are not UTF-8, control characters, absurdly long) is a Problem
    with its line and column, and reading goes on so one run reports everything. `on_read(bytes)` is
    told how far the file has been read after each piece; the last piece (maybe empty) is marked `last`.
    """
    name = str(path)
    with path.open("rb") as raw:
        if raw.read(3) != b"\xef\xbb\xbf":  # a BOM is dropped
            raw.seek(0)
        yield from _pieces(name, raw, piece_bytes, on_read)


def read_dump(path: Path) -> Iterator[Line | Problem]:
    """The non-blank lines of one dump one by one, or the problems that stop a line from being read."""
    problem = file_problem(path)
    if problem is not None:
        yield problem
        return
    for piece in read_pieces(path):
        yield from piece.items(str(path))


def dump_paths(inputs: StrPath | Iterable[StrPath]) -> tuple[list[Path], list[Problem]]:
    """The readable dump files INPUT arguments name (one path, or several), and a problem for each
    path that is not one.

    A folder contributes its `*.txt` and `*.jsonl` files (the suffix in any case: `.TXT` too). Only
    regular files are dumps: a FIFO or device is never opened, a folder named `x.txt` or a broken link
    is a problem.
    """
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for given in map(Path, [inputs] if isinstance(inputs, str | os.PathLike) else inputs):
        if given.is_dir():
            paths = sorted(p for p in given.iterdir() if p.suffix.lower() in DUMP_SUFFIXES)
            if not paths:
                message = "no *.txt or *.jsonl dump files in this folder"
                problems.append(Problem(str(given), None, "no-dumps", message))
        elif given.exists() or given.is_symlink():
            paths = [given]
        else:
            problems.append(Problem(str(given), None, "not-found", "no such file or folder"))
            continue
        for path in paths:
            problem = _not_a_dump(path)
            if problem is not None:
                problems.append(problem)
            elif path.name in found and found[path.name] != path:
                message = f"a dump named {path.name} is already given ({found[path.name]})"
                problems.append(Problem(str(path), None, "duplicate-name", message))
            else:
                found[path.name] = path
    if not found and not problems:
        raise DatasetError("no dump files given")
    return [found[name] for name in sorted(found)], problems


def _not_a_dump(path: Path) -> Problem | None:
    """Why `path` cannot be read as a dump, without opening anything but a regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Problem(str(path), None, "not-a-file", "a broken symbolic link, not a dump file")
    except OSError as e:
        return Problem(str(path), None, "unreadable", f"cannot be read: {e.strerror}")
    if stat.S_ISDIR(mode):
        return Problem(str(path), None, "not-a-file", "a folder, not a dump file")
    if not stat.S_ISREG(mode):
        return Problem(
            str(path), None, "not-a-file", "not a regular file (a FIFO, socket or device); not read"
        )
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as e:
        return Problem(str(path), None, "unreadable", f"cannot be read: {e.strerror}")
    return None


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, for provenance and for comparing files with the Hub's copies."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _sniff(name: str, head: bytes) -> Problem | None:
    """Recognize files that are not UTF-8 text at all from their first bytes."""
    if not head:
        return Problem(name, None, "empty-file", "file is empty")
    # UTF-16 text without a BOM has a NUL in every other byte wherever it is ASCII.
    half_nul = max(head[0::2].count(0), head[1::2].count(0)) > len(head) // 4
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or half_nul:
        return Problem(name, None, "utf16", "file is UTF-16; save it as UTF-8")
    text = head.decode("utf-8", "replace")
    odd = sum(1 for c in text if c == "\ufffd" or (c < " " and c not in "\t\n\r\f\v") or c == "\x7f")
    if odd > _BINARY_SHARE * len(text):
        message = "file is mostly control or non-UTF-8 bytes, not a text dump"
        return Problem(name, None, "binary-file", message)
    return None


def _pieces(
    name: str, raw: BufferedReader, piece_bytes: int, on_read: Callable[[int], None] | None
) -> Iterator[Piece]:
    """The file from the current position in pieces of whole lines; the last one is marked `last`."""
    number = 0  # lines before the current piece, blank ones included
    carry = b""  # the start of a line whose end is not read yet
    size = os.fstat(raw.fileno()).st_size
    block = bytearray()  # one buffer for the file: the carry, then the bytes read after it
    while True:
        # Room for what is left (at least 64 KiB, should the file grow), not always piece_bytes: zeroing
        # 4 MiB twice for each small file was most of a build of 1,000 one-paper dumps.
        room = min(piece_bytes, max(size - raw.tell() + 1, 64 << 10))
        if len(block) < len(carry) + room:
            block = bytearray(len(carry) + room)
        block[: len(carry)] = carry
        read = raw.readinto(memoryview(block)[len(carry) : len(carry) + room])
        if on_read is not None:
            on_read(raw.tell())
        if not read:
            break
        filled = len(carry) + read
        end = filled - 1 if block[filled - 1] == 0x0D else filled  # its LF may come next
        cut = max(block.rfind(b"\n", 0, end), block.rfind(b"\r", 0, end)) + 1
        if cut:
            carry = bytes(block[cut:filled])
            piece, count = _piece(name, number, block, cut)
        elif filled > 4 * (MAX_LINE_CHARS + 1):  # no line end within any line's longest UTF-8
            problem, carry = _skip_line(name, number + 1, bytes(block[:filled]), raw, piece_bytes)
            piece, count = Piece(pa.array([""], pa.string()), np.array([number + 1]), {0: problem}), 1
        else:
            carry = bytes(block[:filled])
            continue
        number += count
        yield piece
    piece = (
        _piece(name, number, carry, len(carry))[0] if carry else Piece(pa.array([], pa.string()), _NONE, {})
    )
    piece.last = True
    yield piece


def _skip_line(
    name: str, number: int, block: bytes, raw: BufferedReader, piece_bytes: int
) -> tuple[Problem, bytes]:
    """A line too long to be a dump line: its problem, and what follows its end (read unread bytes
    past it without keeping them)."""
    problem = _too_long(name, number, block[: 4 * (MAX_LINE_CHARS + 1)].decode("utf-8", "surrogateescape"))
    while True:
        ends = [i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0]
        if ends:
            end = min(ends)
            rest = block[end + 1 :]
            if block[end : end + 1] == b"\r":
                rest = (rest or raw.read(1)).removeprefix(b"\n")
            return problem, rest
        block = raw.read(piece_bytes)
        if not block:
            return problem, b""


def _piece(name: str, number: int, block: bytes | bytearray, end: int) -> tuple[Piece, int]:
    """The piece of whole lines `block[:end]` whose first line is line `number + 1`, and how many lines
    (blank ones included) it holds. Arrow splits, trims and measures the lines; a line that is not plain
    printable ASCII goes through `_clean`."""
    top = int(np.frombuffer(block, np.uint8, end).max())  # the highest byte: ASCII, and is there a DEL
    ascii_ = top < 0x80
    if not ascii_ or block.find(b"\r", 0, end) >= 0:  # the uncommon pieces, as bytes of their own
        block = bytes(block[:end]).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = len(block)
    if not ascii_:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:  # bytes that are not UTF-8: line by line
            return _python_piece(name, number, bytes(block))
    # One string holding the piece, without a copy (the bytes are valid UTF-8), split at LF.
    whole = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, end], np.int32)), pa.py_buffer(block))
    lines = pc.list_flatten(pc.split_pattern(whole, "\n"))
    ends_line = block[end - 1] == 0x0A
    if ends_line:
        lines = lines.slice(0, len(lines) - 1)
    count = len(lines)
    if ascii_:  # whole-piece tests first: most pieces have no odd byte, double space or padded line
        odd = np.zeros(count, dtype=bool)
        controls, double_space = _byte_stats(np.frombuffer(block, np.uint8, end))
        if controls > ends_line + count - 1 or top == 0x7F:
            odd |= pc.invert(pc.ascii_is_printable(lines)).to_numpy(zero_copy_only=False)
        if double_space:
            odd |= pc.match_substring(lines, "  ").to_numpy(zero_copy_only=False)
        padded = pc.any(pc.starts_with(lines, " ")).as_py() or pc.any(pc.ends_with(lines, " ")).as_py()
        too_long = _lengths(lines) > MAX_LINE_CHARS
    else:
        odd = pc.match_substring_regex(lines, _NOT_PLAIN).to_numpy(zero_copy_only=False)
        padded = True
        too_long = pc.utf8_length(lines).to_numpy(zero_copy_only=False) > MAX_LINE_CHARS
    odd |= too_long
    texts = pc.ascii_trim(lines, " ") if padded else lines  # a plain line needs only that stripped
    problems: dict[int, Problem] = {}
    if odd.any():
        texts, problems = _clean_odd(name, number, lines, texts, np.flatnonzero(odd))
    keep = _lengths(texts) > 0
    keep[list(problems)] = True
    numbers = np.arange(number + 1, number + 1 + count, dtype=np.int64)
    if not keep.all():
        kept = np.flatnonzero(keep)
        position = np.cumsum(keep) - 1
        problems = {int(position[i]): p for i, p in problems.items()}
        texts, numbers = _without_empty(texts, kept), numbers[kept]
    return Piece(texts, numbers, problems, ascii=ascii_), count


def _byte_stats(data: npt.NDArray[np.uint8]) -> tuple[int, bool]:
    """How many bytes of `data` are below 0x20, and whether two spaces follow each other anywhere in it.

    Two spaces are looked for as 16-bit words from an even and from an odd byte (numpy compares those
    far faster than `bytes.find` looks for a two-byte needle; the odd ones copied, as aligned words
    compare faster still). Window by window, so that numpy's temporaries stay below the size glibc maps
    afresh for every allocation under the command (`runner.use_system_memory`): as whole-piece arrays
    they were a fifth of a build's page faults.
    """
    controls = 0
    double_space = False
    for start in range(0, len(data), WINDOW_BYTES):
        controls += int(np.count_nonzero(data[start : start + WINDOW_BYTES] < 0x20))
        if not double_space:
            pairs = data[start : start + WINDOW_BYTES + 1]  # one byte more: a pair across the border
            even = pairs[: len(pairs) // 2 * 2].view(np.uint16)
            odd = pairs[1 : 1 + (len(pairs) - 1) // 2 * 2].copy().view(np.uint16)
            double_space = bool((even == 0x2020).any() or (odd == 0x2020).any())
    return controls, double_space


def _lengths(texts: pa.Array) -> npt.NDArray[np.int32]:
    """Each string's length in bytes, from the array's offsets."""
    return np.diff(_offsets(texts))


def _offsets(texts: pa.Array) -> npt.NDArray[np.int32]:
    return np.frombuffer(texts.buffers()[1], np.int32, len(texts) + 1, texts.offset * 4)


def _without_empty(texts: pa.Array, kept: npt.NDArray[np.int64]) -> pa.Array:
    """The strings at `kept`, all others being empty, without copying their bytes: as empty strings
    take no bytes, the kept strings' start offsets and the final end offset describe them exactly."""
    offsets = _offsets(texts)
    starts = np.append(offsets[kept], offsets[-1]).astype(np.int32)
    return pa.StringArray.from_buffers(len(kept), pa.py_buffer(starts), texts.buffers()[2])


def _clean_odd(
    name: str, number: int, lines: pa.Array, texts: pa.Array, where: npt.NDArray[np.int64]
) -> tuple[pa.Array, dict[int, Problem]]:
    """`texts` with the lines at `where` cleaned one by one; the problems of those that cannot be."""
    cleaned: list[str] = []
    problems: dict[int, Problem] = {}
    for i, line in zip(where.tolist(), lines.take(pa.array(where)).to_pylist(), strict=True):
        result = _clean(name, i + number + 1, line)
        if isinstance(result, Problem):
            problems[i] = result
        cleaned.append(result.text if isinstance(result, Line) else "")
    mask = np.zeros(len(texts), dtype=bool)
    mask[where] = True
    return pc.replace_with_mask(texts, pa.array(mask), pa.array(cleaned, pa.string())), problems


def _python_piece(name: str, number: int, block: bytes) -> tuple[Piece, int]:
    """A piece holding bytes that are not UTF-8, read line by line."""
    lines = block.decode("utf-8", "surrogateescape").split("\n")
    if block.endswith(b"\n"):
        lines.pop()
    texts: list[str] = []
    numbers: list[int] = []
    problems: dict[int, Problem] = {}
    for offset, line in enumerate(lines, number + 1):
        result = _clean(name, offset, line)
        if isinstance(result, Problem):
            problems[len(texts)] = result
        if result is not None:
            texts.append(result.text if isinstance(result, Line) else "")
            numbers.append(offset)
    return Piece(pa.array(texts, pa.string()), np.array(numbers, dtype=np.int64), problems), len(lines)


def _too_long(name: str, number: int, line: str) -> Problem:
    """A line too long to be a dump line; only its start is shown."""
    return Problem(
        name,
        number,
        "line-too-long",
        f"line is longer than {MAX_LINE_CHARS:,} characters; is this a dump?",
        value=line[:60],
    )


def _clean(name: str, number: int, line: str) -> Line | Problem | None:
    """One raw line cleaned, the problem that keeps it from being read, or None for a blank line."""
    if len(line) > MAX_LINE_CHARS:
        return _too_long(name, number, line)
    bad = _NOT_UTF8.search(line)
    if bad:
        byte = ord(bad.group()) - 0xDC00
        return Problem(
            name,
            number,
            "not-utf8",
            f"byte 0x{byte:02X} is not UTF-8 (file saved as Latin-1 or Windows-1252?)",
            value=line.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
            column=bad.start() + 1,
        )
    control = _CONTROL.search(line)
    if control:
        return Problem(
            name,
            number,
            "control-char",
            f"control character U+{ord(control.group()):04X} in text",
            value=line,
            column=control.start() + 1,
        )
    line = " ".join(_INVISIBLE.sub("", line).split())  # surrounding white space gone, inner runs one space
    if not line:
        return None
    return Line(name, number, unicodedata.normalize("NFC", line))


_LINE_BREAKS = re.compile(r"\r\n|[\r\n]")


def clean_text(file: str, line: int, text: str) -> str | Problem:
    """One text field that is not a dump line (a `.jsonl` entry's title, abstract, author) cleaned as a
    dump line is, its line breaks white space like the rest; or the problem that stops it being read."""
    if "\n" in text or "\r" in text:
        text = _LINE_BREAKS.sub(" ", text)
    item = _clean(file, line, text)
    if item is None:
        return ""
    return item if isinstance(item, Problem) else item.text
