"""schema.py: the YAML schema is the one source of the Arrow schema and of the record checks."""

from __future__ import annotations

import pyarrow as pa
import yaml

from dataset_builder.records import RULES
from dataset_builder.resources import resource
from dataset_builder.schema import SCHEMA_PATH, check, paper_schema, schema_rule


def batch(**overrides: object) -> pa.Table:
    row: dict[str, object] = {
        "paper_id": "0123456789abcdef",
        "title": "A fine title",
        "abstract": "An abstract that is long enough to pass the fifty character minimum.",
        "source_file": "d.txt",
        "source_line": 7,
        "also_in": [],
    }
    row.update(overrides)
    return pa.Table.from_pylist([row], schema=paper_schema().arrow)


def test_yaml_defines_the_arrow_schema_and_a_version() -> None:
    spec = yaml.safe_load(resource(SCHEMA_PATH).read_text())
    schema = paper_schema()
    assert schema.arrow.names == list(spec["columns"])
    assert schema.arrow.field("also_in").type == pa.list_(pa.string())
    assert schema.arrow.field("source_line").type == pa.int32()
    assert schema.version == str(spec["version"])
    assert all(schema.descriptions[name] for name in schema.arrow.names)


def test_a_valid_record_passes() -> None:
    assert check(batch(), "d.txt") == []


def test_failures_name_file_line_and_rule() -> None:
    problems = check(batch(title="ab", abstract="too short", paper_id="XYZ"), "d.txt")
    found = {(p.file, p.line, p.rule) for p in problems}
    assert found == {
        ("d.txt", 7, "title-length"),
        ("d.txt", 7, "abstract-length"),
        ("d.txt", 7, "paper_id-pattern"),
    }
    assert any(p.value == "too short" for p in problems)


def test_every_failing_row_is_reported_not_just_the_first() -> None:
    rows = pa.concat_tables([batch(source_line=n, title="x") for n in (3, 9, 12)])
    assert [p.line for p in check(rows, "d.txt")] == [3, 9, 12]
    assert [p.line for p in check(rows, "shard.parquet", first_row=1)] == [1, 2, 3]


def test_every_check_of_the_yaml_has_its_own_registered_rule() -> None:
    spec = yaml.safe_load(resource(SCHEMA_PATH).read_text())
    not_checks = {"title", "description", "dtype", "nullable"}
    columns = spec["columns"].items()
    checks = [(name, key) for name, column in columns for key in column if key not in not_checks]
    assert len(checks) >= 5
    for name, key in checks:
        rule = schema_rule(name, key)
        assert rule != "schema" and rule in RULES, (name, key)
    assert schema_rule("title", "dtype") == "schema"
