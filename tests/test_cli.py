"""cli.py: commands, output and exit codes (0 ok, 1 invalid input or failure, 2 usage)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DUMPS, PYTHON, ROOT, WriteDump, abstract, hub_env, invoke
from hub_server import HubServer

from dataset_builder import cli as cli_module
from dataset_builder.cli import cli, parse_size
from dataset_builder.pipeline import BuildResult


def test_build_writes_dist_and_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(DUMPS), "--out", str(tmp_path / "dist"), "-q"])
    assert result.exit_code == 0, result.output
    summary = " ".join(result.output.split())
    assert (
        "5 dumps, 642 papers read = 596 kept + 46 duplicates removed + 0 revisions merged + 0 rejected; "
        "wrote 596 rows (000_83255905406594dc 59,"
    ) in summary
    notes = [line for line in result.output.splitlines() if " [duplicate] same paper as " in line]
    assert len(notes) == 46  # one per removed duplicate, FILE:LINE first (not wrapped)
    prose = [line for line in result.output.splitlines() if line not in notes]
    assert max(len(line) for line in prose) <= 100
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
    assert ok.exit_code == 0 and "0 problems" in ok.output
    write_dump("bad.txt", ["Alpha"])
    bad = runner.invoke(cli, ["validate", str(tmp_path / "dumps")])
    assert bad.exit_code == 1 and "bad.txt:1: [orphan-title]" in bad.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--max-shard-size", "lots"]).exit_code == 2
    assert runner.invoke(cli, ["validate", "--format", "xml"]).exit_code == 2
    assert runner.invoke(cli, ["validate", str(tmp_path), "--dist", str(tmp_path)]).exit_code == 2


def test_on_conflict_lists_every_revision_in_text_and_json(write_dump: WriteDump, tmp_path: Path) -> None:
    write_dump("a.txt", ["Alpha", abstract("alpha, v1")])
    write_dump("b.txt", ["Alpha", abstract("alpha, v2")])
    dumps = str(tmp_path / "dumps")
    refused = CliRunner().invoke(cli, ["validate", dumps])
    assert refused.exit_code == 1 and "--on-conflict first or last" in refused.output
    text = CliRunner().invoke(cli, ["validate", dumps, "--on-conflict", "last"])
    assert text.exit_code == 0, text.output
    assert f"{tmp_path}/dumps/a.txt:1: [revision] revised paper " in text.output
    assert f"2 versions ({tmp_path}/dumps/a.txt:1, {tmp_path}/dumps/b.txt:1)" in text.output
    assert f"the abstract of {tmp_path}/dumps/b.txt:1 (--on-conflict last)" in text.output
    github = CliRunner().invoke(cli, ["validate", dumps, "--on-conflict", "last", "--format", "github"])
    assert f"::notice file={tmp_path}/dumps/a.txt,line=1,title=revision::revised paper" in github.output
    result = CliRunner().invoke(cli, ["validate", dumps, "--on-conflict", "first", "--format", "json"])
    [revision] = json.loads(result.output)["revisions"]
    assert revision["policy"] == "first" and revision["kept"]["file"] == "a.txt"
    assert [v["file"] for v in revision["versions"]] == ["a.txt", "b.txt"]
    built = CliRunner().invoke(cli, ["build", dumps, "--out", str(tmp_path / "o"), "--on-conflict", "last"])
    assert built.exit_code == 0
    assert "2 papers read = 1 kept + 0 duplicates removed + 1 revision merged (of 1 paper) + 0 rejected" in (
        " ".join(built.output.split())
    )


def test_near_duplicates_are_warnings_validate_still_exits_0(write_dump: WriteDump, tmp_path: Path) -> None:
    write_dump("a.txt", ["Sparse Attention for Long-Context Models", abstract("sparse attention")])
    write_dump("b.txt", ["Sparse Atention for Long Context Models", abstract("sparse attention")])
    dumps = str(tmp_path / "dumps")
    text = CliRunner().invoke(cli, ["validate", dumps])
    assert text.exit_code == 0, text.output
    assert f"{dumps}/b.txt:1: [near-duplicate] close to {dumps}/a.txt:1 (title similarity" in text.output
    assert "1 near-duplicate, 0 problems" in text.output
    result = CliRunner().invoke(cli, ["validate", dumps, "--format", "json"])
    assert result.exit_code == 0
    [pair] = json.loads(result.output)["near_duplicates"]
    assert (pair["file"], pair["line"], pair["first_file"], pair["first_line"]) == ("b.txt", 1, "a.txt", 1)
    assert pair["abstract_similarity"] == 1.0 and 0.9 < pair["title_similarity"] < 1.0
    github = CliRunner().invoke(cli, ["validate", dumps, "--format", "github"])
    assert f"::warning file={dumps}/b.txt,line=1,title=near-duplicate::close to" in github.output


def hostile_runs(tmp_path: Path, dist: Path) -> list[list[str]]:
    """Command lines a careless or hostile user might type, with odd files to point them at."""
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 64)
    broken = Path(shutil.copytree(dist, tmp_path / "broken-card"))
    (broken / "README.md").write_bytes(b"---\nconfigs: [unclosed\n---\n")
    no_configs = Path(shutil.copytree(dist, tmp_path / "no-configs"))
    (no_configs / "README.md").write_bytes(b"---\nlicense: mit\n---\n")
    garbage = Path(shutil.copytree(dist, tmp_path / "garbage-card"))
    (garbage / "README.md").write_bytes(b"---\nconfigs: [5]\ndataset_info: 3\n---\n\xff\xfe")
    user = tmp_path / "user"
    (user / "data").mkdir(parents=True)
    (user / "README.md").write_text("mine")
    missing = str(tmp_path / "missing")
    out = ["--out", str(tmp_path / "out"), "-q"]
    runs = [
        ["build", missing, *out],
        ["build", str(fifo), *out],
        ["build", str(binary), *out],
        ["build", str(tmp_path), *out],
        ["build", str(DUMPS), "--out", str(user), "-q"],
        ["build", str(DUMPS), "--out", str(binary), "-q"],
        ["build", str(DUMPS), "--max-shard-size", "0", *out],
        ["build", str(DUMPS), "--max-shard-size", "-1KB", *out],
        ["build", str(DUMPS), "--max-shard-size", "1e999", *out],
        ["build", str(DUMPS), "--batch-size", "0", *out],
        ["build", str(DUMPS), "--workers", "-3", *out],
        ["validate", str(fifo), str(binary)],
        ["validate", "--dist", str(broken)],
        ["validate", "--dist", str(no_configs)],
        ["validate", "--dist", str(garbage)],
        ["validate", "--dist", str(binary)],
        ["validate", "--dist", missing],
        ["publish", str(broken), "--repo-id", "org/name"],
        ["publish", str(dist), "--repo-id", "not a repo id"],
        ["publish", str(dist), "--repo-id", "a/b/c"],
        ["publish", str(dist)],
        ["nonsense"],
    ]
    doubled = [[*prefix, *run] for run in runs for prefix in ([], ["--verbose"]) if "--verbose" not in run]
    # conftest's HF_ENDPOINT is a closed port; retried, it would wait 7 s
    unreachable = ["publish", str(dist), "--repo-id", "org/name", "--dry-run", "--retries", "0"]
    return [*doubled, [*unreachable, "--format", "json"]]


def test_no_command_ever_prints_a_traceback(built: BuildResult, tmp_path: Path) -> None:
    for args in hostile_runs(tmp_path, built.out):
        for fmt in ([], ["--format", "json"]) if args[-1] not in ("nonsense", "json") else ([],):
            result = CliRunner().invoke(cli, [*args, *fmt])
            shown = " ".join(args + fmt)
            assert result.exit_code in (1, 2), f"{shown}: exit {result.exit_code}\n{result.output}"
            assert isinstance(result.exception, SystemExit | None), f"{shown}: {result.exception!r}"
            assert "Traceback" not in result.output and "This is a bug" not in result.output, shown
            if fmt and result.exit_code == 1:
                json.loads(result.stdout)  # --format json: the report on stdout, whatever went wrong


def test_an_unexpected_exception_is_one_line_and_the_traceback_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk\nfell off")

    monkeypatch.setattr(cli_module, "validate_dumps", broken)
    quiet = CliRunner().invoke(cli, ["validate", str(DUMPS)])
    assert quiet.exit_code == 1 and isinstance(quiet.exception, SystemExit | None)
    assert quiet.output.splitlines() == [
        "Error: RuntimeError: the disk fell off. This is a bug, please report it with the output of "
        "the same command with --verbose."
    ]
    verbose = CliRunner().invoke(cli, ["--verbose", "validate", str(DUMPS)])
    assert verbose.exit_code == 1
    assert "Traceback (most recent call last)" in verbose.output and "in broken" in verbose.output


def test_a_password_in_hf_endpoint_and_the_token_are_never_printed(
    built: BuildResult, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with HubServer(tmp_path / "hub") as hub:
        endpoint = hub.url.replace("http://", "http://user:s3cr3t-pw@")
        env = hub_env(hub, tmp_path / "home") | {"HF_ENDPOINT": endpoint, "HF_TOKEN": "hf_tok3n_value"}
        args = ["--verbose", "publish", str(built.out), "--repo-id", "org/papers"]
        dry = invoke(*args, "--dry-run", env=env)
        assert dry.returncode == 0, dry.output
        closed = env | {"HF_ENDPOINT": "http://user:s3cr3t-pw@127.0.0.1:9"}
        unreachable = invoke(*args, "--retries", "1", env=closed)  # one retry: its log line names the Hub
        assert unreachable.returncode == 1
        assert "could not reach the Hub at http://***@127.0.0.1:9" in unreachable.stderr
        assert "http://***@127.0.0.1:9" in caplog.text
        # In a process of its own: its log lines (-v) go to stderr, not to pytest's log capture.
        command = [PYTHON, "-m", "dataset_builder", *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    outputs = [dry.output + unreachable.output + caplog.text, done.stdout + done.stderr]
    for output in outputs:  # --verbose logs every request, in the process and in its log records
        assert "HTTP Request: GET http://***@127.0.0.1" in output
        assert "s3cr3t-pw" not in output and "hf_tok3n_value" not in output


def test_commands_run_outside_the_main_thread_too() -> None:
    """Signal handlers can only be set in the main thread; elsewhere the CLI leaves them alone."""
    results = []
    worker = threading.Thread(
        target=lambda: results.append(CliRunner().invoke(cli, ["validate", str(DUMPS)]))
    )
    worker.start()
    worker.join()
    assert results[0].exit_code == 0, results[0].output


def test_the_policies_come_from_the_settings_file_and_options_override_them(
    write_dump: WriteDump, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dump("a.txt", ["Alpha", abstract("alpha, v1")])
    write_dump("b.txt", ["Alpha", abstract("alpha, v2")])
    (tmp_path / "dataset-builder.toml").write_text('on-conflict = "last"\nnear-duplicates = "off"\n')
    monkeypatch.chdir(tmp_path)
    from_settings = CliRunner().invoke(cli, ["validate", "--format", "json"])
    assert from_settings.exit_code == 0, from_settings.output
    assert json.loads(from_settings.stdout)["revisions"][0]["policy"] == "last"
    overridden = CliRunner().invoke(cli, ["validate", "--on-conflict", "error"])
    assert overridden.exit_code == 1 and "[duplicate-conflict]" in overridden.output
    built = CliRunner().invoke(cli, ["build", "-q"])
    assert built.exit_code == 0 and "1 revision merged" in " ".join(built.output.split())


def test_sizes_are_read_as_datasets_reads_them() -> None:
    from datasets.utils.py_utils import convert_file_size_to_int

    for text in ("500MB", "64KiB", "1GiB", "3gb", "7Mb", "2kb", "1PiB", "5TB", "10tib", "8Kb"):
        assert parse_size(text) == convert_file_size_to_int(text)
    for text in ("lots", "MB", "1.5GB", "12"):
        with pytest.raises(ValueError):
            parse_size(text)
        with pytest.raises(ValueError):
            convert_file_size_to_int(text)


def test_help_imports_no_dataframe_library_and_validate_no_hub_client() -> None:
    """What a command does not use, it does not pay for: `--help` loads neither pandas nor pandera (0.25 s
    and more), `validate` of dumps that pass every check neither pandera (0.8 s of CPU) nor datasets
    nor huggingface_hub. One process, in order."""
    code = "import sys; from dataset_builder.cli import main\n"
    code += "def loaded(names):\n    return sorted({m.split('.')[0] for m in sys.modules} & names)\n"
    code += "for args, names in ((['--help'], {'pandas', 'pandera', 'datasets', 'huggingface_hub'}),\n"
    code += "                    (['validate', 'dumps'], {'pandera', 'datasets', 'huggingface_hub'})):\n"
    code += "    sys.argv = ['x', *args]\n"
    code += "    try:\n        main()\n    except SystemExit:\n        pass\n"
    code += "    print('loaded', loaded(names))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert [line for line in done.stdout.splitlines() if line.startswith("loaded")] == ["loaded []"] * 2
