"""src.hub end to end: Hub download through a loopback Hub, the HF cache, the bundled fallback, strict loading.

Scenarios that depend on HF_ENDPOINT or HF_HUB_OFFLINE run load_model in a fresh interpreter, because
huggingface_hub reads those variables once, when it is imported.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from huggingface_hub import hf_hub_download
from safetensors.torch import load_file, save_file

from src.hub import MODELS, CheckpointError, load_folder, load_model
from tests.conftest import HUB_REVISION, save_tiny_checkpoint
from tests.hub_server import HubServer, commit_sha

ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT = "http://127.0.0.1:1"

pytestmark = pytest.mark.usefixtures("fresh_hub")

LOAD_SCRIPT = """
import json, logging, sys
from src.hub import load_model

messages = []
handler = logging.Handler(logging.INFO)
handler.emit = lambda record: messages.append(record.getMessage())
logging.getLogger("src.hub").addHandler(handler)
logging.getLogger("src.hub").setLevel(logging.INFO)
results = {}
for name in sys.argv[1:]:
    model = load_model(name)
    results[name] = {"training": model.training, "metrics": model.metrics,
                     "state": {key: value.tolist() for key, value in model.state_dict().items()}}
print(json.dumps({"results": results, "log": messages}))
"""


def load_in_subprocess(*names: str, **env: str) -> dict:
    """load_model(name) for each name in a new interpreter with os.environ plus `env`.

    Returns {"results": {name: {training, metrics, state}}, "log": [src.hub INFO messages]}.
    """
    completed = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, *names], cwd=ROOT, env={**os.environ, **env},
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    # from_pretrained prints a line of its own; the JSON is the last line.
    return json.loads(completed.stdout.splitlines()[-1])


def location(name: str, repo_id: str, revision: str = HUB_REVISION) -> dict[str, str]:
    """The environment overrides that point a model at another Hub repo and revision."""
    prefix = name.upper().replace("-", "_")
    return {f"{prefix}_REPO": repo_id, f"{prefix}_REVISION": revision}


def assert_weights(state: dict[str, list], folder: Path) -> None:
    """The state dict (as lists, from a subprocess) equals the weights in folder/model.safetensors."""
    expected = load_file(folder / "model.safetensors")
    # safetensors stores a tied tensor once (the joke model's head shares the embedding)
    assert expected.keys() <= state.keys() and len(state) - len(expected) <= 1
    for key, tensor in expected.items():
        torch.testing.assert_close(torch.tensor(state[key]), tensor, rtol=0, atol=0)


def resolve(repo_id: str, filename: str, revision: str = HUB_REVISION) -> str:
    """The path huggingface_hub requests for one file."""
    return f"/{repo_id}/resolve/{revision}/{filename}"


# --- Hub, cache and fallback (subprocesses) -------------------------------------------------------------


def test_load_model_downloads_from_the_hub(hub_server: HubServer, hub_checkpoints: Path, hf_cache: Path,
                                           bundled: Path) -> None:
    out = load_in_subprocess("digit-bilstm", HF_ENDPOINT=hub_server.endpoint,
                             **location("digit-bilstm", "test/digit-bilstm"))

    result = out["results"]["digit-bilstm"]
    assert result["training"] is False
    assert_weights(result["state"], hub_checkpoints / "digit-bilstm")  # the served weights, not the bundled ones
    assert result["metrics"] == {"name": "digit-bilstm", "seed": 1}
    [line] = out["log"]
    assert line.startswith("digit-bilstm loaded from Hugging Face Hub test/digit-bilstm@v1 ")
    assert str(hf_cache) in line
    for filename in ("config.json", "model.safetensors", "metrics.json"):
        assert resolve("test/digit-bilstm", filename) in hub_server.paths("GET")
    assert not [path for path in hub_server.paths() if path.startswith("/api/")]
    refs = hf_cache / "models--test--digit-bilstm" / "refs" / HUB_REVISION
    assert refs.read_text() == commit_sha("test/digit-bilstm")


def test_a_downloaded_model_loads_from_the_cache_when_the_hub_is_gone(
        hub_server: HubServer, hub_checkpoints: Path, hf_cache: Path, bundled: Path) -> None:
    # Fill the cache as load_model's first download does, without paying for another interpreter.
    for filename in ("config.json", "model.safetensors", "metrics.json"):
        hf_hub_download("test/digit-bilstm", filename, revision=HUB_REVISION, endpoint=hub_server.endpoint)
    hub_server.stop()
    env = {"HF_ENDPOINT": hub_server.endpoint, **location("digit-bilstm", "test/digit-bilstm")}

    # Offline by choice (HF_HUB_OFFLINE), then offline by accident (the endpoint refuses connections).
    for extra in ({"HF_HUB_OFFLINE": "1"}, {}):
        out = load_in_subprocess("digit-bilstm", **env, **extra)
        [line] = out["log"]
        assert line.startswith("digit-bilstm loaded from Hugging Face Hub test/digit-bilstm@v1 "), extra
        assert str(hf_cache) in line and "bundled" not in line
        assert_weights(out["results"]["digit-bilstm"]["state"], hub_checkpoints / "digit-bilstm")


@pytest.fixture(params=["refuses connections", "never answers"])
def unreachable_endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[str, socket.socket | None]]:
    """An HF_ENDPOINT that gets no answer: a closed port, or one that accepts connections and stays silent
    (then also its listening socket, whose queue holds every connection made)."""
    if request.param == "refuses connections":
        yield CLOSED_PORT, None
        return
    with socket.create_server(("127.0.0.1", 0)) as listener:  # the kernel accepts; nobody ever replies
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", listener


def connections_made(listener: socket.socket) -> int:
    """How many connections are waiting in the listener's queue (taking them off it)."""
    listener.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_an_unreachable_hub_falls_back_to_the_bundled_folders_after_one_wait(
        unreachable_endpoint: tuple[str, socket.socket | None], hf_cache: Path, bundled: Path) -> None:
    endpoint, listener = unreachable_endpoint
    out = load_in_subprocess(*MODELS, HF_ENDPOINT=endpoint, LSTM_DEMO_HUB_TIMEOUT="1")

    for name, line in zip(MODELS, out["log"], strict=True):
        result = out["results"][name]
        assert line == (f"{name} loaded from bundled {bundled / name} (Hub lstm-vs-bilstm/{name}@v1 not "
                        f"available: {endpoint} did not answer and the cache has no copy)")
        assert result["training"] is False
        assert_weights(result["state"], bundled / name)
    if listener is not None:
        # One request, which waited LSTM_DEMO_HUB_TIMEOUT; the other models did not ask a silent Hub again
        # (and huggingface_hub's own retries, 20 s and more, never ran). bench.harness times the whole start.
        assert connections_made(listener) == 1


def test_a_hub_without_the_checkpoint_falls_back_to_the_bundled_folders(
        hub_checkpoints: Path, hf_cache: Path, bundled: Path, tmp_path: Path) -> None:
    pickle_only = tmp_path / "pickle-only"
    model = save_tiny_checkpoint("joke-lstm", pickle_only, seed=1)
    (pickle_only / "model.safetensors").unlink()
    torch.save(model.state_dict(), pickle_only / "pytorch_model.bin")
    repos = {"test/digit-lstm": hub_checkpoints / "digit-lstm", "test/joke-pickle": pickle_only}

    with HubServer(repos, revisions=(HUB_REVISION,)) as server:
        out = load_in_subprocess(
            *MODELS, HF_ENDPOINT=server.endpoint,
            **location("digit-bilstm", "test/missing"),  # no such repo
            **location("digit-lstm", "test/digit-lstm", "v2"),  # no such revision
            **location("joke-lstm", "test/joke-pickle"),  # weights only as a pickle
            **location("joke-bilstm", "test/missing"),
        )

    reasons = {"digit-bilstm": "RepositoryNotFoundError", "digit-lstm": "RevisionNotFoundError",
               "joke-lstm": "RemoteEntryNotFoundError", "joke-bilstm": "RepositoryNotFoundError"}
    for name, line in zip(MODELS, out["log"], strict=True):
        assert line.startswith(f"{name} loaded from bundled {bundled / name} "), line
        assert f"not available: {reasons[name]}: 404 Client Error." in line
        assert_weights(out["results"][name]["state"], bundled / name)
    # Each model asked the Hub: a missing repo is an answer, not a reason to stop asking.
    assert resolve("test/missing", "config.json") in server.paths()
    assert resolve("test/digit-lstm", "config.json", "v2") in server.paths()
    assert resolve("test/joke-pickle", "model.safetensors") in server.paths()
    assert not [path for path in server.paths() if path.endswith("pytorch_model.bin")]


# --- Strict loading (in process, Hub offline so load_model goes to the bundled folders) --------------------


def truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def widen_config(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": 16}))


def drop_head_bias(folder: Path) -> None:
    weights = load_file(folder / "model.safetensors")
    save_file({key: value for key, value in weights.items() if key != "head.bias"}, folder / "model.safetensors")


def pickle_instead(folder: Path) -> None:
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()


# Each breaks the bundled digit-bilstm folder: (how, the file the error must name, what it must say).
BREAKAGES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "missing weights": (lambda folder: (folder / "model.safetensors").unlink(), "model.safetensors", ""),
    "missing config": (lambda folder: (folder / "config.json").unlink(), "config.json", ""),
    "truncated weights": (lambda folder: truncate(folder / "model.safetensors"), "model.safetensors", "header"),
    "shapes differ from config": (widen_config, "model.safetensors", "size mismatch"),
    "missing tensor": (drop_head_bias, "model.safetensors", "Missing key.*head.bias"),
    "pickle only": (pickle_instead, "model.safetensors", ""),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_checkpoint_raises_checkpoint_error_naming_the_file(breakage: str, bundled: Path,
                                                                     offline_hub: Path) -> None:
    folder = bundled / "digit-bilstm"
    damage, filename, detail = BREAKAGES[breakage]
    damage(folder)
    message = f"(?s){re.escape(str(folder / filename))}.*{detail}"

    with pytest.raises(CheckpointError, match=message):
        load_folder(MODELS["digit-bilstm"].cls, folder)
    with pytest.raises(CheckpointError, match=message):
        load_model("digit-bilstm")


@pytest.mark.parametrize("name", MODELS)
def test_load_model_uses_the_bundled_folder_when_offline(name: str, bundled: Path, offline_hub: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="src.hub"):
        model = load_model(name)

    assert isinstance(model, MODELS[name].cls) and not model.training
    assert model.metrics == {"name": name, "seed": 0}
    expected = load_file(bundled / name / "model.safetensors")
    state = model.state_dict()
    torch.testing.assert_close({key: state[key] for key in expected}, expected, rtol=0, atol=0)
    [record] = [record for record in caplog.records if record.name == "src.hub" and record.levelno == logging.INFO]
    assert record.getMessage() == (f"{name} loaded from bundled {bundled / name} (Hub lstm-vs-bilstm/{name}@v1 "
                                   "not available: HF_HUB_OFFLINE is set and the cache has no copy)")


def test_an_unknown_model_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError) as raised:
        load_model("gpt-5")
    assert all(name in str(raised.value) for name in MODELS)


FROM_PRETRAINED_SCRIPT = """
import json, sys
from src.hub import MODELS
model = MODELS[sys.argv[1]].cls.from_pretrained(sys.argv[2], revision=sys.argv[3])
print(json.dumps(model.metrics))
"""


def test_from_pretrained_alone_returns_the_metrics(hub_server: HubServer, hf_cache: Path, tmp_path: Path) -> None:
    """The checkpoint class reads metrics.json itself, from a local folder or a Hub repo, so the mixin's
    from_pretrained returns a complete model without src.hub."""
    local = MODELS["digit-lstm"].cls.from_pretrained(ROOT / "checkpoints" / "digit-lstm")
    assert local.metrics == json.loads((ROOT / "checkpoints" / "digit-lstm" / "metrics.json").read_text())
    bare = save_tiny_checkpoint("digit-lstm", tmp_path / "bare")
    (tmp_path / "bare" / "metrics.json").unlink()
    assert MODELS["digit-lstm"].cls.from_pretrained(tmp_path / "bare").metrics is None and bare.metrics

    completed = subprocess.run([sys.executable, "-c", FROM_PRETRAINED_SCRIPT, "joke-lstm", "test/joke-lstm",
                                HUB_REVISION], cwd=ROOT, env={**os.environ, "HF_ENDPOINT": hub_server.endpoint},
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.splitlines()[-1]) == {"name": "joke-lstm", "seed": 1}
    assert resolve("test/joke-lstm", "metrics.json") in hub_server.paths("GET")


PUBLISH_SCRIPT = """
import sys
from src.publish import TagTakenError, publish
try:
    publish("digit-lstm", sys.argv[1], sys.argv[2])
except TagTakenError as error:
    print("refused:", error)
"""


def test_publish_refuses_a_tag_the_repo_already_has_before_pushing_anything(hub_server: HubServer) -> None:
    completed = subprocess.run([sys.executable, "-c", PUBLISH_SCRIPT, "test/digit-lstm", HUB_REVISION], cwd=ROOT,
                               env={**os.environ, "HF_ENDPOINT": hub_server.endpoint}, capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1].startswith(
        f"refused: test/digit-lstm already has a revision named '{HUB_REVISION}'; publish under a new tag")
    assert f"/api/models/test/digit-lstm/revision/{HUB_REVISION}" in hub_server.paths("GET")
    assert not [request for request in hub_server.requests if request[0] not in ("GET", "HEAD")]  # nothing pushed


def test_publish_pushes_the_checkpoints_that_the_app_then_downloads(hub_server: HubServer, hf_cache: Path,
                                                                    bundled: Path) -> None:
    """`python -m src.publish` against the loopback Hub: each shipped checkpoint is pushed and its commit tagged,
    and load_model pulls exactly those files at that tag (the bundled folders hold other, tiny weights, so a
    fallback could not pass); publishing the same tag again is refused before anything is pushed."""
    publish_env = {key: value for key, value in os.environ.items() if key != "LSTM_DEMO_CHECKPOINTS"}
    command = [sys.executable, "-m", "src.publish", "--owner", "me", "--tag", "v2", "digit-lstm", "digit-bilstm"]
    completed = subprocess.run(command, cwd=ROOT, env={**publish_env, "HF_ENDPOINT": hub_server.endpoint},
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    for name in ("digit-lstm", "digit-bilstm"):
        commit = hub_server.refs[f"me/{name}"]["v2"]
        assert f"{name} -> {hub_server.endpoint}/me/{name} @ v2 ({commit})" in completed.stdout.splitlines()
        assert hub_server.refs[f"me/{name}"]["main"] == commit
        assert {"config.json", "model.safetensors", "metrics.json", "README.md"} <= {
            file.name for file in hub_server.commits[commit].iterdir()}

    out = load_in_subprocess("digit-lstm", "digit-bilstm", HF_ENDPOINT=hub_server.endpoint,
                             **location("digit-lstm", "me/digit-lstm", "v2"),
                             **location("digit-bilstm", "me/digit-bilstm", "v2"))
    for name in ("digit-lstm", "digit-bilstm"):
        shipped = ROOT / "checkpoints" / name
        assert_weights(out["results"][name]["state"], shipped)
        assert out["results"][name]["metrics"] == json.loads((shipped / "metrics.json").read_text())
        assert any(line.startswith(f"{name} loaded from Hugging Face Hub me/{name}@v2 ") for line in out["log"])

    pushes = len(hub_server.paths("POST"))
    again = subprocess.run(command, cwd=ROOT, env={**publish_env, "HF_ENDPOINT": hub_server.endpoint},
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "me/digit-lstm already has a revision named 'v2'" in again.stderr
    assert len(hub_server.paths("POST")) == pushes
