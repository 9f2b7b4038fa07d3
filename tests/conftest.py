"""Shared fixtures: dumps written from inline text, and one build of the bundled dumps per session."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# No network in tests: the Hub client (which reads these at import) talks only to the local stand-in
# (tests/hub_server.py), whose address each test passes explicitly; anything else goes to a closed port.
# The stand-in speaks plain LFS, not Xet. Caches go to a throwaway folder.
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="hf-home-")
os.environ.pop("HF_TOKEN", None)

from click.testing import CliRunner
from hub_server import HubServer
from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars

from dataset_builder.cli import cli
from dataset_builder.pipeline import BuildResult, build

ROOT = Path(__file__).resolve().parent.parent
DUMPS = ROOT / "dumps"


def _load_synthetic() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The benchmarks' generator of synthetic dumps (benchmarks/ is not a package): `synthetic.generate`.
synthetic = _load_synthetic()
SPLIT_ROWS = {
    "000_83255905406594dc": 59,
    "001_1bef2119a8aaeb71": 48,
    "002_0d31b342de0764be": 71,
    "003_0d03a03f8f3c5cf7": 228,
    "004_7bd83784e7eba939": 190,
}

WriteDump = Callable[..., Path]


def abstract(topic: str) -> str:
    """A plausible abstract about `topic`, longer than any title can be (like every real one)."""
    return (
        f"We study {topic} in depth. Our method improves on strong baselines across several "
        f"benchmarks while using less compute than earlier approaches. We analyse where the gains "
        f"come from, discuss the limits of the evaluation, and release code and data so that "
        f"others can build on {topic} and compare their own methods against ours."
    )


@pytest.fixture
def write_dump(tmp_path: Path) -> WriteDump:
    """Write a dump file from lines (joined by `sep`) or raw bytes; returns its path."""
    folder = tmp_path / "dumps"
    folder.mkdir(exist_ok=True)

    def write(name: str, content: list[str] | bytes, sep: str = "\n") -> Path:
        path = folder / name
        data = content if isinstance(content, bytes) else sep.join(content).encode("utf-8")
        path.write_bytes(data)
        return path

    return write


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The bundled dumps built once for the whole session (read-only for tests)."""
    out = tmp_path_factory.mktemp("build") / "dist"
    return build([DUMPS], out)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    """A fresh local Hub stand-in on 127.0.0.1 for one test."""
    with HubServer(tmp_path / "hub") as server:
        yield server


def hub_env(hub: HubServer, home: Path) -> dict[str, str]:
    """Environment for a command (in a subprocess, or through `invoke`) whose Hub client must talk to the
    stand-in."""
    return dict(os.environ, HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_TOKEN="hf_test")


@dataclass
class Ran:
    """What a command printed and returned, as `subprocess.CompletedProcess` has it."""

    returncode: int
    stdout: str
    stderr: str
    output: str  # both, in the order they were written


def invoke(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Ran:
    """`dataset-builder ARGS` run in this process (click's CliRunner, as sqlite-utils tests its CLI),
    from `cwd`, with `env` set for the call. Tests about the process itself (signals, start-up, imports,
    what huggingface_hub reads at import, `python -m`) start one instead: a process costs 2-4 s of CPU,
    most of it imports. An exception the command lets out fails the test with its traceback."""
    here, level, bars = Path.cwd(), logging.getLogger().level, not are_progress_bars_disabled()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(cli, list(args), env=dict(env) if env is not None else None)
    finally:  # what the command sets for its process, as it was
        os.chdir(here)
        logging.getLogger().setLevel(level)
        if bars:
            enable_progress_bars()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr, result.output)


PYTHON = sys.executable
# Where pip, or uv under pre-commit-uv, installs from unless told otherwise.
DEFAULT_INDEX = "https://pypi.org/simple"


def index_unreachable() -> str | None:
    """Why the package index cannot be reached (a 3 s connection attempt), or None when it can."""
    url = next(
        (os.environ[k] for k in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL") if os.environ.get(k)),
        DEFAULT_INDEX,
    )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return None if Path(urllib.request.url2pathname(parts.path)).is_dir() else f"{url} is not a folder"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=3).close()
    except OSError as e:
        return f"the package index {url} cannot be reached ({e})"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked `needs_index` when the index cannot be reached, except in CI (`CI` set),
    where such a test must fail rather than pass unseen."""
    marked = [item for item in items if item.get_closest_marker("needs_index")]
    if not marked or os.environ.get("CI"):
        return
    reason = index_unreachable()
    if reason:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_sessionfinish() -> None:
    """Remove the throwaway Hub and datasets caches, which hold copies of built shards."""
    shutil.rmtree(os.environ["HF_HOME"], ignore_errors=True)


@contextlib.contextmanager
def tmpfs_at(point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `point` (root only; the test is skipped where mounting is refused)."""
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=True)


def wait_until_working(build: subprocess.Popen[str] | Future[Any], out: Path, workers: int) -> Path:
    """The staging folder of a build into `out`, once its spill has data (with workers: as many spills
    as workers). `build` is a build process, or a build running in a thread of this process.

    Waits on the build itself between looks, so a build that ends early fails the test at once; a
    build that never starts working is caught by the test's timeout (pyproject.toml)."""
    pid = build.pid if isinstance(build, subprocess.Popen) else os.getpid()
    while True:
        for staging in out.parent.glob(f".{out.name}-build-{pid}-*"):
            spills = list((staging / ".spill").glob("*.arrow"))
            written = [p for p in spills if p.exists() and p.stat().st_size]
            if len(written) >= workers:
                return staging
        if isinstance(build, subprocess.Popen):
            try:
                build.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            ended: object = build.communicate()
        else:
            if not wait([build], timeout=0.05).done:
                continue
            ended = build.result()
        raise AssertionError(f"the build ended before the test could act: {ended}")
