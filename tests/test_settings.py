"""settings.py: dataset-builder.toml or [tool.dataset-builder], checked key by key, options on top."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dataset_builder.cli import cli
from dataset_builder.settings import DEFAULT_LICENSE_LINK, Settings, SettingsError, check_repo_id


def test_no_settings_file_gives_defaults(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path)
    assert settings.repo_id is None and settings.input == Path("dumps") and settings.source is None
    assert settings.license_fields() == {
        "license": "other",
        "license_name": "per-paper-arxiv-licenses",
        "license_link": DEFAULT_LICENSE_LINK,
    }


def test_own_file_is_read_with_paths_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "dataset-builder.toml").write_text(
        'repo-id = "org/papers"\ninput = "raw"\npretty-name = "Papers"\nlicense = "cc-by-4.0"\n'
        'on-conflict = "last"\nnear-duplicates = "remove"\n'
    )
    settings = Settings.load(tmp_path)
    assert settings.repo_id == "org/papers" and settings.input == tmp_path / "raw"
    assert settings.pretty_name == "Papers" and settings.license_fields() == {"license": "cc-by-4.0"}
    assert (settings.on_conflict, settings.near_duplicates) == ("last", "remove")
    assert settings.override(repo_id="org/other", out=None).repo_id == "org/other"


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "x"\n\n[tool.dataset-builder]\nrepo-id = "a/b"\n'
    (tmp_path / "pyproject.toml").write_text(pyproject)
    assert Settings.load(tmp_path).repo_id == "a/b"
    (tmp_path / "dataset-builder.toml").write_text('repo-id = "c/d"\n')
    with pytest.raises(SettingsError, match="both hold settings"):
        Settings.load(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('repo_id = "a/b"\n', "unknown setting 'repo_id'"),
        ('token = "hf_x"\n', "unknown setting 'token'"),
        ("repo-id = 3\n", "'repo-id' must be a string"),
        ('on-conflict = "merge"\n', "on-conflict must be one of error, first, last"),
        ('near-duplicates = "drop"\n', "near-duplicates must be one of warn, remove"),
        ('repo-id = "org/bad name"\n', "not a valid Hub repository id"),
        ("repo-id = \n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "dataset-builder.toml").write_text(text)
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.load(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / "dataset-builder.toml"))


@pytest.mark.parametrize("repo_id", ["papers", "a/b/c", "org/bad name", "org/-x-", "/papers", "org/", None])
def test_repo_ids_must_be_org_slash_name(repo_id: str | None) -> None:
    with pytest.raises(SettingsError):
        check_repo_id(repo_id)  # type: ignore[arg-type]  # None: a notebook without a repo-id


def test_a_bad_settings_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dataset-builder.toml").write_text('colour = "blue"\n')
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2 and "dataset-builder.toml: unknown setting 'colour'" in result.output
