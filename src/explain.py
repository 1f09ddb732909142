"""Why the digit models answer as they do: what each reader believes after every row it has read, the row
after which it stops changing its mind, and how much each row matters (row saliency: a band of rows
around it blanked).

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


# Rows blanked together around a row: about the thickness of an MNIST stroke (2-3 px). A row blanked alone
# hardly ever matters, since the rows beside it carry the same stroke and the models read through the gap.
BAND = 3


def band(row: int, width: int = BAND) -> range:
    """The rows (1..28) blanked for `row`: the `width` rows centred on it (odd), fewer at the image's edges."""
    return range(max(row - width // 2, 1), min(row + width // 2, 28) + 1)


def band_name(row: int) -> str:
    """How the page names `row`'s band: "rows 9-11" ("rows 1-2" at the top)."""
    rows = band(row)
    return f"rows {rows[0]}-{rows[-1]}"


@torch.no_grad()
def row_saliency(model: DigitRNN, image28: np.ndarray, width: int = BAND) -> dict[str, np.ndarray | int]:
    """The predicted class, and per row (28,) how much its probability drops when that row's band (band(row,
    width)) is blanked and which class the model then predicts; the 28 blanked images and the original in one
    pass."""
    image = np.asarray(image28, dtype=np.float32)
    batch = torch.from_numpy(np.stack([image, *(without_band(image, row, width) for row in range(1, 29))]))
    probs = model(batch).softmax(-1)
    predicted = int(probs[0].argmax())
    return {"predicted": predicted, "drop": (probs[0, predicted] - probs[1:, predicted]).numpy(),
            "predicted_without_band": probs[1:].argmax(-1).numpy()}


def without_band(image28: np.ndarray, row: int, width: int = BAND) -> np.ndarray:
    """The image with `row`'s band (band(row, width)) blanked."""
    erased = np.array(image28, dtype=np.float32, copy=True)
    rows = band(row, width)
    erased[rows[0] - 1:rows[-1]] = 0.0
    return erased
