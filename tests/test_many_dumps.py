"""The layout holds at any number of dumps: two configs of one split each, a card that stays small, and
documented lines that load all papers, one dump, or one month."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import datasets
from conftest import WriteDump, abstract

from dataset_builder.card import read_card
from dataset_builder.layout import CARD, dump_files, dump_of, is_valid_split, shard_path, split_name
from dataset_builder.pipeline import build

MAX_SPLITS = 30  # the dataset viewer refuses a config with more splits
MAX_CARD_BYTES = 1_000_000


def days(count: int) -> list[str]:
    first = date(2022, 1, 1)
    return [(first + timedelta(days=day)).isoformat() for day in range(count)]


def test_a_build_of_a_thousand_daily_dumps_has_configs_of_one_split_and_a_card_under_1_mb(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    """Years of daily dumps, built for real: every config the viewer reads stays within its split limit,
    the card stays small, and `load_dataset` gives one `train` split with every paper."""
    for day in days(1000):
        write_dump(f"{day}.txt", [f"Paper of {day}", abstract(f"the papers of {day}")])
    # One worker: a thousand tiny dumps keep two threads waiting on each other (1.2 s more CPU), and
    # the output is the same whatever their number (test_pipeline).
    result = build([tmp_path / "dumps"], tmp_path / "dist", near_duplicates="off", workers=1)
    text = (result.out / CARD).read_text(encoding="utf-8")
    assert len(text.encode()) < MAX_CARD_BYTES
    card = read_card(text)
    assert set(card.configs) == {"default", "all"}
    assert all(len(splits) <= MAX_SPLITS for splits in card.configs.values())
    assert card.rows == {"train": 1000} and len(card.dumps) == len(card.shards) == 1000
    # the summary names a few dumps, not a thousand
    summary = " ".join(result.summary().split())
    assert "wrote 1,000 rows (2022_01_01 1, 2022_01_02 1," in summary
    assert "2022_01_09 1, and 991 more) to" in summary and "2022_01_10" not in summary
    papers = datasets.load_dataset(str(result.out), split="train", cache_dir=str(tmp_path / "cache"))
    assert papers.num_rows == 1000 and papers[999]["title"] == f"Paper of {days(1000)[-1]}"


def test_daily_dumps_load_as_one_train_split_and_by_dump_or_month(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    listed = days(40)  # more dumps than a config may have splits
    for day, name in enumerate(listed):
        lines = [f"Paper of {name}", abstract(f"the papers of {name}")]
        if day % 2:  # every other day also lists the paper of the day before
            lines += [f"Paper of {listed[day - 1]}", abstract(f"the papers of {listed[day - 1]}")]
        write_dump(f"{name}.txt", lines)
    result = build([tmp_path / "dumps"], tmp_path / "dist", near_duplicates="off")
    cache = str(tmp_path / "cache")
    papers = datasets.load_dataset(str(result.out), cache_dir=cache)
    assert list(papers) == ["train"] and papers["train"].num_rows == 40
    # the lines the card and README document: one dump, one month
    one_dump = datasets.load_dataset(
        str(result.out), data_files=dump_files("2022_02_01"), split="train", cache_dir=cache
    )
    assert one_dump["title"] == ["Paper of 2022-02-01"]
    january = papers["train"].filter(lambda p: str(p["listed_on"]).startswith("2022-01"))
    assert january.num_rows == 31
    one_day = papers["train"].filter(lambda p: str(p["listed_on"]) == "2022-01-31")
    assert one_day["title"] == ["Paper of 2022-01-31"]
    repeated = january.filter(lambda p: p["also_in"])["also_in"]
    assert repeated == [[f"2022-01-{d:02d}.txt"] for d in range(2, 32, 2)] + [["2022-02-01.txt"]]


def test_a_dumps_name_round_trips_through_its_shard_paths_and_names_no_config() -> None:
    assert dump_of(shard_path(split_name("2024-03-12 copy.txt"), 0, 2)) == "2024_03_12_copy"
    assert dump_files("2024_03_12") == "data/2024_03_12-*.parquet"
    assert not is_valid_split("all") and not is_valid_split("Default") and is_valid_split("train")
