"""A Hugging Face Hub stand-in on loopback: serves checkpoint folders the way `hf_hub_download` reads them.

    with HubServer({"me/digit-bilstm": folder}, revisions=("main", "v1")) as server:
        ...  # run code with HF_ENDPOINT=server.endpoint
    assert ("GET", "/me/digit-bilstm/resolve/v1/model.safetensors") in server.requests

Two endpoints are implemented. The file endpoint, `/{repo_id}/resolve/{revision}/{filename}` for HEAD and GET, is
all `hf_hub_download` uses (huggingface_hub 2.x): the HEAD answer must carry `X-Repo-Commit` and an `ETag`
(and `Content-Length` for the expected size), and a 404 carries `X-Error-Code` so the client can tell a
missing file (EntryNotFound) from a missing repo or revision. Files are served directly, never through a
redirect, so `X-Linked-Etag`/`X-Linked-Size` (only sent on the Hub's redirects to its CDN) are not needed.
`/api/models/{repo_id}/revision/{revision}` answers `repo_info` (and so `revision_exists`) with the repo's id
and commit. Anything else, uploads (POST, PUT) included, gets a plain 404 and is recorded, so a test can see it
was asked.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

RESOLVE = re.compile(r"^/(?P<repo_id>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
REVISION = re.compile(r"^/api/models/(?P<repo_id>[^/]+/[^/]+)/revision/(?P<revision>[^/]+)$")


def commit_sha(repo_id: str) -> str:
    """The fixed 40-hex commit a served repo reports in X-Repo-Commit."""
    return hashlib.sha1(f"commit of {repo_id}".encode()).hexdigest()


class HubServer:
    """Serves `{repo_id: folder}` on 127.0.0.1 at a free port; `endpoint` is the value for HF_ENDPOINT.

    A repo answers for each of `revisions` and for its own commit sha; every request is appended to
    `requests` as (method, path). Use as a context manager, or call start() and stop() (stop is idempotent).
    """

    def __init__(self, repos: Mapping[str, Path], revisions: Iterable[str] = ("main",)):
        self.repos = {repo_id: Path(folder) for repo_id, folder in repos.items()}
        self.revisions = set(revisions)
        self.requests: list[tuple[str, str]] = []
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

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def respond(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one request; the body is dropped for HEAD by the handler."""
        self.requests.append((method, path))
        route = urlsplit(path).path
        match = RESOLVE.match(route) or REVISION.match(route)
        if match is None:
            return 404, {}, b"not found"
        repo_id, revision = unquote(match["repo_id"]), unquote(match["revision"])
        if repo_id not in self.repos:
            return 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, b""
        commit = commit_sha(repo_id)
        if revision not in self.revisions | {commit}:
            return 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"}, b""
        if match.re is REVISION:
            return 200, {"Content-Type": "application/json"}, json.dumps({"id": repo_id, "sha": commit}).encode()
        filename = unquote(match["filename"])
        file = self.repos[repo_id] / filename
        if not file.is_file():
            # The Hub names the commit even here; huggingface_hub caches the file's absence under it.
            return 404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                         "X-Repo-Commit": commit}, b""
        body = file.read_bytes()
        return 200, {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
                     "Content-Type": "application/octet-stream"}, body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._reply(send_body=False)

            def do_GET(self) -> None:
                self._reply(send_body=True)

            def do_POST(self) -> None:  # uploads: recorded, and refused by respond's 404
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._reply(send_body=True)

            do_PUT = do_POST

            def _reply(self, send_body: bool) -> None:
                status, headers, body = server.respond(self.command, self.path)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # requests are recorded in server.requests; stderr noise would hide test output

        return Handler
