"""Near-duplicate papers: slightly different titles, same or lightly revised abstracts.

Exact dedup (dedup.py) keys papers by their normalized title, so a fixed typo, a hyphen or a dropped word
makes a second paper. Here the abstract decides and the title only confirms (docs/neardup.md):

- `signatures`: per abstract, K one-permutation MinHash values of its lowercased word 3-gram shingles,
  for a whole batch at once (polars splits and hashes, numpy bins and takes minima). K uint32 values,
  128 bytes a paper.
- `find_pairs`: LSH over the signatures (BANDS bands of ROWS values; equal band keys make candidates,
  found by sorting, at most CANDIDATES a paper however alike the abstracts), then vectorized estimated
  Jaccard on the candidates and rapidfuzz on their titles; returns the pairs and how many the caps
  skipped.

Signatures use polars' hash with a fixed seed, which is stable within one polars version only. That is
enough: signatures are compared within one build, whose processes all run the same polars, and are never
stored.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
from rapidfuzz import process
from rapidfuzz.distance import Indel

from dataset_builder.keys import key_hashes, title_keys

R = TypeVar("R")

SIGNATURE_SIZE = 32  # K: one-permutation bins a signature holds
SHINGLE_WORDS = 3  # words per shingle (the mixing in `signatures` is written for three)
# LSH bands x values a band (BANDS * ROWS <= SIGNATURE_SIZE). Three values a band, not two: abstracts
# that share a sentence or two of boilerplate (J ~ 0.05) then meet in a band 10x less often, so
# candidates stay near-linear in papers, while revisions (J >= 0.66 in the labelled corpus) still do.
BANDS, ROWS = 10, 3
TITLE_THRESHOLD = 0.7  # Indel normalized similarity of titles (see _title_form), 0..1
ABSTRACT_THRESHOLD = 0.5  # estimated Jaccard of the abstracts' shingle sets, 0..1
NEIGHBOURS = 16  # papers sharing one band key are compared with at most this many next in row order
CANDIDATES = 16  # and a paper is the earlier of at most this many candidate pairs over all bands

_SLICE_BYTES = 600_000  # text signed at once (see `signatures`): 500 abstracts of the usual length
_CHUNK = 100_000  # candidate pairs scored at once (see `scored_pairs`)
EMPTY = np.uint32(0xFFFFFFFF)  # marks a bin no shingle fell into, until `_densify` fills it
_SEED = 0x5EED
_ROTATION = np.uint32(0x9E3779B9)  # what `_densify` adds to a value a bin further from its source
_NOT_ALNUM = re.compile(r"[\W_]")
# The ASCII characters a title's form turns into white space: one table for the byte translation of
# `_title_form` and the regex of `title_forms`.
_ASCII_SEPARATORS = bytes(c for c in range(128) if not chr(c).isalnum())
_ASCII_FORM = bytes(32 if c in _ASCII_SEPARATORS else c for c in range(256))
_ANY = "[" + "".join(f"\\x{c:02x}" for c in _ASCII_SEPARATORS) + "]"
_NOT_SPACE = "[" + "".join(f"\\x{c:02x}" for c in _ASCII_SEPARATORS if c != 32) + "]"
# A run of separators other than one space (which its form keeps as it is): two or more, or one that
# is not a space. Matching only these, not every space between words, made `title_forms` 2.4x faster.
_ASCII_SEPARATOR_RUN = f"{_ANY}{{2,}}|{_NOT_SPACE}"
_BIN_SHIFT = np.uint64(64 - SIGNATURE_SIZE.bit_length() + 1)  # top log2(K) bits choose the bin
_MULTIPLIERS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))

assert (
    BANDS * ROWS <= SIGNATURE_SIZE
    and SIGNATURE_SIZE & (SIGNATURE_SIZE - 1) == 0
    and 8 <= SIGNATURE_SIZE < 128
)


@dataclass(frozen=True, slots=True)
class Pair:
    """Two papers judged the same: row indices into the arrays given to `find_pairs`, and their scores."""

    earlier: int
    later: int
    title_similarity: float
    abstract_similarity: float


def signatures(abstracts: pa.Array | pa.ChunkedArray | Sequence[str]) -> npt.NDArray[np.uint32]:
    """(n, K) MinHash signatures of the abstracts' lowercased word 3-gram shingles, for a whole batch.

    One-permutation hashing: a shingle's 64-bit hash picks its bin by the top bits, and each bin keeps
    the least low 32 bits; bins no shingle fell into are filled by `_densify`. An abstract of fewer than three
    words is shingled by its words. Expects text as parse.py gives it (white space collapsed).

    Rows are independent, so a large batch is signed in slices of about `_SLICE_BYTES` of text: the
    working memory (about 5 bytes a byte of text: words, hashes, shingles) stays small whatever the
    batch size. Each working array (8 bytes a word, about 1.3 bytes a byte of text) then stays under
    the 1 MiB from which malloc maps memory of its own for it, as `dataset-builder` sets it
    (runner.use_system_memory), so slices reuse freed memory instead of faulting in fresh pages:
    1.2-1.3 s per 100k abstracts of 1,000 bytes against 1.4-1.7 s in slices of 2.4 MB (0.30 against
    0.47 s for short ones), though a slice's fixed cost is paid 4x as often. (With glibc's default
    settings, as in a notebook, 2.4 MB slices were about 10% faster: 1.16 against 1.31 s.)
    """
    series = pl.Series(abstracts, dtype=pl.String)
    ends = series.str.len_bytes().cast(pl.Int64).fill_null(0).cum_sum().to_numpy()
    if len(series) == 0 or ends[-1] <= _SLICE_BYTES:
        return _signatures(series)
    cuts = np.searchsorted(ends, np.arange(_SLICE_BYTES, ends[-1], _SLICE_BYTES), side="right")
    edges = np.unique(np.concatenate(([0], cuts, [len(series)]))).tolist()
    parts = [_signatures(series.slice(start, end - start)) for start, end in itertools.pairwise(edges)]
    return np.concatenate(parts)


def _signatures(series: pl.Series) -> npt.NDArray[np.uint32]:
    n = len(series)
    if n == 0:
        return np.zeros((0, SIGNATURE_SIZE), dtype=np.uint32)
    words = series.str.to_lowercase().str.split(" ")
    lengths = words.list.len().to_numpy().astype(np.int64)
    hashes = words.explode().hash(seed=_SEED).to_numpy()
    ends = np.cumsum(lengths)
    base = np.repeat(np.arange(0, n * SIGNATURE_SIZE, SIGNATURE_SIZE, dtype=np.int64), lengths)
    # Shingle i mixes the hashes of words i, i+1, i+2 (odd multipliers keep the result uniform).
    span = SHINGLE_WORDS - 1
    count = max(len(hashes) - span, 0)
    shingles = hashes[:count] * _MULTIPLIERS[0]
    shingles += hashes[1 : 1 + count]
    shingles *= _MULTIPLIERS[1]
    shingles += hashes[2 : 2 + count]
    slots = base[:count] + (shingles >> _BIN_SHIFT).view(np.int64)
    # Shingles starting in an abstract's last two words run into the next one: send them to a spare slot.
    for back in range(1, span + 1):
        tail = ends - back
        slots[tail[(tail >= ends - lengths) & (tail < count)]] = n * SIGNATURE_SIZE
    spare = np.full(n * SIGNATURE_SIZE + 1, EMPTY, dtype=np.uint32)
    np.minimum.at(spare, slots, _low(shingles))
    short = np.flatnonzero(np.repeat(lengths < SHINGLE_WORDS, lengths))  # abstracts of one or two words
    if len(short):
        words_of = hashes[short]
        np.minimum.at(spare, base[short] + (words_of >> _BIN_SHIFT).view(np.int64), _low(words_of))
    return _densify(spare[:-1].reshape(n, SIGNATURE_SIZE))


def _densify(table: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Fill each empty bin from the next filled one to its right, circularly, offset by the distance.

    Rotation densification (Shrivastava & Li 2014): two abstracts fill a bin alike about as often as they
    share a shingle, so short abstracts keep all K values usable for bands and the estimate. Every
    abstract has at least one shingle (an empty one hashes its one empty word).

    An empty bin's value is its right neighbour's (densified) plus one `_ROTATION` step, so a walk from
    right to left, twice round the K bins, fills every sparse row at once, a column at a time (1.7x
    faster than finding each bin's source and distance as (rows, 2K) arrays).
    """
    sparse = np.flatnonzero((table == EMPTY).any(axis=1))  # few: abstracts have ~200 shingles
    if len(sparse) == 0:
        return table
    rows = table[sparse]
    filled = rows != EMPTY
    value = np.zeros(len(sparse), dtype=np.uint32)  # each row's value for the bin right of the current one
    for walked in range(2 * SIGNATURE_SIZE - 1, -1, -1):  # the first round only finds the values
        column = walked % SIGNATURE_SIZE
        value += _ROTATION
        np.copyto(value, rows[:, column], where=filled[:, column])
        if walked < SIGNATURE_SIZE:
            rows[:, column] = value
    table[sparse] = rows
    return table


def _low(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint32]:
    """The low 32 bits of hashes (one in 2**32 equals EMPTY and is densified over: harmless)."""
    return values.astype(np.uint32)


def abstract_similarity(
    a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32], equal: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.float64]:
    """Estimated Jaccard of row pairs: the share of equal values. `equal`, an array of a's shape to
    compare into, saves allocating one.

    The equal values are counted 64 at a time: a row of booleans is K bytes of 0 or 1, so the bits set
    in its 8-byte words add up to its count. 20% faster than `np.count_nonzero(axis=1)` (3.0 against
    3.7 ms per 100k pairs): 0.1-0.2 s of the search's 3.5-3.9 s at 1M templated papers."""
    words = np.equal(a, b, out=equal).view(np.uint64)
    return np.asarray(np.bitwise_count(words).sum(axis=1) / SIGNATURE_SIZE, dtype=np.float64)


class Titles(NamedTuple):
    """What `find_pairs` needs of the papers' titles: their forms (`title_forms`) and hashes
    (`keys.key_hashes`)."""

    forms: pa.Array
    ids: npt.NDArray[np.uint64]

    @classmethod
    def of(cls, titles: Sequence[str] | pa.Array | pa.ChunkedArray) -> Titles:
        """Both, made from the titles."""
        keys = title_keys(
            titles if isinstance(titles, pa.Array | pa.ChunkedArray) else pa.array(titles, pa.string())
        )
        return cls(title_forms(keys), key_hashes(keys))


class Candidates(NamedTuple):
    """Row pairs (earlier, later) to score, and how many pairs sharing a band key the caps left out."""

    pairs: npt.NDArray[np.int64]
    skipped: int


class Found(NamedTuple):
    """What `find_pairs` found, and how many candidate pairs its caps skipped (see `candidates`)."""

    pairs: list[Pair]
    skipped: int


def candidates(signatures: npt.NDArray[np.uint32], pool: Executor | None = None) -> Candidates:
    """(m, 2) distinct row pairs (earlier, later) sharing at least one band key, within two caps
    (see `_candidate_codes`), and how many pairs the caps skipped. With a `pool`, a thread of it sorts
    the next band's keys while this one pairs the current band's."""
    codes, skipped = _candidate_codes(signatures, pool)
    n = len(signatures)
    return Candidates(np.stack([codes // n, codes % n], axis=1).reshape(-1, 2), skipped)


def _candidate_codes(
    signatures: npt.NDArray[np.uint32], pool: Executor | None
) -> tuple[npt.NDArray[np.int64], int]:
    """The candidate pairs as sorted codes `earlier * n + later` (8 bytes a pair), and the skipped count.

    Per band, rows are sorted by key, then row; rows with equal keys are adjacent, and each is paired
    with the following rows of the same key, at most NEIGHBOURS of them (the bucket cap), and only until
    it has been the earlier row of CANDIDATES pairs over all bands (the paper cap; bands are taken in
    order, nearer neighbours first). Look-alike abstracts (templated text) make buckets of thousands of
    rows; the caps keep the pairs at most CANDIDATES a paper, so time and memory stay linear in papers
    however alike the abstracts are. `skipped` counts, band by band, the pairs of equal key the caps
    left out (a pair left out in two bands counts twice): 0 when the caps changed nothing.
    """
    n = len(signatures)
    # At most CANDIDATES codes a row: written into one array whose untouched pages never become
    # resident, then sorted in place (parts, their concatenation and a sorted copy were 3 x 128 MB at
    # 1M templated papers).
    codes = np.empty(CANDIDATES * n, dtype=np.int64)
    filled = 0
    taken = np.zeros(n, dtype=np.int32)  # pairs each row is the earlier of, over the bands so far
    skipped = 0
    bits = np.uint64(max(n - 1, 1).bit_length())
    # The bands' arrays reuse the same buffers: fresh 8-32 MB arrays each band were mapped and unmapped
    # by malloc (as the command sets it), 0.5 s of page faults at 1M papers. Two for the sorted keys:
    # the next band's are sorted into one while this band's are read from the other.
    order = np.arange(n, dtype=np.uint64)
    sorted_keys = [np.empty(n, dtype=np.uint64) for _ in range(2)]
    keys, low = (np.empty(n, dtype=np.uint64) for _ in range(2))
    rows = low.view(np.int64)  # row numbers are far below 2**63

    def sort_band(band: int) -> npt.NDArray[np.uint64]:
        return _sorted_band(signatures, band, bits, order, sorted_keys[band % 2])

    for packed in _ahead(sort_band, BANDS, pool):
        np.bitwise_and(packed, (np.uint64(1) << bits) - np.uint64(1), out=low)
        np.right_shift(packed, bits, out=keys)
        at = np.flatnonzero(keys[:-1] == keys[1:])  # positions with an equal key next; the few go on
        if len(at) == 0:
            continue
        # A bucket of k rows is a run of k - 1 consecutive positions in `at`: k * (k - 1) / 2 pairs.
        ends = np.concatenate((np.flatnonzero(np.diff(at) != 1), [len(at) - 1]))  # each run's last
        runs = np.diff(ends, prepend=-1)
        skipped += int(((runs + 1) * runs // 2).sum())
        # A position is paired with the next rows of its bucket, nearer first: as many as follow it, at
        # most NEIGHBOURS, and only while its row is the earlier of fewer than CANDIDATES pairs. A row
        # has one position a band, so its count is known before any pair is written.
        earlier = rows[at]
        count = np.minimum(np.repeat(at[ends] + 1, runs) - at, NEIGHBOURS)  # rows after it, capped
        np.minimum(count, CANDIDATES - taken[earlier], out=count)
        taken[earlier] += count.astype(np.int32)
        skipped -= int(count.sum())
        base = earlier * n
        for step in range(1, NEIGHBOURS + 1):  # the pairs `step` positions apart
            more = count >= step
            at, base, count = at[more], base[more], count[more]
            if len(at) == 0:
                break
            codes[filled : filled + len(at)] = base + rows[at + step]
            filled += len(at)
    found = codes[:filled]
    found.sort()
    return _drop_repeats(found), skipped


def _sorted_band(
    signatures: npt.NDArray[np.uint32],
    band: int,
    bits: np.uint64,
    order: npt.NDArray[np.uint64],
    packed: npt.NDArray[np.uint64],
) -> npt.NDArray[np.uint64]:
    """A band's keys, each with its row in the low `bits` bits, sorted, in `packed` (which it returns).

    Rows of equal keys come out in row order, and a plain sort of one uint64 array is several times
    faster than a stable argsort. The (mixed) key loses those low bits; keys that then collide, about
    n**2 / 2**(65 - bits) pairs a band, only add candidates.
    """
    packed[:] = signatures[:, band * ROWS]
    for column in range(band * ROWS + 1, (band + 1) * ROWS):  # the band's values mixed into one
        packed *= _MULTIPLIERS[1]
        packed += signatures[:, column]
    packed *= _MULTIPLIERS[0]  # a bijection whose high bits depend on all bits, kept below
    packed >>= bits
    packed <<= bits
    packed |= order
    packed.sort()
    return packed


def _ahead(work: Callable[[int], R], count: int, pool: Executor | None) -> Iterator[R]:
    """`work(i)` for i in range(count), in order. With a pool, `work(i + 1)` runs on one of its threads
    while the caller uses `work(i)`'s result: numpy's sorts, gathers and comparisons release the GIL,
    so a second core does the next step's arithmetic. Only one `work` runs at a time."""
    if pool is None:
        yield from (work(i) for i in range(count))
        return
    pending: Future[R] | None = pool.submit(work, 0) if count else None
    try:
        for i in range(count):
            assert pending is not None
            result = pending.result()
            pending = pool.submit(work, i + 1) if i + 1 < count else None
            yield result
    finally:
        if pending is not None:  # the caller stopped early: the step in flight is not needed
            pending.cancel()


def find_pairs(
    signatures: npt.NDArray[np.uint32],
    titles: Sequence[str] | pa.Array | Titles,
    pool: Executor | None = None,
) -> Found:
    """Near-duplicate pairs among n papers (rows in input order), sorted by (later, earlier).

    A candidate from `candidates` is a pair when its estimated abstract Jaccard is at least
    ABSTRACT_THRESHOLD and its title similarity at least TITLE_THRESHOLD. Pairs whose `title_key`s are
    equal are skipped: exact dedup handles them. `titles` are the titles, or their `Titles` when the
    caller has made them (the build does, batch by batch in its first pass). With a `pool` (the
    build's worker threads), one of its threads does the next step's numpy work while this one does
    the current step's: the same pairs, sooner on two cores.
    """
    return scored_pairs(signatures, titles, TITLE_THRESHOLD, ABSTRACT_THRESHOLD, pool)


def scored_pairs(
    signatures: npt.NDArray[np.uint32],
    titles: Sequence[str] | pa.Array | Titles,
    title_threshold: float,
    abstract_threshold: float,
    pool: Executor | None = None,
) -> Found:
    """`find_pairs` at other thresholds (to measure them)."""
    named = titles if isinstance(titles, Titles) else Titles.of(titles)
    forms, title_ids = named.forms, named.ids
    if len(signatures) != len(forms):
        raise ValueError(f"{len(signatures)} signatures but {len(forms)} titles")
    codes, skipped = _candidate_codes(signatures, pool)
    n = len(signatures)
    # Candidates are scored _CHUNK at a time, start to end: 16M of them (1M templated papers) held as
    # pairs, scores and title inputs took over 1 GB. The titles of a chunk's close pairs are made
    # Python strings for that chunk only: kept for every row that needed one, they were 100 MB at the
    # peak of 1M templated papers, and making them again was no slower.
    parts: list[tuple[npt.NDArray[np.int64], ...]] = []
    # The signatures of a chunk's pairs are gathered into the same buffers each time: fresh 13 MB
    # arrays per chunk were mapped and unmapped by malloc (as the command sets it), 1.9 s of page
    # faults at 1M templated papers. (`mode="clip"`: with the default, `take` gathers into a buffer of
    # its own first; the rows are in range.) One set is enough: `_ahead` runs one chunk at a time.
    size = min(_CHUNK, len(codes))
    left, right = (np.empty((size, signatures.shape[1]), dtype=signatures.dtype) for _ in range(2))
    equal = np.empty(left.shape, dtype=bool)

    def close_pairs(
        chunk: int,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """A chunk's candidates whose abstracts are close enough, with their scores."""
        part = codes[chunk * _CHUNK : (chunk + 1) * _CHUNK]
        earlier, later = part // n, part % n
        m = len(part)
        np.take(signatures, earlier, axis=0, out=left[:m], mode="clip")
        np.take(signatures, later, axis=0, out=right[:m], mode="clip")
        scores = abstract_similarity(left[:m], right[:m], equal[:m])
        close = scores >= abstract_threshold
        return earlier[close], later[close], scores[close]

    chunks = -(-len(codes) // _CHUNK)
    for earlier, later, scores in _ahead(close_pairs, chunks, pool):
        differ = title_ids[earlier] != title_ids[later]  # equal keys are exact dedup's case
        earlier, later, scores = earlier[differ], later[differ], scores[differ]
        similarity = process.cpdist(
            forms.take(earlier).to_pylist(),
            forms.take(later).to_pylist(),
            scorer=Indel.normalized_similarity,
            score_cutoff=title_threshold,  # below it: 0, sooner
            dtype=np.float64,
            workers=1 if pool is None else -1,  # with a pool, every core (rapidfuzz's own threads)
        )
        chosen = similarity >= title_threshold
        parts.append((earlier[chosen], later[chosen], similarity[chosen], scores[chosen]))
    if not parts:
        return Found([], skipped)
    earlier, later, similarity, scores = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.lexsort((earlier, later))
    found = [
        Pair(*pair)
        for pair in zip(
            earlier[order].tolist(),
            later[order].tolist(),
            similarity[order].tolist(),
            scores[order].tolist(),
            strict=True,
        )
    ]
    return Found(found, skipped)


def title_similarity(first: str, second: str) -> float:
    """Indel normalized similarity (rapidfuzz `fuzz.ratio` / 100) of two titles in `_title_form`."""
    return float(Indel.normalized_similarity(_title_form(first), _title_form(second)))


def _title_form(key: str) -> str:
    """A `title_key` with punctuation as white space: a hyphen or a colon is not a difference in words.

    ASCII keys go through a byte table (4x faster than the regex); in others `[\\W_]` is what
    `str.isalnum` rejects (`\\w` is the alphanumerics and `_`).
    """
    if key.isascii():
        return " ".join(key.encode("ascii").translate(_ASCII_FORM).decode("ascii").split())
    return " ".join(_NOT_ALNUM.sub(" ", key).split())


def title_forms(keys: pl.Series) -> pa.Array:
    """`_title_form` of every title key (`keys.title_keys`), in bulk: ASCII keys by one regex made
    from `_ASCII_SEPARATORS` (4x faster than a Python call per title), the others one by one."""
    forms = keys.str.replace_all(_ASCII_SEPARATOR_RUN, " ").str.strip_chars(" ")
    other = keys.str.len_bytes() != keys.str.len_chars()
    if other.any():
        odd = other.arg_true()
        forms = forms.scatter(odd, [_title_form(key) for key in keys.gather(odd).to_list()])
    return forms.to_arrow()


def _drop_repeats(ordered: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct values of a sorted array, moved to its front in place, _CHUNK values at a time (a
    masked copy of 16M candidate codes was 128 MB more at the peak); returns a view of that front.
    A value is written at or before its own place, so the value before each part is still there."""
    kept = 0
    for start in range(0, len(ordered), _CHUNK):
        part = ordered[start : start + _CHUNK]
        new = np.ones(len(part), dtype=bool)
        new[1:] = part[1:] != part[:-1]
        if start:
            new[0] = part[0] != ordered[start - 1]
        distinct = part[new]
        ordered[kept : kept + len(distinct)] = distinct
        kept += len(distinct)
    return ordered[:kept]
