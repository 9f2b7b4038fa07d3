"""The paper schema from `schemas/paper.yaml`, as pandera validation and as the one Arrow schema.

Every batch a build validates and every shard it writes uses `paper_schema().arrow`, derived from the
YAML rather than inferred from data, so `build`, `validate` and the shards cannot disagree.

Importing pandera and making its checks ready costs a command about 0.8 s of CPU and 20 MB (beyond
pandas, which pyarrow loads anyway), more than checking every batch of a 200,000-paper build, and its
`validate` 20-40 ms a call whatever the rows (per column, it retries an import and builds frames),
which a build of 1,000 small daily dumps paid 1,000 times. So `check` first asks `all_rows_pass`: the
YAML's checks evaluated with pyarrow alone, each as pandera evaluates it on an Arrow table (through
narwhals, whose Arrow backend calls the same pyarrow kernels; `ROW_CHECKS`). Only a batch with a
failure imports pandera and goes through its `validate`, whose failure cases make the problems.
tests/test_schema.py proves the two agree at every check's bounds; a check the table does not have
makes pandera decide every batch.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from dataset_builder.errors import DatasetError
from dataset_builder.records import RULES, Problem
from dataset_builder.resources import resource

SCHEMA_PATH = "schemas/paper.yaml"
# The dtypes the YAML may use (pandera's polars names) and the Arrow type of each, which `datasets`
# maps to exact features. A column is nullable only when the YAML says `nullable: true`.
ARROW_TYPES = {
    "String": pa.string(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float64": pa.float64(),
    "Boolean": pa.bool_(),
    "Date": pa.date32(),
    "List(String)": pa.list_(pa.string()),
}
# Keys of a column that are not checks; every other key names a pandera check (`str_length`, ...).
_COLUMN_KEYS = {"title", "description", "dtype", "nullable", "unique"}
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
# Every import of pandera here, and every validation, happens under it: two threads importing pandera's
# modules at once can see one of them half-imported (an AttributeError inside pandera). pandera 0.35 tries
# `from pandera.engines import pyspark_engine` for every column of every validation, and without pyspark
# that import fails and starts again each time: two validations at once then fail one in a few dozen.
_LOCK = threading.RLock()


@dataclass(frozen=True)
class PaperSchema:
    version: str
    arrow: pa.Schema
    descriptions: dict[str, str]
    spec: dict[str, Any]  # the YAML, for the pandera schema

    @property
    def pandera(self) -> Any:
        """The `pandera.pyarrow.DataFrameSchema` of the YAML (imports pandera on first use)."""
        return _pandera_schema()


@functools.cache
def paper_schema() -> PaperSchema:
    """Load the schema once per process (pyarrow only: pandera is imported by `check`)."""
    return schema_of(yaml.safe_load(resource(SCHEMA_PATH).read_text(encoding="utf-8")))


def schema_of(spec: dict[str, Any]) -> PaperSchema:
    """The schema a parsed YAML describes; raises DatasetError for a dtype not in ARROW_TYPES."""
    fields = []
    for name, column in spec["columns"].items():
        dtype = str(column["dtype"])
        if dtype not in ARROW_TYPES:
            raise DatasetError(f"{SCHEMA_PATH}: column {name}: unsupported dtype {dtype}")
        fields.append(pa.field(name, ARROW_TYPES[dtype], nullable=bool(column.get("nullable", False))))
    descriptions = {name: str(c.get("description", "")) for name, c in spec["columns"].items()}
    return PaperSchema(str(spec["version"]), pa.schema(fields), descriptions, spec)


def _pandera_schema() -> Any:
    with _LOCK:  # one import and one schema, whichever thread asks first
        return _build_pandera_schema()


@functools.cache
def _build_pandera_schema() -> Any:
    """The checks, run once on no rows before any thread gets them: pandera imports its backends on
    first use, and two threads doing that at once can see a half-imported module."""
    checks = pandera_schema_of(paper_schema())
    checks.validate(paper_schema().arrow.empty_table(), lazy=True)
    return checks


def _str_length(
    values: pa.ChunkedArray,
    min_value: int | None = None,
    max_value: int | None = None,
    exact_value: int | None = None,
) -> pa.ChunkedArray | None:
    lengths = pc.utf8_length(values)  # characters, as narwhals' `str.len_chars` on Arrow
    if exact_value is not None:
        return pc.equal(lengths, exact_value)
    if min_value is None and max_value is None:
        return None  # pandera refuses such a check: let it say so
    low = pc.greater_equal(lengths, min_value) if min_value is not None else None
    high = pc.less_equal(lengths, max_value) if max_value is not None else None
    return high if low is None else low if high is None else pc.and_(low, high)


def _str_matches(values: pa.ChunkedArray, pattern: str) -> pa.ChunkedArray:
    return pc.match_substring_regex(values, pattern if pattern.startswith("^") else f"^{pattern}")


def _greater_than_or_equal_to(values: pa.ChunkedArray, min_value: Any) -> pa.ChunkedArray:
    return pc.greater_equal(values, min_value)


# pandera's built-in checks that `all_rows_pass` evaluates itself, by the name the YAML gives them: each
# computes what pandera's narwhals function (pandera.backends.narwhals.builtin_checks) computes on an
# Arrow table, with the YAML's arguments. A null result (a null value) passes, as pandera skips nulls.
ROW_CHECKS: dict[str, Callable[..., pa.ChunkedArray | None]] = {
    "str_length": _str_length,
    "str_matches": _str_matches,
    "greater_than_or_equal_to": _greater_than_or_equal_to,
}
# A check as the YAML gives it: the function and its arguments after the column's values.
_RowCheck = tuple[Callable[..., pa.ChunkedArray | None], tuple[Any, ...], dict[str, Any]]


@functools.cache
def _row_checks() -> tuple[tuple[str, bool, tuple[_RowCheck, ...]], ...] | None:
    """(column, nullable, checks) for every column of the YAML, or None when pandera must decide: a
    check `ROW_CHECKS` does not have, or a column that must be unique (not a row-wise check)."""
    columns = []
    for name, column in paper_schema().spec["columns"].items():
        if column.get("unique"):
            return None
        checks: list[_RowCheck] = []
        for key, value in column.items():
            if key in _COLUMN_KEYS:
                continue
            if key not in ROW_CHECKS:
                return None
            args, kwargs = ((), value) if isinstance(value, dict) else ((value,), {})
            checks.append((ROW_CHECKS[key], args, kwargs))
        columns.append((name, bool(column.get("nullable", False)), tuple(checks)))
    return tuple(columns)


def all_rows_pass(table: pa.Table) -> bool:
    """True only when every row passes every check (pandera's `validate` would raise nothing); False
    also when unsure (a table not of exactly the paper schema). Imports no pandera."""
    columns = _row_checks()
    if columns is None or not table.schema.equals(paper_schema().arrow):
        return False
    for name, nullable, checks in columns:
        values = table[name]
        if values.null_count and not nullable:
            return False
        for function, args, kwargs in checks:
            passed = function(values, *args, **kwargs)
            if passed is None or not pc.all(passed, min_count=0).as_py():
                return False
    return True


def pandera_schema_of(schema: PaperSchema) -> Any:
    """The `pandera.pyarrow.DataFrameSchema` of a schema: its Arrow types, nullability and checks."""
    with _LOCK:
        import pandera.pyarrow as pandera

    columns = {}
    for name, column in schema.spec["columns"].items():
        checks = []
        for key, value in column.items():
            if key not in _COLUMN_KEYS:
                make = getattr(pandera.Check, key)
                checks.append(make(**value) if isinstance(value, dict) else make(value))
        columns[name] = pandera.Column(
            schema.arrow.field(name).type,
            checks,
            nullable=bool(column.get("nullable", False)),
            unique=bool(column.get("unique", False)),
            title=column.get("title"),
            description=column.get("description"),
        )
    spec = schema.spec
    return pandera.DataFrameSchema(
        columns, strict=spec.get("strict", False), ordered=spec.get("ordered", False), name=spec.get("name")
    )


def check(table: pa.Table, file: str, first_row: int | None = None) -> list[Problem]:
    """Validate a batch lazily and return one Problem per failing value, all of them.

    Problems name `file` and, per failing row, its `source_line` (a batch of a dump) or, with
    `first_row`, its row number counted from there (a batch of a Parquet shard).
    """
    if all_rows_pass(table):
        return []
    schema = _pandera_schema()
    import pandera.errors

    try:
        with _LOCK:  # pandera imports an optional backend in every validation (see _LOCK)
            schema.validate(table, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return _problems(table, errors.failure_cases, file, first_row)
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


def _problems(table: pa.Table, failures: pa.Table, file: str, first_row: int | None) -> list[Problem]:
    """One Problem per failing row and check. pandera's pyarrow backend gives the failing value but not
    its row for most checks; a check is a function of the value, so every row holding it fails."""
    problems = []
    seen: set[tuple[str, str, int | None]] = set()
    for case in failures.to_pylist():
        column, check_name = case["column"], str(case["check"])
        rule = schema_rule(column, check_name.split("(")[0])
        value = "" if case["failure_case"] is None else str(case["failure_case"])
        if case["index"] is not None:
            rows: list[int | None] = [int(case["index"])]
        elif column in table.column_names and case["failure_case"] is not None:
            texts = pc.cast(table[column], pa.string())
            rows = [int(r) for r in pc.indices_nonzero(pc.equal(texts, value)).to_pylist()] or [None]
        else:
            rows = [None]
        for index in rows:
            if (column, check_name, index) in seen:
                continue
            seen.add((column, check_name, index))
            if index is None:
                line = None
            elif first_row is None:
                line = int(table["source_line"][index].as_py())
            else:
                line = first_row + index
            problems.append(Problem(file, line, rule, _message(column, check_name, value), value))
    return sorted(problems, key=lambda p: p.line or 0)
