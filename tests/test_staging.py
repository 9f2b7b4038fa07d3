"""staging.py: `--out` is replaced only when it is a previous build, through a locked staging folder
that any stop removes; the leftovers of killed builds are removed by the next one, a live build's not."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DUMPS, PYTHON, synthetic, wait_until_working

from dataset_builder.cli import cli
from dataset_builder.errors import DatasetError
from dataset_builder.pipeline import BuildResult, build
from dataset_builder.staging import remove_dead_stagings, staging_folder


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every entry under root with its mode and content: what "byte for byte intact" compares."""
    return {
        p.relative_to(root).as_posix(): (p.lstat().st_mode, b"" if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def test_a_build_with_user_files_added_is_refused_and_left_intact(built: BuildResult, tmp_path: Path) -> None:
    out = Path(shutil.copytree(built.out, tmp_path / "dist"))
    (out / "data" / "important.csv").write_text("id,value\n1,2\n")
    (out / "data" / "raw").mkdir()
    (out / "data" / "raw" / "dump.bin").write_bytes(os.urandom(64))
    before = snapshot(out)
    with pytest.raises(DatasetError, match=r"data/important\.csv is not a file the build wrote") as caught:
        build([DUMPS], out)
    assert caught.value.file == str(out / "data" / "important.csv")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_a_readme_and_data_folder_of_the_users_own_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "project"
    (out / "data").mkdir(parents=True)
    (out / "README.md").write_text("# My project\n")
    (out / "data" / "important.csv").write_text("keep me")
    before = snapshot(out)
    result = CliRunner().invoke(cli, ["build", str(DUMPS), "--out", str(out), "-q"])
    assert result.exit_code == 1
    assert "does not look like a build output" in result.output and "nothing was touched" in result.output
    assert "Traceback" not in result.output
    assert snapshot(out) == before


def test_a_symlinked_out_keeps_pointing_at_the_new_build(tmp_path: Path) -> None:
    real = tmp_path / "builds" / "current"
    build([DUMPS / "000_83255905406594dc.txt"], real)
    link = tmp_path / "dist"
    link.symlink_to(real)
    result = build([DUMPS], link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert len(list((real / "data").iterdir())) == len(result.splits) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builds", "dist"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["current"]


def test_a_symlink_to_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    (tmp_path / "dist").symlink_to(tmp_path / "file.txt")
    with pytest.raises(DatasetError, match="exists and is not a folder"):
        build([DUMPS], tmp_path / "dist")
    result = CliRunner().invoke(cli, ["build", str(DUMPS), "--out", str(tmp_path / "dist"), "-q"])
    assert result.exit_code == 2  # click's own check of --out, a usage error
    assert "is a file" in result.output and "Traceback" not in result.output
    assert (tmp_path / "file.txt").read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist", "file.txt"]


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_only_unlocked_stagings_of_dead_processes_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "dist"
    pid = dead_pid()
    dead = tmp_path / f".dist-build-{pid}-abc123"
    (dead / ".spill").mkdir(parents=True)
    (dead / ".spill" / "00000.arrow").write_bytes(b"x" * 1000)
    # Its owner's pid is not ours to see (another host, another pid namespace), but it holds the lock.
    locked = tmp_path / f".dist-build-{pid}-def456"
    locked.mkdir()
    unrelated = [tmp_path / ".dist-backup", tmp_path / ".dist-build-notapid", tmp_path / ".other-build-1-x"]
    for path in unrelated:
        path.mkdir()
    lock = os.open(locked, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with staging_folder(target) as live:
            assert not dead.exists()  # removed on the way in
            assert remove_dead_stagings(target) == []
            assert live.is_dir() and locked.is_dir()
    finally:
        os.close(lock)
    assert not live.exists()  # never swapped in, so removed on the way out
    assert all(path.is_dir() for path in unrelated)
    assert remove_dead_stagings(target) == [locked]


# Stops: a real build in a subprocess, stopped by a signal while it works on a few tens of MB.


@pytest.fixture(scope="module")
def big_dumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("big") / "dumps"
    synthetic.generate(folder, 100_000, files=2)
    yield folder
    shutil.rmtree(folder)


def group_members(pgid: int) -> list[int]:
    """Processes (but zombies) in a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def start_build(dumps: Path, out: Path, *options: str) -> subprocess.Popen[str]:
    """`python -m dataset_builder build` in its own process group (as a shell job is)."""
    command = [PYTHON, "-m", "dataset_builder", "build", str(dumps), "--out", str(out), "-q", *options]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


# Each signal once, and each way of working once: the signal handler and the workers' stop are apart in
# the code (runner.stop_on_signals, runner.run_jobs), so the two crossed add a process each and no path.
@pytest.mark.parametrize(
    ("signum", "code", "workers"),
    [
        (signal.SIGTERM, 143, 1),
        (signal.SIGINT, 130, 2),
    ],
)
def test_a_stop_leaves_nothing_behind(
    big_dumps: Path, tmp_path: Path, signum: int, code: int, workers: int
) -> None:
    out = tmp_path / "dist"
    process = start_build(big_dumps, out, "--workers", str(workers))
    wait_until_working(process, out, workers)
    assert group_members(process.pid) == [process.pid]  # workers are threads of the one process
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C goes to the whole foreground group
    else:
        os.kill(process.pid, signum)  # CI's cancel: the build alone
    stdout, stderr = process.communicate()
    assert process.returncode == code, stderr
    name = signal.Signals(signum).name
    assert stderr.strip().splitlines() == [f"Interrupted ({name}): nothing was written; --out is as it was."]
    assert "Traceback" not in stdout + stderr
    assert sorted(tmp_path.iterdir()) == []
    assert group_members(process.pid) == []  # reaped, and no worker process outlived it


def test_a_killed_builds_leftovers_go_with_the_next_build_a_live_ones_stay(
    big_dumps: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    killed = start_build(big_dumps, out)
    left = wait_until_working(killed, out, 1)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    assert left.is_dir()  # nothing can clean up after SIGKILL
    live = start_build(big_dumps, out)
    try:
        working = wait_until_working(live, out, 1)
        result = build([DUMPS], out)
        assert result.report.total("kept") == 596
        assert not left.exists()
        assert working.is_dir()
    finally:
        live.send_signal(signal.SIGTERM)
        _, stderr = live.communicate(timeout=30)
    assert live.returncode == 143, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]
