"""schema.py: the YAML schema is the one source of the Arrow schema and of the record checks."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading

import pandera.errors
import pyarrow as pa
import pytest
import yaml

from dataset_builder.errors import DatasetError
from dataset_builder.records import RULES
from dataset_builder.resources import resource
from dataset_builder.schema import (
    ROW_CHECKS,
    SCHEMA_PATH,
    all_rows_pass,
    check,
    pandera_schema_of,
    paper_schema,
    schema_of,
    schema_rule,
)


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
    not_checks = {"title", "description", "dtype", "nullable", "unique"}
    columns = spec["columns"].items()
    checks = [(name, key) for name, column in columns for key in column if key not in not_checks]
    assert len(checks) >= 5
    for name, key in checks:
        rule = schema_rule(name, key)
        assert rule != "schema" and rule in RULES, (name, key)
    assert schema_rule("title", "dtype") == "schema"


def test_a_repeated_failing_value_is_reported_at_every_row_with_the_message() -> None:
    rows = pa.concat_tables([batch(source_line=n, abstract="x" * 24) for n in (4, 8)])
    problems = check(rows, "d.txt")
    assert [(p.line, p.rule) for p in problems] == [(4, "abstract-length"), (8, "abstract-length")]
    assert problems[0].message == "abstract is 24 characters long; abstracts have 50 to 10,000"


def test_dtypes_map_to_arrow_types_and_nullable_is_honoured() -> None:
    spec = {
        "version": "9.9.9",
        "strict": True,
        "ordered": True,
        "columns": {
            "paper_id": {"dtype": "String", "nullable": False, "str_matches": "^[0-9a-f]{16}$"},
            "arxiv_id": {"dtype": "String", "nullable": True},
            "authors": {"dtype": "List(String)", "nullable": True},
            "published_on": {"dtype": "Date", "nullable": True},
            "upvotes": {"dtype": "Int32", "nullable": True, "greater_than_or_equal_to": 0},
        },
    }
    schema = schema_of(spec)
    assert schema.arrow.field("published_on").type == pa.date32()
    assert schema.arrow.field("authors").type == pa.list_(pa.string())
    assert not schema.arrow.field("paper_id").nullable and schema.arrow.field("upvotes").nullable
    rows = [
        {
            "paper_id": "0123456789abcdef",
            "arxiv_id": None,
            "authors": None,
            "published_on": None,
            "upvotes": None,
        },
        {
            "paper_id": "fedcba9876543210",
            "arxiv_id": "2401.00001",
            "authors": ["A. Author"],
            "published_on": datetime.date(2024, 1, 2),
            "upvotes": 3,
        },
    ]
    checks = pandera_schema_of(schema)
    checks.validate(pa.Table.from_pylist(rows, schema=schema.arrow), lazy=True)
    rows[0]["paper_id"], rows[1]["upvotes"] = None, -1
    with pytest.raises(pandera.errors.SchemaErrors) as raised:
        checks.validate(pa.Table.from_pylist(rows, schema=schema.arrow), lazy=True)
    failed = {(c["column"], c["check"]) for c in raised.value.failure_cases.to_pylist()}
    assert failed == {("paper_id", "not_nullable"), ("upvotes", "greater_than_or_equal_to(0)")}
    with pytest.raises(DatasetError, match="unsupported dtype Decimal"):
        schema_of({"version": "1", "columns": {"x": {"dtype": "Decimal"}}})


def test_the_arrow_schema_needs_no_pandera_import() -> None:
    code = (
        "import sys; from dataset_builder.schema import paper_schema; paper_schema().arrow; "
        "assert 'pandera' not in sys.modules, 'pandera imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_checks_run_in_several_threads_at_once() -> None:
    """pandera retries importing an optional backend in every validation: unserialized, four threads
    checking at once failed within 1 to 130 checks each (AttributeError inside pandera)."""
    tables = [batch(), batch(title="ab")]
    results: list[list[str]] = [[] for _ in range(4)]

    def work(found: list[str]) -> None:
        for i in range(15):
            try:
                found.extend(p.rule for p in check(tables[i % 2], "d.txt"))
            except Exception as e:  # the assert below names it
                found.append(repr(e))

    threads = [threading.Thread(target=work, args=(found,)) for found in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [["title-length"] * 7] * 4


def pandera_passes(table: pa.Table) -> bool:
    try:
        paper_schema().pandera.validate(table, lazy=True)
    except pandera.errors.SchemaErrors:
        return False
    return True


def test_each_check_the_verdict_evaluates_computes_what_panderas_own_function_does() -> None:
    """`ROW_CHECKS` restates pandera's built-in checks in pyarrow: each must give, value by value, what
    pandera's narwhals function gives on the same Arrow column, for the arguments the YAML could use."""
    import narwhals.stable.v1 as nw
    from pandera.backends.narwhals import builtin_checks

    texts = pa.chunked_array([["", "a", "ab", "abc", "é" * 2, "e\u0301", "x1", "1x", "X", None]])
    numbers = pa.chunked_array([[-1, 0, 1, 5, None]], pa.int32())
    cases: list[tuple[str, pa.ChunkedArray, dict[str, object]]] = [
        ("str_length", texts, {"min_value": 2}),
        ("str_length", texts, {"max_value": 2}),
        ("str_length", texts, {"min_value": 1, "max_value": 2}),
        ("str_length", texts, {"exact_value": 2}),
        ("str_matches", texts, {"pattern": "x"}),
        ("str_matches", texts, {"pattern": "^[a-z]$"}),
        ("str_matches", texts, {"pattern": r"\d"}),
        ("str_matches", texts, {"pattern": "(?i)x|a"}),
        ("greater_than_or_equal_to", numbers, {"min_value": 0}),
        ("greater_than_or_equal_to", numbers, {"min_value": 1}),
    ]
    assert {name for name, _, _ in cases} == set(ROW_CHECKS)
    for name, values, arguments in cases:
        ours = ROW_CHECKS[name](values, **arguments)
        expression = getattr(builtin_checks, name)(nw.col("v"), **arguments)
        theirs = nw.from_native(pa.table({"v": values})).select(expression).to_native().column(0)
        assert ours is not None and ours.to_pylist() == theirs.to_pylist(), (name, arguments)


def test_the_fast_verdict_agrees_with_pandera_on_every_check_at_its_bounds() -> None:
    """`check` trusts `all_rows_pass` to skip pandera's validate: a True there must be pandera's pass.
    Each check of the YAML at and beyond its bounds, nulls where allowed and where not, non-ASCII
    lengths (characters, not bytes), and a failing row among passing ones."""
    valid = batch()
    cases: list[dict[str, object]] = [{}]
    for column, low, high in (("title", 3, 300), ("abstract", 50, 10_000), ("source_file", 1, 255)):
        for length in (low - 1, low, high, high + 1):
            cases += [{column: "x" * length}, {column: "é" * length}, {column: "e\u0301" * (length // 2)}]
    for value in ("0123456789abcdef", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", None):
        cases += [{"paper_id": value}, {"near_duplicate_of": value}]
    arxiv = ("2401.00001", "2401.00001v2", "0704.0001", "1412.12345", "hep-th/9901001", "2413.00001", "")
    cases += [{"arxiv_id": value} for value in arxiv]
    cases += [{"source_line": line} for line in (0, 1, -5)]
    cases += [{"upvotes": votes} for votes in (-1, 0, 7, None)]
    cases += [{"title": None}, {"abstract": None}, {"also_in": None}, {"authors": None}, {"authors": ["A"]}]
    verdicts = []
    for overrides in cases:
        table = batch(**overrides)
        verdicts.append(all_rows_pass(table))
        assert verdicts[-1] == pandera_passes(table), overrides
        # The verdict is made of row-wise checks only (`_all_pass` gives up on any other), so the row
        # among valid ones decides as it does alone.
        assert all_rows_pass(pa.concat_tables([valid, table, valid])) == verdicts[-1], overrides
    assert True in verdicts and False in verdicts
    assert all_rows_pass(paper_schema().arrow.empty_table())
    assert not all_rows_pass(valid.drop_columns(["upvotes"]))  # not the paper schema: pandera decides
