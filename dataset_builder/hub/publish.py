"""dist/ -> one commit on a Hub dataset repository.

The folder is checked first (verify.py) so nothing broken leaves the machine. The plan compares local
files with the repository by content hash: unchanged files are not sent, shards the published card
lists (an earlier build of this tool wrote them) but the build no longer has are deleted, other files
under `data/` are left unless `delete_unlisted`, and everything goes in one `create_commit`, which the
Hub applies whole or not at all; its parent is the head read first (or a new repository's initial
commit), so a commit made meanwhile makes it fail instead of being overwritten. When the answer to the
commit is lost, the branch is read back to say whether it was applied. `upload_folder` is not used
because it may split a large upload into several commits.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, get_token
from huggingface_hub.errors import (
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils.sha import git_hash

from dataset_builder.card import read_card
from dataset_builder.errors import CardError, DatasetError, InvalidInput, PublishError
from dataset_builder.hub.changes import Changes
from dataset_builder.hub.http import DEFAULT_RETRIES, GaveUp, Retries, RetryingHfApi
from dataset_builder.hub.release import (
    check_tag,
    compose_card,
    history,
    new_release,
    pin,
    removal_refusal,
    stale,
)
from dataset_builder.hub.remote import hashes, open_pr_with, remote_card, remote_changes
from dataset_builder.layout import CARD, SHARD_DIR
from dataset_builder.records import StrPath, hide_passwords
from dataset_builder.settings import check_repo_id
from dataset_builder.timing import log_since, timed
from dataset_builder.verify import verify_dist

Action = Literal["add", "update", "delete"]
NO_TOKEN = "no Hugging Face token found: set HF_TOKEN or run `hf auth login`"


@dataclass(frozen=True)
class PlannedFile:
    path: str
    action: Action
    size: int


@dataclass
class PublishResult:
    """What publish did (or, with dry_run, would do)."""

    repo_id: str
    revision: str
    plan: list[PlannedFile] = field(default_factory=list)
    unchanged: int = 0
    created_repo: bool = False
    dry_run: bool = False
    commit_url: str | None = None
    pr_url: str | None = None
    changes: Changes = field(default_factory=Changes)
    tag: str | None = None
    commit: str | None = None
    reused_pr: bool = False
    refused: str | None = None  # why a real publish would be refused (dry runs only)
    left: list[str] = field(default_factory=list)  # files under data/ no build of this tool wrote, kept
    created_branch: bool = False
    recovered: bool = False  # the answer to the commit was lost; reading the branch back found it applied

    def summary(self) -> str:
        """What the CLI prints: the plan, the papers changed, then the commit or why there is none."""
        lines = [f"{f.action:<7} {f.path} ({f.size:,} bytes)" for f in self.plan]
        lines += [
            f"leave   {path} (no build of this tool wrote it; --delete-unlisted removes it)"
            for path in self.left
        ]
        lines += self.changes.lines()
        target = f"{self.repo_id}@{self.revision}"
        if not self.plan and self.created_branch:
            lines.append(f"Created branch {target} from main, which already has this build.")
        elif not self.plan:
            lines.append(f"Nothing to publish: {target} already has this build ({self.unchanged} files).")
        elif self.dry_run:
            lines.append(f"Dry run: {len(self.plan)} change(s) to {target} planned; nothing was sent.")
            if self.refused:
                lines.append(f"A real publish would be refused: {self.refused}")
        elif self.reused_pr:
            lines.append(f"A pull request with this build is already open: {self.pr_url}")
        elif self.pr_url:
            lines.append(f"Opened a pull request on {target}: {self.pr_url}")
        elif self.recovered:
            lines.append(
                f"Published to {target}: {self.commit_url} (the Hub's answer was lost; reading {target} "
                "back shows this build)"
            )
        else:
            lines.append(f"Published to {target}: {self.commit_url}")
        if self.tag and not self.dry_run:
            lines.append(f"Tagged {self.commit} as {self.tag}; pin it with:")
            lines.append(f"    {pin(self.repo_id, self.tag)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """The `--format json` object: files, changes (paper ids), and per-split counts."""
        return {
            "repo_id": self.repo_id,
            "revision": self.revision,
            "dry_run": self.dry_run,
            "files": [{"path": f.path, "action": f.action, "size": f.size} for f in self.plan],
            "changes": self.changes.to_dict(),
            "splits": {name: asdict(c) for name, c in sorted(self.changes.splits.items())},
            "refused": self.refused,
            "tag": self.tag,
            "commit_url": self.commit_url,
            "pr_url": self.pr_url,
            "left": self.left,
        }


def publish(
    dist: StrPath,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    message: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    tag: str | None = None,
    allow_removals: bool = False,
    sources: Sequence[StrPath] | None = None,
    progress: bool = False,
    retries: Retries = DEFAULT_RETRIES,
    delete_unlisted: bool = False,
) -> PublishResult:
    """Publish a built folder to the dataset repository `repo_id` in a single commit.

    The uploaded card names `repo_id` and carries the release: `tag` (a semantic version, which then
    names the commit), and the changelog of the releases already on the branch. With `sources`, the
    folder must be the build of exactly these dumps. A publish that would remove more than half of the
    published papers is refused unless `allow_removals`. With `create_pr`, an open pull request that
    already holds these files is reported instead of opening another. Files under `data/` that the
    published card does not list (no build of this tool wrote them) are left, or with `delete_unlisted`
    deleted. Requests are retried and timed out per `retries` (hub/http.py); the commit itself is sent
    again only when the Hub refused it.

    Raises InvalidInput when `dist` fails `validate --dist` (before any request), PublishError when the
    Hub refuses or cannot be reached or a guard refuses; the branch then holds the files it held before
    (a repository or branch created for this attempt stays, as created). When the answer to the commit
    is lost, the branch is read back: if it holds the build, the result says so (`recovered`).
    """
    dist = Path(dist)
    check_repo_id(repo_id)
    if tag is not None:
        check_tag(tag)
        if create_pr:
            raise DatasetError("--tag names a published commit: tag after the pull request is merged")
    token = token or get_token()
    if token is None and not dry_run:
        raise PublishError(NO_TOKEN)
    started = time.perf_counter()
    report = verify_dist(dist, progress=progress)
    if not report.ok:
        raise InvalidInput(report)
    if sources is not None and (reason := stale(dist, [Path(s) for s in sources])) is not None:
        raise PublishError(f"{reason}; nothing was published")
    shards = {f.name: f.sha256 for f in report.files}
    api = RetryingHfApi(endpoint=endpoint, token=token, retries=retries)
    branch = revision or "main"
    result = PublishResult(repo_id, branch, dry_run=dry_run, tag=tag)
    try:
        remote = _remote(api, repo_id, branch)
        if tag is not None and remote.head is not None:
            refs = api.list_repo_refs(repo_id, repo_type="dataset")
            if any(t.name == tag for t in refs.tags):
                raise PublishError(
                    f"{repo_id} already has a tag {tag}: choose a new version; nothing was sent"
                )
        published = remote_card(api, repo_id, remote.head, remote.files)
        listed = _listed_shards(published)
        result.left = sorted(
            path
            for path in remote.files
            if path.startswith(f"{SHARD_DIR}/") and path not in shards and path not in listed
        )
        if delete_unlisted:
            listed |= set(result.left)
            result.left = []
        ours = {path: sha for path, sha in remote.files.items() if path not in result.left}
        local_card = (dist / CARD).read_text(encoding="utf-8")
        result.changes = remote_changes(api, repo_id, remote.head, ours, dist, shards)
        shard_plan, _ = _plan(dist, shards, ours, remote.sizes)
        releases = history(published)
        tagged_before = tag is not None and any(r.version == tag for r in releases)
        if (tag is not None and not tagged_before) or any(
            f.path.startswith(f"{SHARD_DIR}/") for f in shard_plan
        ):
            releases.insert(0, new_release(tag, result.changes, published))
        card = compose_card(local_card, repo_id, releases).encode()
        local = {CARD: hashlib.sha256(card).hexdigest()} | shards
        result.plan, result.unchanged = _plan(dist, local, ours, remote.sizes, {CARD: card})
        result.refused = removal_refusal(result.changes, allow_removals)
        log_since("plan", started)
        if dry_run:
            return result
        if not result.plan:
            if not remote.branch_exists and remote.head is not None and not create_pr:
                api.create_branch(repo_id, repo_type="dataset", branch=branch, exist_ok=True)
                result.created_branch = True
            if tag is not None and remote.head is not None:
                _tag(api, repo_id, tag, remote.head, f"{repo_id}@{branch}")
                result.commit = remote.head
            return result
        if result.refused:
            raise PublishError(f"{result.refused}; nothing was sent")
        reuse = create_pr and remote.head is not None
        if reuse and (pr := _open_pr(api, repo_id, local, result.plan, card)) is not None:
            result.pr_url, result.reused_pr = pr, True
            return result
        parent = remote.head
        if parent is None:
            parent = _create_repo(api, repo_id, private)
            result.created_repo = True
        if not remote.branch_exists and branch != "main":
            api.create_branch(repo_id, repo_type="dataset", branch=branch, exist_ok=True)
        operations: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationDelete(f.path)
            if f.action == "delete"
            else CommitOperationAdd(f.path, card if f.path == CARD else dist / f.path)
            for f in result.plan
        ]
        with timed("upload"):  # the large files (LFS, or Xet when hf_xet is installed)
            additions = [op for op in operations if isinstance(op, CommitOperationAdd)]
            api.preupload_lfs_files(
                repo_id, additions, repo_type="dataset", revision=branch, create_pr=create_pr
            )
        with timed("commit"):
            try:
                commit = api.create_commit(
                    repo_id,
                    operations,
                    commit_message=message or _default_message(result.plan, tag),
                    commit_description="\n".join(result.changes.lines()),
                    repo_type="dataset",
                    revision=branch,
                    create_pr=create_pr,
                    parent_commit=parent,
                )
                result.commit, result.commit_url, result.pr_url = commit.oid, commit.commit_url, commit.pr_url
            except (httpx2.HTTPError, HfHubHTTPError) as e:
                status = (
                    e.response.status_code
                    if isinstance(e, HfHubHTTPError) and e.response is not None
                    else None
                )
                if create_pr or (status is not None and status < 500):
                    raise
                wanted = _wanted(local, result.plan, card) | {
                    f.path: set() for f in result.plan if f.action == "delete"
                }
                applied = _applied(api, repo_id, branch, parent, wanted)  # the answer was lost: read back
                if applied is None:
                    raise
                result.commit, result.recovered = applied, True
                result.commit_url = f"{api.endpoint}/datasets/{repo_id}/commit/{applied}"
    except GaveUp as e:
        raise PublishError(f"{e.describe(api.endpoint)}: try again later; nothing was published") from e
    except OfflineModeIsEnabled as e:
        raise PublishError(f"HF_HUB_OFFLINE is set ({e}): unset it to publish; nothing was published") from e
    except ConnectionError as e:  # what hf_xet raises when its storage refuses or cannot be reached
        raise PublishError(_upload_failed(e)) from e
    except HfHubHTTPError as e:
        raise PublishError(_explain(e, repo_id)) from e
    except httpx2.TimeoutException as e:
        raise PublishError(
            f"the Hub did not answer within {retries.timeout:g} s ({type(e).__name__}): try again later, "
            "or allow longer with --timeout"
        ) from e
    except httpx2.HTTPError as e:
        shown = hide_passwords(api.endpoint)  # a password in HF_ENDPOINT stays secret
        raise PublishError(
            f"could not reach the Hub at {shown} ({e}); nothing was published, or the commit was applied "
            f"but could not be confirmed: run publish again (it sends only what {repo_id} lacks)"
        ) from e
    except (RuntimeError, OSError) as e:  # a failed upload (Xet, LFS, network) comes as a RuntimeError
        raise PublishError(
            f"uploading failed: {e} ({e.__cause__}); nothing was committed, publish again"
        ) from e
    if tag is not None:
        _tag(api, repo_id, tag, result.commit, result.commit_url)
    return result


def _tag(api: HfApi, repo_id: str, tag: str, commit: str, shown: str | None) -> None:
    """Tag `commit`; PublishError saying how to tag it by hand when that fails."""
    try:
        with timed("tag"):
            api.create_tag(repo_id, repo_type="dataset", tag=tag, revision=commit)
    except (GaveUp, HfHubHTTPError, httpx2.HTTPError) as e:
        raise PublishError(
            f"published {shown} but could not tag it {tag} ({e}); tag that commit with "
            f"`hf repos tag create {repo_id} {tag} --repo-type dataset --revision {commit}`"
        ) from e


def _create_repo(api: HfApi, repo_id: str, private: bool) -> str:
    """Create the repository; its initial commit, the parent the first publish must follow. Another
    publish that created it meanwhile makes this fail instead of one build silently replacing the other."""
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=False)
    except HfHubHTTPError as e:
        if e.response is not None and e.response.status_code == 409:
            raise PublishError(
                f"{repo_id} was created by someone else while publishing (or this token cannot see it): "
                "run publish again; nothing was published"
            ) from e
        raise
    return str(api.dataset_info(repo_id).sha)


def _applied(
    api: HfApi, repo_id: str, branch: str, parent: str, wanted: Mapping[str, set[str]]
) -> str | None:
    """The head of `branch` when a commit after `parent` left it holding the `wanted` files (path ->
    accepted hashes; an empty set: deleted); None when it was not applied or the branch cannot be read."""
    try:
        info = api.dataset_info(repo_id, revision=branch, files_metadata=True)
    except (HfHubHTTPError, httpx2.HTTPError):
        return None
    held = hashes(info.siblings or [])
    if info.sha == parent or any(
        held.get(p) not in accepted if accepted else p in held for p, accepted in wanted.items()
    ):
        return None
    return info.sha


@dataclass(frozen=True)
class _Remote:
    files: dict[str, str]  # path -> content hash
    head: str | None  # the commit the new one must follow; None when the repository does not exist
    branch_exists: bool
    sizes: dict[str, int] = field(default_factory=dict)


def _remote(api: HfApi, repo_id: str, branch: str) -> _Remote:
    """What the branch holds now; a missing branch will start from `main`."""
    try:
        info = api.dataset_info(repo_id, revision=branch, files_metadata=True)
        branch_exists = True
    except RepositoryNotFoundError:
        return _Remote({}, None, False)
    except RevisionNotFoundError:
        info = api.dataset_info(repo_id, files_metadata=True)
        branch_exists = False
    sizes = {s.rfilename: s.size or 0 for s in info.siblings or []}
    return _Remote(hashes(info.siblings or []), info.sha, branch_exists, sizes)


def _listed_shards(card_text: str | None) -> set[str]:
    """The shard paths the published card lists (the files an earlier build of this tool wrote)."""
    if not card_text:
        return set()
    try:
        return set(read_card(card_text).shards)
    except CardError:
        return set()


def _open_pr(
    api: HfApi, repo_id: str, local: dict[str, str], plan: list[PlannedFile], card: bytes
) -> str | None:
    """An open pull request that already makes exactly these changes (see remote.open_pr_with)."""
    deleted = {f.path for f in plan if f.action == "delete"}
    return open_pr_with(api, repo_id, _wanted(local, plan, card), deleted)


def _wanted(local: dict[str, str], plan: list[PlannedFile], card: bytes) -> dict[str, set[str]]:
    """Path -> the hashes the Hub may report for each file the plan adds or updates."""
    wanted = {f.path: {local[f.path]} for f in plan if f.action != "delete"}  # shards: LFS, by sha256
    if CARD in wanted:
        wanted[CARD].add(f"git:{git_hash(card)}")
    return wanted


def _plan(
    dist: Path,
    local: dict[str, str],
    remote: dict[str, str],
    sizes: Mapping[str, int],
    content: Mapping[str, bytes] | None = None,
) -> tuple[list[PlannedFile], int]:
    """The files to add, update and delete; `content` replaces the folder's copy of a file (the card)."""
    content = content or {}
    plan: list[PlannedFile] = []
    unchanged = 0
    for path, sha256 in sorted(local.items()):
        size = len(content[path]) if path in content else (dist / path).stat().st_size
        if path not in remote:
            plan.append(PlannedFile(path, "add", size))
        elif remote[path] == sha256 or remote[path] == f"git:{_blob_id(dist, path, content)}":
            unchanged += 1
        else:
            plan.append(PlannedFile(path, "update", size))
    for path in sorted(remote):
        if path.startswith(f"{SHARD_DIR}/") and path not in local:
            plan.append(PlannedFile(path, "delete", sizes.get(path, 0)))
    return plan, unchanged


def _blob_id(dist: Path, path: str, content: Mapping[str, bytes]) -> str:
    """The git blob id of a file, read only when the Hub stores it as a plain git file (small ones)."""
    return git_hash(content[path] if path in content else (dist / path).read_bytes())


def _default_message(plan: list[PlannedFile], tag: str | None = None) -> str:
    counts = {action: sum(1 for f in plan if f.action == action) for action in ("add", "update", "delete")}
    done = ", ".join(f"{n} {action}" for action, n in counts.items() if n)
    return f"Publish dataset build{f' {tag}' if tag else ''} ({done})"


def _upload_failed(error: ConnectionError) -> str:
    """A failed upload of the large files: what failed, that nothing landed, and the fix for a server
    without Xet (huggingface_hub uploads through Xet whenever hf_xet is installed)."""
    detail = hide_passwords(" ".join(str(error).split()))
    text = f"could not upload the files ({detail}); nothing landed: no commit was made"
    if not constants.HF_HUB_DISABLE_XET and importlib.util.find_spec("hf_xet") is not None:
        text += (
            ". The upload went through Xet (hf_xet is installed): a Hub server without Xet, such as a "
            "local or self-hosted one, needs HF_HUB_DISABLE_XET=1"
        )
    return text


def _explain(error: HfHubHTTPError, repo_id: str) -> str:
    """An HTTP failure as something a person can act on."""
    status = error.response.status_code if error.response is not None else None
    detail = error.server_message or str(error).splitlines()[0]
    if status == 401:
        advice = "the Hub did not accept the token: set HF_TOKEN or run `hf auth login`"
    elif status == 403:
        advice = f"the token may not write to {repo_id}: use a token with write access to it"
    elif status == 404:
        advice = f"{repo_id} or its revision was not found: check --repo-id and --revision"
    elif status == 409 or status == 412:
        advice = "the repository changed while publishing: run publish again"
    elif status is not None and status >= 500:
        advice = "the Hub failed on its side: try again later"
    else:
        advice = "the Hub refused the request"
    return f"{advice} (HTTP {status}: {detail}); nothing was published"
