"""dist/ -> one commit on a Hub dataset repository.

The folder is checked first (verify.py) so nothing broken leaves the machine. The plan compares local
files with the repository by content hash: unchanged files are not sent, shards the repository has but
the build no longer does are deleted, and everything goes in one `create_commit`, which the Hub applies
whole or not at all. `upload_folder` is not used because it may split a large upload into several
commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoSibling
from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]  # public, not in __all__

from dataset_builder.read import sha256_of
from dataset_builder.records import InvalidInput, PublishError, hide_passwords
from dataset_builder.shards import SHARD_DIR
from dataset_builder.verify import CARD, verify_dist

Action = Literal["add", "update", "delete"]


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

    def summary(self) -> str:
        """What the CLI prints: the plan, then the commit or why there is none."""
        lines = [f"{f.action:<7} {f.path} ({f.size:,} bytes)" for f in self.plan]
        target = f"{self.repo_id}@{self.revision}"
        if not self.plan:
            lines.append(f"Nothing to publish: {target} already has this build ({self.unchanged} files).")
        elif self.dry_run:
            lines.append(f"Dry run: {len(self.plan)} change(s) to {target} planned; nothing was sent.")
        else:
            lines.append(f"Published to {target}: {self.pr_url or self.commit_url}")
        return "\n".join(lines)


def publish(
    dist: Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    message: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
) -> PublishResult:
    """Publish a built folder to the dataset repository `repo_id` in a single commit.

    Raises InvalidInput when `dist` fails `validate --dist` (before any request), PublishError when the
    Hub refuses or cannot be reached; the branch then holds the files it held before (a repository or
    branch created for this attempt stays, as created).
    """
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise PublishError(f"{repo_id!r} is not a repository id like ORG/NAME: {e}") from e
    report = verify_dist(dist)
    if not report.ok:
        raise InvalidInput(report)
    local = {CARD: sha256_of(dist / CARD)} | {f.name: f.sha256 for f in report.files}
    api = HfApi(endpoint=endpoint, token=token)
    branch = revision or "main"
    result = PublishResult(repo_id, branch, dry_run=dry_run)
    try:
        remote = _remote(api, repo_id, branch)
        result.plan, result.unchanged = _plan(dist, local, remote.files)
        if dry_run or not result.plan:
            return result
        if remote.head is None:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            result.created_repo = True
        if not remote.branch_exists and branch != "main":
            api.create_branch(repo_id, repo_type="dataset", branch=branch, exist_ok=True)
        operations: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationDelete(f.path)
            if f.action == "delete"
            else CommitOperationAdd(f.path, dist / f.path)
            for f in result.plan
        ]
        commit = api.create_commit(
            repo_id,
            operations,
            commit_message=message or _default_message(result.plan),
            repo_type="dataset",
            revision=branch,
            create_pr=create_pr,
            parent_commit=remote.head,
        )
    except HfHubHTTPError as e:
        raise PublishError(_explain(e, repo_id)) from e
    except httpx2.HTTPError as e:
        shown = hide_passwords(api.endpoint)  # a password in HF_ENDPOINT stays secret
        raise PublishError(f"could not reach the Hub at {shown} ({e}); nothing was published") from e
    except RuntimeError as e:  # the client wraps a failed file upload in a RuntimeError
        raise PublishError(f"{e} ({e.__cause__}); nothing was committed, publish again") from e
    result.commit_url = commit.commit_url
    result.pr_url = commit.pr_url
    return result


@dataclass(frozen=True)
class _Remote:
    files: dict[str, str]  # path -> content hash
    head: str | None  # the commit the new one must follow; None when the repository does not exist
    branch_exists: bool


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
    return _Remote(_hashes(info.siblings or []), info.sha, branch_exists)


def _hashes(siblings: list[RepoSibling]) -> dict[str, str]:
    """Content hashes as the Hub reports them: sha256 for LFS files, the git blob id otherwise."""
    return {s.rfilename: (s.lfs.sha256 if s.lfs else f"git:{s.blob_id}") for s in siblings}


def _plan(dist: Path, local: dict[str, str], remote: dict[str, str]) -> tuple[list[PlannedFile], int]:
    plan: list[PlannedFile] = []
    unchanged = 0
    for path, sha256 in sorted(local.items()):
        size = (dist / path).stat().st_size
        if path not in remote:
            plan.append(PlannedFile(path, "add", size))
        elif remote[path] in (sha256, f"git:{_git_blob_id(dist / path)}"):
            unchanged += 1
        else:
            plan.append(PlannedFile(path, "update", size))
    for path in sorted(remote):
        if path.startswith(f"{SHARD_DIR}/") and path not in local:
            plan.append(PlannedFile(path, "delete", 0))
    return plan, unchanged


def _default_message(plan: list[PlannedFile]) -> str:
    counts = {action: sum(1 for f in plan if f.action == action) for action in ("add", "update", "delete")}
    done = ", ".join(f"{n} {action}" for action, n in counts.items() if n)
    return f"Publish dataset build ({done})"


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


def _git_blob_id(path: Path) -> str:
    """The id git (and the Hub) gives a regular file's content."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
