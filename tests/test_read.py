"""read.py: line endings, encodings and hostile files become clean lines or located problems."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from conftest import WriteDump

from dataset_builder.read import MAX_LINE_CHARS, PIECE_BYTES, WINDOW_BYTES, read_dump, read_pieces
from dataset_builder.records import Line, Problem


def lines_of(path: Path) -> list[Line | Problem]:
    return list(read_dump(path))


def texts_and_rules(items: list[Line | Problem]) -> list[str]:
    return [item.text if isinstance(item, Line) else item.rule for item in items]


def lines_in_pieces(path: Path, piece_bytes: int) -> list[Line | Problem]:
    return [item for piece in read_pieces(path, piece_bytes) for item in piece.items(str(path))]


def test_crlf_cr_and_lf_give_the_same_numbered_lines(write_dump: WriteDump) -> None:
    texts = ["Title one", "", "An abstract line"]
    endings = ["\r\n", "\r", "\n"]
    results = [lines_of(write_dump(f"d{i}.txt", texts, sep=sep)) for i, sep in enumerate(endings)]
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


def test_a_giant_line_is_one_short_problem_and_reading_goes_on(write_dump: WriteDump) -> None:
    path = write_dump("giant.txt", b"x" * (10 * 1024 * 1024) + b"\nnext line\n")
    problem, line = lines_of(path)
    assert isinstance(problem, Problem) and problem.rule == "line-too-long" and problem.line == 1
    assert len(problem.value) <= 60 and f"{MAX_LINE_CHARS:,}" in problem.message
    assert isinstance(line, Line) and (line.number, line.text) == (2, "next line")


def test_piece_boundaries_anywhere_give_the_same_lines(write_dump: WriteDump) -> None:
    # Every kind of line, CR LF pairs, a line too long, and bytes that are not UTF-8 at the end; pieces
    # so small that their boundaries fall inside CR LF pairs and multi-byte characters.
    body = ["Plain title", "Caf\u00e9 abstract", "", "Cafe\u0301 decomposed", "Bad\x07bell", "\tpadded  "]
    data = b"x" * (MAX_LINE_CHARS + 5) + b"\r\n" + "\r\n".join(body * 50).encode() + b"\rCaf\xe9\r\nlast"
    path = write_dump("pieces.txt", data)
    whole = lines_in_pieces(path, len(data) + 1)
    for size in (4096, 65_536, PIECE_BYTES):
        assert lines_in_pieces(path, size) == whole, size
    short = write_dump("short.txt", data[MAX_LINE_CHARS + 7 :])
    short_whole = lines_in_pieces(short, len(data))
    assert texts_and_rules(short_whole) == texts_and_rules(whole[1:])
    for size in (1, 7, 100):
        assert lines_in_pieces(short, size) == short_whole, size
    first, last = whole[0], whole[-1]
    assert isinstance(first, Problem) and first.rule == "line-too-long"
    assert last == Line(str(path), 303, "last")
    texts = [line.text for line in whole if isinstance(line, Line)]
    assert texts[:5] == ["Plain title", "Caf\u00e9 abstract", "Caf\u00e9 decomposed", "padded", "Plain title"]
    rules = [p.rule for p in whole if isinstance(p, Problem)]
    assert rules == ["line-too-long"] + ["control-char"] * 50 + ["not-utf8"]


def test_lines_after_a_giant_line_keep_their_numbers_to_the_end_of_the_file(write_dump: WriteDump) -> None:
    # Longer than a piece, so its rest is skipped unread, and the lines after it are the file's last.
    path = write_dump("giant.txt", b"x" * (PIECE_BYTES + 10) + b"\r\nsecond\r\n\r\nfourth")
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


def test_bidi_controls_joiners_and_variation_selectors_are_removed(write_dump: WriteDump) -> None:
    invisible = "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e\u200c\u200d\u034f\ufe00\ufe0f"
    path = write_dump("d.txt", [f"Alpha{invisible} Model", "\u2066Beta\u2069", "\u200d\ufe0f"])
    assert [line.text for line in lines_of(path) if isinstance(line, Line)] == ["Alpha Model", "Beta"]


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


def test_a_double_space_or_control_byte_on_a_window_border_is_found(write_dump: WriteDump) -> None:
    # The byte checks run window by window: a pair of spaces split by a border, and a bell in a later
    # window, are found like any other.
    filler = "Plain line of text\n" * (WINDOW_BYTES // 19 + 1)
    before = filler[: WINDOW_BYTES - len("\nDouble ")]  # the pair's first space ends the first window
    data = (before + "\nDouble  space\n" + filler + "Bell\x07ringing\n").encode()
    assert data.index(b"  ") == WINDOW_BYTES - 1
    results = lines_of(write_dump("borders.txt", data))
    texts = [r.text for r in results if isinstance(r, Line)]
    assert "Double space" in texts and "Double  space" not in texts
    assert [r.rule for r in results if isinstance(r, Problem)] == ["control-char"]


def test_a_pieces_lines_stay_as_read_while_later_pieces_are_read(write_dump: WriteDump) -> None:
    # The reader reads every piece of a file into one buffer; no piece keeps pointing into it.
    lines = [f"Line {i} of the dump" for i in range(2_000)]
    path = write_dump("buffer.txt", lines)
    pieces = list(read_pieces(path, 1_000))
    assert len(pieces) > 20
    assert [item.text for piece in pieces for item in piece.items(str(path))] == lines
