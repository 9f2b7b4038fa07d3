"""changes.py: papers added, removed and changed between a build and what is published."""

from __future__ import annotations

import pyarrow.parquet as pq

from dataset_builder.card import read_card
from dataset_builder.hub.changes import diff, read_papers
from dataset_builder.layout import dump_of
from dataset_builder.pipeline import BuildResult


def test_diff_by_paper_id_with_counts_per_dump() -> None:
    remote = {"a": ("s1", "h1"), "b": ("s1", "h2"), "c": ("s2", "h3")}
    local = {"a": ("s1", "h1"), "b": ("s2", "h9"), "d": ("s3", "h4")}
    changes = diff(local, remote)
    assert changes.to_dict() == {"added": ["d"], "removed": ["c"], "changed": ["b"]}
    assert {n: (c.added, c.removed, c.changed) for n, c in changes.splits.items()} == {
        "s2": (0, 1, 1),
        "s3": (1, 0, 0),
    }
    assert (changes.before, changes.after) == (3, 3)
    assert changes.lines()[0] == "Papers: 1 added, 1 removed, 1 changed (3 published, 3 in this build)"
    assert diff(local, local).to_dict() == {"added": [], "removed": [], "changed": []}


def test_read_papers_reads_the_ids_of_a_shard_and_hashes_content(built: BuildResult) -> None:
    split, [shard] = next(iter(built.splits.items()))
    papers = read_papers(built.out / shard.path, split)
    ids = pq.read_table(built.out / shard.path, columns=["paper_id"]).column(0).to_pylist()
    assert list(papers) == ids and {s for s, _ in papers.values()} == {split}
    assert len({h for _, h in papers.values()}) == len(ids)


def test_the_dump_of_each_shard_comes_from_its_name(built: BuildResult) -> None:
    card = read_card(built.out / "README.md")
    assert {path: dump_of(path) for path in card.shards} == {
        s.path: name for name, shards in built.splits.items() for s in shards
    }
    assert card.dumps == {name: [s.path for s in shards] for name, shards in built.splits.items()}
