"""hub/fetch.py and `dataset-builder fetch`: the Daily Papers listing from the local Hub stand-in, through
the real huggingface_hub session, into one raw-JSON dump per day; hub/http.py's retries and timeouts."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import PYTHON, Ran, hub_env, invoke
from hub_server import HubServer
from huggingface_hub import HfApi
from huggingface_hub.hf_api import PaperInfo

from dataset_builder.cli import cli
from dataset_builder.errors import FetchError
from dataset_builder.hub.fetch import FetchResult, days_between, fetch_days
from dataset_builder.hub.http import Retries

MONDAY, TUESDAY, WEDNESDAY = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
PAGES = "/api/daily_papers"


def entry(day: date, n: int) -> dict[str, Any]:
    """A Daily Papers entry shaped like the Hub's, with fields PaperInfo does not know."""
    arxiv_id = f"{day:%y%m}.{day.day:02d}{n:03d}"
    return {
        "paper": {
            "id": arxiv_id,
            "authors": [{"_id": f"a{n}", "name": "Zoë Müller", "hidden": False}, {"name": "Li Wei"}],
            "publishedAt": f"{day - timedelta(days=1)}T17:59:58.000Z",
            "title": f"Paper {n} of {day}",
            "summary": f"We study problem {n} — with ünïcode — and improve on it.",
            "upvotes": n,
            "discussionId": f"d{arxiv_id}",
            "ai_keywords": ["learning"],
        },
        "publishedAt": f"{day}T06:00:00.000Z",
        "title": f"Paper {n} of {day}",
        "thumbnail": f"https://example.org/{arxiv_id}.png",
        "numComments": n % 3,
        "submittedBy": {"_id": "u1", "fullname": "Ann Submitter", "name": "ann", "type": "user"},
        "isAuthorParticipating": False,
        "fieldFromTheFuture": {"nested": [1, 2]},
    }


def line(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n"


class Waits(list[float]):
    """Records the waits Retries asks for instead of sleeping."""

    def retries(self, **options: Any) -> Retries:
        return Retries(sleep=self.append, **options)


def fetch(
    hub: HubServer, out: Path, days: list[date], waits: Waits | None = None, **options: Any
) -> FetchResult:
    retries = (waits if waits is not None else Waits()).retries(**options.pop("policy", {}))
    # `out` as a notebook may give it (the CLI gives a Path)
    return fetch_days(days, str(out), endpoint=hub.url, retries=retries, **options)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The dumps folder fetch writes into (beside the stand-in's own folder)."""
    return tmp_path / "dumps"


def page_requests(hub: HubServer) -> int:
    return sum(1 for method, path in hub.requests if (method, path) == ("GET", PAGES))


@pytest.fixture
def listed(hub: HubServer) -> dict[date, list[dict[str, Any]]]:
    """Monday: 120 papers (three pages), Tuesday: exactly one full page, Wednesday: none."""
    days = {MONDAY: [entry(MONDAY, n) for n in range(120)], TUESDAY: [entry(TUESDAY, n) for n in range(50)]}
    for day, entries in days.items():
        hub.add_papers(day.isoformat(), entries)
    return days


def test_each_day_becomes_one_dump_of_raw_entries_in_listing_order(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], tmp_path: Path
) -> None:
    out = tmp_path / "dumps"
    result = fetch(hub, out, [MONDAY, TUESDAY, WEDNESDAY])
    assert result.days == {"2026-01-05": "written", "2026-01-06": "written", "2026-01-07": "empty"}
    assert result.papers == {"2026-01-05": 120, "2026-01-06": 50}
    assert sorted(p.name for p in out.iterdir()) == ["2026-01-05.jsonl", "2026-01-06.jsonl"]
    for day, entries in listed.items():
        text = (out / f"{day}.jsonl").read_text(encoding="utf-8")
        assert text == "".join(line(e) for e in entries)  # every field, sorted keys, UTF-8, in order
        assert [PaperInfo(**json.loads(row)).id for row in text.splitlines()] == [
            e["paper"]["id"] for e in entries
        ]
    assert "Zoë Müller" in (out / "2026-01-05.jsonl").read_text(encoding="utf-8")
    assert page_requests(hub) == 3 + 2 + 1  # pages until one comes back short, an empty one included
    summary = result.summary()
    assert f"written   {out / '2026-01-05.jsonl'}: 120 papers" in summary
    assert f"empty     {out / '2026-01-07.jsonl'}: no papers listed; no file written" in summary
    assert summary.endswith(f"Fetched into {out}: 2 written, 1 empty.")


def test_days_without_papers_leave_no_folder_behind(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    result = fetch(hub, out, [WEDNESDAY])
    assert result.days == {"2026-01-07": "empty"} and not out.exists()


def test_the_file_holds_what_list_daily_papers_reads(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    fetch(hub, out, [MONDAY])
    stored = [PaperInfo(**json.loads(row)) for row in (out / "2026-01-05.jsonl").read_text().splitlines()]
    api = HfApi(endpoint=hub.url)
    client = [p for page in range(3) for p in api.list_daily_papers(date="2026-01-05", p=page, limit=50)]
    assert [vars(p) for p in stored] == [vars(p) for p in client]


def test_a_rerun_touches_nothing_and_fetches_only_missing_days(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    fetch(hub, out, [MONDAY, TUESDAY, WEDNESDAY])
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    sent = page_requests(hub)
    again = fetch(hub, out, [MONDAY, TUESDAY, WEDNESDAY])
    assert again.days == {"2026-01-05": "kept", "2026-01-06": "kept", "2026-01-07": "empty"}
    assert page_requests(hub) == sent + 1  # only the day without a file is asked for again
    refreshed = fetch(hub, out, [MONDAY, TUESDAY], refresh=True)
    assert refreshed.by("unchanged") == ["2026-01-05", "2026-01-06"]
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_refresh_replaces_a_changed_day_and_leaves_the_others(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    fetch(hub, out, [MONDAY, TUESDAY])
    tuesday = out / "2026-01-06.jsonl"
    kept = (tuesday.read_bytes(), tuesday.stat().st_mtime_ns)
    late = entry(MONDAY, 999)
    hub.add_papers("2026-01-05", [late])
    result = fetch(hub, out, [MONDAY, TUESDAY], refresh=True)
    assert result.days == {"2026-01-05": "refreshed", "2026-01-06": "unchanged"}
    assert (out / "2026-01-05.jsonl").read_text().splitlines()[-1] == line(late).rstrip("\n")
    assert (tuesday.read_bytes(), tuesday.stat().st_mtime_ns) == kept
    assert sorted(p.name for p in out.iterdir()) == ["2026-01-05.jsonl", "2026-01-06.jsonl"]


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [("7", 7.0), ("3600", 60.0)],  # seconds as asked, capped at a minute
)
def test_a_429_is_retried_after_its_retry_after(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path, retry_after: str, waited: float
) -> None:
    hub.refuse_next("GET", PAGES, 429, retry_after)
    waits = Waits()
    result = fetch(hub, out, [TUESDAY], waits)
    assert waits == [waited] and result.days == {"2026-01-06": "written"}


def test_a_retry_after_http_date_is_waited_until(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    hub.refuse_next(
        "GET", PAGES, 429, format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    )
    waits = Waits()
    fetch(hub, out, [TUESDAY], waits)
    [wait] = waits
    assert 0 < wait <= 30


@pytest.mark.parametrize("failure", ["503", "500", "drop"])
def test_server_errors_and_dropped_connections_back_off_and_recover(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path, failure: str
) -> None:
    if failure == "drop":
        hub.drop_next("GET", PAGES, times=2)
    else:
        hub.fail_next("GET", PAGES, int(failure), times=2)
    waits = Waits()
    result = fetch(hub, out, [MONDAY], waits)
    assert waits == [1.0, 2.0] and result.days == {"2026-01-05": "written"}
    assert len((out / "2026-01-05.jsonl").read_text().splitlines()) == 120


def test_a_persistent_failure_names_the_day_and_keeps_the_days_before(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    hub.refuse_next("GET", "date=2026-01-06", 429, "5", times=10)
    waits = Waits()
    with pytest.raises(FetchError) as caught:
        fetch(hub, out, [MONDAY, TUESDAY, WEDNESDAY], waits)
    message = str(caught.value)
    assert message.startswith("2026-01-06: rate limited by the Hub (HTTP 429)")
    assert "after 4 tries and 15 s of waiting" in message and "the 1 day(s) before it were written" in message
    assert caught.value.file == str(out / "2026-01-06.jsonl")
    assert waits == [5.0, 5.0, 5.0]
    assert sorted(p.name for p in out.iterdir()) == ["2026-01-05.jsonl"]


def test_a_refusal_that_retrying_cannot_fix_fails_at_once(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    hub.fail_next("GET", PAGES, 401)
    with pytest.raises(FetchError, match=r"^2026-01-05: the Hub refused the request \(HTTP 401") as caught:
        fetch(hub, out, [MONDAY])
    assert "fetch needs no token: unset HF_TOKEN or fix it" in str(caught.value)
    assert page_requests(hub) == 1 and not out.exists()  # nothing written, not even the folder


def test_a_stalled_answer_times_out(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], out: Path
) -> None:
    hub.stall_next("GET", PAGES, times=2)
    with pytest.raises(FetchError, match=r"2026-01-05: the Hub did not answer in time \(ReadTimeout\)"):
        fetch(hub, out, [MONDAY], policy={"timeout": 0.2, "tries": 2})
    assert page_requests(hub) == 2


def test_an_entry_the_client_cannot_read_is_refused(hub: HubServer, out: Path) -> None:
    broken = copy.deepcopy(entry(MONDAY, 1))
    broken["paper"]["publishedAt"] = "last Tuesday"
    hub.add_papers("2026-01-05", [entry(MONDAY, 0), broken])
    with pytest.raises(FetchError, match=r"2026-01-05: entry 2 is not a paper huggingface_hub can read"):
        fetch(hub, out, [MONDAY])
    assert not out.exists()


def test_a_progress_bar_per_day_only_when_asked(
    hub: HubServer,
    listed: dict[date, list[dict[str, Any]]],
    out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fetch(hub, out, [MONDAY])
    assert capsys.readouterr().err == ""
    fetch(hub, out, [TUESDAY], progress=True)
    assert "2026-01-06: 50paper" in capsys.readouterr().err


def test_days_between_includes_both_ends() -> None:
    assert days_between(MONDAY, WEDNESDAY) == [MONDAY, TUESDAY, WEDNESDAY]
    assert days_between(MONDAY, MONDAY) == [MONDAY]


def run(hub: HubServer, cwd: Path, *args: str) -> Ran:
    return invoke("fetch", *args, cwd=cwd, env=hub_env(hub, cwd.parent / "home"))


def run_process(hub: HubServer, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`fetch` as users run it, in a process of its own: its log lines (the retries) on stderr."""
    command = [PYTHON, "-m", "dataset_builder", "fetch", *args]
    env = hub_env(hub, cwd.parent / "home")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def test_cli_fetches_into_out_or_the_settings_input(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    done = run(hub, project, "--since", "2026-01-05", "--until", "2026-01-07", "--out", "elsewhere")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (project / "elsewhere").iterdir()) == [
        "2026-01-05.jsonl",
        "2026-01-06.jsonl",
    ]
    assert done.stdout.splitlines()[-1] == "Fetched into elsewhere: 2 written, 1 empty."
    assert done.stderr == ""  # no progress bar off a terminal
    (project / "dataset-builder.toml").write_text('input = "papers"\n')
    into_settings = run(hub, project, "--date", "2026-01-06")
    assert into_settings.returncode == 0, into_settings.stderr
    assert [p.name for p in (project / "papers").iterdir()] == ["2026-01-06.jsonl"]
    again = run(hub, project, "--date", "2026-01-06")
    assert "kept" in again.stdout and "--refresh fetches it again" in again.stdout
    refreshed = run(hub, project, "--date", "2026-01-06", "--refresh")
    assert refreshed.stdout.startswith("unchanged papers/2026-01-06.jsonl: 50 papers\n")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--date", "2026-01-05", "--since", "2026-01-05"],
        ["--date", "2026-01-05", "--until", "2026-01-06"],
        ["--since", "2026-01-06", "--until", "2026-01-05"],
        ["--date", "5 Jan 2026"],
        ["--date", "2026-01-05", "--timeout", "0"],
        ["--date", "2026-01-05", "--timeout", "nan"],
    ],
)
def test_cli_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = CliRunner().invoke(cli, ["fetch", *args, "--out", str(tmp_path)])
    assert done.exit_code == 2 and "Error:" in done.output and list(tmp_path.iterdir()) == []


def test_cli_failures_are_one_line_with_exit_1_and_no_traceback(
    hub: HubServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub.refuse_next("GET", PAGES, 429, "0", times=10)
    limited = run_process(hub, tmp_path, "--date", "2026-01-05")
    assert limited.returncode == 1
    assert limited.stderr.splitlines()[-1].startswith("Error: 2026-01-05: rate limited by the Hub (HTTP 429)")
    assert "/api/daily_papers?p=0&limit=50&date=2026-01-05: HTTP 429; retrying in 0 s (try 2 of 4)" in (
        limited.stderr
    )
    hub.stop()  # the same address, now closed: the connection is refused, and not retried when so told
    caplog.clear()  # in this process, the log lines (retries) go to caplog
    unreachable = run(hub, tmp_path, "--date", "2026-01-05", "--retries", "0")
    assert unreachable.returncode == 1
    assert f"Error: 2026-01-05: could not reach the Hub at {hub.url} (ConnectError" in unreachable.stderr
    assert "), not retried; nothing was written; run fetch again later\n" in unreachable.stderr
    assert "retrying" not in unreachable.stderr + caplog.text
    for done in (limited, unreachable):
        assert "Traceback" not in done.stderr and "This is a bug" not in done.stderr


def test_a_stopped_fetch_leaves_every_file_whole(
    hub: HubServer, listed: dict[date, list[dict[str, Any]]], tmp_path: Path
) -> None:
    hub.stall_next("GET", "date=2026-01-06")
    command = [PYTHON, "-m", "dataset_builder", "fetch", "--since", "2026-01-05", "--until", "2026-01-06"]
    with subprocess.Popen(
        [*command, "--out", str(tmp_path / "out")],
        env=hub_env(hub, tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert hub.stalled.wait(timeout=120)  # the first day is written, the second is being asked for
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.splitlines()[-1] == (
        "Interrupted (SIGINT): every day's file is complete or as it was; fetch again to finish."
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["2026-01-05.jsonl"]
    assert (tmp_path / "out" / "2026-01-05.jsonl").read_text() == "".join(line(e) for e in listed[MONDAY])
