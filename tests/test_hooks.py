"""The pre-commit hook other repositories use: its entry runs and gates on the files it is given."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import DUMPS, ROOT

CORPUS = Path(__file__).parent / "corpus"


def hook() -> dict[str, object]:
    [entry] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return dict(entry)


def run_hook(files: list[Path]) -> subprocess.CompletedProcess[str]:
    """Run the hook's entry the way pre-commit does: the command, then the matching file names."""
    command = shlex.split(str(hook()["entry"]))
    executable = Path(sys.executable).parent / command[0]
    return subprocess.run(
        [str(executable), *command[1:], *map(str, files)], capture_output=True, text=True, cwd=ROOT
    )


def test_hook_matches_dump_files_only() -> None:
    pattern = re.compile(str(hook()["files"]))
    assert pattern.search("dumps/005_abc.txt")
    assert not pattern.search("tests/corpus/empty.txt") and not pattern.search("dumps/notes.md")


def test_hook_passes_good_dumps_and_fails_a_broken_one() -> None:
    assert run_hook(sorted(DUMPS.glob("*.txt"))).returncode == 0
    failed = run_hook([CORPUS / "orphan_title.txt"])
    assert failed.returncode == 1
    assert "orphan_title.txt:5: [orphan-title]" in failed.stdout + failed.stderr
