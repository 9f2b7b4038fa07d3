"""The pre-commit hook other repositories use, run by the real pre-commit on the dumps a commit adds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import DUMPS, ROOT

CORPUS = Path(__file__).parent / "corpus"


def hook() -> dict[str, object]:
    [entry] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return dict(entry)


def test_hook_matches_dump_files_only() -> None:
    pattern = re.compile(str(hook()["files"]))
    for path in ("dumps/005_abc.txt", "dumps/OLD.TXT", "dumps/2026-03-12.jsonl"):
        assert pattern.search(path), path
    for path in ("tests/corpus/empty.txt", "dumps/notes.md", "dumps/a.jsonl.bak", "data/2026-03-12.jsonl"):
        assert not pattern.search(path), path


@pytest.mark.needs_index
def test_real_pre_commit_passes_good_dumps_and_blocks_a_broken_new_one(tmp_path: Path) -> None:
    # pre-commit installs the hook's environment from this repository, its dependencies from the package
    # index (about 20 s); the same hook as a data project's `repo:` + `rev:` gets.
    repo = tmp_path / "data-repo"
    (repo / "dumps").mkdir(parents=True)
    shutil.copy(DUMPS / "000_83255905406594dc.txt", repo / "dumps")
    env = dict(
        os.environ,
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    pre_commit = [str(Path(sys.executable).parent / "pre-commit"), "try-repo", str(ROOT), "validate-dumps"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*args], capture_output=True, text=True, cwd=repo, env=env)

    run("git", "init", "-q")
    run("git", "add", "dumps")
    passed = run(*pre_commit, "--all-files")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"validate Daily Papers dumps\.+Passed", passed.stdout)

    shutil.copy(CORPUS / "orphan_title.txt", repo / "dumps" / "001_new.txt")
    run("git", "add", "dumps")
    blocked = run(*pre_commit)  # staged files only, as on `git commit`
    assert blocked.returncode == 1
    assert "dumps/001_new.txt:5: [orphan-title]" in blocked.stdout
