"""fastparse.py: the vectorized path gives exactly what the line parser gives (papers, lines, problems,
in order), on every test input, the bundled dumps, synthetic dumps of both layouts and random mixes of
every kind of line, with pieces small enough that their boundaries fall everywhere."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from conftest import DUMPS, ROOT, abstract

from dataset_builder.fastparse import Papers, expand, parse_dump, reference
from dataset_builder.records import Paper

sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import generate

CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.txt")) + sorted(DUMPS.glob("*.txt"))
PIECES = (1, 7, 64, 333, 4096, 1 << 20)


def same(path: Path, pieces: tuple[int, ...] = PIECES) -> None:
    expected = reference(path)
    for size in pieces:
        assert expand(parse_dump(path, size), path.name) == expected, f"{path} with {size}-byte pieces"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_every_test_input_and_bundled_dump_parses_as_the_line_parser_does(path: Path) -> None:
    same(path)


def test_synthetic_dumps_of_both_layouts_with_repeats(tmp_path: Path) -> None:
    generate(tmp_path, 3_000, files=2)  # 000 has the blank-line layout, 001 the compact one
    for path in sorted(tmp_path.glob("*.txt")):
        same(path, (1_000, 9_999, 1 << 16, 1 << 23))
        assert sum(isinstance(r, Paper) for r in reference(path)) == 1_500


def test_a_clean_dump_is_parsed_in_runs_of_arrays(tmp_path: Path) -> None:
    generate(tmp_path, 2_000, files=1)
    chunks = list(parse_dump(tmp_path / "000_synthetic.txt"))
    # The preamble and the first pair go through the line parser; the rest are runs of arrays.
    assert isinstance(chunks[0], list) and len(chunks[0]) == 1
    assert all(isinstance(c, Papers) for c in chunks[1:]) and sum(map(len, chunks[1:])) == 1_999


_WORDS = "alpha beta gamma delta model learning new Subscribe data".split()


def _line(rng: random.Random) -> str:
    def words(k: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(k))

    makers = [
        lambda: words(rng.randint(1, 5)).title(),  # a short title
        lambda: words(rng.randint(8, 14)).title(),  # a title of 50 to 300 characters
        lambda: words(rng.randint(3, 6)) + ".",  # short, ending like a sentence
        lambda: (words(60) + ".")[: rng.choice([60, 200, 299, 300, 301, 302, 700])],
        lambda: abstract(words(2)) + rng.choice(["", "?", ".)"]),
        lambda: rng.choice(
            [
                *("new", "Subscribe", "Daily Papers", "Mar 12", "2024-03-12", "12 March 2024", "MAR 1, 2024"),
                *("TOS", "Company", "System theme", "by AK and the research community", "SubscribeFoo Bar"),
                *("Subscribe" + words(12), "2024/03/12", "2024-03/12"),
            ]
        ),
        lambda: "",
        lambda: "  " + words(3) + "  ",
        lambda: words(4) + "\t" + words(3),
        lambda: "caf\u00e9 " + words(3),
        lambda: "cafe\u0301 " + abstract("accents"),
        lambda: "x\u200b" + words(4),
        lambda: "\u200b",
        lambda: "bad\x01" + words(3),
        lambda: "\u00a0" + words(5).title(),
        lambda: "\u0130stanbul " + words(2),
        lambda: words(2) + "  " + abstract("spaces"),
    ]
    weights = [8, 8, 2, 3, 10, 2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    return rng.choices(makers, weights)[0]()


@pytest.mark.parametrize("seed", range(4))
def test_random_mixes_of_every_kind_of_line(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    for n in range(60):
        sep = rng.choice(["\n", "\n\n", "\r\n", "\r", "\n \n"])
        data = sep.join(_line(rng) for _ in range(rng.randint(0, 60))).encode("utf-8")
        if rng.random() < 0.1:
            data = b"\xef\xbb\xbf" + data
        if rng.random() < 0.05:
            data += b"\xff\xfe bad latin \xe9\n" + sep.encode() + data
        if rng.random() < 0.3:
            data += sep.encode()
        path = tmp_path / f"{seed}_{n}.txt"
        path.write_bytes(data)
        same(path, (1, 5, 37, 200, 1 << 20))


def test_a_line_too_long_to_be_a_dump_line_is_skipped_as_read_dump_skips_it(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_bytes(b"Alpha\n" + abstract("a").encode() + b"\n" + b"x" * 500_000 + b"\r\nBeta\n")
    path.write_bytes(path.read_bytes() + abstract("b").encode())
    same(path, (1 << 10, 1 << 16, 1 << 20))
