"""A Hugging Face Hub stand-in on loopback: serves checkpoint folders the way `hf_hub_download` reads them, and
takes the pushes that `PyTorchModelHubMixin.push_to_hub` and `HfApi.create_tag` make.

    with HubServer({"me/digit-bilstm": folder}, revisions=("main", "v1")) as server:
        ...  # run code with HF_ENDPOINT=server.endpoint
    assert ("GET", "/me/digit-bilstm/resolve/v1/model.safetensors") in server.requests

Reading (huggingface_hub 2.x). The file endpoint, `/{repo_id}/resolve/{revision}/{filename}` for HEAD and GET, is
all `hf_hub_download` uses: the HEAD answer must carry `X-Repo-Commit` and an `ETag` (and `Content-Length` for the
expected size), and a 404 carries `X-Error-Code` so the client can tell a missing file (EntryNotFound) from a
missing repo or revision. Files are served directly, never through a redirect, so `X-Linked-Etag`/`X-Linked-Size`
(only sent on the Hub's redirects to its CDN) are not needed. `/api/models/{repo_id}/revision/{revision}` answers
`repo_info` (and so `revision_exists`) with the repo's id and commit.

Writing, the Hub's JSON API as huggingface_hub 2.x calls it: `POST /api/repos/create` (409 for a repo that exists),
`/api/validate-yaml` (the model card's metadata, always valid here), `/api/models/{repo_id}/preupload/{revision}`
(every file "regular": sent inline, base64, in the commit, so no LFS or Xet transfer),
`/api/models/{repo_id}/commit/{revision}` (an ndjson header and files: a new commit with those files on top of the
revision's) and `/api/models/{repo_id}/tag/{revision}` (409 for a tag that exists). Each commit is a folder of its
own, so a tag keeps the files it was given. Anything else gets a plain 404; every request is recorded, so a test
can see what was asked.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

RESOLVE = re.compile(r"^/(?P<repo_id>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
REVISION = re.compile(r"^/api/models/(?P<repo_id>[^/]+/[^/]+)/revision/(?P<revision>[^/]+)$")
WRITE = re.compile(r"^/api/models/(?P<repo_id>[^/]+/[^/]+)/(?P<action>preupload|commit|tag)/(?P<revision>[^/]+)$")
JSON = {"Content-Type": "application/json"}
Reply = tuple[int, dict[str, str], bytes]


def commit_sha(repo_id: str) -> str:
    """The fixed 40-hex commit a served repo reports in X-Repo-Commit."""
    return hashlib.sha1(f"commit of {repo_id}".encode()).hexdigest()


def error(code: str, message: str, status: int = 404) -> Reply:
    """A refusal the way the Hub words it: huggingface_hub reads the kind of error from X-Error-Code."""
    return status, {"X-Error-Code": code, "X-Error-Message": message}, message.encode()


class HubServer:
    """Serves `{repo_id: folder}` on 127.0.0.1 at a free port; `endpoint` is the value for HF_ENDPOINT.

    A repo answers for each of `revisions`, for its tags and for its commits' shas; every request is appended
    to `requests` as (method, path). Pushed commits live in a temporary folder, removed by stop(). Use as a
    context manager, or call start() and stop() (stop is idempotent).
    """

    def __init__(self, repos: Mapping[str, Path], revisions: Iterable[str] = ("main",)):
        # refs: per repo, each revision's commit; commits: each commit's folder of files.
        self.refs = {repo_id: dict.fromkeys(revisions, commit_sha(repo_id)) for repo_id in repos}
        self.commits = {commit_sha(repo_id): Path(folder) for repo_id, folder in repos.items()}
        self.requests: list[tuple[str, str]] = []
        self._pushed = Path(tempfile.mkdtemp(prefix="hub-server-"))
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._stopped = False

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def paths(self, method: str | None = None) -> list[str]:
        """Request paths received so far, optionally only those of one HTTP method."""
        return [path for verb, path in self.requests if method in (None, verb)]

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port, so later connections are refused."""
        if not self._stopped:
            self._stopped = True
            if self._thread.is_alive():
                self._httpd.shutdown()
            self._httpd.server_close()
            shutil.rmtree(self._pushed, ignore_errors=True)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def respond(self, method: str, path: str, body: bytes = b"") -> Reply:
        """(status, headers, body) for one request; the body is dropped for HEAD by the handler."""
        self.requests.append((method, path))
        route = urlsplit(path).path
        with self._lock:  # pushes change refs and commits
            if method == "POST":
                return self._write(route, body)
            match = RESOLVE.match(route) or REVISION.match(route)
            if match is None:
                return 404, {}, b"not found"
            repo_id, revision = unquote(match["repo_id"]), unquote(match["revision"])
            commit, refused = self._commit(repo_id, revision)
            if refused:
                return refused
            if match.re is REVISION:
                return 200, JSON, json.dumps({"id": repo_id, "sha": commit}).encode()
            file = self.commits[commit] / unquote(match["filename"])
        if not file.is_file():
            # The Hub names the commit even here; huggingface_hub caches the file's absence under it.
            return 404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                         "X-Repo-Commit": commit}, b""
        content = file.read_bytes()
        return 200, {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
                     "Content-Type": "application/octet-stream"}, content

    def _commit(self, repo_id: str, revision: str) -> tuple[str, Reply | None]:
        """The commit a repo's revision (a branch, a tag or a commit sha) names, or the Hub's refusal."""
        if repo_id not in self.refs:
            return "", error("RepoNotFound", "Repository not found")
        refs = self.refs[repo_id]
        if revision in refs:
            return refs[revision], None
        if revision in refs.values():
            return revision, None
        return "", error("RevisionNotFound", "Invalid rev id")

    def _write(self, route: str, body: bytes) -> Reply:
        """The Hub's answer to a POST: create a repo, check a model card, plan, make or tag a commit."""
        if route == "/api/repos/create":
            asked = json.loads(body)
            repo_id = f"{asked['organization']}/{asked['name']}"
            if repo_id in self.refs:
                return error("RepoExists", "You already created this model repo", status=409)
            self.refs[repo_id] = {}
            return 200, JSON, json.dumps({"url": f"{self.endpoint}/{repo_id}", "name": repo_id}).encode()
        if route == "/api/validate-yaml":
            return 200, JSON, b'{"errors": [], "warnings": []}'
        match = WRITE.match(route)
        if match is None:
            return 404, {}, b"not found"
        repo_id, revision = unquote(match["repo_id"]), unquote(match["revision"])
        if repo_id not in self.refs:
            return error("RepoNotFound", "Repository not found")
        if match["action"] == "preupload":
            files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                     for f in json.loads(body)["files"]]
            return 200, JSON, json.dumps({"files": files}).encode()
        if match["action"] == "commit":
            return self._new_commit(repo_id, revision, body)
        tag = json.loads(body)["tag"]
        commit, refused = self._commit(repo_id, revision)
        if refused:
            return refused
        if tag in self.refs[repo_id]:
            return error("TagExists", f"Tag {tag} already exists", status=409)
        self.refs[repo_id][tag] = commit
        return 200, JSON, b"{}"

    def _new_commit(self, repo_id: str, branch: str, body: bytes) -> Reply:
        """A commit of the ndjson payload's files on top of `branch` (a new branch starts empty)."""
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        files = [line["value"] for line in lines if line["key"] == "file"]
        if any(line["key"] not in ("header", "file") for line in lines):
            return error("BadRequest", "this stand-in takes only inline (regular) files", status=400)
        parent = self.refs[repo_id].get(branch)
        commit = hashlib.sha1(f"{parent} {body!r}".encode()).hexdigest()
        folder = self._pushed / commit
        if parent is not None:
            shutil.copytree(self.commits[parent], folder)
        folder.mkdir(parents=True, exist_ok=True)
        for file in files:
            (folder / file["path"]).parent.mkdir(parents=True, exist_ok=True)
            (folder / file["path"]).write_bytes(base64.b64decode(file["content"]))
        self.commits[commit] = folder
        self.refs[repo_id][branch] = commit
        return 200, JSON, json.dumps({"commitUrl": f"{self.endpoint}/{repo_id}/commit/{commit}",
                                      "commitOid": commit, "pullRequestUrl": None}).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._reply(send_body=False)

            def do_GET(self) -> None:
                self._reply(send_body=True)

            def do_POST(self) -> None:
                self._reply(send_body=True, received=self.rfile.read(int(self.headers.get("Content-Length", 0))))

            do_PUT = do_POST

            def _reply(self, send_body: bool, received: bytes = b"") -> None:
                status, headers, body = server.respond(self.command, self.path, received)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # requests are recorded in server.requests; stderr noise would hide test output

        return Handler
