"""Helpers shared by bench.run and bench.harness: app processes, API clients, test images and load runs.

Apps are started by the tests' own loopback helper (tests/app_server.py): servers get `HF_HUB_OFFLINE=1`
unless a caller overrides it; every other variable (LSTM_DEMO_CHECKPOINTS included) is inherited, so the
real checkpoints/ are used unless the user points elsewhere.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw, PngImagePlugin

from tests.app_server import APP, ROOT, Server, answers_info, server_env, start_server  # noqa: F401 (re-exported)

BARE_APP = ROOT / "bench" / "bare_app.py"
# What gradio_client says when a handler raised something other than gr.Error.
GENERIC_ERROR = "The upstream Gradio app has raised an exception"


def start_app(script: Path, log_path: Path, env: dict[str, str] | None = None, probe_image: Path | None = None,
              timeout: float = 180.0) -> tuple[Server, float]:
    """start_server, ready at a successful /classify of `probe_image` when one is given (the cold start
    measure), else at an answer from /gradio_api/info."""
    def classified(url: str) -> None:
        with connect(url) as client:
            classify(client, probe_image)

    return start_server(script, log_path, env, classified if probe_image else answers_info, timeout)


# ---- API calls ---------------------------------------------------------------------------------

def new_client(url: str) -> Client:
    """A quiet gradio_client.Client that leaves returned files on the server."""
    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


@contextmanager
def connect(url: str) -> Iterator[Client]:
    """`with connect(url) as client:` a new_client that is closed afterwards."""
    client = new_client(url)
    try:
        yield client
    finally:
        client.close()


def classify(client: Client, image: Path) -> dict:
    """/classify one image file; returns the label output ({"label": ..., "confidences": [...]})."""
    return client.predict(handle_file(str(image)), api_name="/classify")


def compare(client: Client, image: Path) -> tuple:
    """/compare one image file; returns (lstm label, bilstm label, facts)."""
    return client.predict(handle_file(str(image)), api_name="/compare")


def explain_digit(client: Client, image: Path) -> dict:
    """/explain_digit one image file; returns the readers' beliefs and both models' row saliency."""
    return client.predict(handle_file(str(image)), api_name="/explain_digit")


def generate(client: Client, prompt: str, temperature: float = 0.8, top_k: float = 0, top_p: float = 0.95,
             max_words: float = 5, seed: float | None = 0) -> str:
    """/generate (streamed by the server); returns the final text."""
    return client.predict(prompt, temperature, top_k, top_p, max_words, seed, api_name="/generate")


def generate_tokens(client: Client, prompt: str, temperature: float = 0.8, top_k: float = 0, top_p: float = 0.95,
                    max_words: float = 5, seed: float | None = 0) -> dict:
    """/generate_tokens; returns the text, the seed and each token's record."""
    return client.predict(prompt, temperature, top_k, top_p, max_words, seed, api_name="/generate_tokens")


def fill_blank(client: Client, text: str) -> tuple:
    """/fill_blank one text with a ___; returns the three rankings and the halves (with timings)."""
    return client.predict(text, api_name="/fill_blank")


def explain_blank(client: Client, text: str) -> dict:
    """/explain_blank one text with a ___; returns each method's top word and what it leans on."""
    return client.predict(text, api_name="/explain_blank")


# ---- images ------------------------------------------------------------------------------------

def _mnist_digit(index: int) -> np.ndarray | None:
    """An MNIST test digit as a (28, 28) uint8 array (white on black), or None without the data set."""
    try:
        from torchvision.datasets import MNIST

        from src.data import DATA_DIR
        return MNIST(str(DATA_DIR), train=False, download=False).data[index].numpy()
    except Exception:  # no data set here: fall back to a drawn digit
        return None


def digit_image(index: int = 0, side: int = 300) -> Image.Image:
    """A dark digit on a white `side`-square canvas: MNIST test digit `index` inverted and enlarged, or a
    hand-drawn-looking 7 when the data set is missing."""
    digit = _mnist_digit(index)
    canvas = Image.new("L", (side, side), 255)
    if digit is None:
        draw = ImageDraw.Draw(canvas)
        draw.line([(90, 80), (210, 80), (140, 230)], fill=0, width=22, joint="curve")
        return canvas
    big = Image.fromarray(255 - digit).resize((side * 2 // 3,) * 2, Image.Resampling.BILINEAR)
    canvas.paste(big, ((side - big.width) // 2, (side - big.height) // 2))
    return canvas


def save_png(image: Image.Image, path: Path, tag: str) -> Path:
    """Save `image` as PNG with `tag` in a text chunk, so copies with different tags differ byte-wise
    (gradio's upload cache has been seen to race on concurrent byte-identical uploads)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("bench-copy", tag)
    image.save(path, pnginfo=info)
    return path


def digit_files(folder: Path, count: int, index: int = 0) -> list[Path]:
    """`count` byte-distinct PNG copies of the same digit picture, one per client."""
    folder.mkdir(parents=True, exist_ok=True)
    image = digit_image(index)
    return [save_png(image, folder / f"digit-{index}-{i}.png", f"{index}-{i}") for i in range(count)]


# ---- load --------------------------------------------------------------------------------------

# One request: (endpoint label, call on a client). A plan gives the request for (client no, request no).
Request = tuple[str, Callable[[Client], Any]]
Plan = Callable[[int, int], Request]


@dataclass
class Stats:
    """Latencies (s) of the successful requests of one endpoint and the failures' messages."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")


@dataclass
class LoadResult:
    by_endpoint: dict[str, Stats]
    seconds: float  # wall time from the start signal until the last client finished

    @property
    def ok(self) -> int:
        return sum(len(s.latencies) for s in self.by_endpoint.values())

    @property
    def failed(self) -> int:
        return sum(len(s.failures) for s in self.by_endpoint.values())

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else float("nan")


def run_load(url: str, clients: int, plan: Plan, requests: int | None = None, seconds: float | None = None,
             warmup: Plan | None = None) -> LoadResult:
    """`clients` threads, each with its own Client, send `plan`'s requests: `requests` each, or as many as
    fit in `seconds`. Connecting (and an optional `warmup` request each) happens before the clock starts."""
    assert requests is not None or seconds is not None, "bound the run by requests or seconds"
    stats: dict[str, Stats] = {}
    lock = threading.Lock()
    start_signal = threading.Barrier(clients + 1)

    def record(label: str, latency: float | None, failure: str | None) -> None:
        with lock:
            entry = stats.setdefault(label, Stats())
            if failure is None:
                entry.latencies.append(latency)
            else:
                entry.failures.append(failure)

    def worker(i: int) -> None:
        try:
            client = new_client(url)
            if warmup is not None:
                warmup(i, 0)[1](client)
        except Exception as error:
            record("connect", None, f"{type(error).__name__}: {error}")
            start_signal.wait()
            return
        start_signal.wait()
        deadline = time.perf_counter() + seconds if seconds is not None else float("inf")
        try:
            k = 0
            while (requests is None or k < requests) and time.perf_counter() < deadline:
                label, call = plan(i, k)
                began = time.perf_counter()
                try:
                    call(client)
                    record(label, time.perf_counter() - began, None)
                except Exception as error:
                    record(label, None, f"{type(error).__name__}: {error}")
                k += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_signal.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return LoadResult(stats, time.perf_counter() - began)
