"""README.md: it opens with the two newcomer commands, documents every command and option, and its
recipes install what exists and run as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from conftest import DUMPS, PYTHON, ROOT, hub_env
from hub_server import HubServer

from dataset_builder.cli import cli
from dataset_builder.records import rules_table

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_install_build_and_test_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None and README.index("```bash") < README.index("\n## ")
    install, tests = first_block[1].strip().splitlines()
    assert "pip install -e '.[dev]'" in install and install.endswith("dataset-builder build")
    assert tests.endswith("pytest")
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_every_command_has_help_and_is_in_the_readme() -> None:
    for name, command in cli.commands.items():  # type: ignore[attr-defined]
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and command.help
        assert f"dataset-builder {name}" in README
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert option in README, f"{name} {option} is not in README.md"


def test_recipes_install_from_the_repository_not_from_the_index() -> None:
    """The distribution is not on the package index yet: every recipe installs it from git."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    from_git = f'pip install "{project["name"]} @ git+https://github.com/OWNER/REPO@v{project["version"]}"'
    assert from_git in README.split("## Commands")[0] and "OWNER/REPO` is where" in README
    for name in ("publish", "daily", "dumps"):
        steps = _workflow(name)["jobs"]
        [job] = steps.values()
        assert {"run": from_git} in job["steps"], name
    assert not re.search(rf"pip install {project['name']}==", README.split("Releasing the package")[0])
    daily = _workflow("daily")
    assert daily["on"]["schedule"] and "contents" in daily["permissions"]
    runs = [step.get("run", "") for step in daily["jobs"]["daily"]["steps"]]
    assert any(r.startswith('dataset-builder fetch --since "$(date -u -d yesterday +%F)"') for r in runs)
    assert any("git push" in r for r in runs) and any(
        r.startswith("dataset-builder publish --tag") for r in runs
    )


def test_the_pre_commit_recipe_uses_this_repositorys_hook() -> None:
    snippet = re.search(r"# \.pre-commit-config\.yaml of the data project\n(.*?)```", README, re.S)
    assert snippet is not None
    [repo] = yaml.safe_load(snippet[1])["repos"]
    [published] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert repo["repo"] == "https://github.com/OWNER/REPO" and repo["rev"] == f"v{project['version']}"
    assert repo["hooks"] == [{"id": published["id"]}]
    assert f"`{published['files']}`" in README


def test_the_release_workflow_builds_checks_and_uploads_on_a_tag() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as True
    runs = [step.get("run", step.get("uses", "")) for step in workflow["jobs"]["release"]["steps"]]
    assert "python -m build --outdir packages ." in runs and "twine check --strict packages/*" in runs
    assert runs[-1].startswith("pypa/gh-action-pypi-publish")


def _workflow(name: str) -> dict[str, Any]:
    block = re.search(rf"# \.github/workflows/{name}\.yml\n(.*?)```", README, re.S)
    assert block is not None, name
    loaded: dict[str, Any] = yaml.safe_load(block[1])
    loaded["on"] = loaded.pop(True)  # YAML 1.1 reads the key `on` as True
    return loaded


def test_the_publish_workflow_tags_a_first_commit_and_a_changed_version(
    hub: HubServer, tmp_path: Path
) -> None:
    """The workflow's publish script, run as written in a fresh git repository against the stand-in."""
    [script] = [
        s["run"] for s in _workflow("publish")["jobs"]["publish"]["steps"] if "VERSION" in s.get("run", "")
    ]
    repo = tmp_path / "data"
    shutil.copytree(DUMPS, repo / "dumps")
    (repo / "dataset-builder.toml").write_text('repo-id = "org/papers"\n')
    (repo / "VERSION").write_text("1.0.0\n")
    env = hub_env(hub, tmp_path / "home") | {
        "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }

    def commit_and_run(message: str) -> subprocess.CompletedProcess[str]:
        for git in (["add", "-A"], ["commit", "-q", "--allow-empty", "-m", message]):
            subprocess.run(["git", *git], cwd=repo, env=env, check=True)
        return subprocess.run(["bash", "-ec", script], cwd=repo, env=env, capture_output=True, text=True)

    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    first = commit_and_run("first")  # no HEAD~1: `git diff HEAD~1` would exit 128 here
    assert first.returncode == 0, first.stderr
    assert list(hub.tags("org/papers")) == ["v1.0.0"]
    (repo / "notes.md").write_text("not a dump\n")
    same = commit_and_run("notes")
    assert same.returncode == 0 and "Nothing to publish" in same.stdout
    (repo / "VERSION").write_text("1.1.0\n")
    (repo / "dumps" / "000_83255905406594dc.txt").unlink()
    bumped = commit_and_run("1.1.0")
    assert bumped.returncode == 0, bumped.stderr
    assert sorted(hub.tags("org/papers")) == ["v1.0.0", "v1.1.0"]


def test_readme_rules_table_is_the_registry() -> None:
    table = re.search(r"<!-- rules table: [^\n]*-->\n\n(.*?)\n<!-- end of rules table -->", README, re.S)
    assert table is not None, "README.md lost its rules table markers"
    regenerate = "regenerate: python -c 'import dataset_builder.records as r; print(r.rules_table())'"
    assert table[1] == rules_table(), regenerate
