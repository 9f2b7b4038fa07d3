"""The swap of a new build into `--out`: never a moment without a build, never over the user's files,
on a mount point too, and a previous build that a killed swap moved aside is put back, not removed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import DUMPS, invoke, synthetic, tmpfs_at, wait_until_working

from dataset_builder import staging
from dataset_builder.errors import DatasetError, InvalidInput
from dataset_builder.pipeline import BuildResult, build
from dataset_builder.verify import verify_dist


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): b"" if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))
    }


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_build_a_killed_swap_moved_aside_is_put_back_not_deleted(
    built: BuildResult, tmp_path: Path
) -> None:
    # What SIGKILL between the two renames of a swap leaves: no dist/, the previous build as `-old`,
    # the complete new build in its staging folder.
    pid = dead_pid()
    previous = shutil.copytree(built.out, tmp_path / f".dist-build-{pid}-abc123-old")
    shutil.copytree(built.out, tmp_path / f".dist-build-{pid}-abc123")
    before = snapshot(previous)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "dump.txt").write_text("A title alone\n")
    with pytest.raises(InvalidInput):
        build([bad], tmp_path / "dist")
    assert snapshot(tmp_path / "dist") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "dist"]


def two_builds(built: BuildResult, tmp_path: Path) -> tuple[Path, Path]:
    """A previous build in dist/ and a new one in a staging folder beside it."""
    target = Path(shutil.copytree(built.out, tmp_path / "dist"))
    new = Path(shutil.copytree(built.out, tmp_path / f".dist-build-{os.getpid()}-new"))
    (new / "README.md").write_text((new / "README.md").read_text() + "\nThe new build.\n")
    return target, new


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_the_swap_puts_the_new_build_in_place(
    built: BuildResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:  # a file system without RENAME_EXCHANGE
        monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    target, new = two_builds(built, tmp_path)
    wanted = snapshot(new)
    staging.swap(new, target)
    assert snapshot(target) == wanted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_the_swap_refuses_when_the_user_wrote_into_out_meanwhile(
    built: BuildResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    target, new = two_builds(built, tmp_path)
    (target / "NOTES.md").write_text("mine")
    (target / "data" / "important.csv").write_text("id\n1\n")
    before, staged = snapshot(target), snapshot(new)
    with pytest.raises(DatasetError, match=r"NOTES\.md appeared in .* while the build ran") as caught:
        staging.swap(new, target)
    assert caught.value.file == str(target / "NOTES.md")
    assert snapshot(target) == before and snapshot(new) == staged


@pytest.fixture(scope="module")
def big_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big") / "dumps"
    synthetic.generate(folder, 60_000, files=1)
    return folder


def test_files_written_into_out_during_a_build_are_kept_and_the_build_fails(
    built: BuildResult, big_dump: Path, tmp_path: Path
) -> None:
    out = Path(shutil.copytree(built.out, tmp_path / "dist"))
    with ThreadPoolExecutor(1) as pool:  # the command, in a thread of this process
        running = pool.submit(invoke, "build", str(big_dump), "--out", str(out), "-q")
        wait_until_working(running, out, 1)
        (out / "NOTES.md").write_text("my notes")
        (out / "data" / "important.csv").write_text("id\n1\n")
        before = snapshot(out)
        done = running.result(timeout=120)
    assert done.returncode == 1, done.output
    assert "while the build ran" in done.stderr and "This is a bug" not in done.output
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs mounted at tmp_path/dist (root only; skipped where mounting is not allowed)."""
    with tmpfs_at(tmp_path / "dist", "64m") as point:
        yield point


def test_out_on_a_mount_point_builds_and_rebuilds_inside_it(mount_point: Path, tmp_path: Path) -> None:
    build([DUMPS / "000_83255905406594dc.txt"], mount_point)
    result = build([DUMPS], mount_point)
    assert os.path.ismount(mount_point)
    assert sorted(p.name for p in mount_point.iterdir()) == ["README.md", "data"]
    assert len(list((mount_point / "data").iterdir())) == len(result.splits) == 5
    assert verify_dist(mount_point).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]
