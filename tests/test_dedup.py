"""dedup.py: first occurrence wins, repeats are listed, conflicting repeats are errors."""

from __future__ import annotations

import pyarrow as pa

from dataset_builder.dedup import FileKeys, plan
from dataset_builder.keys import (
    abstract_hashes,
    arxiv_hashes,
    paper_id,
    title_hash,
)


def keys(name: str, *papers: tuple[str, str, int] | tuple[str, str, int, str | None]) -> FileKeys:
    """The keys of a dump of (title, abstract, line[, arXiv id]) papers, titles included."""
    file_keys = FileKeys(name, f"dumps/{name}")
    titles = [p[0] for p in papers]
    ids = pa.array([p[3] if len(p) > 3 else None for p in papers], pa.string())  # type: ignore[misc]
    file_keys.add(
        [title_hash(t) for t in titles],
        abstract_hashes([p[1] for p in papers]),
        [p[2] for p in papers],
        arxiv_hashes(ids),
    )
    file_keys.add_titles(pa.array(titles, pa.string()))
    return file_keys


def test_first_occurrence_in_file_order_is_kept_and_later_files_are_listed() -> None:
    result = plan(
        [
            keys("a.txt", ("Alpha", "abs a", 1), ("Beta", "abs b", 3)),
            keys("b.txt", ("ALPHA", "abs  a", 5), ("Gamma", "abs g", 7)),
            keys("c.txt", ("alpha", "abs a", 2), ("Gamma", "abs g", 4)),
        ]
    )
    assert [f.keep.tolist() for f in result.files] == [[True, True], [False, True], [False, False]]
    assert result.files[0].also_in == {0: ["b.txt", "c.txt"]}
    assert result.files[1].also_in == {1: ["c.txt"]}
    removed = [(d.file, d.line, d.first_file, d.first_line) for d in result.duplicates]
    assert removed == [("b.txt", 5, "a.txt", 1), ("c.txt", 2, "a.txt", 1), ("c.txt", 4, "b.txt", 7)]
    assert result.conflicts == []


def test_a_repeat_within_one_file_is_removed_but_not_listed_in_also_in() -> None:
    result = plan([keys("a.txt", ("Alpha", "abs", 1), ("Alpha", "abs", 9))])
    assert result.files[0].keep.tolist() == [True, False]
    assert result.files[0].also_in == {}
    assert [(d.file, d.line) for d in result.duplicates] == [("a.txt", 9)]


def test_same_title_with_a_different_abstract_is_a_conflict_naming_both_places() -> None:
    result = plan([keys("a.txt", ("Alpha", "one", 3)), keys("b.txt", ("alpha", "two", 8))])
    [conflict] = result.conflicts
    assert (conflict.file, conflict.line, conflict.rule) == ("dumps/b.txt", 8, "duplicate-conflict")
    assert "dumps/a.txt:3" in conflict.message
    assert result.duplicates == []


def test_no_papers_plans_nothing() -> None:
    result = plan([FileKeys("a.txt", "a.txt")])
    assert result.files[0].kept == 0 and result.duplicates == [] and result.conflicts == []


def revised_files() -> list[FileKeys]:
    return [
        keys("a.txt", ("Alpha", "abs v1", 3), ("Beta", "abs b", 5)),
        keys("b.txt", ("alpha", "abs v2", 8)),
        keys("c.txt", ("ALPHA", "abs v2", 2), ("Alpha", "abs v3", 6)),
    ]


def test_the_error_policy_names_the_option_in_its_message() -> None:
    result = plan(revised_files())
    assert [c.line for c in result.conflicts] == [8, 2, 6]
    assert "--on-conflict first or last" in result.conflicts[0].message
    assert result.revisions == []


def test_first_keeps_the_first_abstract_at_its_place_and_reports_every_version() -> None:
    result = plan(revised_files(), "first")
    assert result.conflicts == []
    assert [f.keep.tolist() for f in result.files] == [[True, True], [False], [False, False]]
    assert result.files[0].also_in == {0: ["b.txt", "c.txt"]}
    assert all(f.abstract_from == {} for f in result.files)
    [revision] = result.revisions
    assert [(v.file, v.line) for v in revision.versions] == [("a.txt", 3), ("b.txt", 8), ("c.txt", 6)]
    assert (revision.kept.file, revision.kept.line, revision.policy) == ("a.txt", 3, "first")
    assert result.revised == {"b.txt": 1, "c.txt": 2}
    assert result.duplicates == []


def test_last_takes_the_abstract_of_the_latest_dump_but_keeps_the_first_place() -> None:
    result = plan(revised_files(), "last")
    assert [f.keep.tolist() for f in result.files] == [[True, True], [False], [False, False]]
    # the row stays at a.txt position 0; its abstract comes from c.txt position 1 (line 6)
    assert result.files[0].abstract_from == {0: (2, 1)}
    [revision] = result.revisions
    assert (revision.kept.file, revision.kept.line) == ("c.txt", 6)


def test_last_where_the_latest_repeats_an_earlier_version_names_that_version() -> None:
    files = [
        keys("a.txt", ("Alpha", "v1", 1)),
        keys("b.txt", ("Alpha", "v2", 4)),
        keys("c.txt", ("Alpha", "v2", 9)),
    ]
    [revision] = plan(files, "last").revisions
    assert [(v.file, v.line) for v in revision.versions] == [("a.txt", 1), ("b.txt", 4)]
    assert (revision.kept.file, revision.kept.line) == ("b.txt", 4)


def test_the_same_arxiv_id_links_papers_through_each_other_into_one() -> None:
    # a text paper, an API paper with its title and an id, a later API paper with that id retitled,
    # and a text paper with the new title: all one paper, kept at its first place.
    result = plan(
        [
            keys("a.txt", ("Old Title", "abs", 2), ("Other", "abs o", 4)),
            keys("b.jsonl", ("old title", "abs", 1, "2403.12345")),
            keys("c.jsonl", ("New Title", "abs", 1, "2403.12345v2")),
            keys("d.txt", ("New  Title", "abs", 7)),
        ]
    )
    assert [f.keep.tolist() for f in result.files] == [[True, True], [False], [False], [False]]
    assert result.files[0].also_in == {0: ["b.jsonl", "c.jsonl", "d.txt"]}
    assert result.files[0].enrich_from == {0: (1, 0)}  # the first API version: b.jsonl, position 0
    assert [f.with_arxiv_id for f in result.files] == [1, 0, 0, 0]
    assert [(d.file, d.line) for d in result.duplicates] == [("b.jsonl", 1)]
    [revision] = result.revisions
    assert revision.paper_id == paper_id(title_hash("Old Title"))
    assert [(v.file, v.line) for v in revision.versions] == [("a.txt", 2), ("c.jsonl", 1)]
    assert revision.titles == ("Old Title", "New Title") and revision.retitled
    assert result.revised == {"c.jsonl": 1, "d.txt": 1}


def test_an_api_paper_first_keeps_its_own_columns() -> None:
    result = plan([keys("a.jsonl", ("Alpha", "abs", 1, "2403.00001")), keys("b.txt", ("Alpha", "abs", 3))])
    assert [f.keep.tolist() for f in result.files] == [[True], [False]]
    assert result.files[0].enrich_from == {} and result.files[0].with_arxiv_id == 1


def test_different_arxiv_ids_with_one_title_are_one_paper() -> None:
    result = plan(
        [
            keys("a.jsonl", ("Alpha", "abs", 1, "2403.00001")),
            keys("b.jsonl", ("Alpha", "abs", 1, "2403.00002")),
        ]
    )
    assert [f.keep.tolist() for f in result.files] == [[True], [False]]
