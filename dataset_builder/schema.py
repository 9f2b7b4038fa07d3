"""The paper schema from `schemas/paper.yaml`, as pandera validation and as the one Arrow schema.

Every batch a build validates and every shard it writes uses `paper_schema().arrow`, derived from the
YAML rather than inferred from data, so `build`, `validate` and the shards cannot disagree.

The checks run on the batch's `pyarrow.Table` itself (`pandera.pyarrow`, no conversion). Importing
pandera is the slowest step of a short run, and the Arrow schema needs none of it: `paper_schema()`
reads the YAML with pyarrow alone, `load_in_background()` starts the import while the first dumps are
read, and `check` waits for it.

pandera's `validate` costs 20-40 ms a call whatever the rows (per column, it retries an import and
builds frames), which a build of 1,000 small daily dumps paid 1,000 times. So `check` first asks one
narwhals expression made of pandera's own check functions (the same `Check`s: no rule is written
twice) whether every row passes, 3-8 ms a call (a seventh of `validate` on a small batch, a third on
50,000 rows); only a batch with a failure goes through `validate`, for its failure cases.
tests/test_schema.py proves the two agree.
"""

from __future__ import annotations

import functools
import re
import threading
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


def load_in_background() -> threading.Thread | None:
    """Start importing pandera and building the checks in a thread, unless done: the import (about a
    second) then overlaps reading the first dumps, whose Arrow kernels and file reads release the GIL.
    `check` waits for it; an error in the thread is raised again by `check`'s own attempt. The caller
    joins the thread it gets before it returns, so no thread outlives a library call."""
    if _build_pandera_schema.cache_info().currsize:
        return None
    thread = threading.Thread(target=_try_loading, name="dataset-builder-schema")
    thread.start()
    return thread


def _try_loading() -> None:
    """Build the checks in the background; an error is raised again by `check`'s own attempt."""
    try:
        _pandera_schema()
        all_rows_pass(paper_schema().arrow.empty_table())
    except Exception:  # `check` calls _pandera_schema again and raises it there
        return


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


@functools.cache
def _all_pass() -> Any:
    """One narwhals expression, true when every row passes every check of the pandera schema: each
    column's built-in checks (pandera's own narwhals functions; nulls pass, as pandera skips them)
    and its not-null rule. None when a check has no such function or a column must be unique: then
    `validate` alone decides (a check of the whole frame, a grouped or element-wise one too)."""
    with _LOCK:
        import narwhals.stable.v1 as nw
        from pandera.backends.narwhals import builtin_checks

        schema = _pandera_schema()
        if schema.checks or schema.unique:
            return None
        rules = []
        for name, column in schema.columns.items():
            values = nw.col(name)
            if column.unique:
                return None
            if not column.nullable:
                rules.append(~values.is_null())
            for rule in column.checks:
                function = vars(builtin_checks).get(rule.name)
                if function is None or rule.groupby is not None or rule.element_wise or not rule.ignore_na:
                    return None
                rules.append(function(values, **rule.statistics) | values.is_null())
        return nw.all_horizontal(*rules).all() if rules else None


def all_rows_pass(table: pa.Table) -> bool:
    """True only when every row passes every check (pandera's `validate` would raise nothing); False
    also when unsure (a table not of exactly the paper schema)."""
    rule = _all_pass()
    if rule is None or not table.schema.equals(paper_schema().arrow):
        return False
    with _LOCK:  # narwhals imports its backends on first use, as pandera does
        import narwhals.stable.v1 as nw

        return bool(nw.from_native(table).select(rule).item())


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
    schema = _pandera_schema()
    import pandera.errors

    try:
        with _LOCK:  # pandera imports an optional backend in every validation (see _LOCK)
            if all_rows_pass(table):
                return []
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
