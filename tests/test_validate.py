"""`dataset-builder validate` over a corpus of broken and odd dumps (tests/corpus/).

Each broken dump must fail with exit 1 and a message naming the file and the right line; each tolerated
variation must pass. The corpus files are real bytes (Latin-1, UTF-16, CR line endings, ...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DUMPS, WriteDump

from dataset_builder.cli import cli

CORPUS = Path(__file__).parent / "corpus"

BROKEN = {
    "orphan_title.txt": [(5, "orphan-title")],
    "stray_ui_line.txt": [(17, "stray-ui-line")],
    "short_abstract.txt": [(6, "abstract-length")],
    "short_title.txt": [(5, "title-length")],
    "control_chars.txt": [(5, "control-char")],
    "latin1.txt": [(5, "not-utf8")],
    "utf16.txt": [(None, "utf16")],
    "empty.txt": [(None, "empty-file")],
    "header_only.txt": [(None, "no-papers")],
    "blank_lines_only.txt": [(None, "no-papers")],
    "binary.txt": [(None, "binary-file")],
    "broken_abstract.txt": [(9, "broken-abstract")],
}
TOLERATED = sorted(p.name for p in CORPUS.glob("ok_*.txt"))


def validate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_dump_fails_naming_file_line_and_rule(name: str) -> None:
    path = CORPUS / name
    code, output = validate(str(path))
    assert code == 1
    reported = [row for row in output.splitlines() if row.startswith(f"{path}:")]
    assert len(reported) == len(BROKEN[name]), output
    for row, (line, rule) in zip(reported, BROKEN[name], strict=True):
        location = f"{path}:{line}:" if line is not None else f"{path}: "
        assert row.startswith(location) and f"[{rule}]" in row, row
    assert "Traceback" not in output


@pytest.mark.parametrize("name", TOLERATED)
def test_tolerated_variation_passes(name: str) -> None:
    code, output = validate(str(CORPUS / name))
    assert code == 0, output
    assert "0 problems" in output


def test_conflicting_duplicate_across_dumps_names_both_places() -> None:
    a, b = CORPUS / "conflict_a.txt", CORPUS / "conflict_b.txt"
    code, output = validate(str(a), str(b))
    assert code == 1
    assert f"{b}:5: [duplicate-conflict] same title as {a}:5 but a different abstract" in output


def test_all_problems_of_many_files_are_reported_in_one_run() -> None:
    code, output = validate(*(str(CORPUS / name) for name in sorted(BROKEN)))
    assert code == 1
    assert f"{len(BROKEN)} problems" in output.splitlines()[-1]


def test_a_10_mb_single_line_is_rejected(tmp_path: Path) -> None:
    giant = tmp_path / "giant.txt"
    giant.write_bytes(b"Title " * (10 * 1024 * 1024 // 6))
    code, output = validate(str(giant))
    assert code == 1 and f"{giant}:1: [line-too-long]" in output


def test_github_format_prints_workflow_commands() -> None:
    path = CORPUS / "orphan_title.txt"
    code, output = validate("--format", "github", str(path))
    assert code == 1
    first, last = output.splitlines()[0], output.splitlines()[-1]
    assert first.startswith(f"::error file={path},line=5,title=orphan-title::title has no abstract")
    assert last.startswith("::error::1 file, ")


def test_header_and_footer_lines_are_never_papers_read() -> None:
    path = CORPUS / "ok_footer_invisible_and_lowercase_glued_title.txt"
    result = CliRunner().invoke(cli, ["validate", "--format", "json", str(path)])
    counts = json.loads(result.output)["counts"]
    assert (counts["read"], counts["kept"], counts["rejected"], counts["problems"]) == (2, 2, 0, 0)


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    """A folder of dumps with every kind of path that is not a readable dump file among good ones."""
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "good.txt").write_bytes((DUMPS / "000_83255905406594dc.txt").read_bytes())
    (folder / "UPPER.TXT").write_bytes((DUMPS / "001_1bef2119a8aaeb71.txt").read_bytes())
    os.mkfifo(folder / "pipe.txt")
    (folder / "folder.txt").mkdir()
    (folder / "broken.txt").symlink_to(folder / "nowhere")
    (folder / "notes.md").write_text("not a dump, not read")
    return folder


ODD = [
    ("broken.txt", "not-a-file"),
    ("folder.txt", "not-a-file"),
    ("pipe.txt", "not-a-file"),
]


def test_odd_paths_among_dumps_are_problems_in_text(odd_folder: Path) -> None:
    code, output = validate(str(odd_folder))
    assert code == 1
    for name, rule in ODD:
        assert f"{odd_folder / name}: [{rule}]" in output
    assert output.splitlines()[-1].startswith("2 files,")  # good.txt and UPPER.TXT were read
    assert "Traceback" not in output and "notes.md" not in output


@pytest.mark.parametrize("command", ["validate", "build"])
def test_odd_paths_are_problems_in_json_on_stdout(odd_folder: Path, tmp_path: Path, command: str) -> None:
    args = [command, str(odd_folder), "--format", "json"]
    if command == "build":
        args += ["--out", str(tmp_path / "out"), "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(Path(p["file"]).name, p["rule"]) for p in report["problems"]] == ODD
    assert sorted(f["file"] for f in report["files"]) == ["UPPER.TXT", "good.txt"]
    assert not (tmp_path / "out").exists()


def test_a_fifo_given_directly_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "dump.txt"
    os.mkfifo(fifo)
    code, output = validate(str(fifo))  # opening a FIFO with no writer would block until the timeout
    assert code == 1 and f"{fifo}: [not-a-file]" in output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_dump_is_a_problem(write_dump: WriteDump) -> None:
    path = write_dump("locked.txt", ["Alpha"])
    path.chmod(0)
    code, output = validate(str(path.parent))
    assert code == 1 and f"{path}: [unreadable]" in output


def test_refused_input_is_json_on_stdout_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert (problem["file"], problem["rule"]) == (str(tmp_path), "no-dumps")


def test_a_batch_whose_every_paper_fails_the_schema_is_reported_not_a_crash(write_dump: WriteDump) -> None:
    path = write_dump("short.txt", ["Subscribe", "A perfectly fine title", "Too short abstract here."])
    code, output = validate(str(path))
    assert code == 1 and "Traceback" not in output and "This is a bug" not in output
    assert (
        f"{path}:3: [abstract-length] abstract is 24 characters long; abstracts have 50 to 10,000" in output
    )
    build = CliRunner().invoke(
        cli, ["build", str(DUMPS), "--batch-size", "1", "--out", str(path.parent / "o")]
    )
    assert build.exit_code == 0, build.output


def test_a_missing_path_or_broken_link_given_directly_is_a_problem_in_text_and_json(tmp_path: Path) -> None:
    missing, broken = tmp_path / "nothere.txt", tmp_path / "broken.txt"
    broken.symlink_to(tmp_path / "nowhere")
    code, output = validate(str(missing), str(broken))
    assert code == 1
    assert f"{missing}: [not-found]" in output and f"{broken}: [not-a-file]" in output
    result = CliRunner().invoke(cli, ["validate", str(missing), "--format", "json"])
    assert result.exit_code == 1
    assert [p["rule"] for p in json.loads(result.stdout)["problems"]] == ["not-found"]
