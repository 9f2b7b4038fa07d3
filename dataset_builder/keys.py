"""Keys of papers: the normalized title two papers must share to be one, its hash (`paper_id`), and the
hash of an abstract that tells a repeat from a revision.

Papers are keyed by a 64-bit hash of their normalized title (NFKC, case-folded, white space collapsed), so
a dedup index costs 16 bytes a paper however long the text is; the same hash, in hex, is the `paper_id`.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

# White space that collapsing changes: a run of two or more, or one that is not a plain space.
_SPACES = r"\s\s+|[^\S ]"


def title_key(title: str) -> str:
    """The normalized form two titles must share to be the same paper."""
    if _plain(title):  # NFKC is the identity on ASCII, casefold is lower
        return title.lower()
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def _plain(text: str) -> bool:
    """ASCII with single spaces only: collapsing white space would not change it.

    (read.py has already removed control characters and surrounding white space.)
    """
    return text.isascii() and "  " not in text and "\t" not in text


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def title_hash(title: str) -> int:
    """64-bit hash of the normalized title; `paper_id` is its 16-digit hex form."""
    return _hash64(title_key(title))


def title_keys(titles: pa.Array | pa.ChunkedArray) -> pl.Series:
    """`title_key` of every title of a batch: lower-casing is the key of plain ASCII (`_plain`), the
    others take `title_key` one by one. (One `select`: each polars Series method is a query of its own,
    about 0.2 ms a call whatever the rows, which a build of many small dumps pays per batch.)"""
    series = pl.Series("title", titles, dtype=pl.String)
    title = pl.col("title")
    plain = (title.str.len_bytes() == title.str.len_chars()) & ~title.str.contains("  ", literal=True)
    frame = series.to_frame().select(
        key=title.str.to_lowercase(), plain=plain & ~title.str.contains("\t", literal=True)
    )
    keys = frame["key"]
    if not frame["plain"].all():
        odd = (~frame["plain"]).arg_true()
        keys = keys.scatter(odd, [title_key(t) for t in series.gather(odd).to_list()])
    return keys


def key_hashes(keys: pl.Series) -> npt.NDArray[np.uint64]:
    """`title_hash` of every title of a batch, from its `title_keys` (which the first pass also makes
    title forms of): blake2b in one tight loop. polars-hash has no blake2b, and `paper_id` must not
    change, so blake2b stays."""
    blake2b = hashlib.blake2b
    encoded = keys.cast(pl.Binary).to_list()
    digests = b"".join([blake2b(key, digest_size=8).digest() for key in encoded])
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def paper_ids(hashes: npt.NDArray[np.uint64]) -> pa.Array:
    """`paper_id` of every hash, as a string array (16 hex digits, the big-endian bytes)."""
    raw = pa.py_buffer(hashes.astype(">u8").tobytes())
    binary = pa.FixedSizeBinaryArray.from_buffers(pa.binary(8), len(hashes), [None, raw])
    hexed = pl.Series(binary.cast(pa.binary())).bin.encode("hex")
    return hexed.to_arrow().cast(pa.string())


def paper_id(key_hash: int) -> str:
    """The stable identifier of a paper: the same title gives the same id on every build and machine."""
    return f"{key_hash:016x}"


def abstract_hashes(abstracts: pa.Array | pa.ChunkedArray | Sequence[str]) -> npt.NDArray[np.uint64]:
    """64-bit hashes of abstracts with runs of white space collapsed, to tell repeats from conflicts.

    They are compared only within one build, whose processes all run the same polars, so polars'
    vectorized hash serves here; `paper_id`, which must not change across versions, uses blake2b.
    """
    series = pl.Series("abstract", abstracts, dtype=pl.String)
    # Cheap literal tests pass over plain ASCII abstracts; only the others go through the regex.
    text = pl.col("abstract")
    maybe = text.str.contains("  ", literal=True) | text.str.contains("\t", literal=True)
    maybe = maybe | (text.str.len_bytes() != text.str.len_chars())
    frame = series.to_frame().select(maybe=maybe, hash=text.hash(seed=0))
    hashes = frame["hash"].to_numpy()
    if frame["maybe"].any():  # the hash is per value: the cleaned ones are hashed again
        rows = frame["maybe"].arg_true()
        hashes = hashes.copy()  # polars' own memory is read-only
        hashes[rows.to_numpy()] = series.gather(rows).str.replace_all(_SPACES, " ").hash(seed=0).to_numpy()
    return hashes


def arxiv_hashes(ids: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint64]:
    """64-bit hashes of arXiv ids without their version (`2403.12345v2` is `2403.12345`), 0 for none.

    Like `abstract_hashes`, compared only within one build: two papers with one arXiv id are one paper.
    """
    found = pl.Series("id", ids, dtype=pl.String).to_frame()
    found = found.select(
        hash=pl.col("id").str.replace(r"v\d+$", "").hash(seed=0), none=pl.col("id").is_null()
    )
    hashes = found["hash"].to_numpy().astype(np.uint64)  # a copy: polars' own memory is read-only
    hashes[hashes == 0] = 1  # 0 stands for no id
    hashes[found["none"].to_numpy()] = 0
    return hashes
