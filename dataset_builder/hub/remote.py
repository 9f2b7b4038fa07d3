"""What the Hub holds, read for a release: the published card, the published papers, open pull requests.

Only small reads: the card, the `paper_id`/`title`/`abstract` columns of shards the build does not
already have byte for byte (range requests through `HfFileSystem`), file listings of pull requests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
from huggingface_hub import HfApi, HfFileSystem
from huggingface_hub.errors import EntryNotFoundError
from huggingface_hub.hf_api import RepoSibling

from dataset_builder.errors import PublishError
from dataset_builder.hub.changes import Changes, Papers, diff, merge, read_papers
from dataset_builder.layout import CARD, SHARD_DIR, dump_of


def hashes(siblings: list[RepoSibling]) -> dict[str, str]:
    """Content hashes as the Hub reports them: sha256 for LFS files, the git blob id otherwise."""
    return {s.rfilename: (s.lfs.sha256 if s.lfs else f"git:{s.blob_id}") for s in siblings}


def git_blob_id(data: bytes) -> str:
    """The id git (and the Hub) gives a regular file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def remote_card(api: HfApi, repo_id: str, head: str | None, files: Mapping[str, str]) -> str | None:
    """The card at commit `head`, or None when there is none."""
    if head is None or CARD not in files:
        return None
    try:
        path = api.hf_hub_download(repo_id, CARD, repo_type="dataset", revision=head)
    except EntryNotFoundError:
        return None
    return Path(path).read_text(encoding="utf-8")


def remote_changes(
    api: HfApi,
    repo_id: str,
    head: str | None,
    files: Mapping[str, str],
    dist: Path,
    local_shards: Mapping[str, str],
) -> Changes:
    """Papers added, removed and changed by publishing `dist` over commit `head`, per dump (changes.py;
    a shard's name says its dump, layout.dump_of, in this layout and the earlier one)."""
    local = merge(read_papers(dist / path, dump_of(path)) for path in sorted(local_shards))
    if head is None:
        return diff(local, {})
    by_sha = {sha: path for path, sha in local_shards.items()}
    fs = HfFileSystem(endpoint=api.endpoint, token=api.token)
    parts: list[Papers] = []
    for path, sha in sorted(files.items()):
        if not (path.startswith(f"{SHARD_DIR}/") and path.endswith(".parquet")):
            continue
        dump = dump_of(path)
        if sha in by_sha:
            parts.append(read_papers(dist / by_sha[sha], dump))
            continue
        try:
            with fs.open(f"datasets/{repo_id}@{head}/{path}", "rb") as f:
                parts.append(read_papers(f, dump))
        except (pa.ArrowException, KeyError) as e:
            raise PublishError(
                f"{repo_id}: {path} is not a shard this tool wrote ({e}); nothing was published"
            ) from e
    return diff(local, merge(parts))


def open_pr_with(api: HfApi, repo_id: str, wanted: Mapping[str, set[str]], deleted: set[str]) -> str | None:
    """The URL of an open pull request whose head has every `wanted` file (path -> accepted hashes) and
    none of the `deleted` ones; None when there is none."""
    for discussion in api.get_repo_discussions(
        repo_id, repo_type="dataset", discussion_type="pull_request", discussion_status="open"
    ):
        info = api.dataset_info(repo_id, revision=f"refs/pr/{discussion.num}", files_metadata=True)
        held = hashes(info.siblings or [])
        if all(held.get(p) in accepted for p, accepted in wanted.items()) and not deleted & set(held):
            return discussion.url
    return None
