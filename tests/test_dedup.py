"""dedup.py: first occurrence wins, repeats are listed, conflicting repeats are errors."""

from __future__ import annotations

import hashlib

from dataset_builder.dedup import FileKeys, abstract_hashes, paper_id, plan, title_hash, title_key


def keys(name: str, *papers: tuple[str, str, int]) -> FileKeys:
    file_keys = FileKeys(name, f"dumps/{name}")
    titles, abstracts, lines = zip(*papers, strict=True) if papers else ((), (), ())
    file_keys.add([title_hash(t) for t in titles], abstract_hashes(list(abstracts)), list(lines))
    return file_keys


def test_title_key_folds_unicode_case_and_white_space() -> None:
    fullwidth = "\uff24eep   LEARNING\u00a0for \uff38 "  # NFKC folds the fullwidth D and X
    assert title_key(fullwidth) == title_key("deep learning for x")


def test_paper_id_is_a_stable_hash_of_the_normalized_title() -> None:
    expected = hashlib.blake2b(b"deep learning for x", digest_size=8).hexdigest()
    assert paper_id(title_hash("Deep  Learning for X")) == expected


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


def test_abstract_hashes_ignore_runs_of_white_space_but_not_words() -> None:
    spaced = ["A  study\tof\u00a0graphs", "A study of graphs", "A study of trees", "A\u2003study of graphs"]
    hashes = abstract_hashes(spaced).tolist()
    assert hashes[0] == hashes[1] == hashes[3] != hashes[2]
