"""apidump.py: `.jsonl` dumps of the Daily Papers API, alone and mixed with text dumps, read back with
the real datasets library."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import datasets
from conftest import WriteDump, abstract

from dataset_builder.keys import paper_id, title_hash
from dataset_builder.pipeline import build, validate_dumps
from dataset_builder.read import dump_paths


def entry(arxiv_id: str, title: str, summary: str, **paper: Any) -> dict[str, Any]:
    """One Daily Papers API entry, shaped as the API gives it."""
    fields = {
        "id": arxiv_id,
        "title": title,
        "summary": summary,
        "authors": [{"_id": "1", "name": "Ada Lovelace"}, {"_id": "2", "name": "Alan Turing"}],
        "publishedAt": "2024-03-10T17:59:59.000Z",
        "submittedOnDailyAt": "2024-03-12T01:00:00.000Z",
        "upvotes": 7,
    }
    return {"paper": fields | paper, "title": title, "publishedAt": "2024-03-10T17:59:59.000Z"}


def jsonl(*entries: dict[str, Any] | str) -> list[str]:
    return [e if isinstance(e, str) else json.dumps(e, sort_keys=True) for e in entries]


def rows(out: Path, cache: Path) -> dict[str, dict[str, Any]]:
    dataset = datasets.load_dataset(str(out), split="all", cache_dir=str(cache))
    return {row["title"]: row for row in dataset}


def test_every_problem_of_a_jsonl_dump_is_at_its_line(write_dump: WriteDump) -> None:
    good = entry("2403.00001", "A Good Paper", abstract("good"))
    lines = jsonl(
        good,
        "{not json",
        "[1, 2]",
        {"title": "No Paper Object"},
        entry("", "No Id", abstract("no id")),
        {"paper": {"id": "2403.00002", "summary": abstract("untitled")}},
        entry("2403.00003", "No Abstract", ""),
        entry("2403.0004", "Bad Id", abstract("bad id")),
        entry("2403.00005", "Bad Authors", abstract("authors"), authors="Ada"),
        entry("2403.00006", "Bad Date", abstract("date"), publishedAt="yesterday"),
        entry("2403.00007", "Bad Upvotes", abstract("upvotes"), upvotes="many"),
        entry("2403.00008", "Negative Upvotes", abstract("negative"), upvotes=-1),
        entry("2403.00009", "Bell\u0007 Title", abstract("bell")),
        entry("2403.00010", "Half \ud83d Pair", abstract("surrogate")),
        entry("2403.00011", "Short Abstract", "too short"),
        "",
    )
    path = write_dump("2024-03-12.jsonl", "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
    with path.open("ab") as file:
        file.write(b'{"paper": {"id": "2403.00012", "summary": "caf\xe9"}, "title": "Latin-1"}\n')
    report = validate_dumps([path])
    found = [(p.line, p.rule) for p in report.problems]
    assert found == [
        (2, "jsonl-not-json"),
        (3, "jsonl-not-json"),
        (4, "jsonl-missing-field"),
        (5, "jsonl-missing-field"),
        (6, "jsonl-missing-field"),
        (7, "jsonl-missing-field"),
        (8, "arxiv_id-pattern"),
        (9, "jsonl-bad-field"),
        (10, "jsonl-bad-field"),
        (11, "jsonl-bad-field"),
        (12, "upvotes-min"),
        (13, "control-char"),
        (14, "jsonl-bad-field"),
        (15, "abstract-length"),
        (17, "not-utf8"),
    ]
    assert all(p.file == str(path) for p in report.problems)
    [summary] = report.files
    assert (summary.read, summary.kept, summary.rejected) == (16, 1, 15)
    assert summary.with_arxiv_id == 1


def test_a_folder_holds_text_and_jsonl_dumps_in_any_letter_case(tmp_path: Path) -> None:
    for name in ["a.txt", "b.JSONL", "c.jsonl", "notes.md"]:
        (tmp_path / name).write_text("x")
    paths, problems = dump_paths([tmp_path])
    assert [p.name for p in paths] == ["a.txt", "b.JSONL", "c.jsonl"] and problems == []
    (empty := tmp_path / "empty").mkdir()
    _, problems = dump_paths([empty])
    assert [(p.rule, p.message) for p in problems] == [
        ("no-dumps", "no *.txt or *.jsonl dump files in this folder")
    ]


def test_text_dump_papers_take_the_api_columns_and_keep_their_place(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    write_dump(
        "papers-2024-03-11.txt",
        ["Sparse  Attention at Scale", abstract("sparse attention"), "Only In Text", abstract("text")],
    )
    # The API's abstract has line breaks where the page shows spaces: the same abstract once cleaned.
    broken = (
        abstract("sparse attention")
        .replace(" Our method", "\nOur method")
        .replace(" We analyse", "\r\nWe analyse")
    )
    write_dump(
        "papers-2024-03-12.jsonl",
        jsonl(
            entry("2403.12345", "sparse attention at scale", broken, upvotes=42),
            entry(
                "hep-th/9901001v2",
                "Quantum Strings Revisited",
                abstract("strings") + "\r\n",
                submittedOnDailyAt=None,
            ),
        ),
    )
    result = build([tmp_path / "dumps"], tmp_path / "out")
    assert [(f.kept, f.duplicates, f.with_arxiv_id) for f in result.report.files] == [(2, 0, 1), (1, 1, 1)]
    got = rows(tmp_path / "out", tmp_path / "cache")
    assert sorted(got) == ["Only In Text", "Quantum Strings Revisited", "Sparse Attention at Scale"]
    sparse = got["Sparse Attention at Scale"]
    assert sparse["paper_id"] == paper_id(title_hash("Sparse Attention at Scale"))
    assert (sparse["source_file"], sparse["source_line"]) == ("papers-2024-03-11.txt", 1)
    assert sparse["also_in"] == ["papers-2024-03-12.jsonl"]
    assert sparse["abstract"] == abstract("sparse attention")
    assert sparse["arxiv_id"] == "2403.12345" and sparse["upvotes"] == 42
    assert sparse["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert sparse["published_on"] == datetime.date(2024, 3, 10)
    assert sparse["listed_on"] == datetime.date(2024, 3, 11)  # its own dump's day: listed there first
    text = got["Only In Text"]
    assert text["listed_on"] == datetime.date(2024, 3, 11)
    assert [text[n] for n in ["arxiv_id", "authors", "published_on", "upvotes"]] == [None] * 4
    api = got["Quantum Strings Revisited"]
    assert api["arxiv_id"] == "hep-th/9901001v2" and api["abstract"] == abstract("strings")
    assert api["listed_on"] == datetime.date(2024, 3, 12)  # from the file name
    assert api["near_duplicate_of"] is None


def test_listed_on_without_a_date_in_the_name_is_the_entrys_or_none(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    write_dump("page.txt", ["A Text Paper", abstract("text")])
    write_dump(
        "api.jsonl",
        jsonl(
            entry("2403.00001", "Listed Paper", abstract("listed")),
            entry("2403.00002", "Published Paper", abstract("published"), submittedOnDailyAt=None),
        ),
    )
    build([tmp_path / "dumps"], tmp_path / "out")
    got = rows(tmp_path / "out", tmp_path / "cache")
    assert got["A Text Paper"]["listed_on"] is None  # never guessed
    assert got["Listed Paper"]["listed_on"] == datetime.date(2024, 3, 12)  # paper.submittedOnDailyAt
    assert got["Published Paper"]["listed_on"] == datetime.date(2024, 3, 10)  # the entry's publishedAt


def test_a_retitled_paper_is_one_row_reported_with_both_titles(write_dump: WriteDump, tmp_path: Path) -> None:
    write_dump("2024-03-11.jsonl", jsonl(entry("2403.12345", "Old Title of a Paper", abstract("one"))))
    write_dump("2024-03-12.jsonl", jsonl(entry("2403.12345v2", "New Title of a Paper", abstract("one"))))
    result = build([tmp_path / "dumps"], tmp_path / "out")
    got = rows(tmp_path / "out", tmp_path / "cache")
    assert list(got) == ["Old Title of a Paper"]
    old = got["Old Title of a Paper"]
    assert old["paper_id"] == paper_id(title_hash("Old Title of a Paper"))
    assert old["also_in"] == ["2024-03-12.jsonl"]
    report = result.report
    assert [f.revisions for f in report.files] == [0, 1]
    assert report.total("read") == sum(
        report.total(n) for n in ("kept", "duplicates", "revisions", "rejected")
    )
    [revision] = report.to_dict()["revisions"]
    assert revision["titles"] == ["Old Title of a Paper", "New Title of a Paper"]
    [note] = report.notes()
    assert "retitled: 'Old Title of a Paper' -> 'New Title of a Paper'" in note


def test_a_retitled_paper_with_another_abstract_follows_on_conflict(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    write_dump("a.jsonl", jsonl(entry("2403.12345", "Old Title of a Paper", abstract("one"))))
    write_dump("b.jsonl", jsonl(entry("2403.12345", "New Title of a Paper", abstract("two"))))
    refused = validate_dumps([tmp_path / "dumps"])
    assert [(p.file.endswith("b.jsonl"), p.line, p.rule) for p in refused.problems] == [
        (True, 1, "duplicate-conflict")
    ]
    build([tmp_path / "dumps"], tmp_path / "out", on_conflict="last")
    got = rows(tmp_path / "out", tmp_path / "cache")
    assert [(t, r["abstract"]) for t, r in got.items()] == [("Old Title of a Paper", abstract("two"))]
