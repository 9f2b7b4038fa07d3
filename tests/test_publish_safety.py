"""publish tells the truth about the Hub and deletes only what a build of this tool wrote there."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DUMPS
from hub_server import HubServer
from huggingface_hub import CommitOperationAdd, HfApi

from dataset_builder.errors import PublishError
from dataset_builder.hub.publish import PublishResult, publish
from dataset_builder.hub.release import history, stale
from dataset_builder.pipeline import BuildResult, build, find_dumps
from dataset_builder.settings import Settings

REPO = "org/papers"


def push(dist: Path, hub: HubServer, **options: Any) -> PublishResult:
    return publish(dist, REPO, endpoint=hub.url, token="hf_test", **options)


def card_on_hub(hub: HubServer, revision: str = "main") -> str:
    return hub.files(REPO, revision)["README.md"].decode()


def versions(hub: HubServer) -> list[str | None]:
    return [r.version for r in history(card_on_hub(hub))]


@pytest.fixture
def smaller(tmp_path: Path) -> Path:
    """The bundled dumps but the last: publishing it over the full build removes one split."""
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    for dump in sorted(DUMPS.glob("*.txt"))[:4]:
        shutil.copy(dump, fewer)
    return build([fewer], tmp_path / "smaller").out


def test_a_colleagues_files_under_data_are_left_unless_asked(
    built: BuildResult, hub: HubServer, smaller: Path
) -> None:
    push(built.out, hub)
    theirs = {"data/LICENSE.txt": b"CC-BY-4.0\n", "data/raw/notes.csv": b"id,note\n1,check\n"}
    HfApi(endpoint=hub.url, token="hf_test").create_commit(
        REPO,
        [CommitOperationAdd(path, data) for path, data in theirs.items()],
        commit_message="Add our notes",
        repo_type="dataset",
    )
    result = push(smaller, hub)
    gone = "data/004_7bd83784e7eba939-00000-of-00001.parquet"
    assert [(f.path, f.action) for f in result.plan if f.action == "delete"] == [(gone, "delete")]
    assert next(f.size for f in result.plan if f.path == gone) > 0
    assert result.left == sorted(theirs)
    assert "leave   data/LICENSE.txt (no build of this tool wrote it" in result.summary()
    files = hub.files(REPO)
    assert gone not in files and all(files[path] == data for path, data in theirs.items())
    cleaned = push(built.out, hub, delete_unlisted=True)
    assert {f.path for f in cleaned.plan if f.action == "delete"} == set(theirs)
    assert not set(theirs) & set(hub.files(REPO))


def test_a_commit_applied_whose_answer_is_lost_is_reported_as_published(
    built: BuildResult, hub: HubServer
) -> None:
    hub.drop_answer_next("POST", "/commit/main")
    result = push(built.out, hub, tag="v1.0.0")
    assert result.recovered and result.commit == hub.refs(REPO)["main"]
    assert "Published to org/papers@main" in result.summary() and "answer was lost" in result.summary()
    assert hub.tags(REPO) == {"v1.0.0": result.commit}
    assert versions(hub) == ["v1.0.0"]


def test_a_commit_the_hub_did_not_apply_is_reported_as_not_published(
    built: BuildResult, hub: HubServer
) -> None:
    push(built.out, hub)
    work = Path(shutil.copytree(built.out, hub.root.parent / "edited"))
    (work / "README.md").write_text((work / "README.md").read_text() + "\nChanged.\n")
    before = hub.refs(REPO)["main"]
    hub.drop_next("POST", "/commit/main")
    with pytest.raises(PublishError, match="could not reach the Hub"):
        push(work, hub)
    assert hub.refs(REPO)["main"] == before


def test_publishing_the_same_tagged_build_again_keeps_one_release_entry(
    built: BuildResult, hub: HubServer
) -> None:
    hub.fail_next("POST", "/tag/", 500)
    with pytest.raises(PublishError, match=r"could not tag it v1\.0\.0"):
        push(built.out, hub, tag="v1.0.0")
    result = push(built.out, hub, tag="v1.0.0")
    assert result.plan == [] and result.commit == hub.refs(REPO)["main"]
    assert hub.tags(REPO) == {"v1.0.0": result.commit}
    assert versions(hub) == ["v1.0.0"]


def test_two_first_publishes_to_a_new_repository_never_overwrite_each_other(
    built: BuildResult, hub: HubServer, smaller: Path
) -> None:
    other: list[PublishResult] = []
    hub.before_next("POST", "/api/repos/create", lambda: other.append(push(smaller, hub)))
    with pytest.raises(PublishError, match="created by someone else while publishing"):
        push(built.out, hub)
    assert [c["title"] for c in hub.commits(REPO)] == ["Publish dataset build (5 add)", "initial commit"]
    assert hub.refs(REPO)["main"] == other[0].commit


def test_a_stale_parent_commit_is_refused_by_the_stand_in_as_by_the_hub(
    built: BuildResult, hub: HubServer, smaller: Path
) -> None:
    # A publish that read the repository before another one committed must not replace that commit.
    push(built.out, hub)
    hub.before_next("POST", "/preupload/", lambda: push(smaller, hub))
    work = Path(shutil.copytree(built.out, hub.root.parent / "edited"))
    (work / "README.md").write_text((work / "README.md").read_text() + "\nChanged.\n")
    with pytest.raises(PublishError, match="HTTP 412"):
        push(work, hub)
    assert "Changed." not in card_on_hub(hub)


def test_revision_creates_the_branch_even_when_main_already_has_the_build(
    built: BuildResult, hub: HubServer
) -> None:
    push(built.out, hub)
    result = push(built.out, hub, revision="staging")
    assert result.created_branch and result.plan == []
    assert "Created branch org/papers@staging from main" in result.summary()
    assert hub.refs(REPO)["staging"] == hub.refs(REPO)["main"]


def test_release_entries_with_keys_of_a_newer_tool_are_kept(built: BuildResult, hub: HubServer) -> None:
    push(built.out, hub, tag="v1.0.0")
    text = card_on_hub(hub)
    front, body = text.split("\n---\n", 1)
    data = yaml.safe_load(front.removeprefix("---\n"))
    data["dataset_builder"]["releases"][0]["notes"] = "a newer tool's field"
    edited = f"---\n{yaml.safe_dump(data, sort_keys=False)}---\n{body}"
    assert [r.version for r in history(edited)] == ["v1.0.0"]


@pytest.mark.parametrize(
    ("options", "named"),
    [({"on_conflict": "last"}, "on-conflict"), ({"near_duplicates": "remove"}, "near-duplicates")],
)
def test_a_build_made_with_other_row_policies_is_stale(
    built: BuildResult, options: dict[str, str], named: str
) -> None:
    dumps = find_dumps([DUMPS])
    assert stale(built.out, dumps, Settings()) is None
    reason = stale(built.out, dumps, Settings(**options))  # type: ignore[arg-type]
    assert reason is not None and named in reason
