"""Shared fixtures: tiny untrained checkpoints, an isolated Hugging Face cache and a loopback Hub."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants

from src import data, hub
from src.blanks import JokeBiLSTM
from src.checkpoint import HubCheckpoint
from src.digits import DigitRNN
from src.jokes import JokeLSTM
from src.tokenizer import build_vocab
from tests.app_server import app_server, app_url  # noqa: F401  (fixtures shared by the test modules)
from tests.checkpoint_fixtures import digit_models, joke_model  # noqa: F401
from tests.hub_server import HubServer

HUB_REVISION = "v1"


@pytest.hookimpl(tryfirst=True)  # before fixtures that would load the data
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `data` need the training data; without it they skip and say what to put where."""
    if item.get_closest_marker("data") is not None:
        missing = data.missing_data()
        if missing:
            pytest.skip(missing)


def tiny_model(name: str, seed: int = 0) -> HubCheckpoint:
    """A small randomly initialised model of the class `name` uses in src.hub.MODELS."""
    with torch.random.fork_rng(devices=[]):  # leave the global RNG as other tests expect it
        torch.manual_seed(seed)
        vocab = build_vocab(["Why did the chicken cross the road?"], 8, 4)
        if name == "joke-lstm":
            return JokeLSTM(vocab, hidden_size=16, embed_dim=8)
        if name == "joke-bilstm":
            return JokeBiLSTM(vocab, hidden_size=16, embed_dim=8)
        return DigitRNN(hidden_size=8, bidirectional=name == "digit-bilstm")


def save_tiny_checkpoint(name: str, folder: Path, seed: int = 0) -> HubCheckpoint:
    """Write a tiny checkpoint folder (config, safetensors weights, metrics, card); returns the model saved."""
    model = tiny_model(name, seed)
    model.metrics = {"name": name, "seed": seed}
    model.save_pretrained(folder)
    return model


@pytest.fixture
def tiny_checkpoints(tmp_path: Path) -> Path:
    """A folder laid out like checkpoints/: one tiny checkpoint folder per model name."""
    root = tmp_path / "checkpoints"
    for name in hub.MODELS:
        save_tiny_checkpoint(name, root / name)
    return root


@pytest.fixture
def bundled(tiny_checkpoints: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny checkpoints as src.hub's bundled folders (LSTM_DEMO_CHECKPOINTS), not the real checkpoints/."""
    monkeypatch.setenv("LSTM_DEMO_CHECKPOINTS", str(tiny_checkpoints))
    return tiny_checkpoints


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache for this test, in the environment (for subprocesses) and in `constants`.

    huggingface_hub reads these variables once, at import, so the already-imported module is patched too.
    """
    home = tmp_path / "hf-home"
    cache = home / "hub"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for name in ("HF_ENDPOINT", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HF_HUB_ETAG_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return cache


@pytest.fixture
def offline_hub(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HF_HUB_OFFLINE for in-process loads, so src.hub goes to the (empty) cache and then the bundled folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return hf_cache


@pytest.fixture
def fresh_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """src.hub as a new process finds it: no endpoint known unreachable, no repo or timeout overrides set."""
    for name in hub.MODELS:
        prefix = name.upper().replace("-", "_")
        monkeypatch.delenv(f"{prefix}_REPO", raising=False)
        monkeypatch.delenv(f"{prefix}_REVISION", raising=False)
    monkeypatch.delenv("LSTM_DEMO_HUB_TIMEOUT", raising=False)
    hub._unreachable.clear()  # src.hub remembers these for the life of the process
    yield
    hub._unreachable.clear()


@pytest.fixture
def hub_checkpoints(tmp_path: Path) -> Path:
    """Tiny checkpoints for the loopback Hub, with other weights than the bundled ones (seed 1, not 0)."""
    root = tmp_path / "hub-repos"
    for name in hub.MODELS:
        save_tiny_checkpoint(name, root / name, seed=1)
    return root


@pytest.fixture
def hub_server(hub_checkpoints: Path) -> Iterator[HubServer]:
    """A loopback Hub serving each of hub_checkpoints as test/<name> at revisions main and v1."""
    repos = {f"test/{name}": hub_checkpoints / name for name in hub.MODELS}
    with HubServer(repos, revisions=("main", HUB_REVISION)) as server:
        yield server
