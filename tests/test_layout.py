"""layout.py: split names `datasets` accepts, made from dump file names, and shard paths."""

from __future__ import annotations

import re

import datasets

from dataset_builder.layout import RESERVED_SPLITS, is_valid_split, shard_path, split_name


def test_split_names_follow_the_datasets_rule() -> None:
    assert split_name("000_83255905406594dc.txt") == "000_83255905406594dc"
    assert split_name("2024-03-12 copy.txt") == "2024_03_12_copy"
    assert split_name("--.txt") == ""


def test_a_valid_split_is_one_datasets_accepts() -> None:
    for name in ["train", "000_83255905406594dc", "a.b", "", "a-b", "a b", "All", "all"]:
        # datasets' own pattern (datasets.NamedSplit checks names with it); `all` it refuses elsewhere
        accepted = bool(re.match(datasets.naming._split_re, name)) and name.casefold() not in RESERVED_SPLITS
        assert is_valid_split(name) == accepted, name
    assert not is_valid_split("ALL") and is_valid_split("a.b") and not is_valid_split("a-b")


def test_shard_paths_number_shards_from_zero_of_a_count() -> None:
    assert shard_path("train", 0, 2) == "data/train-00000-of-00002.parquet"
