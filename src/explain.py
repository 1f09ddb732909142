"""Why the digit models answer as they do: what each reader believes after every row it has read, the row
after which it stops changing its mind, and how much each row matters (row saliency).

A "reader" is the LSTM (top-down), the Bi-LSTM's forward half (top-down) or its backward half (bottom-up);
each half's belief is its exact share of the Bi-LSTM's linear head (DigitRNN.row_by_row).
"""
from __future__ import annotations

import numpy as np
import torch

from src.digits import DigitRNN


def reading_order_beliefs(lstm: DigitRNN, bilstm: DigitRNN, image28: np.ndarray) -> dict[str, np.ndarray]:
    """Per reader, (28, 10) class probabilities: row t - 1 is the belief after t rows in its reading order
    (the backward half's first row is the image's bottom row)."""
    x = torch.from_numpy(np.asarray(image28, dtype=np.float32))[None]
    bi = bilstm.row_by_row(x)
    return {"LSTM": lstm.row_by_row(x)["forward"][0].numpy(), "Bi-LSTM forward half": bi["forward"][0].numpy(),
            "Bi-LSTM backward half": bi["backward"][0].numpy()[::-1].copy()}


def decision_row(beliefs: np.ndarray) -> int:
    """How many rows the reader had read when its top class became the final one for good (1..28)."""
    top = beliefs.argmax(-1)
    rows = len(top)
    while rows > 1 and top[rows - 2] == top[-1]:
        rows -= 1
    return rows


def rows_read(image28: np.ndarray, rows: int, bottom_up: bool = False) -> np.ndarray:
    """The image as a reader sees it after `rows` rows: the rest blacked out."""
    seen = np.zeros_like(image28)
    if rows:
        part = slice(28 - rows, 28) if bottom_up else slice(0, rows)
        seen[part] = image28[part]
    return seen


@torch.no_grad()
def row_saliency(model: DigitRNN, image28: np.ndarray) -> dict[str, np.ndarray | int]:
    """The predicted class, and per row (28,) how much its probability drops when that row alone is blanked
    and which class the model then predicts; the 28 blanked images and the original in one batched pass."""
    image = torch.from_numpy(np.asarray(image28, dtype=np.float32))
    batch = image.repeat(29, 1, 1)
    rows = torch.arange(28)
    batch[rows + 1, rows] = 0.0
    probs = model(batch).softmax(-1)
    predicted = int(probs[0].argmax())
    return {"predicted": predicted, "drop": (probs[0, predicted] - probs[1:, predicted]).numpy(),
            "predicted_without_row": probs[1:].argmax(-1).numpy()}


def without_row(image28: np.ndarray, row: int) -> np.ndarray:
    """The image with one row (1..28) blanked."""
    erased = np.array(image28, dtype=np.float32, copy=True)
    erased[row - 1] = 0.0
    return erased
