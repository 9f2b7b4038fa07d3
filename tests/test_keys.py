"""keys.py: title keys, the stable paper ids hashed from them, and abstract hashes, one by one and in bulk."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from dataset_builder.keys import (
    abstract_hashes,
    key_hashes,
    paper_id,
    paper_ids,
    title_hash,
    title_key,
    title_keys,
)


def test_title_key_folds_unicode_case_and_white_space() -> None:
    fullwidth = "\uff24eep   LEARNING\u00a0for \uff38 "  # NFKC folds the fullwidth D and X
    assert title_key(fullwidth) == title_key("deep learning for x")


def test_paper_id_is_a_stable_hash_of_the_normalized_title() -> None:
    expected = hashlib.blake2b(b"deep learning for x", digest_size=8).hexdigest()
    assert paper_id(title_hash("Deep  Learning for X")) == expected


def test_hashes_and_ids_in_bulk_equal_the_per_title_ones() -> None:
    titles = ["Deep  Learning for X", "Alpha Beta 12", "\uff24eep LEARNING\u00a0for \uff38", "tab\there"]
    titles += ["Stra\u00dfe", "\u0130stanbul", "", "UPPER lower", "caf\u00e9", "\ufb01 ligature"]
    hashes = key_hashes(title_keys(pa.array(titles)))
    assert hashes.tolist() == [title_hash(t) for t in titles]
    assert paper_ids(hashes).to_pylist() == [paper_id(title_hash(t)) for t in titles]


def test_abstract_hashes_ignore_runs_of_white_space_but_not_words() -> None:
    spaced = ["A  study\tof\u00a0graphs", "A study of graphs", "A study of trees", "A\u2003study of graphs"]
    hashes = abstract_hashes(spaced).tolist()
    assert hashes[0] == hashes[1] == hashes[3] != hashes[2]
