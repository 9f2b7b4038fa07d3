"""What a release adds, removes and changes, in papers, against what the Hub branch holds now.

Papers are matched by `paper_id`. A paper is *changed* when its `paper_id` is on both sides with a
different title or abstract (other columns, such as `also_in` or the dump it sits with, are bookkeeping
of the build, not content). Counts are per dump: the dump's config in the card (layout.py), which is the
split it was in on cards of the earlier layout. Only the `paper_id`, `title` and `abstract` columns are
read: from the local shard when a published shard has the same sha256 as one of the build, otherwise
from the Hub with range requests, so a whole dataset is never downloaded to compare one column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq

COLUMNS = ["paper_id", "title", "abstract"]

# paper_id -> (dump, hash of title and abstract)
Papers = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class SplitChanges:
    added: int = 0
    removed: int = 0
    changed: int = 0


@dataclass(frozen=True)
class Changes:
    """Sorted paper ids added, removed and changed; per dump (`splits`, keyed by the dump's name in the
    build), their counts: added and changed papers count in the dump they are with now, removed ones in
    the dump they were with."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    splits: dict[str, SplitChanges] = field(default_factory=dict)
    before: int = 0  # papers published before
    after: int = 0  # papers in the build

    def to_dict(self) -> dict[str, list[str]]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}

    def counts(self) -> str:
        return f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed"

    def lines(self) -> list[str]:
        """In all, then per dump, as the CLI and the commit description show them."""
        rows = [
            f"  {name}: +{c.added} -{c.removed} ~{c.changed}"
            for name, c in sorted(self.splits.items())
            if c.added or c.removed or c.changed
        ]
        head = f"Papers: {self.counts()} ({self.before} published, {self.after} in this build)"
        return [head, *rows]


def diff(local: Papers, remote: Papers) -> Changes:
    """The changes that publishing `local` over `remote` makes."""
    added = sorted(set(local) - set(remote))
    removed = sorted(set(remote) - set(local))
    changed = sorted(p for p in set(local) & set(remote) if local[p][1] != remote[p][1])
    counts: dict[str, dict[str, int]] = {}
    for kind, ids, side in (
        ("added", added, local),
        ("removed", removed, remote),
        ("changed", changed, local),
    ):
        for paper_id in ids:
            split = counts.setdefault(side[paper_id][0], {})
            split[kind] = split.get(kind, 0) + 1
    splits = {name: SplitChanges(**c) for name, c in counts.items()}
    return Changes(added, removed, changed, splits, before=len(remote), after=len(local))


def read_papers(source: Path | IO[bytes], dump: str) -> Papers:
    """paper_id -> (dump, content hash) of one shard of `dump`, reading only the columns compared."""
    with pq.ParquetFile(source) as parquet:
        table = parquet.read(columns=COLUMNS)
    ids, titles, abstracts = (table.column(c).to_pylist() for c in COLUMNS)
    return {
        paper_id: (dump, _content(title, abstract))
        for paper_id, title, abstract in zip(ids, titles, abstracts, strict=True)
    }


def merge(parts: Iterable[Papers]) -> Papers:
    merged: Papers = {}
    for part in parts:
        merged.update(part)
    return merged


def _content(title: str, abstract: str) -> str:
    return hashlib.sha256(f"{title}\0{abstract}".encode()).hexdigest()[:16]
