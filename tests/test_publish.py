"""publish.py: dist/ -> one commit, through the real huggingface_hub client, to a local Hub stand-in.

The stand-in (hub_server.py) runs on 127.0.0.1 and keeps repositories on disk; the client is the real
one, in process with an explicit endpoint, or in a subprocess with HF_ENDPOINT as users run it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import DUMPS, PYTHON, SPLIT_ROWS, hub_env, invoke
from hub_server import HubServer

from dataset_builder.errors import InvalidInput, PublishError
from dataset_builder.hub.http import Retries
from dataset_builder.hub.publish import PublishResult, publish
from dataset_builder.layout import dump_files
from dataset_builder.pipeline import BuildResult, build

REPO = "org/papers"
WRITES = ("POST", "PUT")


def push(dist: Path, hub: HubServer, waits: list[float] | None = None, **options: Any) -> PublishResult:
    """Publish to the stand-in; the waits between retries go to `waits` instead of sleeping. `dist` as
    a notebook may give it, a string (the CLI gives a Path)."""
    retries = Retries(sleep=(waits if waits is not None else []).append)
    return publish(str(dist), REPO, endpoint=hub.url, token="hf_test", retries=retries, **options)


def local_files(dist: Path) -> dict[str, bytes]:
    return {p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()}


def test_first_publish_creates_the_repo_and_commits_everything_once(
    built: BuildResult, hub: HubServer
) -> None:
    result = push(built.out, hub)
    assert result.created_repo and result.commit_url and result.pr_url is None
    assert [c["title"] for c in hub.commits(REPO)] == ["Publish dataset build (6 add)", "initial commit"]
    files = hub.files(REPO)
    assert files.pop(".gitattributes").startswith(b"*.parquet filter=lfs")
    local = local_files(built.out)
    card = files.pop("README.md").decode()
    assert local.pop("README.md") != card.encode() and files == local
    assert f'load_dataset("{REPO}")' in card and "ORG/NAME" not in card  # the card names the repo
    assert sum(1 for method, path in hub.requests if path.endswith("/commit/main")) == 1


FILES = dump_files("001_1bef2119a8aaeb71")  # the one-dump line of the card and README


def test_published_dataset_loads_with_datasets_through_the_hub_api(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    push(built.out, hub)
    code = (
        "import datasets, json\n"
        f"hub = datasets.load_dataset({REPO!r})\n"
        f"local = datasets.load_dataset({str(built.out)!r})\n"
        f"one = datasets.load_dataset({REPO!r}, data_files={FILES!r}, split='train')\n"
        "print(json.dumps({name: [hub[name].num_rows, hub[name].to_list() == local[name].to_list(),"
        " str(hub[name].features['also_in'])] for name in hub} | {'one': [one.num_rows, True, '']}))\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", code], env=hub_env(hub, tmp_path / "home"), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.splitlines()[-1])
    one = loaded.pop("one")[0]
    assert {name: rows for name, (rows, _, _) in loaded.items()} == {"train": sum(SPLIT_ROWS.values())}
    assert one == SPLIT_ROWS["001_1bef2119a8aaeb71"]
    assert all(same for _, same, _ in loaded.values())
    assert {feature for _, _, feature in loaded.values()} == {"List(Value('string'))"}


def test_republishing_an_unchanged_build_makes_no_commit(built: BuildResult, hub: HubServer) -> None:
    push(built.out, hub)
    before = hub.commits(REPO)
    result = push(built.out, hub)
    assert result.plan == [] and result.unchanged == 6 and result.commit_url is None
    assert "Nothing to publish" in result.summary()
    assert hub.commits(REPO) == before


def test_a_removed_split_is_deleted_in_the_same_commit(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    push(built.out, hub)
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    for dump in sorted(DUMPS.glob("*.txt"))[:4]:
        shutil.copy(dump, fewer)
    smaller = build([fewer], tmp_path / "dist")
    result = push(smaller.out, hub)
    actions = {(f.path, f.action) for f in result.plan}
    assert ("data/004_7bd83784e7eba939-00000-of-00001.parquet", "delete") in actions
    assert ("README.md", "update") in actions
    assert len(hub.commits(REPO)) == 3
    assert set(hub.files(REPO)) == {".gitattributes", *local_files(smaller.out)}


def test_create_pr_leaves_main_alone(built: BuildResult, hub: HubServer) -> None:
    push(built.out, hub)
    (work := Path(shutil.copytree(built.out, hub.root.parent / "edited")))
    card = work / "README.md"
    card.write_text(card.read_text() + "\nA note.\n")
    main_before = hub.refs(REPO)["main"]
    result = push(work, hub, create_pr=True, message="Add a note")
    assert result.pr_url and result.pr_url.endswith("/discussions/1")
    assert "Opened a pull request" in result.summary() and result.pr_url in result.summary()
    assert hub.refs(REPO)["main"] == main_before
    assert hub.commits(REPO, "refs/pr/1")[0]["title"] == "Add a note"
    assert hub.files(REPO, "refs/pr/1")["README.md"].endswith(b"A note.\n")


def test_revision_publishes_to_a_new_branch(built: BuildResult, hub: HubServer) -> None:
    push(built.out, hub)
    main = hub.refs(REPO)["main"]
    (work := Path(shutil.copytree(built.out, hub.root.parent / "edited")))
    (work / "README.md").write_text((work / "README.md").read_text() + "\nA note.\n")
    push(work, hub, revision="v2")
    assert hub.refs(REPO)["main"] == main
    assert hub.files(REPO, "v2")["README.md"].endswith(b"A note.\n")


def test_dry_run_plans_and_writes_nothing(built: BuildResult, hub: HubServer) -> None:
    result = push(built.out, hub, dry_run=True)
    assert sorted(f.action for f in result.plan) == ["add"] * 6
    assert all(f.size > 0 for f in result.plan)
    assert "Dry run" in result.summary()
    assert not [r for r in hub.requests if r[0] in WRITES]


def test_an_invalid_dist_is_refused_before_any_request(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    broken = Path(shutil.copytree(built.out, tmp_path / "broken"))
    next((broken / "data").iterdir()).unlink()
    with pytest.raises(InvalidInput) as caught:
        push(broken, hub)
    assert caught.value.report.problems[0].rule == "shard-missing"
    assert hub.requests == []


@pytest.mark.parametrize(
    ("status", "advice"),
    [(401, "did not accept the token"), (403, "may not write"), (500, "failed on its side")],
)
def test_http_failures_give_advice_and_leave_the_repo_as_it_was(
    built: BuildResult, hub: HubServer, tmp_path: Path, status: int, advice: str
) -> None:
    push(built.out, hub)
    before = hub.files(REPO)
    (work := Path(shutil.copytree(built.out, tmp_path / "edited")))
    (work / "README.md").write_text((work / "README.md").read_text() + "\nChanged.\n")
    hub.fail_next("POST", "/commit/", status)
    with pytest.raises(PublishError, match=advice) as caught:
        push(work, hub)
    assert f"HTTP {status}" in str(caught.value) and "nothing was published" in str(caught.value)
    assert hub.files(REPO) == before


def test_a_dropped_connection_is_reported(built: BuildResult, hub: HubServer) -> None:
    hub.drop_next("GET", "/api/datasets/", times=10)
    waits: list[float] = []
    with pytest.raises(PublishError, match="could not reach the Hub") as caught:
        push(built.out, hub, waits)
    assert "after 4 tries and 7 s of waiting" in str(caught.value) and waits == [1.0, 2.0, 4.0]


def test_a_429_is_waited_for_as_the_hub_asks_and_the_publish_goes_through(
    built: BuildResult, hub: HubServer
) -> None:
    hub.refuse_next("GET", "/api/datasets/", 429, retry_after="5")
    hub.refuse_next("POST", "/commit/main", 429, retry_after="3")  # refused, so safe to send again
    waits: list[float] = []
    result = push(built.out, hub, waits)
    assert waits == [5.0, 3.0] and result.commit_url is not None
    assert [c["title"] for c in hub.commits(REPO)] == ["Publish dataset build (6 add)", "initial commit"]


def test_a_persistent_429_says_it_was_rate_limited_and_how_long_it_waited(
    built: BuildResult, hub: HubServer
) -> None:
    hub.refuse_next("GET", "/api/datasets/", 429, retry_after="20", times=10)
    with pytest.raises(PublishError) as caught:
        push(built.out, hub)
    assert str(caught.value) == (
        "rate limited by the Hub (HTTP 429): still refused, after 4 tries and 60 s of waiting: "
        "try again later; nothing was published"
    )


def test_a_card_the_hub_fails_to_serve_is_not_taken_for_a_missing_one(
    built: BuildResult, hub: HubServer
) -> None:
    push(built.out, hub, tag="v1.0.0")
    hub.fail_next("HEAD", "/resolve/", 403)  # huggingface_hub reports this as "not in the local cache"
    with pytest.raises(PublishError, match=r"HTTP 403"):  # not published without the card's history
        push(built.out, hub, tag="v1.1.0")
    assert hub.tags(REPO).keys() == {"v1.0.0"}


def test_a_commit_that_failed_on_the_hub_is_never_sent_twice(built: BuildResult, hub: HubServer) -> None:
    hub.fail_next("POST", "/commit/main", 502)
    with pytest.raises(PublishError, match="HTTP 502"):
        push(built.out, hub)
    assert sum(1 for method, path in hub.requests if path.endswith("/commit/main")) == 1


def test_a_stalled_commit_times_out_with_a_clear_message(built: BuildResult, tmp_path: Path) -> None:
    with HubServer(tmp_path / "hub") as hub:
        hub.stall_next("POST", "/commit/main")
        env = hub_env(hub, tmp_path / "home")
        done = invoke("publish", str(built.out), "--repo-id", REPO, "--timeout", "1", env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "Error: the Hub did not answer within 1 s (ReadTimeout): try again later, "
        "or allow longer with --timeout"
    )
    assert "Traceback" not in done.stderr


def test_cli_publishes_with_hf_endpoint_and_never_prints_the_token(
    built: BuildResult, tmp_path: Path
) -> None:
    with HubServer(tmp_path / "hub", require_token="hf_secret") as hub:
        env = hub_env(hub, tmp_path / "home") | {"HF_TOKEN": "hf_secret"}
        args = ["publish", str(built.out), "--repo-id", REPO]
        dry = invoke(*args, "--dry-run", env=env)
        assert dry.returncode == 0, dry.stderr
        assert "add     data/000_83255905406594dc-00000-of-00001.parquet" in dry.stdout
        # (In a process of its own, whose huggingface_hub reads HF_ENDPOINT at import, publish runs in
        # test_cli's test_a_password_in_hf_endpoint_and_the_token_are_never_printed.)
        done = invoke(*args, env=env)
        assert done.returncode == 0, done.stderr
        assert f"Published to {REPO}@main: {hub.url}/datasets/{REPO}/commit/" in done.stdout
        again = invoke(*args, env=env)
        assert "Nothing to publish" in again.stdout
        denied = invoke(*args[:-1], "org/other", env=env | {"HF_TOKEN": "hf_wrong"})
        assert denied.returncode == 1 and "did not accept the token" in denied.stderr
        assert "hf_secret" not in done.stdout + done.stderr + denied.stdout + denied.stderr
    missing = invoke("publish", str(tmp_path / "nope"), "--repo-id", REPO)
    assert missing.returncode == 2


def test_a_failed_file_upload_is_reported_and_nothing_is_committed(
    built: BuildResult, hub: HubServer
) -> None:
    hub.fail_next("PUT", "/lfs-upload/", 403, times=10)
    with pytest.raises(PublishError, match="Error while uploading") as caught:
        push(built.out, hub)
    assert "nothing was committed" in str(caught.value)
    assert [c["title"] for c in hub.commits(REPO)] == ["initial commit"]


def test_a_corrupted_shard_is_refused_before_any_request_that_writes(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    push(built.out, hub)
    sent = len(hub.requests)
    damaged = Path(shutil.copytree(built.out, tmp_path / "damaged"))
    shard = sorted((damaged / "data").iterdir())[1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(InvalidInput) as caught:
        push(damaged, hub)
    assert [(p.file, p.rule) for p in caught.value.report.problems] == [(str(shard), "shard-corrupt")]
    assert not [r for r in hub.requests[sent:] if r[0] in WRITES]
    assert hub.requests[sent:] == []  # verify runs before the client is even created
    assert len(hub.commits(REPO)) == 2
