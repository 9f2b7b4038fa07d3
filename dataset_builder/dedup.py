"""Cross-dump deduplication: the first occurrence in file-name order wins, every repeat is reported.

Papers are keyed by a 64-bit hash of their normalized title (NFKC, case-folded, white space collapsed),
so the index costs 24 bytes a paper however long the text is; the same hash, in hex, is the `paper_id`.
Two papers with the same normalized title or the same arXiv id (of API dumps, any version) are one
paper, whatever their sources: one row, at its first place, with the arXiv id, authors and dates of
the first API dump that has it. A repeat with another title (retitled) or another abstract is a
revised paper. What happens to it is the conflict
policy: `error` (a Problem naming both places), `first` (keep the first abstract) or `last` (take the
abstract of the latest dump that has the paper). Either way the paper keeps the place where it first
appeared, and every revision is reported with where each version came from: nothing is picked silently.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
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
    arxiv: array[int] = field(default_factory=lambda: array("Q"))  # keys.arxiv_hashes: 0 for none
    # Per batch: title texts (to name a retitled paper's titles) and, for near-duplicates, abstract
    # signatures (neardup.signatures) and title forms (neardup.title_forms). `plan` empties the lists
    # once it has copied what it needs from them, to hold them once.
    title_texts: list[pa.Array] = field(default_factory=list)
    signatures: list[npt.NDArray[np.uint32]] = field(default_factory=list)
    title_forms: list[pa.Array] = field(default_factory=list)

    def add(
        self,
        titles: Sequence[int] | npt.NDArray[np.uint64],
        abstracts: npt.NDArray[np.uint64],
        lines: Sequence[int] | npt.NDArray[np.int64],
        arxiv: Sequence[int] | npt.NDArray[np.uint64] | None = None,
    ) -> None:
        """Record a batch of papers by their `title_hash`, `abstract_hashes`, title lines and
        `arxiv_hashes` (none: the papers have no arXiv id)."""
        self.titles.frombytes(np.asarray(titles, dtype=np.uint64).tobytes())
        self.abstracts.frombytes(np.asarray(abstracts, dtype=np.uint64).tobytes())
        self.lines.frombytes(np.asarray(lines, dtype=np.int64).tobytes())
        if arxiv is None:
            arxiv = np.zeros(len(lines), dtype=np.uint64)
        self.arxiv.frombytes(np.asarray(arxiv, dtype=np.uint64).tobytes())

    def add_titles(self, titles: pa.Array) -> None:
        """Record the same batch's titles."""
        self.title_texts.append(titles)

    def add_near(self, signatures: npt.NDArray[np.uint32], title_forms: pa.Array) -> None:
        """Record the same batch's abstract signatures and title forms, to look for near-duplicates."""
        self.signatures.append(signatures)
        self.title_forms.append(title_forms)


@dataclass
class FilePlan:
    """For one dump: which papers (by position in the file) are kept, their `also_in` lists, and, for
    revised papers under `last`, where their abstract comes from: position -> (file index, position);
    for kept papers without an arXiv id that an API dump also has, the version whose arXiv id,
    authors and dates they take (`enrich_from`, same form); for kept near-duplicates, the `paper_id` of
    the earlier paper; how many kept papers have an arXiv id (their own or taken)."""

    name: str
    keep: npt.NDArray[np.bool_]
    also_in: dict[int, list[str]]
    abstract_from: dict[int, tuple[int, int]] = field(default_factory=dict)
    enrich_from: dict[int, tuple[int, int]] = field(default_factory=dict)
    near_duplicate_of: dict[int, str] = field(default_factory=dict)
    with_arxiv_id: int = 0

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
    pool: Executor | None = None,
) -> Plan:
    """Decide, for all dumps at once, which papers stay and where each repeat came from. When it looks
    for near-duplicates, each file's `signatures`, `title_forms` and `title_texts` are used up (empty
    afterwards); a `pool`'s threads (the build's) share the search's numpy work."""
    start = time.perf_counter()
    if not files or not any(f.titles for f in files):
        empty = [FilePlan(f.name, np.zeros(len(f.titles), dtype=bool), {}) for f in files]
        return Plan(empty, [], [])
    titles = np.concatenate([np.frombuffer(f.titles, dtype=np.uint64) for f in files])
    abstracts = np.concatenate([np.frombuffer(f.abstracts, dtype=np.uint64) for f in files])
    arxiv = np.concatenate([np.frombuffer(f.arxiv, dtype=np.uint64) for f in files])
    file_of = np.repeat(np.arange(len(files)), [len(f.titles) for f in files])
    offsets = np.cumsum([0] + [len(f.titles) for f in files])
    first = _first_places(titles, arxiv)
    keep = first == np.arange(len(titles))

    duplicates: list[Duplicate] = []
    conflicts: list[Problem] = []
    plans = [FilePlan(f.name, keep[offsets[i] : offsets[i + 1]], {}) for i, f in enumerate(files)]
    # first occurrence -> the later occurrences with another title or abstract, in (file, line) order
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
                same = "title" if titles[index] == titles[origin] else "paper (by title or arXiv id)"
                conflicts.append(
                    Problem(
                        here.path,
                        line,
                        "duplicate-conflict",
                        f"same {same} as {there.path}:{origin_line} but a different abstract: a revised "
                        "paper? --on-conflict first or last keeps one version and reports both",
                    )
                )
                continue
            revised.setdefault(origin, []).append(index)
        elif titles[index] != titles[origin]:  # retitled: one arXiv id, another title
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

    versions_of: dict[int, list[int]] = {}
    for origin, later in revised.items():
        for index in later:
            name = files[int(file_of[index])].name
            result.revised[name] = result.revised.get(name, 0) + 1
        versions, seen = [origin], {(int(titles[origin]), int(abstracts[origin]))}
        for index in later:
            if (int(titles[index]), int(abstracts[index])) not in seen:
                seen.add((int(titles[index]), int(abstracts[index])))
                versions.append(index)
        versions_of[origin] = versions
    title_of = _titles_at(files, file_of, offsets, [i for v in versions_of.values() for i in v])
    for origin, versions in versions_of.items():
        last = int(abstracts[revised[origin][-1]])
        chosen = origin if on_conflict == "first" else next(i for i in versions if abstracts[i] == last)
        if chosen != origin:
            origin_file, chosen_file = int(file_of[origin]), int(file_of[chosen])
            plans[origin_file].abstract_from[origin - int(offsets[origin_file])] = (
                chosen_file,
                chosen - int(offsets[chosen_file]),
            )
        result.revisions.append(
            Revision(
                paper_id(int(titles[origin])),
                tuple(place(i) for i in versions),
                place(chosen),
                on_conflict,
                tuple(title_of[i] for i in versions) if title_of else (),
            )
        )
    enrich = _enrich_from(first, arxiv)
    for index in np.flatnonzero(keep & (arxiv == 0) & (enrich >= 0)).tolist():
        here_file, source = int(file_of[index]), int(enrich[index])
        source_file = int(file_of[source])
        position = (source_file, source - int(offsets[source_file]))
        plans[here_file].enrich_from[index - int(offsets[here_file])] = position
    log_since("dedup", start)
    if near_duplicates != "off":
        with timed("near-duplicates"):
            _near(files, keep, titles, file_of, offsets, near_duplicates == "remove", place, result, pool)
    with_id = keep & ((arxiv != 0) | (enrich >= 0))
    for i, file_plan in enumerate(plans):
        file_plan.with_arxiv_id = int(with_id[offsets[i] : offsets[i + 1]].sum())
    return result


def _first_places(titles: npt.NDArray[np.uint64], arxiv: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """For every paper read, the index of the first place of the paper it is (in input order): papers
    linked by the same title or the same arXiv id (0: none), directly or through others, are one.

    Each round gives every paper the smallest index among those sharing its arXiv id, then among those
    sharing its title; a paper of one dump is rarely linked to more than a few, so few rounds are run.
    """
    _, title_first, title_group = np.unique(titles, return_index=True, return_inverse=True)
    first = title_first[title_group]
    with_id = np.flatnonzero(arxiv != 0)
    if not len(with_id):
        return first
    _, id_group = np.unique(arxiv[with_id], return_inverse=True)
    while True:
        merged = first.copy()
        lowest = np.full(int(id_group.max()) + 1, len(titles), dtype=first.dtype)
        np.minimum.at(lowest, id_group, first[with_id])
        merged[with_id] = lowest[id_group]
        lowest = np.full(len(title_first), len(titles), dtype=first.dtype)
        np.minimum.at(lowest, title_group, merged)
        merged = lowest[title_group]
        merged = merged[merged]  # the first place's own first place is as low or lower
        if np.array_equal(merged, first):
            return first
        first = merged


def _enrich_from(first: npt.NDArray[np.int64], arxiv: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Per paper read, the first version (index) of the paper it is that has an arXiv id; -1 for none."""
    with_id = np.flatnonzero(arxiv != 0)
    earliest = np.full(len(first), len(first), dtype=np.int64)
    np.minimum.at(earliest, first[with_id], with_id)
    found = earliest[first]
    return np.where(found < len(first), found, -1)


def _titles_at(
    files: Sequence[FileKeys],
    file_of: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    indices: Sequence[int],
) -> dict[int, str]:
    """The titles of the papers at these indices; empty when the keys hold no titles."""
    if not indices or not all(f.title_texts or not f.titles for f in files):
        return {}
    found: dict[int, str] = {}
    for file in sorted({int(file_of[i]) for i in indices}):
        here = [i for i in indices if file_of[i] == file]
        texts = pa.chunked_array(files[file].title_texts, pa.string())
        positions = pa.array([i - int(offsets[file]) for i in here], pa.int64())
        found.update(zip(here, texts.take(positions).to_pylist(), strict=True))
    return found


def _near(
    files: Sequence[FileKeys],
    keep: npt.NDArray[np.bool_],
    titles: npt.NDArray[np.uint64],
    file_of: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    remove: bool,
    place: Callable[[int], Place],
    result: Plan,
    pool: Executor | None,
) -> None:
    """Near-duplicate pairs among the distinct papers; with `remove`, the later paper of each goes the way
    of a duplicate (removed, its file in the kept paper's `also_in`)."""
    from dataset_builder import neardup  # rapidfuzz is loaded only when near-duplicates are looked for

    if not any(f.signatures for f in files):
        return
    distinct = np.flatnonzero(keep)
    # The distinct papers' rows only, copied file by file into one array while each file's own
    # signatures are let go: both at once were 256 MB more at the peak of 1M templated papers.
    signatures = np.empty((len(distinct), neardup.SIGNATURE_SIZE), dtype=np.uint32)
    chosen, filled, start = [], 0, 0
    for f in files:
        for batch, forms_of_batch in zip(f.signatures, f.title_forms, strict=True):
            mask = keep[start : start + len(batch)]
            rows = int(np.count_nonzero(mask))
            signatures[filled : filled + rows] = batch[mask]
            chosen.append(forms_of_batch.filter(pa.array(mask)))
            filled, start = filled + rows, start + len(batch)
        f.signatures.clear()
        f.title_forms.clear()
        f.title_texts.clear()
    # One array: `take` from 1M titles (now their forms) in hundreds of chunks took 9 s at 1M templated
    # papers.
    forms = pa.chunked_array(chosen).combine_chunks()
    del chosen
    kept_as: dict[int, int] = {}  # a removed paper -> the kept paper it was folded into
    found = neardup.find_pairs(signatures, neardup.Titles(forms, titles[distinct]), pool)
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
        elif keep[later]:
            later_file = int(file_of[later])
            kept = result.files[later_file].near_duplicate_of
            kept.setdefault(later - int(offsets[later_file]), paper_id(int(titles[earlier])))
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
