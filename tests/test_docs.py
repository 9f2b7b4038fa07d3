"""README.md: it opens with the two newcomer commands, and documents every command and option."""

from __future__ import annotations

import re
import tomllib

import yaml
from click.testing import CliRunner
from conftest import ROOT

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


def test_readme_recipes_pin_the_released_distribution_and_match_the_hook() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = f"{project['name']}=={project['version']}"
    snippet = re.search(r"# \.pre-commit-config\.yaml of the data project\n(.*?)```", README, re.S)
    assert snippet is not None
    [repo] = yaml.safe_load(snippet[1])["repos"]
    [hook] = repo["hooks"]
    [published] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert repo["repo"] == "local" and hook["additional_dependencies"] == [pinned]
    for key in ("id", "entry", "language", "files", "require_serial"):
        assert hook[key] == published[key], key
    workflow = re.search(r"# \.github/workflows/publish\.yml\n(.*?)```", README, re.S)
    assert workflow is not None
    steps = yaml.safe_load(workflow[1])["jobs"]["publish"]["steps"]
    assert {"run": f"pip install {pinned}"} in steps
    assert "secrets.HF_TOKEN" in workflow[1] and "concurrency" in yaml.safe_load(workflow[1])
    assert f"pip install {project['name']}" in README.split("## Commands")[0]


def test_readme_rules_table_is_the_registry() -> None:
    table = re.search(r"<!-- rules table: [^\n]*-->\n\n(.*?)\n<!-- end of rules table -->", README, re.S)
    assert table is not None, "README.md lost its rules table markers"
    regenerate = "regenerate: python -c 'import dataset_builder.records as r; print(r.rules_table())'"
    assert table[1] == rules_table(), regenerate
