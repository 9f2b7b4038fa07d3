"""read.py: line endings, encodings and hostile files become clean lines or located problems."""

from __future__ import annotations

import io
import time
import unicodedata

from conftest import WriteDump

from dataset_builder.read import _PIECE_CHARS, MAX_LINE_CHARS, _clean, _too_long, read_dump
from dataset_builder.records import Line, Problem


def lines_of(path) -> list[Line | Problem]:
    return list(read_dump(path))


def test_crlf_cr_and_lf_give_the_same_numbered_lines(write_dump: WriteDump) -> None:
    texts = ["Title one", "", "An abstract line"]
    endings = ["\r\n", "\r", "\n"]
    results = [lines_of(write_dump(f"d{i}.txt", texts, sep=sep)) for i, sep in enumerate(endings)]
    assert len(results) == 3
    expected = [(1, "Title one"), (3, "An abstract line")]
    for result in results:
        assert [(line.number, line.text) for line in result] == expected


def test_bom_blank_lines_and_surrounding_white_space_are_dropped(write_dump: WriteDump) -> None:
    path = write_dump("d.txt", b"\xef\xbb\xbfnew\n\n   \n\tTitle  \t\nAbstract \n")
    result = lines_of(path)
    assert [(line.number, line.text) for line in result] == [(1, "new"), (4, "Title"), (5, "Abstract")]


def test_decomposed_unicode_is_normalized_to_nfc(write_dump: WriteDump) -> None:
    decomposed = unicodedata.normalize("NFD", "Café résumé")
    [line] = lines_of(write_dump("d.txt", [decomposed]))
    assert isinstance(line, Line)
    assert line.text == "Café résumé" and unicodedata.is_normalized("NFC", line.text)


def test_latin1_bytes_are_reported_with_line_and_column(write_dump: WriteDump) -> None:
    path = write_dump("latin1.txt", "Fine line\nCaf\xe9 society\n".encode("latin-1"))
    first, problem = lines_of(path)
    assert isinstance(first, Line) and isinstance(problem, Problem)
    assert (problem.file, problem.line, problem.column, problem.rule) == (str(path), 2, 4, "not-utf8")
    assert "0xE9" in problem.message


def test_control_characters_are_reported(write_dump: WriteDump) -> None:
    [problem] = lines_of(write_dump("ctl.txt", ["Bad\x07bell"]))
    assert isinstance(problem, Problem)
    assert (problem.line, problem.column, problem.rule) == (1, 4, "control-char")
    assert "U+0007" in problem.message


def test_utf16_binary_and_empty_files_are_whole_file_problems(write_dump: WriteDump) -> None:
    cases = {
        "utf16.txt": ("Title\nAbstract\n".encode("utf-16"), "utf16"),
        "utf16be.txt": ("Title\nAbstract\n".encode("utf-16-be"), "utf16"),
        "binary.bin.txt": (bytes(range(256)) * 4, "binary-file"),
        "empty.txt": (b"", "empty-file"),
    }
    for name, (data, rule) in cases.items():
        path = write_dump(name, data)
        [problem] = lines_of(path)
        assert isinstance(problem, Problem)
        assert (problem.file, problem.line, problem.rule) == (str(path), None, rule)


def test_a_giant_line_is_rejected_quickly_and_reading_goes_on(write_dump: WriteDump) -> None:
    path = write_dump("giant.txt", b"x" * (10 * 1024 * 1024) + b"\nnext line\n")
    start = time.perf_counter()
    problem, line = lines_of(path)
    assert time.perf_counter() - start < 5
    assert isinstance(problem, Problem) and problem.rule == "line-too-long" and problem.line == 1
    assert len(problem.value) <= 60 and f"{MAX_LINE_CHARS:,}" in problem.message
    assert isinstance(line, Line) and (line.number, line.text) == (2, "next line")


def test_reading_in_pieces_gives_the_lines_of_reading_line_by_line(write_dump: WriteDump) -> None:
    # Over three pieces of text with every kind of line, and a CR LF pair cut by the first piece boundary.
    body = ["Plain title", "Caf\u00e9 abstract", "", "Cafe\u0301 decomposed", "Bad\x07bell", "\tpadded  "]
    head = b"x" * (_PIECE_CHARS - 1) + b"\r\n"
    data = head + "\r\n".join(body * 20_000).encode("utf-8") + b"\rCaf\xe9\r\nlast"
    path = write_dump("pieces.txt", data)
    wrapper = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape", newline=None)
    expected: list[Line | Problem] = []
    for number, line in enumerate(wrapper, 1):
        if len(line) > MAX_LINE_CHARS:
            expected.append(_too_long(str(path), number, line))
        else:
            expected.extend(_clean(str(path), number, line.rstrip("\n")))
    assert lines_of(path) == expected
    first, last = expected[0], expected[-1]
    assert isinstance(first, Problem) and first.rule == "line-too-long"
    assert last == Line(str(path), 120_003, "last")


def test_lines_after_a_giant_line_keep_their_numbers_to_the_end_of_the_file(write_dump: WriteDump) -> None:
    # Longer than a piece, so its rest is skipped unread, and the lines after it are the file's last.
    path = write_dump("giant.txt", b"x" * (_PIECE_CHARS + 10) + b"\r\nsecond\r\n\r\nfourth")
    problem, *lines = lines_of(path)
    assert isinstance(problem, Problem) and (problem.line, problem.rule) == (1, "line-too-long")
    numbered = [(line.number, line.text) for line in lines if isinstance(line, Line)]
    assert numbered == [(2, "second"), (4, "fourth")]


def test_invisible_characters_are_removed_and_white_space_runs_become_one(write_dump: WriteDump) -> None:
    texts = ["Zero\u200bwidth\u00ad soft\u2060 joined\ufeff", "Tabs\tand  double   spaces"]
    texts.append("caf\u00e9\t\tbar")
    path = write_dump("d.txt", texts)
    assert [line.text for line in lines_of(path) if isinstance(line, Line)] == [
        "Zerowidth soft joined",
        "Tabs and double spaces",
        "café bar",
    ]


def test_a_nul_byte_inside_text_is_a_control_char_at_its_line_and_column(write_dump: WriteDump) -> None:
    texts = ["Title one", "An abstract", "Nul\x00 in here", "Last line"]
    results = lines_of(write_dump("nul.txt", texts))
    [problem] = [r for r in results if isinstance(r, Problem)]
    assert (problem.line, problem.column, problem.rule) == (3, 4, "control-char")
    assert [r.number for r in results if isinstance(r, Line)] == [1, 2, 4]


def test_a_nul_far_into_a_large_file_is_found_too(write_dump: WriteDump) -> None:
    lines = [f"Line number {i} of plain text" for i in range(50_000)]
    lines[40_000] = "A\x00B"
    results = lines_of(write_dump("big.txt", lines))
    assert [(r.line, r.rule) for r in results if isinstance(r, Problem)] == [(40_001, "control-char")]
