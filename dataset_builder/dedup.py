"""Cross-dump deduplication: the first occurrence in file-name order wins, every repeat is reported.

Papers are keyed by a 64-bit hash of their normalized title (NFKC, case-folded, white space collapsed),
so the index costs 16 bytes a paper however long the text is; the same hash, in hex, is the `paper_id`.
A repeated title with a different abstract is a revised paper. What happens to it is the conflict
policy: `error` (a Problem naming both places), `first` (keep the first abstract) or `last` (take the
abstract of the latest dump that has the paper). Either way the paper keeps the place where it first
appeared, and every revision is reported with where each version came from: nothing is picked silently.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dataset_builder.keys import paper_id
from dataset_builder.records import Duplicate, NearDuplicate, Place, Problem, Revision
from dataset_builder.timing import log_since, timed

ConflictPolicy = Literal["error", "first", "last"]
CONFLICT_POLICIES: tuple[str, ...] = get_args(ConflictPolicy)
# Near-duplicates (neardup.py): reported and kept (`warn`), removed like duplicates, or not looked for.
NearDuplicatePolicy = Literal["warn", "remove", "off"]
NEAR_DUPLICATE_POLICIES: tuple[str, ...] = get_args(NearDuplicatePolicy)


@dataclass
class FileKeys:
    """What deduplication needs of one dump: per paper, in order, its hashes and title line.

    `name` is the file name (as in `also_in`); `path` the path as given, for problems.
    """

    name: str
    path: str
    titles: array[int] = field(default_factory=lambda: array("Q"))
    abstracts: array[int] = field(default_factory=lambda: array("Q"))
    lines: array[int] = field(default_factory=lambda: array("q"))
    # For near-duplicates, per batch: abstract signatures (neardup.signatures) and title texts.
    signatures: list[npt.NDArray[np.uint32]] = field(default_factory=list)
    title_texts: list[pa.Array] = field(default_factory=list)

    def add(
        self,
        titles: Sequence[int] | npt.NDArray[np.uint64],
        abstracts: npt.NDArray[np.uint64],
        lines: Sequence[int] | npt.NDArray[np.int64],
    ) -> None:
        """Record a batch of papers by their `title_hash`, `abstract_hashes` and title lines."""
        self.titles.frombytes(np.asarray(titles, dtype=np.uint64).tobytes())
        self.abstracts.frombytes(np.asarray(abstracts, dtype=np.uint64).tobytes())
        self.lines.frombytes(np.asarray(lines, dtype=np.int64).tobytes())

    def add_near(self, signatures: npt.NDArray[np.uint32], titles: pa.Array) -> None:
        """Record the same batch's abstract signatures and titles, to look for near-duplicates."""
        self.signatures.append(signatures)
        self.title_texts.append(titles)


@dataclass
class FilePlan:
    """For one dump: which papers (by position in the file) are kept, their `also_in` lists, and, for
    revised papers under `last`, where their abstract comes from: position -> (file index, position)."""

    name: str
    keep: npt.NDArray[np.bool_]
    also_in: dict[int, list[str]]
    abstract_from: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def kept(self) -> int:
        return int(self.keep.sum())

    def add_also_in(self, position: int, names: Iterable[str]) -> None:
        """The kept paper at `position` was also read in these dumps: each listed once, never this dump
        itself, in file-name order (which is input order); no entry when none is left."""
        repeats = self.also_in.setdefault(position, [])
        for name in names:
            if name != self.name and name not in repeats:
                repeats.append(name)
        repeats.sort()
        if not repeats:
            del self.also_in[position]


@dataclass
class Plan:
    files: list[FilePlan]
    duplicates: list[Duplicate]
    conflicts: list[Problem]
    revisions: list[Revision] = field(default_factory=list)
    # Per file name: later occurrences that were another version of a kept paper.
    revised: dict[str, int] = field(default_factory=dict)
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    # Candidate pairs the near-duplicate search skipped to stay linear in papers (neardup.candidates).
    near_skipped: int = 0


def plan(
    files: Sequence[FileKeys],
    on_conflict: ConflictPolicy = "error",
    near_duplicates: NearDuplicatePolicy = "warn",
) -> Plan:
    """Decide, for all dumps at once, which papers stay and where each repeat came from."""
    start = time.perf_counter()
    if not files or not any(f.titles for f in files):
        empty = [FilePlan(f.name, np.zeros(len(f.titles), dtype=bool), {}) for f in files]
        return Plan(empty, [], [])
    titles = np.concatenate([np.frombuffer(f.titles, dtype=np.uint64) for f in files])
    abstracts = np.concatenate([np.frombuffer(f.abstracts, dtype=np.uint64) for f in files])
    file_of = np.repeat(np.arange(len(files)), [len(f.titles) for f in files])
    offsets = np.cumsum([0] + [len(f.titles) for f in files])
    # np.unique's return_index is the first occurrence of each key in input (file, line) order.
    _, first_index, group = np.unique(titles, return_index=True, return_inverse=True)
    first = first_index[group]
    keep = first == np.arange(len(titles))

    duplicates: list[Duplicate] = []
    conflicts: list[Problem] = []
    plans = [FilePlan(f.name, keep[offsets[i] : offsets[i + 1]], {}) for i, f in enumerate(files)]
    # first occurrence -> the later occurrences with another abstract, in (file, line) order
    revised: dict[int, list[int]] = {}
    for index in np.flatnonzero(~keep).tolist():
        origin = int(first[index])
        here_file, origin_file = int(file_of[index]), int(file_of[origin])
        here, there = files[here_file], files[origin_file]
        line = here.lines[index - int(offsets[here_file])]
        origin_position = origin - int(offsets[origin_file])
        origin_line = there.lines[origin_position]
        if abstracts[index] != abstracts[origin]:
            if on_conflict == "error":
                conflicts.append(
                    Problem(
                        here.path,
                        line,
                        "duplicate-conflict",
                        f"same title as {there.path}:{origin_line} but a different abstract: a revised "
                        "paper? --on-conflict first or last keeps one version and reports both",
                    )
                )
                continue
            revised.setdefault(origin, []).append(index)
        else:
            duplicates.append(
                Duplicate(here.name, line, paper_id(int(titles[index])), there.name, origin_line)
            )
        plans[origin_file].add_also_in(origin_position, [here.name])
    result = Plan(plans, duplicates, conflicts)

    def place(index: int) -> Place:
        file = int(file_of[index])
        return Place(files[file].name, files[file].path, files[file].lines[index - int(offsets[file])])

    for origin, later in revised.items():
        for index in later:
            name = files[int(file_of[index])].name
            result.revised[name] = result.revised.get(name, 0) + 1
        versions, seen = [origin], {int(abstracts[origin])}
        for index in later:
            if int(abstracts[index]) not in seen:
                seen.add(int(abstracts[index]))
                versions.append(index)
        last = int(abstracts[later[-1]])
        chosen = origin if on_conflict == "first" else next(i for i in versions if abstracts[i] == last)
        if chosen != origin:
            origin_file, chosen_file = int(file_of[origin]), int(file_of[chosen])
            plans[origin_file].abstract_from[origin - int(offsets[origin_file])] = (
                chosen_file,
                chosen - int(offsets[chosen_file]),
            )
        result.revisions.append(
            Revision(
                paper_id(int(titles[origin])), tuple(place(i) for i in versions), place(chosen), on_conflict
            )
        )
    log_since("dedup", start)
    if near_duplicates != "off":
        with timed("near-duplicates"):
            _near(files, keep, titles, file_of, offsets, near_duplicates == "remove", place, result)
    return result


def _near(
    files: Sequence[FileKeys],
    keep: npt.NDArray[np.bool_],
    titles: npt.NDArray[np.uint64],
    file_of: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    remove: bool,
    place: Callable[[int], Place],
    result: Plan,
) -> None:
    """Near-duplicate pairs among the distinct papers; with `remove`, the later paper of each goes the way
    of a duplicate (removed, its file in the kept paper's `also_in`)."""
    from dataset_builder import neardup  # rapidfuzz is loaded only when near-duplicates are looked for

    if not any(f.signatures for f in files):
        return
    distinct = np.flatnonzero(keep)
    # The distinct papers' rows only, batch by batch: no copy of every paper's signature first.
    batches = [(s, t) for f in files for s, t in zip(f.signatures, f.title_texts, strict=True)]
    masks = np.split(keep, np.cumsum([len(s) for s, _ in batches])[:-1])
    signatures = np.concatenate([s[mask] for (s, _), mask in zip(batches, masks, strict=True)])
    chosen = [t.filter(pa.array(mask)) for (_, t), mask in zip(batches, masks, strict=True)]
    texts = pa.chunked_array(chosen, pa.string())
    kept_as: dict[int, int] = {}  # a removed paper -> the kept paper it was folded into
    found = neardup.find_pairs(signatures, texts)
    result.near_skipped = found.skipped
    for pair in found.pairs:
        earlier, later = int(distinct[pair.earlier]), int(distinct[pair.later])
        removed = remove and later not in kept_as
        if removed:
            target = kept_as.get(earlier, earlier)
            kept_as[later] = target
            here_file, target_file = int(file_of[later]), int(file_of[target])
            result.files[here_file].keep[later - int(offsets[here_file])] = False
            here, there = place(later), place(target)
            result.duplicates.append(
                Duplicate(here.file, here.line, paper_id(int(titles[later])), there.file, there.line)
            )
            # The kept paper is now also in the removed one's file and in every file that repeated it.
            moved = result.files[here_file].also_in.pop(later - int(offsets[here_file]), [])
            result.files[target_file].add_also_in(target - int(offsets[target_file]), [here.file, *moved])
        result.near_duplicates.append(
            NearDuplicate(
                place(later),
                place(earlier),
                paper_id(int(titles[later])),
                paper_id(int(titles[earlier])),
                round(pair.title_similarity, 3),
                round(pair.abstract_similarity, 3),
                removed,
            )
        )
