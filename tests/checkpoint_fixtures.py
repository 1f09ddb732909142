"""pytest fixtures: the real bundled checkpoints, loaded once per session."""
from __future__ import annotations

import pytest

from src.digits import DigitRNN
from src.hub import MODELS, bundled_folder, load_folder
from src.jokes import JokeLSTM


def load_bundled(name: str):
    folder = bundled_folder(name)
    if not (folder / "model.safetensors").exists():
        pytest.fail(f"the bundled checkpoint {folder} is missing: train it (see README)")
    return load_folder(MODELS[name].cls, folder)


@pytest.fixture(scope="session")
def joke_model() -> JokeLSTM:
    return load_bundled("joke-lstm")


@pytest.fixture(scope="session")
def digit_models() -> dict[str, DigitRNN]:
    return {name: load_bundled(name) for name in ("digit-lstm", "digit-bilstm")}
