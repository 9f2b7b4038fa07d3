"""Facts about a built dataset folder and the project around it, each written once.

Every module that names the card, a shard path, a split, the provenance key, the default repository id or
the distribution takes it from here.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath

DISTRIBUTION = "daily-papers-builder"  # the name on the package index; the command is `dataset-builder`
DEFAULT_REPO_ID = "ORG/NAME"  # the placeholder the card's snippets show until a repository is named
DEFAULT_INPUT = Path("dumps")
DEFAULT_OUT = Path("dist")

CARD = "README.md"  # the dataset card, at the root of a build and of the Hub repository
SHARD_DIR = "data"
# The YAML key of the card's provenance block: only this tool writes it, so a folder whose card has it
# is a build (staging.check_replaceable).
PROVENANCE_KEY = "dataset_builder"
# The card's configs (docs/layout.md says why): `default` is one `train` split over every shard, i.e.
# every distinct paper once; `all` is the same, an alias for code written for the earlier layout (one
# split per dump). However many dumps there are, that is two configs of one split each; one dump's
# papers are its shards (`dump_files`), loaded with `data_files=`.
DEFAULT_CONFIG = "default"
ALL_CONFIG = "all"
ALL_SPLIT = "train"

# datasets.splits._split_re; `all` is a keyword `datasets` refuses as a split name, in any letter case;
# `default` is kept out too, so that a dump's name never reads as a config's.
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
RESERVED_SPLITS = frozenset({ALL_CONFIG, DEFAULT_CONFIG})


def shard_path(split: str, index: int, count: int) -> str:
    """`data/{split}-{index:05d}-of-{count:05d}.parquet`, relative to the dataset root."""
    return f"{SHARD_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


def dump_files(name: str) -> str:
    """The glob of every shard of the dump `name` (a `split_name`), for `load_dataset(data_files=...)`."""
    return f"{SHARD_DIR}/{name}-*.parquet"


def dump_of(path: str) -> str:
    """The dump a shard holds papers of: `name` in `data/{name}-00000-of-00001.parquet` (`shard_path`)."""
    return PurePath(path).name.rsplit("-", 3)[0]


def split_name(file_name: str) -> str:
    """A dump's name in a build (its shards' prefix; its split in the earlier layout): its file stem,
    with what a split name cannot hold replaced by `_`, so it never holds the `-` of a shard's name."""
    return re.sub(r"\W+", "_", PurePath(file_name).stem).strip("_")


def is_valid_split(name: str) -> bool:
    """True when `datasets` accepts `name` as a split name and it is no config's name."""
    return bool(_SPLIT_NAME.match(name)) and name.casefold() not in RESERVED_SPLITS
