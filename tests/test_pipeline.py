"""pipeline.py: the bundled dumps end to end, read back with the real datasets library."""

from __future__ import annotations

import datetime
import importlib
from pathlib import Path

import datasets
import pytest
from conftest import DUMPS, SPLIT_ROWS, WriteDump, abstract, synthetic

from dataset_builder.errors import DatasetError, FileSystemError, InvalidInput
from dataset_builder.layout import dump_files, split_name
from dataset_builder.pipeline import BuildResult, build, find_dumps


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_load_dataset_reads_one_train_split_with_declared_features(
    built: BuildResult, tmp_path: Path
) -> None:
    dataset = datasets.load_dataset(str(built.out), cache_dir=str(tmp_path))
    assert {name: split.num_rows for name, split in dataset.items()} == {"train": sum(SPLIT_ROWS.values())}
    for name, rows in SPLIT_ROWS.items():
        one = datasets.load_dataset(
            str(built.out), data_files=dump_files(name), split="train", cache_dir=str(tmp_path)
        )
        assert one.num_rows == rows and set(one["source_file"]) == {f"{name}.txt"}
    features = dataset["train"].features
    assert features["also_in"] == datasets.List(datasets.Value("string"))
    assert features["source_line"] == datasets.Value("int32")
    old = ["paper_id", "title", "abstract", "source_file", "source_line", "also_in"]
    new = ["arxiv_id", "authors", "published_on", "listed_on", "upvotes", "near_duplicate_of"]
    assert list(features) == old + new
    assert features["published_on"] == features["listed_on"] == datasets.Value("date32")
    assert features["authors"] == datasets.List(datasets.Value("string"))
    assert features["upvotes"] == datasets.Value("int32")
    # The bundled text dumps carry none of the new columns (no date in their names either).
    rows = dataset["train"].to_list()
    assert all(row[name] is None for row in rows for name in new)


def test_parquet_loader_reads_the_shards_without_the_card(built: BuildResult, tmp_path: Path) -> None:
    data_files = {name: [str(built.out / s.path) for s in shards] for name, shards in built.splits.items()}
    dataset = datasets.load_dataset("parquet", data_files=data_files, cache_dir=str(tmp_path))
    assert {name: split.num_rows for name, split in dataset.items()} == SPLIT_ROWS
    assert dataset["001_1bef2119a8aaeb71"].features["also_in"] == datasets.List(datasets.Value("string"))


def test_every_paper_is_kept_or_reported_as_a_duplicate(built: BuildResult) -> None:
    report = built.report
    assert report.total("read") == 642 and report.total("kept") == 596
    assert report.total("read") == report.total("kept") + report.total("duplicates") + report.total(
        "rejected"
    )
    assert len(report.duplicates) == 46


def test_rows_keep_input_order_source_lines_and_also_in(built: BuildResult, tmp_path: Path) -> None:
    dataset = datasets.load_dataset(str(built.out), cache_dir=str(tmp_path))
    train = dataset["train"]
    first = train[sum(rows for name, rows in SPLIT_ROWS.items() if name < "003")]
    assert first["title"] == "Top2Vec: Distributed Representations of Topics"
    assert (first["source_file"], first["source_line"]) == ("003_0d03a03f8f3c5cf7.txt", 3)
    assert train["source_file"] == sorted(train["source_file"])  # dumps in file-name order
    lines = train["source_line"][: SPLIT_ROWS["000_83255905406594dc"]]
    assert lines == sorted(lines)
    repeated = {d.first_file for d in built.report.duplicates}
    also_in = [row["also_in"] for split in dataset.values() for row in split if row["also_in"]]
    assert also_in and all(f.endswith(".txt") for files in also_in for f in files)
    assert "000_83255905406594dc.txt" in repeated
    ids = [i for split in dataset.values() for i in split["paper_id"]]
    assert len(ids) == len(set(ids)) == 596


def test_same_dumps_give_byte_identical_output(built: BuildResult, tmp_path: Path) -> None:
    again = build([DUMPS], tmp_path / "again", batch_size=37)
    assert tree(again.out) == tree(built.out)
    card = (built.out / "README.md").read_text()
    assert str(tmp_path) not in card and str(DUMPS) not in card


def test_a_dump_of_only_repeats_gets_no_shard_and_is_reported(write_dump: WriteDump, tmp_path: Path) -> None:
    write_dump("a.txt", ["Alpha", abstract("alpha"), "Beta", abstract("beta")])
    write_dump("b.txt", ["Beta", abstract("beta")])
    write_dump("c.txt", ["Alpha", abstract("alpha")])
    result = build([tmp_path / "dumps"], tmp_path / "out")
    assert list(result.splits) == ["a"]
    assert [(f.name, f.split, f.duplicates) for f in result.report.files] == [
        ("a.txt", "a", 0),
        ("b.txt", None, 1),
        ("c.txt", None, 1),
    ]
    summary = " ".join(result.summary().split())  # wrapped where a path ends
    assert "Nothing from b.txt, c.txt: all their papers were duplicates." in summary
    size = sum(s.size for shards in result.splits.values() for s in shards)
    assert f"to {result.out} ({size / 1000:.0f} KB)." in summary  # a small build's size, not "0.0 MB"
    assert "| none | `b.txt` |" in (result.out / "README.md").read_text()
    dataset = datasets.load_dataset(str(result.out), cache_dir=str(tmp_path / "cache"))
    assert dataset["train"]["also_in"] == [["c.txt"], ["b.txt"]]


def test_files_that_give_the_same_split_name_are_an_error(write_dump: WriteDump, tmp_path: Path) -> None:
    write_dump("2024-03-12.txt", ["Alpha", abstract("alpha")])
    write_dump("2024_03_12.txt", ["Beta", abstract("beta")])
    with pytest.raises(InvalidInput) as caught:
        build([tmp_path / "dumps"], tmp_path / "out")
    [problem] = caught.value.report.problems
    assert problem.rule == "split-collision"
    assert problem.file == str(tmp_path / "dumps" / "2024_03_12.txt")
    assert "2024-03-12.txt" in problem.message
    assert not (tmp_path / "out").exists()


def test_invalid_input_leaves_the_previous_output_as_it_was(
    built: BuildResult, write_dump: WriteDump, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    build([DUMPS], out)
    before = tree(out)
    write_dump("bad.txt", ["Alpha", "too short"])
    with pytest.raises(InvalidInput) as caught:
        build([tmp_path / "dumps"], out)
    bad = str(tmp_path / "dumps" / "bad.txt")
    assert [(p.file, p.line, p.rule) for p in caught.value.report.problems] == [
        (bad, 1, "orphan-title"),
        (bad, 2, "orphan-title"),
    ]
    assert tree(out) == before


def test_a_failure_while_writing_leaves_the_previous_output_and_no_debris(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    build([DUMPS], out)
    before = tree(out)

    def broken_card(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    # build() imports render_card from card.py when it runs (card.py imports huggingface_hub).
    monkeypatch.setattr(importlib.import_module("dataset_builder.card"), "render_card", broken_card)
    with pytest.raises(FileSystemError, match="disk full"):  # a message naming the path, not a bug
        build([DUMPS], out)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_refuses_to_replace_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="does not look like a build output"):
        build([DUMPS], out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_find_dumps_takes_files_and_folders_in_name_order(tmp_path: Path) -> None:
    files = find_dumps([DUMPS / "004_7bd83784e7eba939.txt", DUMPS])
    assert [f.name for f in files] == sorted(f.name for f in DUMPS.glob("*.txt"))
    with pytest.raises(DatasetError, match="no such file"):
        find_dumps([tmp_path / "missing"])
    with pytest.raises(DatasetError, match=r"no \*\.txt"):
        find_dumps([tmp_path])


def test_streaming_build_equals_a_single_batch_build(tmp_path: Path) -> None:
    """8k synthetic papers: tiny batches in two or three threads give the bytes of one batch per dump."""
    distinct = synthetic.generate(tmp_path / "dumps", 8_000, files=4)
    streamed = build([tmp_path / "dumps"], tmp_path / "streamed", batch_size=97, workers=2)
    whole = build([tmp_path / "dumps"], tmp_path / "whole", batch_size=1_000_000, workers=1)
    assert streamed.report.total("read") == 8_000
    assert streamed.report.total("kept") == distinct
    assert tree(streamed.out) == tree(whole.out)
    threads = build([tmp_path / "dumps"], tmp_path / "threads", batch_size=1_000, workers=3)
    assert tree(threads.out) == tree(whole.out)


def test_progress_bars_show_both_passes_only_when_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    build([DUMPS], tmp_path / "quiet")
    assert capsys.readouterr().err == ""
    build([DUMPS], tmp_path / "shown", progress=True)
    err = capsys.readouterr().err
    assert "checking" in err and "writing" in err
    # The finished bar names the split written last: which one depends on the threads' timing.
    writing = err.rsplit("\r", 1)[-1]
    assert writing.startswith("writing") and "596 papers" in writing
    assert any(split_name(p.name) in writing for p in DUMPS.glob("*.txt"))
    assert ".arrow" not in err  # the split written, not its spill file


def revised_dumps(write_dump: WriteDump) -> Path:
    write_dump("a.txt", ["Alpha", abstract("alpha, first version"), "Beta", abstract("beta")])
    write_dump("b.txt", ["Gamma", abstract("gamma"), "ALPHA", abstract("alpha, second version")])
    return write_dump("c.txt", ["alpha", abstract("alpha, third version")]).parent


@pytest.mark.parametrize(("policy", "version"), [("first", "first"), ("last", "third")])
def test_a_revised_paper_keeps_its_place_and_takes_the_policys_abstract(
    write_dump: WriteDump, tmp_path: Path, policy: str, version: str
) -> None:
    result = build([revised_dumps(write_dump)], tmp_path / "out", on_conflict=policy)  # type: ignore[arg-type]
    dataset = datasets.load_dataset(str(tmp_path / "out"), split="all", cache_dir=str(tmp_path / "cache"))
    [alpha] = [row for row in dataset if row["title"] == "Alpha"]
    assert alpha["abstract"] == abstract(f"alpha, {version} version")
    assert (alpha["source_file"], alpha["source_line"], alpha["also_in"]) == ("a.txt", 1, ["b.txt", "c.txt"])
    assert dataset.num_rows == 3
    report = result.report
    assert [f.revisions for f in report.files] == [0, 1, 1]
    assert report.total("read") == sum(
        report.total(n) for n in ("kept", "duplicates", "revisions", "rejected")
    )
    [revision] = report.revisions
    assert [(v.file, v.line) for v in revision.versions] == [("a.txt", 1), ("b.txt", 3), ("c.txt", 1)]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "## Revised papers" in card and f"`{revision.paper_id}`" in card
    assert "`a.txt:1`, `b.txt:3`, `c.txt:1`" in card


def test_without_a_policy_a_revised_paper_refuses_the_build(write_dump: WriteDump, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused:
        build([revised_dumps(write_dump)], tmp_path / "out")
    assert [p.rule for p in refused.value.report.problems] == ["duplicate-conflict"] * 2
    assert not (tmp_path / "out").exists()


def near_duplicate_dumps(write_dump: WriteDump) -> Path:
    revised = abstract("sparse attention") + " We also add a new ablation on long contexts."
    write_dump("a.txt", ["Sparse Attention for Long-Context Models", abstract("sparse attention")])
    write_dump(
        "b.txt",
        ["Retrieval at Scale", abstract("retrieval"), "Sparse Atention for Long Context Models", revised],
    )
    return write_dump("c.txt", ["Sparse Atention for Long Context Models", revised]).parent


def test_near_duplicates_are_reported_and_kept_by_default(write_dump: WriteDump, tmp_path: Path) -> None:
    result = build([near_duplicate_dumps(write_dump)], tmp_path / "out")
    [near] = result.report.near_duplicates
    assert (near.later.file, near.later.line, near.first.file, near.first.line) == ("b.txt", 3, "a.txt", 1)
    assert near.title_similarity >= 0.9 and near.abstract_similarity >= 0.5 and not near.removed
    assert [f.near_duplicates for f in result.report.files] == [0, 1, 0]
    dataset = datasets.load_dataset(str(tmp_path / "out"), split="all", cache_dir=str(tmp_path / "cache"))
    assert dataset.num_rows == 3
    marked = {(row["source_file"], row["source_line"]): row["near_duplicate_of"] for row in dataset}
    assert marked == {("a.txt", 1): None, ("b.txt", 1): None, ("b.txt", 3): near.first_paper_id}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "1 paper is a near-duplicate" in card and "1 of them is kept as a row of its own." in card
    assert "| near-duplicates |" in card


def test_near_duplicates_remove_folds_the_later_paper_into_the_first(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    result = build([near_duplicate_dumps(write_dump)], tmp_path / "out", near_duplicates="remove")
    dataset = datasets.load_dataset(str(tmp_path / "out"), split="all", cache_dir=str(tmp_path / "cache"))
    assert sorted(dataset["title"]) == ["Retrieval at Scale", "Sparse Attention for Long-Context Models"]
    [first] = [row for row in dataset if row["source_file"] == "a.txt"]
    assert first["also_in"] == ["b.txt", "c.txt"]
    assert dataset["near_duplicate_of"] == [None, None]  # removed, not marked
    report = result.report
    assert report.total("read") == sum(
        report.total(n) for n in ("kept", "duplicates", "revisions", "rejected")
    )
    assert report.near_duplicates[0].removed
    assert ("b.txt", 3, "a.txt", 1) in [
        (d.file, d.line, d.first_file, d.first_line) for d in report.duplicates
    ]


def test_near_duplicates_off_looks_for_none(write_dump: WriteDump, tmp_path: Path) -> None:
    result = build([near_duplicate_dumps(write_dump)], tmp_path / "out", near_duplicates="off")
    assert result.report.near_duplicates == []


def test_listed_on_of_a_text_dump_is_the_page_date_label_when_it_carries_a_year(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    write_dump("dated.txt", ["Daily Papers", "Mar 12, 2024", "A Dated Paper", abstract("dated papers")])
    write_dump("undated.txt", ["Daily Papers", "Mar 13", "An Undated Paper", abstract("undated papers")])
    named = write_dump("2024-03-14.txt", ["Daily Papers", "Mar 1, 2020", "A Named Paper", abstract("names")])
    build([named.parent], tmp_path / "dist", near_duplicates="off")
    rows = datasets.load_dataset(str(tmp_path / "dist"), split="train")
    listed = {row["title"]: row["listed_on"] for row in rows}
    assert listed == {
        "A Dated Paper": datetime.date(2024, 3, 12),
        "An Undated Paper": None,  # `Mar 13` has no year: never guessed
        "A Named Paper": datetime.date(2024, 3, 14),  # the file name's date comes first
    }
