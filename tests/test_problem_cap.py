"""Reports hold bounded memory: the first problems of each rule per file are listed, the rest counted."""

from __future__ import annotations

import json

from conftest import WriteDump

from dataset_builder.errors import InvalidInput
from dataset_builder.pipeline import validate_dumps
from dataset_builder.report import MAX_PROBLEMS_PER_RULE


def test_repeated_problems_of_one_rule_are_counted_past_the_first_hundred(write_dump: WriteDump) -> None:
    dump = write_dump("titles.txt", [f"A title without an abstract number {i}" for i in range(300)])
    report = validate_dumps([dump])
    assert len(report.problems) == MAX_PROBLEMS_PER_RULE == 100
    assert [p.line for p in report.problems] == list(range(1, 101))
    assert report.omitted == {(str(dump), "orphan-title"): 200}
    assert report.problem_count == 300 and report.total("rejected") == 300 and not report.ok
    data = json.loads(report.render("json"))
    assert data["counts"]["problems"] == 300 and len(data["problems"]) == 100
    assert data["omitted"] == [{"file": str(dump), "rule": "orphan-title", "count": 200}]
    text = report.render("text").splitlines()
    assert (
        text[100] == f"{dump}: [orphan-title] 200 more problems of this rule (only the first 100 are listed)"
    )
    assert text[-1].endswith("300 problems")
    assert str(InvalidInput(report)).startswith("300 problems in the input")
    github = report.render("github").splitlines()
    assert github[100].startswith("::error file=") and "200 more problems" in github[100]
