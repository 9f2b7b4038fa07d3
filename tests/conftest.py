"""Shared fixtures: dumps written from inline text, and one build of the bundled dumps per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# No network in tests: the Hub client (which reads these at import) talks only to the local stand-in
# (tests/hub_server.py), whose address each test passes explicitly; anything else goes to a closed port.
# The stand-in speaks plain LFS, not Xet. Caches go to a throwaway folder.
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="hf-home-")
os.environ.pop("HF_TOKEN", None)

from hub_server import HubServer

from dataset_builder.pipeline import BuildResult, build

ROOT = Path(__file__).resolve().parent.parent
DUMPS = ROOT / "dumps"
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
    """Environment for a subprocess whose Hub client must talk to the stand-in."""
    return dict(os.environ, HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_TOKEN="hf_test")


PYTHON = sys.executable


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the tests marked `needs_index` when pip, as configured here, cannot download a package."""
    marked = [item for item in items if item.get_closest_marker("needs_index")]
    if marked and not _index_reachable():
        for item in marked:
            item.add_marker(pytest.mark.skip(reason="needs the package index, which pip cannot reach"))


def _index_reachable() -> bool:
    """Whether pip can fetch hatchling (the build backend every install of this project needs first)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [PYTHON, "-m", "pip", "download", "-q", "--no-deps", "--dest", folder, "hatchling"]
        try:
            return subprocess.run(command, capture_output=True, timeout=120).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def pytest_sessionfinish() -> None:
    """Remove the throwaway Hub and datasets caches, which hold copies of built shards."""
    shutil.rmtree(os.environ["HF_HOME"], ignore_errors=True)
