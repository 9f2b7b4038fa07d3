"""A local stand-in for the Hugging Face Hub's HTTP API, for tests of `publish` and `load_dataset`.

It speaks the endpoints the real `huggingface_hub` client and `datasets` use for dataset repositories:
create, info, preupload, the LFS batch API (basic transfer), commit, branches, tags, refs (with pull
requests), discussions (pull requests only), tree, paths-info and resolve (with Range); a tag is a
revision like a branch. Repositories live under a folder: blobs by sha256, and each repository's refs and
commits as JSON. Every commit is a full snapshot, applied whole or not at all, like the Hub's.

The client must use plain LFS rather than Xet (HF_HUB_DISABLE_XET=1): this stand-in does not speak Xet,
and answers the Xet token routes with an error, as a server without Xet would.
Standard library only; tests start it on 127.0.0.1 and point HF_ENDPOINT at it. By hand:

    python -m tests.hub_server --port 8080 [--root FOLDER] [--token hf_local]

prints the endpoint and the environment variables to set, and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fnmatch
import hashlib
import json
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_PATTERNS = ["*.parquet", "*.arrow", "*.bin"]
LFS_SIZE = 10 * 1000 * 1000
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()
_REPO = r"(?P<type>dataset|model)s/(?P<repo>[^/]+/[^/]+)"
_REV = r"(?P<rev>refs%2Fpr%2F\d+|refs/pr/\d+|[^/]+)"


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


@dataclass
class Failure:
    method: str
    fragment: str
    status: int | None  # None: drop the connection
    times: int
    after: bool = False  # drop the connection after handling the request (the answer is lost)
    before: Callable[[], None] | None = None  # run this first, then handle the request


@dataclass
class Refusal:
    """Answer matching requests with `status` and, when given, a Retry-After header."""

    method: str
    fragment: str
    status: int
    retry_after: str | None
    times: int


@dataclass
class Stall:
    """Hold matching requests for up to `seconds` (less when the server stops), then drop them."""

    method: str
    fragment: str
    seconds: float
    times: int


@dataclass
class Repo:
    """Refs (branch or refs/pr/N -> commit oid) and commits (oid -> {title, parent, files})."""

    refs: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    private: bool = False
    tags: dict[str, str] = field(default_factory=dict)  # tag -> commit oid
    prs: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> {title, status}


class HubServer:
    """Start with `with HubServer(root) as hub:`; `hub.url` is the value for HF_ENDPOINT."""

    def __init__(self, root: Path, require_token: str | None = None, port: int = 0) -> None:
        self.root = root
        self.require_token = require_token
        self.requests: list[tuple[str, str]] = []
        self._failures: list[Failure] = []
        self._repos: dict[str, Repo] = {}
        self._lock = threading.Lock()
        self._papers: dict[str, list[dict[str, Any]]] = {}
        self._refusals: list[Refusal] = []
        self._stalls: list[Stall] = []
        self._stopping = threading.Event()
        self.stalled = threading.Event()  # set when a request starts stalling
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        # `stop` waits for the serving loop to look at its flag: every 0.5 s by default, which the ~150
        # tests that start a stand-in would spend waiting (0.25 s each on average).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Test controls and introspection.

    def fail_next(self, method: str, fragment: str, status: int, times: int = 1) -> None:
        """Answer the next `times` requests whose path contains `fragment` with `status`."""
        self._failures.append(Failure(method, fragment, status, times))

    def drop_next(self, method: str, fragment: str, times: int = 1) -> None:
        """Close the connection without answering the next matching requests."""
        self._failures.append(Failure(method, fragment, None, times))

    def refuse_next(
        self, method: str, fragment: str, status: int = 429, retry_after: str | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` matching requests with `status` (429: rate limited) and `Retry-After`."""
        self._refusals.append(Refusal(method, fragment, status, retry_after, times))

    def stall_next(self, method: str, fragment: str, seconds: float = 30, times: int = 1) -> None:
        """Hold the next matching requests without an answer for up to `seconds`, then drop them; for
        timeouts (the client's must be shorter). `stalled` is set when one starts."""
        self._stalls.append(Stall(method, fragment, seconds, times))

    def add_papers(self, day: str, entries: list[dict[str, Any]]) -> None:
        """List `entries` (raw API objects, in this order) on the Daily Papers of `day` (YYYY-MM-DD)."""
        self._papers.setdefault(day, []).extend(entries)

    def drop_answer_next(self, method: str, fragment: str) -> None:
        """Handle the next matching request, then close the connection without sending the answer."""
        self._failures.append(Failure(method, fragment, None, 1, after=True))

    def before_next(self, method: str, fragment: str, action: Callable[[], None]) -> None:
        """Run `action` (e.g. another client's publish) before handling the next matching request."""
        self._failures.append(Failure(method, fragment, None, 1, before=action))

    def commits(
        self, repo_id: str, revision: str = "main", repo_type: str = "dataset"
    ) -> list[dict[str, Any]]:
        """The history of a ref, newest first: dicts with oid, title, description and files (path ->
        sha256)."""
        repo = self._repos[f"{repo_type}/{repo_id}"]
        oid: str | None = repo.refs[revision]
        history = []
        while oid:
            commit = repo.commits[oid]
            history.append(
                {
                    "oid": oid,
                    "title": commit["title"],
                    "description": commit.get("description", ""),
                    "files": commit["files"],
                }
            )
            oid = commit["parent"]
        return history

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> dict[str, bytes]:
        """The content of every file at a ref."""
        [head, *_] = self.commits(repo_id, revision, repo_type)
        return {path: self._blob(entry["sha256"]) for path, entry in head["files"].items()}

    def refs(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        return dict(self._repos[f"{repo_type}/{repo_id}"].refs)

    def tags(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        return dict(self._repos[f"{repo_type}/{repo_id}"].tags)

    def close_pr(self, repo_id: str, number: int, status: str = "closed", repo_type: str = "dataset") -> None:
        """Close (or merge) a pull request, as a maintainer would on the Hub."""
        self._repos[f"{repo_type}/{repo_id}"].prs[number]["status"] = status

    # Storage.

    def _blob(self, sha256: str) -> bytes:
        return (self.root / "blobs" / sha256).read_bytes()

    def _store(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / sha256).write_bytes(data)
        return sha256

    def _save(self, key: str) -> None:
        path = self.root / "repos" / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        repo = self._repos[key]
        state = {"refs": repo.refs, "tags": repo.tags, "prs": repo.prs, "commits": repo.commits}
        path.write_text(json.dumps(state | {"private": repo.private}))

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self._repos.get(f"{repo_type}/{repo_id}")
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _head(self, repo: Repo, rev: str) -> str:
        rev = unquote(rev)
        if rev in repo.refs:
            return repo.refs[rev]
        if rev in repo.tags:
            return repo.tags[rev]
        if rev in repo.commits:
            return rev
        raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def _commit(
        self,
        repo: Repo,
        parent: str | None,
        title: str,
        files: dict[str, dict[str, Any]],
        description: str = "",
    ) -> str:
        body = json.dumps([parent, title, description, sorted(files.items())], sort_keys=True).encode()
        oid = hashlib.sha1(body).hexdigest()
        repo.commits[oid] = {"title": title, "description": description, "parent": parent, "files": files}
        return oid

    def _entry(self, data: bytes, path: str, lfs: bool) -> dict[str, Any]:
        return {
            "sha256": self._store(data),
            "size": len(data),
            "lfs": lfs,
            "blob_id": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
        }

    # Endpoints: each returns (status, headers, body) or raises HubError.

    def create_repo(self, body: dict[str, Any]) -> Any:
        repo_type = body.get("type") or "model"
        repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
        key = f"{repo_type}/{repo_id}"
        if key in self._repos:
            raise HubError(409, "You already created this dataset repo")
        repo = Repo(private=bool(body.get("private")) or body.get("visibility") == "private")
        self._repos[key] = repo
        files = {".gitattributes": self._entry(GITATTRIBUTES, ".gitattributes", False)}
        repo.refs["main"] = self._commit(repo, None, "initial commit", files)
        self._save(key)
        prefix = "datasets/" if repo_type == "dataset" else ""
        return {"url": f"{self.url}/{prefix}{repo_id}", "name": repo_id}

    def validate_yaml(self, body: dict[str, Any]) -> Any:
        """The Hub checks a card's metadata before committing it; here: it must be a YAML mapping."""
        front = re.match(r"---\n(.*?)\n---\n", body["content"], re.S)
        try:
            metadata = yaml.safe_load(front[1]) if front else {}
        except yaml.YAMLError as e:
            raise HubError(400, f"invalid YAML: {e}") from e
        if not isinstance(metadata, dict):
            raise HubError(400, "metadata must be a YAML mapping")
        return {"errors": [], "warnings": []}

    def info(self, repo_type: str, repo_id: str, rev: str) -> Any:
        repo = self._repo(repo_type, repo_id)
        oid = self._head(repo, rev)
        files = repo.commits[oid]["files"]
        siblings = []
        for path, entry in sorted(files.items()):
            sibling: dict[str, Any] = {"rfilename": path, "size": entry["size"], "blobId": entry["blob_id"]}
            if entry["lfs"]:
                sibling["lfs"] = {"size": entry["size"], "sha256": entry["sha256"], "pointerSize": 134}
            siblings.append(sibling)
        return {
            "id": repo_id,
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "author": repo_id.split("/")[0],
            "sha": oid,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "lastModified": "2026-01-01T00:00:00.000Z",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "tags": [],
            "downloads": 0,
            "likes": 0,
            "siblings": siblings,
            "cardData": {},
        }

    def preupload(self, repo_type: str, repo_id: str, rev: str, body: dict[str, Any]) -> Any:
        repo = self._repo(repo_type, repo_id)
        head = repo.commits[self._head(repo, rev)]["files"] if rev in repo.refs else {}
        answers = []
        for item in body["files"]:
            path = item["path"]
            lfs = item["size"] > LFS_SIZE or any(
                fnmatch.fnmatch(path.split("/")[-1], p) for p in LFS_PATTERNS
            )
            existing = head.get(path)
            oid = (
                None if existing is None else (existing["sha256"] if existing["lfs"] else existing["blob_id"])
            )
            answers.append(
                {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid}
            )
        return {"files": answers, "commitOid": None}

    def lfs_batch(self, repo_type: str, repo_id: str, body: dict[str, Any]) -> Any:
        self._repo(repo_type, repo_id)
        objects = []
        for item in body["objects"]:
            oid, size = item["oid"], item["size"]
            answer: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            if not (self.root / "blobs" / oid).exists():
                answer["actions"] = {
                    "upload": {"href": f"{self.url}/lfs-upload/{oid}", "header": {}},
                    "verify": {"href": f"{self.url}/lfs-verify/{oid}", "header": {}},
                }
            objects.append(answer)
        return {"transfer": "basic", "objects": objects}

    def lfs_upload(self, oid: str, data: bytes) -> Any:
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, "uploaded content does not match its oid")
        self._store(data)
        return {}

    def lfs_verify(self, oid: str) -> Any:
        if not (self.root / "blobs" / oid).exists():
            raise HubError(404, f"object {oid} was not uploaded")
        return {}

    def commit(
        self, repo_type: str, repo_id: str, rev: str, lines: list[dict[str, Any]], create_pr: bool
    ) -> Any:
        repo = self._repo(repo_type, repo_id)
        rev = unquote(rev)
        head = self._head(repo, rev)
        header = lines[0]["value"]
        if header.get("parentCommit") and header["parentCommit"] != head:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(repo.commits[head]["files"])
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value.get("path", "")
            if key == "file":
                files[path] = self._entry(base64.b64decode(value["content"]), path, False)
            elif key == "lfsFile":
                if not (self.root / "blobs" / value["oid"]).exists():
                    raise HubError(422, f"LFS object {value['oid']} for {path} was never uploaded")
                files[path] = self._entry(self._blob(value["oid"]), path, True)
            elif key == "deletedFile":
                if path not in files:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            elif key == "deletedFolder":
                files = {p: e for p, e in files.items() if not p.startswith(path.rstrip("/") + "/")}
            else:
                raise HubError(400, f"unknown commit operation {key}")
        oid = self._commit(repo, head, header["summary"], files, header.get("description") or "")
        prefix = "datasets/" if repo_type == "dataset" else ""
        answer = {"commitOid": oid, "commitUrl": f"{self.url}/{prefix}{repo_id}/commit/{oid}"}
        if create_pr:
            number = 1 + sum(1 for ref in repo.refs if ref.startswith("refs/pr/"))
            repo.refs[f"refs/pr/{number}"] = oid
            repo.prs[number] = {"title": header["summary"], "status": "open"}
            answer["pullRequestUrl"] = f"{self.url}/{prefix}{repo_id}/discussions/{number}"
        else:
            repo.refs[rev] = oid
        self._save(f"{repo_type}/{repo_id}")
        return answer

    def create_branch(self, repo_type: str, repo_id: str, branch: str, body: dict[str, Any]) -> Any:
        repo = self._repo(repo_type, repo_id)
        if branch in repo.refs:
            raise HubError(409, f"Reference already exists: {branch}")
        repo.refs[branch] = self._head(repo, body.get("startingPoint") or "main")
        self._save(f"{repo_type}/{repo_id}")
        return {}

    def create_tag(self, repo_type: str, repo_id: str, rev: str, body: dict[str, Any]) -> Any:
        repo = self._repo(repo_type, repo_id)
        tag = body["tag"]
        if tag in repo.tags:
            raise HubError(409, f"Tag reference {tag} already exists")
        repo.tags[tag] = self._head(repo, rev)
        self._save(f"{repo_type}/{repo_id}")
        return {}

    def list_refs(self, repo_type: str, repo_id: str, include_prs: bool) -> Any:
        repo = self._repo(repo_type, repo_id)

        def ref(name: str, full: str, oid: str) -> dict[str, str]:
            return {"name": name, "ref": full, "targetCommit": oid}

        branches = [ref(n, f"refs/heads/{n}", o) for n, o in repo.refs.items() if not n.startswith("refs/")]
        answer: dict[str, Any] = {
            "branches": branches,
            "converts": [],
            "tags": [ref(n, f"refs/tags/{n}", o) for n, o in repo.tags.items()],
        }
        if include_prs:
            prs = [(n, o) for n, o in repo.refs.items() if n.startswith("refs/pr/")]
            answer["pullRequests"] = [ref(n.removeprefix("refs/"), n, o) for n, o in prs]
        return answer

    def discussions(self, repo_type: str, repo_id: str, query: dict[str, list[str]]) -> Any:
        """Pull requests only (this stand-in has no plain discussions), newest first, one page."""
        repo = self._repo(repo_type, repo_id)
        status = query.get("status", ["all"])[0]
        found = [
            {
                "num": number,
                "title": pr["title"],
                "author": {"name": "test"},
                "createdAt": "2026-01-01T00:00:00.000Z",
                "status": pr["status"],
                "repo": {"name": repo_id, "type": repo_type},
                "isPullRequest": True,
            }
            for number, pr in sorted(repo.prs.items(), reverse=True)
            if status == "all" or pr["status"] == status
        ]
        if query.get("type", ["all"])[0] == "discussion":
            found = []
        return {"discussions": found, "count": len(found), "start": 0, "numClosedDiscussions": 0}

    def tree(self, repo_type: str, repo_id: str, rev: str, path: str, recursive: bool) -> Any:
        repo = self._repo(repo_type, repo_id)
        files = repo.commits[self._head(repo, rev)]["files"]
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        entries: dict[str, dict[str, Any]] = {}
        for file_path, entry in sorted(files.items()):
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :]
            parts = rest.split("/")
            if len(parts) > 1 and not recursive:
                folder = prefix + parts[0]
                entries[folder] = {"type": "directory", "path": folder, "oid": "0" * 40, "size": 0}
                continue
            if recursive:
                for depth in range(1, len(parts)):
                    folder = prefix + "/".join(parts[:depth])
                    entries[folder] = {"type": "directory", "path": folder, "oid": "0" * 40, "size": 0}
            entries[file_path] = self._file_entry(file_path, entry)
        if prefix and not entries:
            raise HubError(404, f"{path} does not exist", "EntryNotFound")
        return list(entries.values())

    def paths_info(self, repo_type: str, repo_id: str, rev: str, paths: list[str]) -> Any:
        repo = self._repo(repo_type, repo_id)
        files = repo.commits[self._head(repo, rev)]["files"]
        found = []
        for path in paths:
            path = path.strip("/")
            if path in files:
                found.append(self._file_entry(path, files[path]))
            elif any(p.startswith(path + "/") for p in files):
                found.append({"type": "directory", "path": path, "oid": "0" * 40, "size": 0})
        return found

    def _file_entry(self, path: str, entry: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "type": "file",
            "path": path,
            "oid": entry["blob_id"],
            "size": entry["size"],
        }
        if entry["lfs"]:
            answer["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": 134}
        return answer

    def resolve(self, repo_type: str, repo_id: str, rev: str, path: str) -> tuple[bytes, dict[str, str]]:
        repo = self._repo(repo_type, repo_id)
        oid = self._head(repo, rev)
        entry = repo.commits[oid]["files"].get(path)
        if entry is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        etag = entry["sha256"] if entry["lfs"] else entry["blob_id"]
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": oid, "Accept-Ranges": "bytes"}
        if entry["lfs"]:
            headers["X-Linked-Etag"] = f'"{etag}"'
            headers["X-Linked-Size"] = str(entry["size"])
        return self._blob(entry["sha256"]), headers

    def daily_papers(self, query: dict[str, list[str]]) -> Any:
        """One page of a day's papers, as the Hub pages them: `p` from 0, `limit` 50 by default."""
        day = query.get("date", [""])[0]
        page, limit = int(query.get("p", ["0"])[0]), int(query.get("limit", ["50"])[0])
        return self._papers.get(day, [])[page * limit : (page + 1) * limit]

    def commit_list(self, repo_type: str, repo_id: str, rev: str) -> Any:
        self._repo(repo_type, repo_id)
        return [
            {
                "id": c["oid"],
                "title": c["title"],
                "message": c["description"],
                "authors": [],
                "date": "2026-01-01T00:00:00.000Z",
            }
            for c in self.commits(repo_id, unquote(rev), repo_type)
        ]


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: with Nagle's algorithm the body waits for the
        # client's delayed ACK of the headers (40 ms a request on Linux), as no real Hub makes it wait.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read `hub.requests` instead."""

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_HEAD(self) -> None:
            self._dispatch("HEAD")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            hub.requests.append((method, url.path))
            if self._injected(method, self.path):
                return
            failure = next(
                (f for f in hub._failures if f.times > 0 and f.method == method and f.fragment in url.path),
                None,
            )
            if failure is not None:
                failure.times -= 1
                if failure.before is not None:
                    failure.before()
                    failure = None
            if failure is not None and failure.after:
                self.silent = True  # the Hub applies the request; its answer never arrives
                with contextlib.suppress(HubError), hub._lock:
                    self._route(method, url.path, query, body)
                self.close_connection = True
                self.connection.close()
                return
            if failure is not None:
                if failure.status is None:
                    self.close_connection = True
                    self.connection.close()
                    return
                self._json(failure.status, {"error": f"injected failure {failure.status}"})
                return
            presigned = url.path.startswith(("/lfs-upload/", "/lfs-verify/"))  # like storage URLs: no token
            authorized = self.headers.get("Authorization") == f"Bearer {hub.require_token}"
            if (
                method in ("POST", "PUT")
                and hub.require_token is not None
                and not presigned
                and not authorized
            ):
                self._json(401, {"error": "Invalid credentials in Authorization header"})
                return
            try:
                with hub._lock:
                    self._route(method, url.path, query, body)
            except HubError as e:
                headers = {"X-Error-Code": e.code} if e.code else {}
                self._json(e.status, {"error": e.message}, headers)

        def _injected(self, method: str, path: str) -> bool:
            """Apply a refusal or stall the test asked for (`fragment` in the path with its query, e.g.
            `date=2026-01-05`); True when the request was handled so."""
            refusal = next(
                (f for f in hub._refusals if f.times > 0 and f.method == method and f.fragment in path), None
            )
            if refusal is not None:
                refusal.times -= 1
                headers = {"Retry-After": refusal.retry_after} if refusal.retry_after is not None else {}
                self._json(refusal.status, {"error": f"injected refusal {refusal.status}"}, headers)
                return True
            stall = next(
                (f for f in hub._stalls if f.times > 0 and f.method == method and f.fragment in path), None
            )
            if stall is not None:
                stall.times -= 1
                hub.stalled.set()
                hub._stopping.wait(stall.seconds)
                self.close_connection = True
                self.connection.close()
                return True
            return False

        def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
            if method == "GET" and path == "/api/daily_papers":
                return self._json(200, hub.daily_papers(query))
            if method == "POST" and path == "/api/validate-yaml":
                return self._json(200, hub.validate_yaml(json.loads(body)))
            if method == "POST" and path == "/api/repos/create":
                return self._json(200, hub.create_repo(json.loads(body)))
            if re.fullmatch(rf"/api/{_REPO}/xet-(?:read|write)-token(?:/.*)?", path):
                raise HubError(501, "this server does not speak Xet: set HF_HUB_DISABLE_XET=1")
            if m := re.fullmatch(rf"/api/{_REPO}(?:/revision/{_REV})?", path):
                return self._json(200, hub.info(m["type"], m["repo"], m["rev"] or "main"))
            if method == "POST" and (m := re.fullmatch(rf"/api/{_REPO}/preupload/{_REV}", path)):
                return self._json(200, hub.preupload(m["type"], m["repo"], m["rev"], json.loads(body)))
            if method == "POST" and (m := re.fullmatch(rf"/api/{_REPO}/commit/{_REV}", path)):
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                create_pr = query.get("create_pr") == ["1"]
                return self._json(200, hub.commit(m["type"], m["repo"], m["rev"], lines, create_pr))
            if method == "POST" and (m := re.fullmatch(rf"/api/{_REPO}/branch/(?P<branch>.+)", path)):
                payload = json.loads(body) if body else {}
                return self._json(200, hub.create_branch(m["type"], m["repo"], unquote(m["branch"]), payload))
            if method == "POST" and (m := re.fullmatch(rf"/api/{_REPO}/tag/{_REV}", path)):
                return self._json(200, hub.create_tag(m["type"], m["repo"], m["rev"], json.loads(body)))
            if m := re.fullmatch(rf"/api/{_REPO}/refs", path):
                include_prs = query.get("include_prs") == ["1"]
                return self._json(200, hub.list_refs(m["type"], m["repo"], include_prs))
            if m := re.fullmatch(rf"/api/{_REPO}/discussions", path):
                return self._json(200, hub.discussions(m["type"], m["repo"], query))
            if m := re.fullmatch(rf"/api/{_REPO}/tree/{_REV}(?:/(?P<path>.*))?", path):
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                entries = hub.tree(m["type"], m["repo"], m["rev"], unquote(m["path"] or ""), recursive)
                return self._json(200, entries)
            if method == "POST" and (m := re.fullmatch(rf"/api/{_REPO}/paths-info/{_REV}", path)):
                paths = _form_or_json(self.headers.get("Content-Type", ""), body).get("paths", [])
                return self._json(200, hub.paths_info(m["type"], m["repo"], m["rev"], paths))
            if m := re.fullmatch(rf"/api/{_REPO}/commits/{_REV}", path):
                return self._json(200, hub.commit_list(m["type"], m["repo"], m["rev"]))
            if method == "POST" and (
                m := re.fullmatch(
                    r"/(?P<prefix>datasets/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", path
                )
            ):
                repo_type = "dataset" if m["prefix"] else "model"
                answer = hub.lfs_batch(repo_type, m["repo"], json.loads(body))
                return self._json(200, answer, {"Content-Type": "application/vnd.git-lfs+json"})
            if method == "PUT" and (m := re.fullmatch(r"/lfs-upload/(?P<oid>[0-9a-f]{64})", path)):
                return self._json(200, hub.lfs_upload(m["oid"], body))
            if method == "POST" and (m := re.fullmatch(r"/lfs-verify/(?P<oid>[0-9a-f]{64})", path)):
                return self._json(200, hub.lfs_verify(m["oid"]))
            if method in ("GET", "HEAD") and (
                m := re.fullmatch(
                    rf"/(?:(?P<prefix>datasets)/)?(?P<repo>[^/]+/[^/]+)/resolve/{_REV}/(?P<path>.+)", path
                )
            ):
                repo_type = "dataset" if m["prefix"] else "model"
                data, headers = hub.resolve(repo_type, m["repo"], m["rev"], unquote(m["path"]))
                return self._content(method, data, headers)
            raise HubError(404, f"the stand-in does not serve {method} {path}")

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            if getattr(self, "silent", False):
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _content(self, method: str, data: bytes, headers: dict[str, str]) -> None:
            status, start, end = 200, 0, len(data) - 1
            if m := re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "")):
                if m[1]:
                    start = int(m[1])
                    end = min(int(m[2]), end) if m[2] else end
                else:
                    start = max(0, len(data) - int(m[2]))
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            chunk = data[start : end + 1]
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            if method == "GET":
                self.wfile.write(chunk)

    return Handler


def _form_or_json(content_type: str, body: bytes) -> dict[str, Any]:
    if "json" in content_type:
        loaded: dict[str, Any] = json.loads(body)
        return loaded
    return {key: values for key, values in parse_qs(body.decode()).items()}


def main(argv: list[str] | None = None) -> None:
    """Serve a stand-in Hub by hand until Ctrl-C; print the endpoint and the environment to set."""
    parser = argparse.ArgumentParser(prog="python -m tests.hub_server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--root", type=Path, help="folder for the repositories (default: a new temp one)")
    parser.add_argument("--token", help="token that write requests must carry (default: any)")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="hub-stand-in-"))
    # Python leaves SIGINT ignored when it started ignored (a shell's background job): Ctrl-C must stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with HubServer(root, require_token=args.token, port=args.port) as hub:
        print(f"Stand-in Hub at {hub.url}, repositories in {root}. Set:", flush=True)
        print(f"  export HF_ENDPOINT={hub.url} HF_TOKEN={args.token or 'hf_local'} HF_HUB_DISABLE_XET=1")
        print("Ctrl-C stops it.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopped.", file=sys.stderr)


if __name__ == "__main__":
    main()
