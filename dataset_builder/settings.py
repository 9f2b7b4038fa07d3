"""Project settings: what a maintainer would otherwise repeat on every command.

They live in `dataset-builder.toml` at the project root (the folder holding `dumps/`), or, for a project
that already has a `pyproject.toml`, under its `[tool.dataset-builder]` table; having both is an error,
so there is never a question of which one wins. Keys are spelled as the command-line options are, and
command-line options override them:

    repo-id = "ORG/NAME"          # publish target, and the id the card's load snippet shows
    pretty-name = "Hugging Face Daily Papers"
    license = "other"             # a Hub license id; with "other", license-name and license-link too
    license-name = "..."
    license-link = "https://..."
    input = "dumps"               # the folder of dumps, relative to the project root
    out = "dist"
    on-conflict = "error"         # build policies: error | first | last
    near-duplicates = "warn"      # warn | remove

An unknown key or a value of the wrong kind is an error naming the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from dataset_builder.dedup import (
    CONFLICT_POLICIES,
    NEAR_DUPLICATE_POLICIES,
    ConflictPolicy,
    NearDuplicatePolicy,
)
from dataset_builder.errors import DatasetError

SETTINGS_FILE = "dataset-builder.toml"
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "dataset-builder"
DEFAULT_PRETTY_NAME = "Hugging Face Daily Papers"
DEFAULT_LICENSE = "other"
# The abstracts are the authors' text; on arXiv each paper carries its own license, which no Hub id covers.
DEFAULT_LICENSE_NAME = "per-paper-arxiv-licenses"
DEFAULT_LICENSE_LINK = "https://info.arxiv.org/help/license/index.html"
_CHOICES = {"on_conflict": CONFLICT_POLICIES, "near_duplicates": NEAR_DUPLICATE_POLICIES}


class SettingsError(DatasetError):
    """The settings file, or a value given for one of its keys, is not usable."""


def check_repo_id(repo_id: str) -> str:
    """`repo_id` if it is a valid Hub dataset id of the form ORG/NAME; SettingsError otherwise."""
    # Imported here: huggingface_hub takes time to import, and `build` and `validate` do not need it.
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise SettingsError(f"{repo_id!r} is not a Hub repository id of the form ORG/NAME")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        detail = str(e).splitlines()[0].split(": '")[0]
        raise SettingsError(f"{repo_id!r} is not a valid Hub repository id: {detail}") from e
    return repo_id


@dataclass(frozen=True)
class Settings:
    """The project's settings; None where neither the file nor an option says."""

    repo_id: str | None = None
    pretty_name: str = DEFAULT_PRETTY_NAME
    license: str = DEFAULT_LICENSE
    license_name: str | None = None
    license_link: str | None = None
    input: Path = Path("dumps")
    out: Path = Path("dist")
    on_conflict: ConflictPolicy = "error"
    near_duplicates: NearDuplicatePolicy = "warn"
    source: Path | None = None  # the file they were read from

    @classmethod
    def load(cls, root: Path = Path(".")) -> Settings:
        """The settings of the project at `root`; defaults when it has no settings file."""
        own = root / SETTINGS_FILE
        table: dict[str, Any] | None = _read(own) if own.is_file() else None
        pyproject = root / PYPROJECT
        if pyproject.is_file():
            tool = _table(_read(pyproject).get("tool", {}), pyproject, "[tool]").get(TOOL_TABLE)
            if tool is not None:
                tool = _table(tool, pyproject, f"[tool.{TOOL_TABLE}]")
            if tool is not None and table is not None:
                raise SettingsError(
                    f"{pyproject}: [tool.{TOOL_TABLE}] and {own} both hold settings; keep one"
                )
            if tool is not None:
                return cls.from_mapping(tool, pyproject, root)
        if table is None:
            return cls()
        return cls.from_mapping(table, own, root)

    @classmethod
    def from_mapping(cls, table: dict[str, Any], source: Path, root: Path = Path(".")) -> Settings:
        """Settings from a TOML table; paths are relative to `root`."""
        known = {f.name for f in fields(cls)} - {"source"}
        values: dict[str, Any] = {"source": source}
        for key, value in table.items():
            name = key.replace("-", "_")
            if name not in known or "_" in key:
                raise SettingsError(f"{source}: unknown setting {key!r} (known: {_known(known)})")
            if not isinstance(value, str):
                raise SettingsError(f"{source}: setting {key!r} must be a string, not {value!r}")
            values[name] = root / value if name in ("input", "out") else value
        try:
            return cls(**values).checked()
        except SettingsError as e:
            raise SettingsError(f"{source}: {e}") from e

    def override(self, **options: Any) -> Settings:
        """These settings with the options given on the command line (None: not given) in their place."""
        return replace(self, **{k: v for k, v in options.items() if v is not None}).checked()

    def checked(self) -> Settings:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                key = name.replace("_", "-")
                raise SettingsError(f"{key} must be one of {', '.join(choices)}, not {getattr(self, name)!r}")
        if self.repo_id is not None:
            check_repo_id(self.repo_id)
        return self

    def license_fields(self) -> dict[str, Any]:
        """The card's license metadata: the Hub wants a name and a link beside `license: other`."""
        if self.license != "other":
            return {"license": self.license}
        return {
            "license": "other",
            "license_name": self.license_name or DEFAULT_LICENSE_NAME,
            "license_link": self.license_link or DEFAULT_LICENSE_LINK,
        }


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML: {e}") from e
    except UnicodeDecodeError as e:
        raise SettingsError(f"{path}: not UTF-8 text (byte {e.start}): save it as UTF-8") from e
    except OSError as e:
        raise SettingsError(f"{path}: cannot read it: {e.strerror or e}") from e


def _table(value: object, path: Path, name: str) -> dict[str, Any]:
    """`value` if it is a TOML table; SettingsError naming the file otherwise."""
    if not isinstance(value, dict):
        raise SettingsError(f"{path}: {name} must be a table, not {value!r}")
    return value


def _known(names: set[str]) -> str:
    return ", ".join(sorted(n.replace("_", "-") for n in names))
