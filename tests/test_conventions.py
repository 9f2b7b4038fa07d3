"""CLI conventions: -v/-q anywhere, stage times with --verbose, GitHub annotations from build too,
summaries that add up, publish showing what the build warns about, the Xet upload path, and the stand-in
Hub started by hand."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DUMPS, PYTHON, ROOT, WriteDump, abstract, hub_env, invoke
from hub_server import HubServer

from dataset_builder.cli import cli
from dataset_builder.pipeline import BuildResult

FIRST_PASS = "first pass (read, parse, validate)"
BUILD_STAGES = [FIRST_PASS, "dedup", "near-duplicates", "write", "card"]
PUBLISH_STAGES = ["plan", "upload", "commit", "tag"]
ACCOUNTING = re.compile(
    r"([\d,]+) papers? read = ([\d,]+) kept \+ ([\d,]+) duplicates? removed \+ ([\d,]+) revisions? merged"
    r"(?: \(of [\d,]+ papers?\))? \+ ([\d,]+) rejected"
)


def near_duplicate_dumps(folder: Path) -> Path:
    """Two dumps whose only papers are a near-duplicate pair (a typo in the title)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.txt").write_text(
        f"Sparse Attention for Long-Context Models\n{abstract('sparse attention')}\n"
    )
    (folder / "b.txt").write_text(
        f"Sparse Atention for Long Context Models\n{abstract('sparse attention')}\n"
    )
    return folder


def stages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m.split(":")[0] for m in caplog.messages if re.search(r": \d+\.\d\d s$", m)]


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_verbose_and_quiet_go_before_or_after_the_command(
    before: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def invoke(command: str, *args: str) -> list[str]:
        caplog.clear()
        flags = ["-v", "-q"]
        line = [*flags, command, *args] if before else [command, *args, *flags]
        result = CliRunner().invoke(cli, line)
        assert result.exit_code == 0, result.output
        return stages(caplog)

    assert invoke("build", str(DUMPS), "--out", str(tmp_path / "dist")) == BUILD_STAGES
    assert invoke("validate", str(DUMPS)) == [FIRST_PASS, "dedup", "near-duplicates"]
    caplog.clear()
    assert CliRunner().invoke(cli, ["validate", str(DUMPS)]).exit_code == 0
    assert stages(caplog) == []  # without -v: no stage lines


def test_verbose_logs_each_stage_with_its_time_on_stderr(tmp_path: Path) -> None:
    """As `python -m dataset_builder`, which runs the same command as the `dataset-builder` script."""
    out = tmp_path / "dist"
    command = [PYTHON, "-m", "dataset_builder", "build", str(DUMPS), "--out", str(out), "--verbose"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    logged = re.findall(r"^INFO (.+): \d+\.\d\d s$", done.stderr, re.M)
    assert logged == BUILD_STAGES


def test_build_format_github_writes_annotations_and_a_notice(tmp_path: Path) -> None:
    dumps = near_duplicate_dumps(tmp_path / "dumps")
    result = CliRunner().invoke(
        cli, ["build", str(dumps), "--out", str(tmp_path / "out"), "--format", "github"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line.startswith("::") for line in lines), lines
    assert lines[0].startswith(f"::warning file={dumps}/b.txt,line=1,title=near-duplicate::close to")
    assert lines[-1].startswith("::notice::2 dumps, 2 papers read = 2 kept + 0 duplicates removed")
    assert "wrote 2 rows (a 1, b 1)" in lines[-1] and len(lines) == 2


def test_a_refusal_under_format_github_is_an_annotation_too(built: BuildResult, tmp_path: Path) -> None:
    """A refused publish (here: no Hub at conftest's closed port) shows on the workflow run, not only in
    its log; the password in HF_ENDPOINT stays hidden there too."""
    env = dict(os.environ, HF_ENDPOINT="http://user:pw-s3cret@127.0.0.1:9", HF_TOKEN="hf_x")
    done = invoke(
        "publish", str(built.out), "--repo-id", "org/name", "--retries", "0", "--format", "github", env=env
    )
    assert done.returncode == 1
    assert done.stdout.startswith(
        "::error title=publish-failed::could not reach the Hub at http://***@127.0.0.1:9"
    )
    assert "Error: could not reach the Hub" in done.stderr and "pw-s3cret" not in done.output


@pytest.mark.parametrize("command", ["validate", "build"])
def test_every_summary_adds_up(command: str, tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    shutil.copytree(DUMPS, dumps)
    if command == "validate":  # a dump with a rejected paper too
        shutil.copy(ROOT / "tests" / "corpus" / "orphan_title.txt", dumps / "zz.txt")
    out = ["--out", str(tmp_path / "o")] if command == "build" else []
    result = CliRunner().invoke(cli, [command, str(dumps), *out, "--format", "json"])
    assert result.stdout, (result.exit_code, result.output, result.exc_info)
    counts = json.loads(result.stdout)["counts"]
    text = CliRunner().invoke(cli, [command, str(dumps), *out]).output
    assert "Error" not in text and "problem" not in text.replace("1 problem", ""), text
    match = ACCOUNTING.search(" ".join(text.split()))
    assert match is not None, text
    read, kept, duplicates, revisions, rejected = (int(g.replace(",", "")) for g in match.groups())
    assert read == kept + duplicates + revisions + rejected
    assert (read, kept, duplicates, revisions, rejected) == tuple(
        counts[k] for k in ("read", "kept", "duplicates", "revisions", "rejected")
    )
    assert rejected == (1 if command == "validate" else 0)


def test_publish_shows_the_builds_warnings_before_its_plan_and_times_its_stages(
    hub: HubServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = tmp_path / "project"
    near_duplicate_dumps(project / "dumps")
    (project / "dataset-builder.toml").write_text('repo-id = "org/papers"\n')
    env = hub_env(hub, tmp_path / "home")
    dry = invoke("publish", "--dry-run", cwd=project, env=env)
    assert dry.returncode == 0, dry.output
    warning = dry.output.index("dumps/b.txt:1: [near-duplicate] close to dumps/a.txt:1")
    assert dry.output.index("Built dist first") < warning < dry.output.index("add     README.md")
    caplog.clear()  # the stage lines, in this process, go to caplog (test_verbose_logs_... pins stderr's)
    real = invoke("publish", "--tag", "v1.0.0", "-v", cwd=project, env=env)
    assert real.returncode == 0, real.output
    assert "[near-duplicate]" not in real.output + caplog.text  # dist is up to date: nothing new to say
    assert stages(caplog) == PUBLISH_STAGES


def test_publish_through_xet_fails_cleanly_on_a_server_without_it(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    """huggingface_hub uploads through Xet whenever hf_xet is installed; the stand-in, like a server
    without Xet, refuses its token routes. (The same command with HF_HUB_DISABLE_XET=1, which hub_env
    sets, publishes through LFS: test_cli.py's test_a_password_in_hf_endpoint_...)"""
    pytest.importorskip("hf_xet")
    env = hub_env(hub, tmp_path / "home")
    env.pop("HF_HUB_DISABLE_XET")
    done = subprocess.run(
        [PYTHON, "-m", "dataset_builder", "publish", str(built.out), "--repo-id", "org/papers"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "This is a bug" not in done.stderr and "Traceback" not in done.stderr
    assert "xet-write-token" in done.stderr  # what failed
    assert "nothing landed: no commit was made" in done.stderr
    assert "HF_HUB_DISABLE_XET=1" in done.stderr
    assert [c["title"] for c in hub.commits("org/papers")] == ["initial commit"]
    assert any("/xet-write-token" in path for _, path in hub.requests)


def test_the_stand_in_hub_starts_by_hand_and_says_what_to_set(tmp_path: Path) -> None:
    command = [PYTHON, "-m", "tests.hub_server", "--root", str(tmp_path / "hub")]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first, export = server.stdout.readline(), server.stdout.readline()
        endpoint = re.search(r"Stand-in Hub at (http://127\.0\.0\.1:\d+)", first)
        assert endpoint is not None, first + (server.stderr.read() if server.stderr else "")
        assert export.split() == [
            "export",
            f"HF_ENDPOINT={endpoint[1]}",
            "HF_TOKEN=hf_local",
            "HF_HUB_DISABLE_XET=1",
        ]
        env = dict(os.environ, HF_ENDPOINT=endpoint[1], HF_TOKEN="hf_local", HF_HOME=str(tmp_path / "home"))
        (tmp_path / "dumps").mkdir()
        shutil.copy(DUMPS / "000_83255905406594dc.txt", tmp_path / "dumps")
        done = invoke(
            "publish", "--repo-id", "org/papers", "--dry-run", "--retries", "0", cwd=tmp_path, env=env
        )
        assert done.returncode == 0, done.output  # the plan needs the Hub's answer: the repo is new
        assert "add     data/000_83255905406594dc-00000-of-00001.parquet" in done.stdout
    finally:
        server.send_signal(signal.SIGINT)
        server.wait()
    assert server.returncode == 0


def test_flags_may_repeat_on_both_sides(write_dump: WriteDump) -> None:
    path = write_dump("a.txt", ["A Title", abstract("titles")])
    for line in (["-q", "validate", str(path), "-q"], ["-v", "validate", "-v", str(path)]):
        result = CliRunner().invoke(cli, line)
        assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, ["validate", "--no-such-flag"]).exit_code == 2
    logging.getLogger().setLevel(logging.WARNING)
