"""The paper schema from `schemas/paper.yaml`, as pandera validation and as the one Arrow schema.

Every batch a build validates and every shard it writes uses `paper_schema().arrow`, derived from the
YAML rather than inferred from data, so `build`, `validate` and the shards cannot disagree.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import pandera.errors
import pandera.polars
import polars as pl
import pyarrow as pa
import yaml

from dataset_builder.errors import DatasetError
from dataset_builder.records import RULES, Problem
from dataset_builder.resources import resource

SCHEMA_PATH = "schemas/paper.yaml"
# The polars dtypes the YAML may use, as the Arrow types `datasets` maps to exact features.
_ARROW_TYPES = {
    "String": pa.string(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "List(String)": pa.list_(pa.string()),
}
# Short rule names for pandera's checks: `title-length`, `paper_id-pattern`, ... (registered in
# records.RULES; a check without a registered rule is reported as `schema`).
CHECK_RULES = {
    "str_length": "length",
    "str_matches": "pattern",
    "greater_than_or_equal_to": "min",
    "less_than_or_equal_to": "max",
    "field_uniqueness": "unique",
    "not_nullable": "null",
}


_LENGTH = re.compile(r"str_length\((\w+), (\w+)\)")


@dataclass(frozen=True)
class PaperSchema:
    version: str
    pandera: pandera.polars.DataFrameSchema
    arrow: pa.Schema
    descriptions: dict[str, str]


@functools.cache
def paper_schema() -> PaperSchema:
    """Load the schema once per process."""
    text = resource(SCHEMA_PATH).read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    schema = pandera.polars.DataFrameSchema.from_yaml(text)
    fields = []
    for name, column in spec["columns"].items():
        dtype = str(column["dtype"])
        if dtype not in _ARROW_TYPES:
            raise DatasetError(f"{SCHEMA_PATH}: column {name}: unsupported dtype {dtype}")
        fields.append(pa.field(name, _ARROW_TYPES[dtype], nullable=False))
    descriptions = {name: str(c.get("description", "")) for name, c in spec["columns"].items()}
    return PaperSchema(str(spec["version"]), schema, pa.schema(fields), descriptions)


def check(table: pa.Table, file: str, first_row: int | None = None) -> list[Problem]:
    """Validate a batch lazily and return one Problem per failing value, all of them.

    Problems name `file` and, per failing row, its `source_line` (a batch of a dump) or, with
    `first_row`, its row number counted from there (a batch of a Parquet shard).
    """
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    try:
        paper_schema().pandera.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return _problems(frame, errors.failure_cases, file, first_row)
    return []


def _message(column: str, check_name: str, value: str) -> str:
    """What a failed check means, worded like the parser's messages: `abstract is 10 characters long; ...`."""
    bounds = _LENGTH.fullmatch(check_name)
    if bounds:
        low, high = (int(n) if n != "None" else None for n in bounds.groups())
        allowed = f"{low:,} to {high:,}" if low is not None and high is not None else f"at least {low:,}"
        if low is None:
            allowed = f"at most {high:,}"
        return f"{column} is {len(value):,} characters long; {column}s have {allowed}"
    return f"{column} fails {check_name}"


def schema_rule(column: str, check_name: str) -> str:
    """The rule of a failed pandera check (`str_length` of `title` -> `title-length`)."""
    rule = f"{column}-{CHECK_RULES.get(check_name, check_name)}"
    return rule if rule in RULES else "schema"


def _problems(frame: pl.DataFrame, failures: pl.DataFrame, file: str, first_row: int | None) -> list[Problem]:
    problems = []
    for case in failures.iter_rows(named=True):
        index, column, check_name = case["index"], case["column"], str(case["check"])
        rule = schema_rule(column, check_name.split("(")[0])
        if index is None:
            line = None
        elif first_row is None:
            line = int(frame["source_line"][index])
        else:
            line = first_row + index
        value = "" if case["failure_case"] is None else str(case["failure_case"])
        problems.append(Problem(file, line, rule, _message(column, check_name, value), value))
    return sorted(problems, key=lambda p: p.line or 0)
