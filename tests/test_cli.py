"""cli.py: commands, output and exit codes (0 ok, 1 invalid input or failure, 2 usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DUMPS, ROOT, WriteDump, abstract

from dataset_builder import card
from dataset_builder.cli import DEFAULT_REPO_ID, cli, parse_size


def test_build_writes_dist_and_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(DUMPS), "--out", str(tmp_path / "dist"), "-q"])
    assert result.exit_code == 0, result.output
    summary = " ".join(result.output.split())
    assert "Read 642 papers from 5 dumps; removed 46 duplicates; wrote 596 rows in 5 splits" in summary
    assert max(len(line) for line in result.output.splitlines()) <= 100
    assert (tmp_path / "dist" / "README.md").is_file()


def test_build_refuses_invalid_input_with_the_report_and_exit_1(
    write_dump: WriteDump, tmp_path: Path
) -> None:
    write_dump("bad.txt", ["Alpha", abstract("alpha"), "Subscribe", "Beta", abstract("beta")])
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "dumps"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "bad.txt:3: [stray-ui-line]" in result.output
    assert not (tmp_path / "o").exists()


def test_validate_exit_codes(write_dump: WriteDump, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["validate", str(DUMPS)])
    assert ok.exit_code == 0 and "0 problem(s)" in ok.output
    write_dump("bad.txt", ["Alpha"])
    bad = runner.invoke(cli, ["validate", str(tmp_path / "dumps")])
    assert bad.exit_code == 1 and "bad.txt:1: [orphan-title]" in bad.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--max-shard-size", "lots"]).exit_code == 2
    assert runner.invoke(cli, ["validate", str(tmp_path / "missing.txt")]).exit_code == 2
    assert runner.invoke(cli, ["validate", "--format", "xml"]).exit_code == 2


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dataset_builder", "--help"], capture_output=True, text=True, check=True
    )
    assert "build" in result.stdout and "validate" in result.stdout


def test_on_conflict_lists_every_revision_in_text_and_json(write_dump: WriteDump, tmp_path: Path) -> None:
    write_dump("a.txt", ["Alpha", abstract("alpha, v1")])
    write_dump("b.txt", ["Alpha", abstract("alpha, v2")])
    dumps = str(tmp_path / "dumps")
    refused = CliRunner().invoke(cli, ["validate", dumps])
    assert refused.exit_code == 1 and "--on-conflict first or last" in refused.output
    text = CliRunner().invoke(cli, ["validate", dumps, "--on-conflict", "last"])
    assert text.exit_code == 0, text.output
    assert f"{tmp_path}/dumps/a.txt:1: revised paper " in text.output
    assert f"kept the version of {tmp_path}/dumps/b.txt:1 (--on-conflict last)" in text.output
    result = CliRunner().invoke(cli, ["validate", dumps, "--on-conflict", "first", "--format", "json"])
    [revision] = json.loads(result.output)["revisions"]
    assert revision["policy"] == "first" and revision["kept"]["file"] == "a.txt"
    assert [v["file"] for v in revision["versions"]] == ["a.txt", "b.txt"]
    built = CliRunner().invoke(cli, ["build", dumps, "--out", str(tmp_path / "o"), "--on-conflict", "last"])
    assert built.exit_code == 0 and "merged 1 revision of 1 paper" in built.output


def test_sizes_are_read_as_datasets_reads_them() -> None:
    from datasets.utils.py_utils import convert_file_size_to_int

    for text in ("500MB", "64KiB", "1GiB", "3gb", "7Mb", "2kb", "1PiB", "5TB", "10tib", "8Kb"):
        assert parse_size(text) == convert_file_size_to_int(text)
    for text in ("lots", "MB", "1.5GB", "12"):
        with pytest.raises(ValueError):
            parse_size(text)
        with pytest.raises(ValueError):
            convert_file_size_to_int(text)


def test_validate_imports_neither_datasets_nor_huggingface_hub() -> None:
    code = "import sys; from dataset_builder.cli import main; sys.argv = ['x', 'validate', 'dumps']\n"
    code += "try:\n    main()\nexcept SystemExit:\n    pass\n"
    code += "print(sorted({m.split('.')[0] for m in sys.modules} & {'datasets', 'huggingface_hub'}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert DEFAULT_REPO_ID == card.DEFAULT_REPO_ID
