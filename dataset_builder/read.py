"""Dump files -> numbered, cleaned lines.

Everything a browser copy varies in is absorbed here: CRLF, CR or LF line endings, a UTF-8 BOM, blank
lines, surrounding white space and decomposed Unicode (text is normalized to NFC). What cannot be read
honestly (UTF-16, binary data, bytes that are not UTF-8, control characters, absurdly long lines) becomes
a Problem with the file, line and column, and reading goes on so one run reports everything.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from dataset_builder.records import Line, Problem

# Far above the longest abstract the schema allows (10,000 characters): a longer line is not a dump
# line. A line longer than a piece is never held whole, so a huge single-line file stays cheap.
MAX_LINE_CHARS = 100_000
_SNIFF_BYTES = 4096
# Pieces a dump is read in: big enough that per-piece work is negligible, and holding more bytes than
# any line of MAX_LINE_CHARS characters (4 bytes each at most) has.
_PIECE_BYTES = 1 << 20
_BOM = "\ufeff".encode()
# Bytes a clean piece may hold: everything but the C0 controls (tab and line ends aside) and DEL.
_TEXT_BYTES = bytes(b for b in range(256) if (b >= 0x20 and b != 0x7F) or b in b"\t\n\r")
# What else makes a non-ASCII piece need per-line checks: C1 controls and bytes that are not UTF-8.
_NOT_CLEAN = re.compile(r"[\x7f-\x9f\udc80-\udcff]")
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
        number = 0  # lines before the current piece
        for piece, whole in _pieces(raw):
            if number == 0:
                piece = piece.removeprefix(_BOM)
            if not whole:
                number += 1
                yield _too_long(name, number, piece.decode("utf-8", "replace"))
                continue
            text = piece.decode("utf-8", "surrogateescape")
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            lines = text.split("\n")
            if not lines[-1]:
                lines.pop()  # the piece ends with a line end
            if _is_clean(piece, text) and max(map(len, lines), default=0) <= MAX_LINE_CHARS:
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
    if b"\x00" in head:
        return Problem(name, None, "binary-file", "file holds NUL bytes: binary data, not a text dump")
    return None


def _pieces(raw: io.BufferedReader) -> Iterator[tuple[bytes, bool]]:
    """The file in pieces of about `_PIECE_BYTES` that end at a line end, so no line is split.

    `(piece, True)` holds whole lines (the last without a line end only at the end of the file).
    `(start, False)` is the start of a line too long to hold; the rest of that line is skipped unread.
    A CR LF pair is never cut in two, so the lines are those of universal-newline reading.
    """
    carry = b""
    while data := raw.read(_PIECE_BYTES):
        buffer = carry + data if carry else data
        cut = max(buffer.rfind(b"\n"), buffer.rfind(b"\r")) + 1
        if cut == len(buffer) and buffer.endswith(b"\r") and raw.peek(1)[:1] == b"\n":
            buffer += raw.read(1)
            cut += 1
        if cut:
            yield buffer[:cut], True
            carry = buffer[cut:]
        elif len(buffer) >= _PIECE_BYTES:
            yield buffer[:_SNIFF_BYTES], False
            carry = _after_line_end(raw)
        else:
            carry = buffer
    if carry:
        yield carry, True


def _after_line_end(raw: io.BufferedReader) -> bytes:
    """Skip to the end of the current line; return what was read beyond it."""
    while data := raw.read(_PIECE_BYTES):
        ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
        if ends:
            end = min(ends) + 1
            if data[end - 1 : end + 1] == b"\r\n":
                end += 1
            elif end == len(data) and data.endswith(b"\r") and raw.peek(1)[:1] == b"\n":
                raw.read(1)
            return data[end:]
    return b""


def _is_clean(piece: bytes, text: str) -> bool:
    """True when no line of the piece needs a per-line check: no control or undecodable bytes, NFC."""
    if piece.translate(None, _TEXT_BYTES):
        return False  # C0 control characters other than tab and line ends
    if piece.isascii():
        return True
    return not _NOT_CLEAN.search(text) and unicodedata.is_normalized("NFC", text)


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
        line = line.strip()
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
    line = line.strip()
    if not line:
        return
    if not unicodedata.is_normalized("NFC", line):
        line = unicodedata.normalize("NFC", line)
    yield Line(name, number, line)
