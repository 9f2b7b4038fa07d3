"""The dataset card: README.md with the YAML the Hub and `datasets` read, from the `cards/` template.

The YAML is built with huggingface_hub's `DatasetCardData`; its `dataset_info` and the shards' Arrow
schema are what datasets' own `DatasetInfo` and `Features` write (tests/test_card.py checks they are
equal), computed here because importing `datasets` takes a second and 30 MB that a build need not pay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib.metadata import version

import pyarrow as pa
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builder.layout import ALL_CONFIG, ALL_SPLIT, DEFAULT_REPO_ID, DISTRIBUTION
from dataset_builder.records import NearDuplicate, Revision
from dataset_builder.report import FileSummary
from dataset_builder.resources import resource
from dataset_builder.schema import paper_schema
from dataset_builder.settings import Settings
from dataset_builder.shards import Shard

TEMPLATE = "cards/README.md.j2"
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
    return {"dtype": str(arrow_type), "_type": "Value"}


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
            entries.append({"name": field.name, "list": str(field.type.value_type)})
        else:
            entries.append({"name": field.name, "dtype": str(field.type)})
    return entries


def dataset_info_yaml(splits: Mapping[str, Sequence[Shard]]) -> dict[str, object]:
    """The card's `dataset_info`, as `datasets.DatasetInfo._to_yaml_dict` writes it (tested equal)."""
    return {
        "features": features_yaml(),
        "splits": [
            {
                "name": name,
                "num_bytes": sum(s.num_bytes for s in shards),
                "num_examples": sum(s.rows for s in shards),
            }
            for name, shards in splits.items()
        ],
        "download_size": sum(s.size for shards in splits.values() for s in shards),
        "dataset_size": sum(s.num_bytes for shards in splits.values() for s in shards),
    }


def provenance(files: Sequence[FileSummary], splits: Mapping[str, Sequence[Shard]]) -> dict[str, object]:
    """The card's machine-readable record of how it was built: the tool, the sha256 of every dump read
    and of every shard written. Only this tool writes the key, so it also marks a folder as a build."""
    return {
        "builder_version": version(DISTRIBUTION),
        "schema_version": paper_schema().version,
        "sources": [{"file": f.name, "sha256": f.sha256} for f in files],
        "shards": [{"path": s.path, "sha256": s.sha256} for shards in splits.values() for s in shards],
    }


def card_data(
    splits: Mapping[str, Sequence[Shard]],
    files: Sequence[FileSummary] = (),
    settings: Settings | None = None,
    repo_id: str = DEFAULT_REPO_ID,
    policies: Mapping[str, str] | None = None,
) -> DatasetCardData:
    """The card's YAML: Hub metadata, the `default` config (one split per dump) and the `all` config
    (every shard as one `train` split), `dataset_info` of the default config, and the provenance block
    under `dataset_builder` (with the repository id the card names and the build `policies` that
    decided the rows, e.g. on_conflict)."""
    settings = settings or Settings()
    rows = sum(s.rows for shards in splits.values() for s in shards)
    license = settings.license_fields()
    return DatasetCardData(
        pretty_name=settings.pretty_name,
        license=license.pop("license"),
        language=["en"],
        task_categories=["summarization", "text-generation"],
        size_categories=[size_category(rows)],
        tags=["papers", "abstracts", "arxiv"],
        configs=[
            {
                "config_name": "default",
                "data_files": [
                    {"split": name, "path": [s.path for s in shards]} for name, shards in splits.items()
                ],
            },
            {
                "config_name": ALL_CONFIG,
                "data_files": [
                    {"split": ALL_SPLIT, "path": [s.path for shards in splits.values() for s in shards]}
                ],
            },
        ],
        dataset_info=dataset_info_yaml(splits),
        dataset_builder=provenance(files, splits)
        | {"repo_id": repo_id}
        | ({"policies": dict(policies)} if policies is not None else {}),
        **license,
    )


def render_card(
    files: Sequence[FileSummary],
    splits: Mapping[str, Sequence[Shard]],
    repo_id: str = DEFAULT_REPO_ID,
    settings: Settings | None = None,
    revisions: Sequence[Revision] = (),
    near_duplicates: Sequence[NearDuplicate] = (),
    policies: Mapping[str, str] | None = None,
) -> str:
    """The whole README.md text; the same inputs always give the same bytes. `policies` (the build
    options that decide the rows) go to the provenance block, where `publish` reads them back.

    `publish` adds the release (version, changelog) to the card it uploads; see release.py."""
    schema = paper_schema()
    fields = [
        {"name": f.name, "type": _type_name(f.type), "description": schema.descriptions[f.name]}
        for f in schema.arrow
    ]
    split_rows = [
        {
            "name": f.split,
            "file": f.name,
            "rows": sum(s.rows for s in splits[f.split]),
            "duplicates": f.duplicates,
        }
        for f in files
        if f.split is not None
    ]
    card = DatasetCard.from_template(
        card_data(splits, files, settings, repo_id, policies),
        template_path=str(resource(TEMPLATE)),
        repo_id=repo_id,
        all_config=ALL_CONFIG,
        all_split=ALL_SPLIT,
        total_rows=sum(f.kept for f in files),
        fields=fields,
        splits=split_rows,
        files=files,
        empty_files=[f for f in files if f.split is None],
        revisions=revisions,
        near_duplicates=near_duplicates,
        near_removed=any(n.removed for n in near_duplicates),
        builder_version=version(DISTRIBUTION),
        schema_version=schema.version,
    )
    return str(card.content)


def _type_name(arrow_type: pa.DataType) -> str:
    if pa.types.is_list(arrow_type):
        return f"list of {arrow_type.value_type}"
    return str(arrow_type)
