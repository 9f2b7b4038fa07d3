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
# line, and reading stops buffering it at this size so a huge single-line file stays cheap.
MAX_LINE_CHARS = 100_000
_SNIFF_BYTES = 4096
# C0 and C1 control characters except tab; line endings are already gone at this point.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Bytes that are not UTF-8 come through `surrogateescape` as lone surrogates U+DC80..U+DCFF.
_NOT_UTF8 = re.compile(r"[\udc80-\udcff]")


def read_dump(path: Path) -> Iterator[Line | Problem]:
    """Yield the non-blank lines of one dump, or the problems that stop a line from being read.

    Lines and problems carry the path as given, so messages point where the user (or CI) looks.
    """
    name = str(path)
    with path.open("rb") as raw:
        head = raw.read(_SNIFF_BYTES)
        problem = _sniff(name, head)
        if problem:
            yield problem
            return
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline=None)
        number = 0
        while chunk := text.readline(MAX_LINE_CHARS + 1):
            number += 1
            if len(chunk) > MAX_LINE_CHARS:
                _skip_rest_of_line(text, chunk)
                yield Problem(
                    name,
                    number,
                    "line-too-long",
                    f"line is longer than {MAX_LINE_CHARS:,} characters; is this a dump?",
                    value=chunk[:60],
                )
                continue
            if number == 1 and chunk.startswith("\ufeff"):
                chunk = chunk[1:]
            yield from _clean(name, number, chunk.rstrip("\n"))


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


def _skip_rest_of_line(text: io.TextIOWrapper, chunk: str) -> None:
    """Consume an over-long line in bounded pieces."""
    while not chunk.endswith("\n"):
        chunk = text.readline(MAX_LINE_CHARS)
        if not chunk:
            return


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
