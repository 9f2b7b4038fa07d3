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


def hook_repository(tmp_path: Path) -> tuple[Path, str]:
    """This repository's files as git would commit them now (uncommitted changes too, as `pre-commit
    try-repo` takes them), in a repository of their own; returns it and its commit."""
    source = tmp_path / "hook-repo"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "hook under test")
    return source, git(source, "rev-parse", "HEAD").stdout.strip()


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd, env=ENV, check=True)


ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="test",
    GIT_AUTHOR_EMAIL="test@example.com",
    GIT_COMMITTER_NAME="test",
    GIT_COMMITTER_EMAIL="test@example.com",
)


@pytest.mark.needs_index
def test_real_pre_commit_passes_good_dumps_and_blocks_a_broken_new_one(tmp_path: Path) -> None:
    """What only the real pre-commit shows: the published hook installs this package into its own
    environment and runs on the dumps of a commit. pre-commit installs that environment once (from
    the package index; with pre-commit-uv from the dev dependencies, from uv's cache after the first
    time) and both runs use it."""
    source, rev = hook_repository(tmp_path)
    repo = tmp_path / "data-repo"
    (repo / "dumps").mkdir(parents=True)
    shutil.copy(DUMPS / "000_83255905406594dc.txt", repo / "dumps")
    config = {"repos": [{"repo": str(source), "rev": rev, "hooks": [{"id": "validate-dumps"}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    env = dict(ENV, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    pre_commit = [str(Path(sys.executable).parent / "pre-commit"), "run", "validate-dumps"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*args], capture_output=True, text=True, cwd=repo, env=env)

    git(repo, "init", "-q")
    git(repo, "add", "dumps")
    passed = run(*pre_commit, "--all-files")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"validate Daily Papers dumps\.+Passed", passed.stdout)

    git(repo, "commit", "-q", "-m", "good dumps")
    shutil.copy(CORPUS / "orphan_title.txt", repo / "dumps" / "001_new.txt")
    git(repo, "add", "dumps")
    blocked = run(*pre_commit)  # staged files only, as on `git commit`
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "dumps/001_new.txt:5: [orphan-title]" in blocked.stdout
    assert "000_83255905406594dc" not in blocked.stdout  # the committed dump is not checked again
    assert len(list((tmp_path / "pre-commit-home").glob("repo*"))) == 1  # one environment, used twice
