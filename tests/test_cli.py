"""cli.py: commands, output and exit codes (0 ok, 1 invalid input or failure, 2 usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import DUMPS, WriteDump, abstract

from dataset_builder.cli import cli


def test_build_writes_dist_and_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(DUMPS), "--out", str(tmp_path / "dist"), "-q"])
    assert result.exit_code == 0, result.output
    assert "Read 642 papers from 5 dump(s); removed 46 duplicates; wrote 596 rows" in result.output
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


def test_near_duplicates_are_warnings_validate_still_exits_0(write_dump: WriteDump, tmp_path: Path) -> None:
    write_dump("a.txt", ["Sparse Attention for Long-Context Models", abstract("sparse attention")])
    write_dump("b.txt", ["Sparse Atention for Long Context Models", abstract("sparse attention")])
    dumps = str(tmp_path / "dumps")
    text = CliRunner().invoke(cli, ["validate", dumps])
    assert text.exit_code == 0, text.output
    assert f"{dumps}/b.txt:1: [near-duplicate] close to {dumps}/a.txt:1 (title similarity" in text.output
    assert "1 near-duplicate, 0 problem(s)" in text.output
    result = CliRunner().invoke(cli, ["validate", dumps, "--format", "json"])
    assert result.exit_code == 0
    [pair] = json.loads(result.output)["near_duplicates"]
    assert (pair["file"], pair["line"], pair["first_file"], pair["first_line"]) == ("b.txt", 1, "a.txt", 1)
    assert pair["abstract_similarity"] == 1.0 and 0.9 < pair["title_similarity"] < 1.0
    github = CliRunner().invoke(cli, ["validate", dumps, "--format", "github"])
    assert f"::warning file={dumps}/b.txt,line=1,title=near-duplicate::close to" in github.output
