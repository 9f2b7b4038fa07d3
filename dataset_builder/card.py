"""The dataset card: README.md with the YAML the Hub and `datasets` read, from the `cards/` template,
and `read_card`, the one reader of a card for every module that needs what a build's card says.

The YAML is built with huggingface_hub's `DatasetCardData`; its `dataset_info` and the shards' Arrow
schema are what datasets' own `DatasetInfo` and `Features` write (tests/test_card.py checks they are
equal), computed here because importing `datasets` takes a second and 30 MB that a build need not pay.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import jinja2
import pyarrow as pa
import yaml
from huggingface_hub import DatasetCardData

from dataset_builder.errors import CardError
from dataset_builder.layout import (
    ALL_CONFIG,
    ALL_SPLIT,
    DEFAULT_CONFIG,
    DEFAULT_REPO_ID,
    DISTRIBUTION,
    PROVENANCE_KEY,
    dump_files,
    dump_of,
)
from dataset_builder.records import NearDuplicate, Revision
from dataset_builder.report import FileSummary
from dataset_builder.resources import resource
from dataset_builder.schema import paper_schema
from dataset_builder.settings import Settings
from dataset_builder.shards import Shard

TEMPLATE = "cards/README.md.j2"
ARXIV_COLUMN = "arxiv_id"
# huggingface_hub.repocard.REGEX_YAML_BLOCK: the YAML between the `---` lines at the top of a card
_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
_MONTH = re.compile(r"^(\d{4}-\d{2})-\d{2}")  # a dump named after its date, like 2024-01-31.txt
_SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")]
_SIZE_CATEGORIES += [(1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]


def size_category(rows: int) -> str:
    """The Hub's size bucket for a row count."""
    for limit, name in _SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "10M<n<100M"


def _feature(arrow_type: pa.DataType) -> dict[str, object]:
    """The `datasets` feature of an Arrow type, as it serializes it (the types of the paper schema)."""
    if pa.types.is_list(arrow_type):
        return {"feature": _feature(arrow_type.value_type), "_type": "List"}
    return {"dtype": _dtype(arrow_type), "_type": "Value"}


def _dtype(arrow_type: pa.DataType) -> str:
    """The `datasets` dtype name of a scalar Arrow type: its own name but `date32` for `date32[day]`."""
    return "date32" if pa.types.is_date32(arrow_type) else str(arrow_type)


def hub_schema(arrow: pa.Schema) -> pa.Schema:
    """The Arrow schema as `datasets` writes it: nullable fields and the `huggingface` features metadata.

    Built here rather than by `datasets.Features`, whose import costs a second; tests/test_card.py
    checks it equals what `datasets` gives.
    """
    features = {field.name: _feature(field.type) for field in arrow}
    metadata = {"huggingface": json.dumps({"info": {"features": features}})}
    return pa.schema([pa.field(field.name, field.type) for field in arrow], metadata=metadata)


def features_yaml() -> list[dict[str, object]]:
    """The `dataset_info.features` entry of the paper schema, as datasets writes it."""
    entries: list[dict[str, object]] = []
    for field in paper_schema().arrow:
        if pa.types.is_list(field.type):
            entries.append({"name": field.name, "list": _dtype(field.type.value_type)})
        else:
            entries.append({"name": field.name, "dtype": _dtype(field.type)})
    return entries


def dataset_info_yaml(shards: Sequence[Shard]) -> dict[str, object]:
    """The card's `dataset_info` of the default config, its one `train` split over `shards`, as
    `datasets.DatasetInfo._to_yaml_dict` writes it (tested equal)."""
    return {
        "features": features_yaml(),
        "splits": [
            {
                "name": ALL_SPLIT,
                "num_bytes": sum(s.num_bytes for s in shards),
                "num_examples": sum(s.rows for s in shards),
            }
        ],
        "download_size": sum(s.size for s in shards),
        "dataset_size": sum(s.num_bytes for s in shards),
    }


@functools.cache
def builder_version() -> str:
    """This package's installed version, which every card names; read once, since importlib.metadata
    parses the METADATA file on every call (about a tenth of a small build)."""
    return version(DISTRIBUTION)


def provenance(files: Sequence[FileSummary], dumps: Mapping[str, Sequence[Shard]]) -> dict[str, object]:
    """The card's machine-readable record of how it was built: the tool, the sha256 of every dump read
    and of every shard written. Only this tool writes the key, so it also marks a folder as a build."""
    return {
        "builder_version": builder_version(),
        "schema_version": paper_schema().version,
        "sources": [{"file": f.name, "sha256": f.sha256} for f in files],
        "shards": [{"path": s.path, "sha256": s.sha256} for shards in dumps.values() for s in shards],
    }


def configs_yaml(dumps: Mapping[str, Sequence[Shard]]) -> list[dict[str, object]]:
    """The card's `configs` (docs/layout.md): `default` and its alias `all`, each one `train` split over
    every shard, whatever the number of dumps."""
    every = [s.path for shards in dumps.values() for s in shards]
    return [
        {"config_name": name, "data_files": [{"split": ALL_SPLIT, "path": every}]}
        for name in (DEFAULT_CONFIG, ALL_CONFIG)
    ]


def card_data(
    dumps: Mapping[str, Sequence[Shard]],
    files: Sequence[FileSummary] = (),
    settings: Settings | None = None,
    repo_id: str = DEFAULT_REPO_ID,
    policies: Mapping[str, str] | None = None,
) -> DatasetCardData:
    """The card's YAML: Hub metadata, the configs (`configs_yaml`), `dataset_info` of the default config
    only (it would repeat the features once per dump otherwise), and the provenance block under
    `dataset_builder` (with the repository id the card names and the build `policies` that decided the
    rows, e.g. on_conflict). `dumps`: dump name -> its shards."""
    settings = settings or Settings()
    shards = [s for listed in dumps.values() for s in listed]
    license = settings.license_fields()
    return DatasetCardData(
        pretty_name=settings.pretty_name,
        license=license.pop("license"),
        language=["en"],
        task_categories=["summarization", "text-generation"],
        size_categories=[size_category(sum(s.rows for s in shards))],
        tags=["papers", "abstracts", "arxiv"],
        configs=configs_yaml(dumps),
        dataset_info=dataset_info_yaml(shards),
        dataset_builder=provenance(files, dumps)
        | {"repo_id": repo_id}
        | ({"policies": dict(policies)} if policies is not None else {}),
        **license,
    )


@functools.cache
def template(relative: str) -> jinja2.Template:
    """The Jinja template shipped at `relative` (`cards/...`), compiled once per process: compiling the
    card's took about 8 ms of every build (a build of the bundled dumps takes 70 ms in one process)."""
    text = resource(relative).read_text(encoding="utf-8")
    compiled: jinja2.Template = jinja2.Template(text, keep_trailing_newline=True)
    return compiled


def render_card(
    files: Sequence[FileSummary],
    dumps: Mapping[str, Sequence[Shard]],
    repo_id: str = DEFAULT_REPO_ID,
    settings: Settings | None = None,
    revisions: Sequence[Revision] = (),
    near_duplicates: Sequence[NearDuplicate] = (),
    titles: Mapping[str, str] | None = None,
    near_policy: str = "warn",
    policies: Mapping[str, str] | None = None,
) -> str:
    """The whole README.md text; the same inputs always give the same bytes. `policies` (the build
    options that decide the rows) go to the provenance block, where `publish` reads them back.

    `titles` maps the paper_id of every revised paper to its title (the "Revised papers" table shows
    them); `near_policy` is the build's `--near-duplicates`. `publish` adds the release (version,
    changelog) to the card it uploads; see release.py."""
    schema = paper_schema()
    fields = [
        {"name": f.name, "type": _type_name(f.type), "description": schema.descriptions[f.name]}
        for f in schema.arrow
    ]
    titles = titles or {}
    named = [f for f in files if f.split is not None]
    first = named[0] if named else None
    month = _MONTH.match(first.name) if first else None
    data: dict[str, Any] = cast(Any, card_data(dumps, files, settings, repo_id, policies)).to_dict()
    return str(
        template(TEMPLATE).render(
            data,
            # libyaml, as huggingface_hub's `to_yaml` writes it but 20x faster on a card of 1,000 dumps
            card_data=yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True).strip(),
            repo_id=repo_id,
            dump_files=dump_files(first.split) if first and first.split else None,
            all_config=ALL_CONFIG,
            train=ALL_SPLIT,
            total_rows=sum(f.kept for f in files),
            fields=fields,
            first=first,
            month=month[1] if month else None,
            files=files,
            empty_files=[f for f in files if f.split is None],
            revisions=[{"revision": r, "title": titles[r.paper_id]} for r in revisions],
            on_conflict=revisions[0].policy if revisions else None,
            near_duplicates=near_duplicates,
            near_removed=sum(n.removed for n in near_duplicates),
            near_policy=near_policy,
            repeats=sum(f.duplicates for f in files) - sum(n.removed for n in near_duplicates),
            arxiv=_arxiv_counts(files, fields),
            builder_version=builder_version(),
            schema_version=schema.version,
        )
    )


def _arxiv_counts(files: Sequence[FileSummary], fields: Sequence[Mapping[str, str]]) -> dict[str, int] | None:
    """Papers with and without an arXiv id, when the schema has the column."""
    if not any(f["name"] == ARXIV_COLUMN for f in fields):
        return None
    with_id = sum(f.with_arxiv_id for f in files)
    return {"with": with_id, "without": sum(f.kept for f in files) - with_id}


@dataclass(frozen=True)
class BuiltCard:
    """A card this tool wrote, read back by `read_card`: the one place that knows the card's YAML."""

    data: dict[str, Any]  # the whole YAML, as plain data
    text: str  # the Markdown body
    builder_version: str
    schema_version: str
    repo_id: str
    sources: dict[str, str]  # dump file -> sha256, in file-name order
    shards: dict[str, str]  # shard path -> sha256
    configs: dict[str, dict[str, list[str]]]  # config -> split -> shard paths
    info: dict[str, Any]  # `dataset_info` of the default config: features, splits, sizes
    releases: list[dict[str, Any]]  # the changelog entries `publish` recorded, newest first

    @property
    def rows(self) -> dict[str, int]:
        """split -> rows, of the default config, as `dataset_info` declares them."""
        return {str(s["name"]): int(s["num_examples"]) for s in self.info["splits"]}

    @property
    def dumps(self) -> dict[str, list[str]]:
        """dump -> its shard paths, in the order the default config lists them (the shards' names say
        the dump, layout.dump_of; also in cards of the earlier layout, one split per dump)."""
        found: dict[str, list[str]] = {}
        for paths in self.configs[DEFAULT_CONFIG].values():
            for path in paths:
                found.setdefault(dump_of(path), []).append(path)
        return found


def read_card(card: Path | str) -> BuiltCard:
    """A card (a path, or the text) read as this tool writes it. Raises CardError, rule `card-yaml` when
    the YAML does not parse or lacks configs or `dataset_info`, `card-provenance` when it has no
    `dataset_builder` block with the sha256 of every dump and shard (a card this tool did not write)."""
    shown = str(card) if isinstance(card, Path) else ""
    try:
        text = card.read_text(encoding="utf-8") if isinstance(card, Path) else card
        front = _FRONT_MATTER.match(text)
        data = yaml.load(front[2], Loader=yaml.CSafeLoader) if front else None  # libyaml: 20x faster
        body = text[front.end() :] if front else text
    except (OSError, UnicodeDecodeError) as e:
        raise CardError(f"cannot read the card: {e}", file=shown) from e
    except (ValueError, yaml.YAMLError) as e:
        detail = " ".join(str(e).split())
        raise CardError(f"YAML does not parse: {detail}", file=shown) from e
    if not isinstance(data, dict):
        raise CardError("no configs: the card has no YAML metadata", file=shown)
    try:
        configs = _configs(data)
        info = _default_info(data)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        detail = f"no {e} entry" if isinstance(e, KeyError) else str(e)
        raise CardError(f"card metadata is not what build writes: {detail}", file=shown) from e
    block = data.get(PROVENANCE_KEY)
    try:
        if not isinstance(block, dict):
            raise TypeError(f"no {PROVENANCE_KEY} block")
        return BuiltCard(
            data=data,
            text=body,
            builder_version=str(block["builder_version"]),
            schema_version=str(block["schema_version"]),
            repo_id=str(block.get("repo_id") or DEFAULT_REPO_ID),
            sources={str(s["file"]): str(s["sha256"]) for s in block["sources"]},
            shards={str(s["path"]): str(s["sha256"]) for s in block["shards"]},
            configs=configs,
            info=info,
            releases=[dict(r) for r in block.get("releases") or []],
        )
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise CardError(
            f"not a card this tool wrote: no {PROVENANCE_KEY} block with the sha256 of every dump and "
            f"shard ({e})",
            file=shown,
            rule="card-provenance",
        ) from e


def _configs(data: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    configs = data.get("configs")
    if not configs or not isinstance(configs, list):
        raise ValueError("no configs: the card does not say which files hold which split")
    found: dict[str, dict[str, list[str]]] = {}
    for config in configs:
        splits = found.setdefault(str(config.get("config_name", DEFAULT_CONFIG)), {})
        for entry in config["data_files"]:
            paths = entry["path"]
            splits[str(entry.get("split", ALL_SPLIT))] = [paths] if isinstance(paths, str) else list(paths)
    if DEFAULT_CONFIG not in found:
        raise ValueError("configs has no default config")
    return found


def _default_info(data: Mapping[str, Any]) -> dict[str, Any]:
    """`dataset_info` of the default config (a list when the card describes several configs)."""
    info = data["dataset_info"]
    if isinstance(info, list):
        info = next((i for i in info if i.get("config_name", DEFAULT_CONFIG) == DEFAULT_CONFIG), None)
        if info is None:
            raise ValueError("dataset_info has no entry for the default config")
    if not isinstance(info, dict) or not isinstance(info.get("splits"), list):
        raise TypeError("dataset_info is not a mapping with splits")
    return info


def _type_name(arrow_type: pa.DataType) -> str:
    if pa.types.is_list(arrow_type):
        return f"list of {_dtype(arrow_type.value_type)}"
    return _dtype(arrow_type)
