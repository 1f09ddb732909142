"""Apps on loopback: start `python app.py` (or another app script) on a free port and wait until it is ready.

Used by the tests (the `app_url` fixture) and by the benchmarks (bench.common re-exports these). Servers get
`HF_HUB_OFFLINE=1` unless a caller overrides it; every other variable is inherited.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(extra: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment for a server: ours, offline Hub, no analytics, then `extra` (None deletes a name)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1"}
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@dataclass
class Server:
    """A started app process and where it answers."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the server process (VmRSS), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line")

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def answers_info(url: str) -> None:
    """Raises unless the app at `url` answers /gradio_api/info."""
    urllib.request.urlopen(url + "gradio_api/info", timeout=2)


def start_server(script: Path = APP, log_path: Path | None = None, env: dict[str, str] | None = None,
                 ready: Callable[[str], object] = answers_info, timeout: float = 180.0,
                 args: tuple[str, ...] = ()) -> tuple[Server, float]:
    """Launch `python script --port N [args]` and wait until `ready(url)` stops raising; returns the server
    and the seconds that took (launch to ready: a cold start when `ready` makes a real request)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = log_path or Path(os.devnull)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(script), "--port", str(port), *args], cwd=ROOT,
                               env=env or server_env(), stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    server = Server(process, url, log_path)
    last_error: Exception | None = None
    while time.perf_counter() - start < timeout:
        if not server.alive():
            raise RuntimeError(f"{script.name} exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            ready(url)
            return server, time.perf_counter() - start
        except Exception as error:  # not up yet (connection refused, 404 while the routes are added, ...)
            last_error = error
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{script.name} was not ready within {timeout:.0f} s ({last_error!r}):\n{server.log()[-3000:]}")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One app.py process serving the bundled checkpoints for the whole test session (its log included)."""
    server, _ = start_server(log_path=tmp_path_factory.mktemp("app") / "app.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_url(app_server: Server) -> str:
    """URL of the session's app_server."""
    return app_server.url
