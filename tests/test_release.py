"""Releases: one command from dumps/ to a tagged Hub version, with the papers it changes and its guards.

Real huggingface_hub client over HTTP against the stand-in (hub_server.py), in process or, as users run
it, as `dataset-builder` in a subprocess with HF_ENDPOINT; read back with the real `datasets`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import DUMPS, PYTHON, SPLIT_ROWS, Ran, hub_env, invoke
from hub_server import HubServer
from huggingface_hub import DatasetCard

from dataset_builder.cli import cli
from dataset_builder.errors import DatasetError, PublishError
from dataset_builder.hub.publish import NO_TOKEN, PublishResult, publish
from dataset_builder.hub.release import Release, compose_card, history, metadata
from dataset_builder.pipeline import BuildResult, build, find_dumps
from dataset_builder.settings import Settings
from dataset_builder.verify import verify_dist

REPO = "org/papers"
WRITES = ("POST", "PUT")
NAMES = sorted(p.name for p in DUMPS.glob("*.txt"))


def push(dist: Path, hub: HubServer, **options: Any) -> PublishResult:
    return publish(dist, REPO, endpoint=hub.url, token="hf_test", **options)


def writes(hub: HubServer) -> list[tuple[str, str]]:
    return [r for r in hub.requests if r[0] in WRITES and "/paths-info/" not in r[1]]


def ids(dist: Path) -> set[str]:
    found: set[str] = set()
    for shard in (dist / "data").glob("*.parquet"):
        found.update(pq.read_table(shard, columns=["paper_id"]).column(0).to_pylist())
    return found


def project(root: Path, names: list[str]) -> Path:
    (root / "dumps").mkdir(parents=True)
    for name in names:
        shutil.copy(DUMPS / name, root / "dumps")
    (root / "dataset-builder.toml").write_text(f'repo-id = "{REPO}"\n')
    return root


def run(cwd: Path, hub: HubServer, *args: str) -> Ran:
    return invoke(*args, cwd=cwd, env=hub_env(hub, cwd.parent / "home"))


def printed(code: str, hub: HubServer, home: Path) -> Any:
    """The JSON a fresh interpreter running `code` against the stand-in Hub printed last (as a
    researcher's own process would load the dataset, with its own cache in `home`)."""
    done = subprocess.run([PYTHON, "-c", code], env=hub_env(hub, home), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def card_on_hub(hub: HubServer, revision: str = "main") -> str:
    return hub.files(REPO, revision)["README.md"].decode()


def test_publish_releases_a_folder_of_dumps_and_each_version_stays_loadable(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    folder = project(tmp_path / "project", NAMES[:4])
    first = run(folder, hub, "publish", "--tag", "v1.0.0")
    assert first.returncode == 0, first.stderr
    assert "Built dist first: dist has no build." in first.stderr
    assert f'load_dataset("{REPO}", revision="v1.0.0")' in first.stdout
    assert hub.tags(REPO) == {"v1.0.0": hub.refs(REPO)["main"]}
    card = card_on_hub(hub)
    assert f'load_dataset("{REPO}")' in card and "ORG/NAME" not in card
    assert "This is version **v1.0.0**" in card and "| v1.0.0 |" in card
    assert "Papers: 406 added, 0 removed, 0 changed" in hub.commits(REPO)[0]["description"]

    shutil.copy(DUMPS / NAMES[4], folder / "dumps")  # a new dump arrives
    sent = len(writes(hub))
    dry = run(folder, hub, "publish", "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    assert f"dist was built from other dumps (new {NAMES[4]})" in dry.stderr
    plan = json.loads(dry.stdout)
    new_split = NAMES[4].removesuffix(".txt")
    [new_shard] = built.splits[new_split]
    expected = pq.read_table(built.out / new_shard.path, columns=["paper_id"]).column(0).to_pylist()
    assert plan["changes"] == {"added": sorted(expected), "removed": [], "changed": []}
    assert plan["splits"] == {new_split: {"added": 190, "removed": 0, "changed": 0}}
    assert {f["path"]: f["action"] for f in plan["files"]}[new_shard.path] == "add"
    assert all(f["size"] > 0 for f in plan["files"])
    assert len(writes(hub)) == sent

    second = run(folder, hub, "publish", "--tag", "v1.1.0")
    assert second.returncode == 0, second.stderr
    assert "Papers: 190 added, 0 removed, 0 changed (406 published, 596 in this build)" in second.stdout
    card = card_on_hub(hub)
    assert "This is version **v1.1.0**" in card
    assert card.index("| v1.1.0 |") < card.index("| v1.0.0 |")
    assert [r.version for r in history(card)] == ["v1.1.0", "v1.0.0"]
    block = metadata(DatasetCard(card))["dataset_builder"]
    assert {s["file"] for s in block["sources"]} == set(NAMES)

    sent = len(writes(hub))
    again = run(folder, hub, "publish", "--tag", "v1.1.0")
    assert again.returncode == 1 and "already has a tag v1.1.0" in again.stderr
    assert len(writes(hub)) == sent

    code = (
        "import datasets, json\n"
        f"old = datasets.load_dataset({REPO!r}, revision='v1.0.0')\n"
        f"new = datasets.load_dataset({REPO!r})\n"
        f"every = datasets.load_dataset({REPO!r}, 'all', split='train')\n"
        "print(json.dumps([{n: old[n].num_rows for n in old}, sorted(new), every.num_rows]))\n"
    )
    old, new, every = printed(code, hub, tmp_path / "home2")
    assert old == {"train": sum(SPLIT_ROWS[name] for name in sorted(SPLIT_ROWS)[:4])}
    assert new == ["train"] and every == sum(SPLIT_ROWS.values())


def test_dry_run_lists_exactly_the_papers_a_dropped_dump_removes(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    push(built.out, hub)
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    for name in NAMES[1:]:
        shutil.copy(DUMPS / name, fewer)
    smaller = build([fewer], tmp_path / "dist")
    hub.requests.clear()
    result = push(smaller.out, hub, dry_run=True)
    assert result.changes.to_dict() == {
        "added": sorted(ids(smaller.out) - ids(built.out)),
        "removed": sorted(ids(built.out) - ids(smaller.out)),
        "changed": [],
    }
    assert result.changes.removed and result.refused is None
    assert result.changes.splits[NAMES[0].removesuffix(".txt")].removed == len(result.changes.removed)
    assert not writes(hub)


def test_shards_published_unchanged_are_compared_without_downloading_them(
    built: BuildResult, hub: HubServer
) -> None:
    push(built.out, hub)
    hub.requests.clear()
    result = push(built.out, hub, dry_run=True)
    assert result.plan == [] and result.changes.to_dict() == {"added": [], "removed": [], "changed": []}
    assert not [path for _, path in hub.requests if "/resolve/" in path and path.endswith(".parquet")]


def test_a_stale_dist_is_never_sent(built: BuildResult, hub: HubServer, tmp_path: Path) -> None:
    folder = project(tmp_path / "project", NAMES[:4])
    build([folder / "dumps"], folder / "dist")
    (folder / "dumps" / NAMES[0]).write_bytes((DUMPS / NAMES[1]).read_bytes())  # a dump is edited
    with pytest.raises(PublishError, match=f"built from other dumps \\(edited {NAMES[0]}\\)"):
        push(folder / "dist", hub, sources=find_dumps([folder / "dumps"]))
    assert hub.requests == []


def test_removing_most_papers_is_refused_unless_allowed(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    push(built.out, hub)
    only = build([DUMPS / NAMES[0]], tmp_path / "dist")
    sent = len(writes(hub))
    with pytest.raises(PublishError, match="would remove 537 of the 596 published papers"):
        push(only.out, hub)
    assert len(writes(hub)) == sent
    dry = push(only.out, hub, dry_run=True)
    assert "A real publish would be refused" in dry.summary()
    done = push(only.out, hub, allow_removals=True)
    assert done.commit_url and len(hub.files(REPO)) == 3  # .gitattributes, README.md, one shard


def test_create_pr_twice_with_the_same_build_opens_one_pull_request(
    built: BuildResult, hub: HubServer
) -> None:
    push(built.out, hub)
    work = Path(shutil.copytree(built.out, hub.root.parent / "edited"))
    (work / "README.md").write_text((work / "README.md").read_text() + "\nA note.\n")
    first = push(work, hub, create_pr=True)
    second = push(work, hub, create_pr=True)
    assert second.reused_pr and second.pr_url == first.pr_url
    assert f"already open: {first.pr_url}" in second.summary()
    assert [ref for ref in hub.refs(REPO) if ref.startswith("refs/pr/")] == ["refs/pr/1"]
    hub.close_pr(REPO, 1)
    third = push(work, hub, create_pr=True)
    assert not third.reused_pr and third.pr_url and third.pr_url.endswith("/discussions/2")


def test_revision_creates_the_branch_from_main_and_can_be_tagged(built: BuildResult, hub: HubServer) -> None:
    push(built.out, hub)
    main = hub.refs(REPO)["main"]
    result = push(built.out, hub, revision="staging", tag="v0.1.0-rc.1")
    assert hub.refs(REPO)["main"] == main
    history = hub.commits(REPO, "staging")
    assert history[1]["oid"] == main and [f.path for f in result.plan] == ["README.md"]
    assert hub.tags(REPO)["v0.1.0-rc.1"] == history[0]["oid"] == result.commit


def test_without_a_token_publish_says_how_to_get_one(built: BuildResult, hub: HubServer) -> None:
    with pytest.raises(PublishError) as caught:
        publish(built.out, REPO, endpoint=hub.url)
    assert str(caught.value) == NO_TOKEN and hub.requests == []
    result = CliRunner().invoke(cli, ["publish", str(built.out), "--repo-id", REPO])
    assert result.exit_code == 1 and result.output == f"Error: {NO_TOKEN}\n"


@pytest.mark.parametrize("repo_id", ["papers", "org/papers/extra", "org/bad name", "org/", "org/--x"])
def test_malformed_repo_ids_are_one_line_usage_errors(built: BuildResult, repo_id: str) -> None:
    result = CliRunner().invoke(cli, ["publish", str(built.out), "--repo-id", repo_id, "--dry-run"])
    assert result.exit_code == 2, result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert "Invalid value for '--repo-id'" in error and "Traceback" not in result.output
    with pytest.raises(DatasetError):
        publish(built.out, repo_id, dry_run=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "1.0"], "not a semantic version tag"),
        (["--tag", "v1.0.0", "--create-pr"], "tag after the pull request is merged"),
    ],
)
def test_tag_misuse_is_a_usage_error(built: BuildResult, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["publish", str(built.out), "--repo-id", REPO, *args])
    assert result.exit_code == 2 and message in result.output


def test_without_a_repo_id_publish_asks_for_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["publish", "--dry-run"])
    assert result.exit_code == 2 and "give --repo-id ORG/NAME or set repo-id" in result.output


def test_the_card_on_the_hub_passes_validate_dist(built: BuildResult, hub: HubServer, tmp_path: Path) -> None:
    push(built.out, hub, tag="v1.0.0")
    copy = tmp_path / "downloaded"
    for path, data in hub.files(REPO).items():
        if path != ".gitattributes":
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            (copy / path).write_bytes(data)
    assert verify_dist(copy).ok
    card = (copy / "README.md").read_text()
    releases = history(card)
    assert compose_card(card, REPO, releases) == card  # composing again changes nothing


def test_local_build_is_reproducible_with_settings_and_names_their_repo(tmp_path: Path) -> None:
    settings = Settings(repo_id=REPO, pretty_name="Papers", license="cc-by-4.0")
    one = build([DUMPS / NAMES[0]], tmp_path / "a", repo_id=REPO, settings=settings)
    two = build([DUMPS / NAMES[0]], tmp_path / "b", repo_id=REPO, settings=settings)
    card = (one.out / "README.md").read_bytes()
    assert card == (two.out / "README.md").read_bytes()
    data = metadata(DatasetCard(card.decode()))
    assert data["license"] == "cc-by-4.0" and "license_name" not in data and data["pretty_name"] == "Papers"
    assert f'load_dataset("{REPO}")'.encode() in card


def test_checking_a_dist_draws_a_progress_bar_only_when_asked(
    built: BuildResult, capsys: pytest.CaptureFixture[str]
) -> None:
    verify_dist(built.out)
    assert capsys.readouterr().err == ""
    verify_dist(built.out, progress=True)
    assert "checking: 100%" in capsys.readouterr().err


def test_a_failed_tag_says_the_commit_landed_and_how_to_tag_it(built: BuildResult, hub: HubServer) -> None:
    hub.fail_next("POST", "/tag/", 500)
    with pytest.raises(PublishError, match=r"published .* but could not tag it v1\.0\.0") as caught:
        push(built.out, hub, tag="v1.0.0")
    head = hub.refs(REPO)["main"]
    assert f"hf repos tag create {REPO} v1.0.0 --repo-type dataset --revision {head}" in str(caught.value)
    assert hub.tags(REPO) == {}


def test_a_project_whose_dumps_do_not_build_is_refused_with_their_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path / "project", NAMES[:1])
    (folder / "dumps" / "001_bad.txt").write_text("Subscribe\nA Title Without Its Abstract\n")
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, ["publish", "--dry-run"])
    assert result.exit_code == 1
    assert "001_bad.txt:2: [orphan-title]" in result.output
    assert "Release refused: the dumps do not build; nothing was published." in result.output
    assert not (folder / "dist").exists()


def test_an_untagged_release_points_researchers_at_the_latest_tagged_one(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    four = tmp_path / "four"
    four.mkdir()
    for name in NAMES[:4]:
        shutil.copy(DUMPS / name, four)
    push(build([four], tmp_path / "dist").out, hub)
    assert f"No version of `{REPO}` is tagged yet" in card_on_hub(hub)
    push(tmp_path / "dist", hub, tag="v1.0.0")
    push(built.out, hub)
    card = card_on_hub(hub)
    assert f'pin the latest version, v1.0.0, with\n`load_dataset("{REPO}", revision="v1.0.0")`' in card
    assert [(r.version, r.added) for r in history(card)] == [(None, 190), ("v1.0.0", 0), (None, 406)]


def test_a_card_without_a_field_list_gets_the_versions_at_its_end() -> None:
    releases = [Release("v1.0.0", "2026-12-01", 1, 1, 0, 0)]
    card = compose_card("---\nlicense: other\n---\n# Title\n\nText.\n", REPO, releases)
    assert card.index("Text.\n\n<!-- dataset-builder:release -->\n## Versions") > 0
    assert compose_card(card, REPO, releases) == card
    assert history(card) == []  # not a build's card: no provenance, so no history is read from it


def old_layout(built: BuildResult, root: Path) -> Path:
    """A copy of the build with the earlier layout: one split per dump in `default`."""
    dist = Path(shutil.copytree(built.out, root / "old"))
    card = DatasetCard.load(dist / "README.md")
    card.data["configs"][0]["data_files"] = [
        {"split": name, "path": [s.path for s in shards]} for name, shards in built.splits.items()
    ]
    card.data["dataset_info"]["splits"] = [
        {
            "name": name,
            "num_bytes": sum(s.num_bytes for s in shards),
            "num_examples": sum(s.rows for s in shards),
        }
        for name, shards in built.splits.items()
    ]
    card.save(str(dist / "README.md"))
    return dist


def test_the_first_release_in_the_new_layout_says_so_and_older_versions_load_as_before(
    built: BuildResult, hub: HubServer, tmp_path: Path
) -> None:
    old = old_layout(built, tmp_path)
    assert verify_dist(old).ok
    push(old, hub, tag="v1.0.0")
    assert push(built.out, hub, tag="v2.0.0").changes.counts() == "0 added, 0 removed, 0 changed"
    card = DatasetCard(hub.files(REPO)["README.md"].decode())
    v2, v1 = history(str(card))
    assert v2.note.startswith("`load_dataset(REPO)` now gives one split, `train`") and v1.note == ""
    assert f'- v2.0.0 ({v2.date}): `load_dataset("{REPO}")` now gives one split' in card.text
    code = (
        "import datasets, json\n"
        f"old = datasets.load_dataset({REPO!r}, revision='v1.0.0')\n"
        f"new = datasets.load_dataset({REPO!r}, revision='v2.0.0')\n"
        "print(json.dumps([{n: old[n].num_rows for n in old}, {n: new[n].num_rows for n in new}]))\n"
    )
    assert printed(code, hub, tmp_path / "home") == [SPLIT_ROWS, {"train": sum(SPLIT_ROWS.values())}]
