"""Failures that are not the tool's fault are one line naming the path and the cause, never "This is a
bug"; nothing printed shows a password; stops are one line with the signal's exit code."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DUMPS, PYTHON, Ran, WriteDump, abstract, hub_env, invoke, tmpfs_at
from hub_server import HubServer

from dataset_builder.cli import cli
from dataset_builder.errors import Interrupted
from dataset_builder.pipeline import BuildResult
from dataset_builder.records import hide_passwords
from dataset_builder.runner import stop_on_signals
from dataset_builder.verify import verify_dist

BUG = "This is a bug"


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [PYTHON, "-m", "dataset_builder", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def assert_one_line_error(done: subprocess.CompletedProcess[str] | Ran, code: int, *causes: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert BUG not in output and "Traceback" not in output
    assert all(cause in output for cause in causes), output


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs at tmp_path/vol (root only; skipped where mounting is not allowed)."""
    with tmpfs_at(tmp_path / "vol", "256k") as point:
        yield point


def test_a_full_disk_is_named_not_called_a_bug(tmpfs: Path) -> None:
    done = invoke("build", str(DUMPS), "--out", str(tmpfs / "dist"), "-q")
    assert_one_line_error(done, 1, "No space left on device", "was left as it was")
    assert list(tmpfs.iterdir()) == []


def test_a_read_only_file_system_is_named_not_called_a_bug(tmpfs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    done = invoke("build", str(DUMPS), "--out", str(tmpfs / "dist"), "-q")
    assert_one_line_error(done, 1, "Read-only file system", str(tmpfs))


def test_a_dump_name_too_long_for_the_file_system_is_named(write_dump: WriteDump, tmp_path: Path) -> None:
    dump = write_dump("a" * 240 + ".txt", ["A study of long names", abstract("long names")])
    assert invoke("validate", str(dump)).returncode == 0
    done = invoke("build", str(dump), "--out", str(tmp_path / "dist"), "-q")
    assert_one_line_error(done, 1, "File name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dumps"]


def test_out_a_symlink_loop_is_named(tmp_path: Path) -> None:
    (tmp_path / "dist").symlink_to(tmp_path / "other")
    (tmp_path / "other").symlink_to(tmp_path / "dist")
    done = invoke("build", str(DUMPS), "--out", str(tmp_path / "dist"), "-q")
    assert_one_line_error(done, 1, str(tmp_path / "dist"))


@pytest.mark.parametrize(
    ("name", "content", "cause"),
    [
        ("dataset-builder.toml", b'out = "d\xe9p\xf4t"\n', "not UTF-8"),
        ("pyproject.toml", b'tool = "none"\n', "[tool] must be a table"),
        ("pyproject.toml", b'[tool]\ndataset-builder = "x"\n', "[tool.dataset-builder] must be a table"),
    ],
)
def test_a_bad_settings_file_is_a_usage_error_naming_it(
    tmp_path: Path, name: str, content: bytes, cause: str
) -> None:
    (tmp_path / name).write_bytes(content)
    done = invoke("validate", str(DUMPS), cwd=tmp_path)
    assert_one_line_error(done, 2, name, cause)


def test_offline_mode_is_named_not_called_a_bug(built: BuildResult, hub: HubServer, tmp_path: Path) -> None:
    env = hub_env(hub, tmp_path / "home") | {"HF_HUB_OFFLINE": "1"}
    done = run("publish", str(built.out), "--repo-id", "org/papers", env=env)
    assert_one_line_error(done, 1, "HF_HUB_OFFLINE")


def test_a_password_with_an_at_sign_never_shows(built: BuildResult, hub: HubServer, tmp_path: Path) -> None:
    assert hide_passwords("see http://user:p@ssw0rd@host:8080/x") == "see http://***@host:8080/x"
    endpoint = hub.url.replace("http://", "http://user:p@ssw0rd@")
    env = hub_env(hub, tmp_path / "home") | {"HF_ENDPOINT": endpoint, "HF_DEBUG": "1"}
    hub.drop_next("GET", "/api/datasets/", times=20)  # one retry: its log line names the Hub too
    done = run("publish", str(built.out), "--repo-id", "org/papers", "-q", "--retries", "1", env=env)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "127.0.0.1" in output and "ssw0rd" not in output and "p@ss" not in output


def test_verify_refuses_a_split_that_datasets_refuses(built: BuildResult, tmp_path: Path) -> None:
    dist = Path(shutil.copytree(built.out, tmp_path / "dist"))
    card = dist / "README.md"
    text = card.read_text()
    assert "split: train" in text and "name: train" in text
    card.write_text(text.replace("split: train", "split: ALL").replace("name: train", "name: ALL"))
    problems = verify_dist(dist).problems
    assert [(p.rule, p.message) for p in problems] == [
        ("split-name", "split 'ALL' is not a name `datasets` accepts")
    ]


def test_sighup_stops_like_sigterm() -> None:
    with stop_on_signals(), pytest.raises(Interrupted) as caught:
        signal.raise_signal(signal.SIGHUP)  # the handler raises before this returns
    assert caught.value.signum == signal.SIGHUP
    assert CliRunner().invoke(cli, ["--help"]).exit_code == 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_starting_is_one_line_and_exit_128_plus_the_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    process = subprocess.Popen(
        [PYTHON, "-m", "dataset_builder", "validate", str(DUMPS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 60
    while "libarrow" not in maps.read_text():  # importing the libraries: the command has not started
        assert process.poll() is None and time.monotonic() < deadline
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith(f"Interrupted ({signum.name})")
