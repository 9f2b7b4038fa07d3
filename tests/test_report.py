"""report.py: the JSON report's documented shape, and the text and GitHub renderings."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import DUMPS, WriteDump, abstract

from dataset_builder.cli import cli
from dataset_builder.keys import paper_id, title_hash
from dataset_builder.pipeline import validate_dumps
from dataset_builder.records import Problem
from dataset_builder.report import Report


def test_json_report_shape_is_pinned(write_dump: WriteDump, tmp_path) -> None:
    write_dump("a.txt", ["Alpha", abstract("alpha"), "Orphan", "Beta", abstract("beta")])
    write_dump("b.txt", ["ALPHA", abstract("alpha")])
    report = validate_dumps([tmp_path / "dumps"]).to_dict()
    assert list(report) == [
        "version",
        "valid",
        "counts",
        "files",
        "problems",
        "duplicates",
        "revisions",
        "near_duplicates",
        "omitted",
    ]
    assert report["version"] == 1 and report["valid"] is False
    assert report["counts"] == {
        "files": 2,
        "read": 4,
        "kept": 2,
        "duplicates": 1,
        "rejected": 1,
        "revisions": 0,
        "near_duplicates": 0,
        "problems": 1,
    }
    first = report["files"][0]
    assert list(first) == [
        "file",
        "path",
        "sha256",
        "split",
        "read",
        "kept",
        "duplicates",
        "rejected",
        "revisions",
        "near_duplicates",
        "with_arxiv_id",
    ]
    assert (first["file"], first["split"], first["read"], first["kept"]) == ("a.txt", "a", 3, 2)
    assert report["problems"] == [
        {
            "file": str(tmp_path / "dumps" / "a.txt"),
            "line": 3,
            "column": None,
            "rule": "orphan-title",
            "message": "title has no abstract: line 4 looks like the next title",
            "value": "Orphan",
        }
    ]
    assert report["duplicates"] == [
        {
            "file": "b.txt",
            "line": 1,
            "paper_id": paper_id(title_hash("ALPHA")),
            "first_file": "a.txt",
            "first_line": 1,
        }
    ]


def test_every_removed_repeat_is_named_in_text_and_github(write_dump: WriteDump, tmp_path) -> None:
    write_dump("a.txt", ["Alpha", abstract("alpha"), "Beta", abstract("beta"), "ALPHA", abstract("alpha")])
    write_dump("b.txt", ["Beta", abstract("beta"), "Gamma", abstract("gamma")])
    a, b = tmp_path / "dumps" / "a.txt", tmp_path / "dumps" / "b.txt"
    report = validate_dumps([tmp_path / "dumps"])
    assert len(report.to_dict()["duplicates"]) == 2
    text = report.render("text").splitlines()
    assert f"{a}:5: [duplicate] same paper as {a}:1; removed" in text  # inside one dump
    assert f"{b}:1: [duplicate] same paper as {a}:3; removed" in text  # across dumps
    github = report.render("github").splitlines()
    assert f"::notice file={a},line=5,title=duplicate::same paper as {a}:1; removed" in github
    assert sum(line.startswith("::notice file=") for line in github) == 2


def test_cli_json_equals_the_library_report() -> None:
    result = CliRunner().invoke(cli, ["validate", "--format", "json", str(DUMPS)])
    assert result.exit_code == 0
    assert json.loads(result.output) == validate_dumps([DUMPS]).to_dict()


def test_text_lines_are_file_line_rule_message_and_short_value() -> None:
    problem = Problem("dumps/x.txt", 7, "abstract-length", "abstract fails str_length", "y" * 500, 3)
    assert str(problem) == f"dumps/x.txt:7:3: [abstract-length] abstract fails str_length ('{'y' * 57}...')"


def test_github_commands_escape_what_the_runner_would_misread() -> None:
    report = Report(problems=[Problem("dumps/a,b.txt", 2, "orphan-title", "100% wrong\nreally")])
    [command, summary] = report.render("github").splitlines()
    assert command == "::error file=dumps/a%2Cb.txt,line=2,title=orphan-title::100%25 wrong%0Areally"
    assert summary.startswith("::error::0 files")
    assert Report().render("github").startswith("::notice::")
