"""Dump files -> numbered, cleaned lines; and which of the paths given are dump files at all.

Everything a browser copy varies in is absorbed here: CRLF, CR or LF line endings, a UTF-8 BOM, blank
lines, surrounding white space, runs of white space inside a line (stored as one space, as the page
showed them), invisible characters (zero-width space, soft hyphen, word joiner, a BOM in mid-file,
direction marks: removed) and decomposed Unicode (text is normalized to NFC). What cannot be read
honestly (UTF-16, files that are mostly not text, bytes that are not UTF-8, control characters,
absurdly long lines) becomes a Problem with the file, line and column, and reading goes on so one run
reports everything.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from dataset_builder.errors import DatasetError
from dataset_builder.layout import DUMP_SUFFIXES
from dataset_builder.records import Line, Problem

# Far above the longest abstract the schema allows (10,000 characters): a longer line is not a dump
# line. Only its start is kept, so a huge single-line file stays cheap.
MAX_LINE_CHARS = 100_000
_SNIFF_BYTES = 4096
# Characters a dump is read in at a time: big enough that per-piece work is negligible.
_PIECE_CHARS = 1 << 20
# Bytes an ASCII piece may hold and skip the per-line checks: all but C0 controls (LF aside) and DEL.
_TEXT_BYTES = bytes(b for b in range(128) if (b >= 0x20 and b != 0x7F) or b == 0x0A)
# Characters a browser copy carries that the page does not show: soft hyphen, zero-width space, word
# joiner, BOM / zero-width no-break space, left-to-right and right-to-left marks.
INVISIBLE = "\u00ad\u200b\u2060\ufeff\u200e\u200f"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
# What makes a non-ASCII piece need per-line checks: control characters, bytes that are not UTF-8,
# invisible characters, and white space other than single spaces.
_NOT_CLEAN = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\udc80-\udcff{INVISIBLE}]|[^\S\n ]|  ")
# A file whose first bytes are more than this share of control characters or bytes that are not UTF-8
# is not a text dump at all (`binary-file`); fewer are reported one by one where they stand.
_BINARY_SHARE = 0.3
# C0 and C1 control characters except tab; line endings are already gone at this point.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Bytes that are not UTF-8 come through `surrogateescape` as lone surrogates U+DC80..U+DCFF.
_NOT_UTF8 = re.compile(r"[\udc80-\udcff]")


def read_dump(path: Path) -> Iterator[Line | Problem]:
    """Yield the non-blank lines of one dump, or the problems that stop a line from being read.

    Lines and problems carry the path as given, so messages point where the user (or CI) looks. The file
    is read in pieces of whole lines; a piece of clean text (the usual case) skips the per-line checks.
    """
    name = str(path)
    with path.open("rb") as raw:
        problem = _sniff(name, raw.read(_SNIFF_BYTES))
        if problem:
            yield problem
            return
        raw.seek(0)
        # utf-8-sig drops a BOM; newline=None reads CR LF, CR and LF alike, also across pieces.
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline=None)
        number = 0  # lines before the current piece
        for lines, clean in _pieces(text):
            if clean:
                for offset, line in enumerate(lines, 1):
                    line = line.strip()
                    if line:
                        yield Line(name, number + offset, line)
            else:
                for offset, line in enumerate(lines, 1):
                    if len(line) > MAX_LINE_CHARS:
                        yield _too_long(name, number + offset, line)
                    else:
                        yield from _clean(name, number + offset, line)
            number += len(lines)


def dump_paths(inputs: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """The readable dump files INPUT arguments name, and a problem for each path that is not one.

    A folder contributes its `*.txt` and `*.jsonl` files (the suffix in any case: `.TXT` too). Only
    regular files are dumps: a FIFO or device is never opened, a folder named `x.txt` or a broken link
    is a problem.
    """
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for given in inputs:
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


def _pieces(text: io.TextIOWrapper) -> Iterator[tuple[list[str], bool]]:
    """The text in pieces of whole lines, each with whether it is clean (`_is_clean`).

    A line longer than MAX_LINE_CHARS is cut to MAX_LINE_CHARS + 1 characters and the rest of it is
    skipped unread.
    """
    carry = ""
    while chunk := text.read(_PIECE_CHARS):
        block = carry + chunk if carry else chunk
        lines = block.split("\n")
        carry = lines.pop()  # the start of the next line
        if len(carry) > MAX_LINE_CHARS:
            lines.append(carry[: MAX_LINE_CHARS + 1])
            carry = _after_line_end(text)
        yield lines, _is_clean(block, lines)
    if carry:  # the last line, or what followed a skipped line at the end of the file
        lines = carry.split("\n")
        yield lines, _is_clean(carry, lines)


def _after_line_end(text: io.TextIOWrapper) -> str:
    """Skip the rest of the current line; return what follows it in the last piece read."""
    while chunk := text.read(_PIECE_CHARS):
        _, end, rest = chunk.partition("\n")
        if end:
            return rest
    return ""


def _is_clean(text: str, lines: list[str]) -> bool:
    """True when no line needs the per-line checks: none too long, no control or undecodable bytes, NFC."""
    if max(map(len, lines), default=0) > MAX_LINE_CHARS:
        return False
    if text.isascii():
        return "  " not in text and not text.encode("ascii").translate(None, _TEXT_BYTES)
    return not _NOT_CLEAN.search(text) and unicodedata.is_normalized("NFC", text)


def _collapse(line: str) -> str:
    """Surrounding white space removed, every inner run of it (tabs, double spaces) one space."""
    line = line.strip()
    if "  " in line or not line.isascii() or "\t" in line:
        line = " ".join(line.split())
    return line


def _too_long(name: str, number: int, line: str) -> Problem:
    return Problem(
        name,
        number,
        "line-too-long",
        f"line is longer than {MAX_LINE_CHARS:,} characters; is this a dump?",
        value=line[:60],
    )


def _clean(name: str, number: int, line: str) -> Iterator[Line | Problem]:
    # Fast path for the common line: printable ASCII has no bad bytes, controls or decomposed text.
    if line.isascii() and line.isprintable():
        line = _collapse(line)
        if line:
            yield Line(name, number, line)
        return
    bad = _NOT_UTF8.search(line)
    if bad:
        byte = ord(bad.group()) - 0xDC00
        yield Problem(
            name,
            number,
            "not-utf8",
            f"byte 0x{byte:02X} is not UTF-8 (file saved as Latin-1 or Windows-1252?)",
            value=line.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
            column=bad.start() + 1,
        )
        return
    control = _CONTROL.search(line)
    if control:
        yield Problem(
            name,
            number,
            "control-char",
            f"control character U+{ord(control.group()):04X} in text",
            value=line,
            column=control.start() + 1,
        )
        return
    line = _collapse(_INVISIBLE.sub("", line))
    if not line:
        return
    if not unicodedata.is_normalized("NFC", line):
        line = unicodedata.normalize("NFC", line)
    yield Line(name, number, line)


_LINE_BREAKS = re.compile(r"\r\n|[\r\n]")


def clean_text(file: str, line: int, text: str) -> str | Problem:
    """One text field that is not a dump line (a `.jsonl` entry's title, abstract, author) cleaned as a
    dump line is, its line breaks white space like the rest; or the problem that stops it being read."""
    if "\n" in text or "\r" in text:
        text = _LINE_BREAKS.sub(" ", text)
    for item in _clean(file, line, text):
        return item if isinstance(item, Problem) else item.text
    return ""
