"""Load the demo's pretrained models: from the Hugging Face Hub when it answers, else from checkpoints/.

    from src.hub import load_model
    model = load_model("digit-bilstm")   # eval mode, ready for inference

Each name maps to a Hub repo and a pinned revision, overridable with environment variables named after
the model, e.g. DIGIT_BILSTM_REPO and DIGIT_BILSTM_REVISION. The Hub is asked through huggingface_hub
(its cache, HF_ENDPOINT and HF_HUB_OFFLINE apply) with a short timeout (LSTM_DEMO_HUB_TIMEOUT seconds);
if that fails, the bundled folder is used. One log line says which source was used. Loading itself is
strict: a missing, truncated or mismatched weight file raises CheckpointError naming the file.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

from src.blanks import JokeBiLSTM
from src.checkpoint import METRICS_NAME, HubCheckpoint
from src.digits import DigitRNN
from src.jokes import JokeLSTM

log = logging.getLogger(__name__)

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
WEIGHTS_NAME, CONFIG_NAME = constants.SAFETENSORS_SINGLE_FILE, constants.CONFIG_NAME
# Endpoints that failed to answer in this process: later loads go straight to the cache and the bundled
# copies instead of paying the timeout once per model.
_unreachable: set[str] = set()
# Answers that hf_hub_download would retry with backoff for about 20 s: the pre-flight treats them as no answer.
_RETRIED_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class ModelSpec:
    cls: type[HubCheckpoint]
    repo_id: str
    revision: str


MODELS: dict[str, ModelSpec] = {
    "digit-bilstm": ModelSpec(DigitRNN, "lstm-vs-bilstm/digit-bilstm", "v1"),
    "digit-lstm": ModelSpec(DigitRNN, "lstm-vs-bilstm/digit-lstm", "v1"),
    "joke-lstm": ModelSpec(JokeLSTM, "lstm-vs-bilstm/joke-lstm", "v1"),
    "joke-bilstm": ModelSpec(JokeBiLSTM, "lstm-vs-bilstm/joke-bilstm", "v1"),
}


class CheckpointError(RuntimeError):
    """A checkpoint folder that cannot be loaded as it stands."""


def override_names(name: str) -> tuple[str, str]:
    """The environment variables that override a model's repo and revision, e.g. DIGIT_BILSTM_REPO."""
    prefix = name.upper().replace("-", "_")
    return f"{prefix}_REPO", f"{prefix}_REVISION"


def hub_location(name: str) -> tuple[str, str]:
    """(repo_id, revision) of a model, after environment overrides."""
    spec, (repo_variable, revision_variable) = MODELS[name], override_names(name)
    return os.environ.get(repo_variable, spec.repo_id), os.environ.get(revision_variable, spec.revision)


def checkpoints_dir() -> Path:
    """The bundled checkpoints: checkpoints/, or the folder LSTM_DEMO_CHECKPOINTS names."""
    return Path(os.environ.get("LSTM_DEMO_CHECKPOINTS", CHECKPOINTS))


def bundled_folder(name: str) -> Path:
    """The copy of a model shipped in the bundled checkpoints."""
    return checkpoints_dir() / name


def fetch_from_hub(repo_id: str, revision: str, timeout: float) -> Path:
    """Download (or find in the cache) a checkpoint's files; returns the snapshot folder."""
    offline = constants.HF_HUB_OFFLINE or constants.ENDPOINT in _unreachable
    if not offline and not hub_answers(repo_id, revision, timeout):
        _unreachable.add(constants.ENDPOINT)
        offline = True
    kwargs = dict(repo_id=repo_id, revision=revision, etag_timeout=timeout, local_files_only=offline)
    try:
        folder = Path(hf_hub_download(filename=CONFIG_NAME, **kwargs)).parent
    except LocalEntryNotFoundError:  # huggingface_hub's "could not reach the Hub, and not cached"
        _unreachable.add(constants.ENDPOINT)
        raise
    hf_hub_download(filename=WEIGHTS_NAME, **kwargs)  # safetensors only: no pickle fallback
    try:
        hf_hub_download(filename=METRICS_NAME, **kwargs)
    except EntryNotFoundError:  # metrics are informative only; the model loads without them
        log.debug("no %s for %s@%s", METRICS_NAME, repo_id, revision)
    return folder


def hub_answers(repo_id: str, revision: str, timeout: float) -> bool:
    """Whether one HEAD request for the config, without retries, gets an answer within `timeout`.

    Asked first because hf_hub_download would retry an unreachable Hub for about 20 s before giving up,
    which would make the fallback to checkpoints/ that slow instead of `timeout`.
    """
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, CONFIG_NAME, revision=revision), timeout=timeout)
    except HfHubHTTPError as error:  # e.g. no such repo: an answer, which hf_hub_download reports itself
        return error.response.status_code not in _RETRIED_STATUSES
    except Exception as error:
        log.debug("Hub did not answer for %s@%s: %s", repo_id, revision, error)
        return False
    return True


def load_folder(cls: type[HubCheckpoint], folder: Path, **settings: Any) -> HubCheckpoint:
    """Build a model from a checkpoint folder: safetensors only, every weight present and the right shape.
    `settings`: constructor arguments that replace the folder's config.json values (a run that continues
    training a folder with its own dropout); they are what the model saves as its config."""
    for required in (CONFIG_NAME, WEIGHTS_NAME):
        if not (folder / required).is_file():
            raise CheckpointError(f"missing checkpoint file: {folder / required}")
    try:
        return cls.from_pretrained(folder, strict=True, map_location="cpu", **settings)  # with its metrics.json, if any
    except Exception as error:
        raise CheckpointError(f"cannot load {folder / WEIGHTS_NAME}: {error}") from error


def load_model(name: str) -> HubCheckpoint:
    """The named model in eval mode: from the Hub (or its cache) if possible, else from checkpoints/."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    repo_id, revision = hub_location(name)
    timeout = float(os.environ.get("LSTM_DEMO_HUB_TIMEOUT", "3"))
    try:
        folder = fetch_from_hub(repo_id, revision, timeout)
        source = f"Hugging Face Hub {repo_id}@{revision} ({folder})"
    except Exception as error:
        folder = bundled_folder(name)
        if isinstance(error, LocalEntryNotFoundError):  # nothing in the cache, and the Hub not asked
            why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else f"{constants.ENDPOINT} did not answer"
            reason = f"{why} and the cache has no copy"
        else:  # the class says what was missing: the first line of a Hub error is only "404 Client Error."
            reason = ": ".join([type(error).__name__, *str(error).strip().splitlines()[:1]])
        source = f"bundled {folder} (Hub {repo_id}@{revision} not available: {reason})"
    model = load_folder(MODELS[name].cls, folder)
    log.info("%s loaded from %s", name, source)
    return model

