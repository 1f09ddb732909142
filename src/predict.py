"""What the app shows, computed on plain values (numpy arrays, strings) from the loaded models."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from src.digits import DigitRNN
from src.jokes import JokeLSTM
from src.sampling import Sampled, filtered_probs
from src.tokenizer import EOS

DIGITS = [str(d) for d in range(10)]


def digit_probabilities(model: DigitRNN, image28: np.ndarray) -> tuple[dict[str, float], float]:
    """Class probabilities for one (28, 28) image and the milliseconds the model took."""
    x = torch.from_numpy(np.asarray(image28, dtype=np.float32))[None]
    start = time.perf_counter()
    with torch.inference_mode():
        probs = model(x).softmax(-1)[0]
    elapsed = (time.perf_counter() - start) * 1000
    return dict(zip(DIGITS, probs.tolist())), elapsed


def top_digit(probs: dict[str, float]) -> str:
    return max(probs, key=probs.get)


def reading_curves(model: DigitRNN, image28: np.ndarray) -> dict[str, pd.DataFrame]:
    """Per direction, a long table (row, digit, probability) of the model's belief row by row."""
    views = model.row_by_row(torch.from_numpy(np.asarray(image28, dtype=np.float32))[None])
    tables = {}
    for direction, probs in views.items():
        p = probs[0].numpy()  # (28 rows, 10 digits)
        tables[direction] = pd.DataFrame({
            "row": np.repeat(np.arange(1, 29), 10),
            "digit": np.tile(DIGITS, 28),
            "probability": p.reshape(-1).round(4),
        })
    return tables


def token_label(model: JokeLSTM, token: int) -> str:
    """Readable name of a token for charts, with its whitespace made visible and any other character that
    does not print (a control byte such as \x01) written as its escape."""
    if token == EOS:
        return "⏎ (end of joke)"
    text = model.token_text(token).replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def record_text(model: JokeLSTM, token: int) -> str:
    """A token as token_records writes it (the coloured tokens, /generate_tokens): model.token_text, the end
    token named."""
    return token_label(model, token) if token == EOS else model.token_text(token)


def next_token_table(model: JokeLSTM, prompt: str, temperature: float, top_k: int, top_p: float,
                     top: int = 12) -> pd.DataFrame:
    """For the `top` most likely next tokens after `prompt`: the model's probability (T = 1) and the
    probability sampling gives it after temperature / top-k / top-p."""
    log_probs = model.next_token_log_probs(prompt)
    raw = filtered_probs(log_probs, 1.0)
    after = filtered_probs(log_probs, temperature, top_k, top_p)
    order = raw.argsort(descending=True)[:top].tolist()
    return pd.DataFrame({
        "token": [f"{rank + 1:02d} {token_label(model, token)}" for rank, token in enumerate(order)],
        "model": [float(raw[t]) for t in order],
        "sampled": [float(after[t]) for t in order],
    })


def enlarge(image28: np.ndarray, factor: int = 8) -> np.ndarray:
    """A (28, 28) float image as a bigger uint8 picture with visible pixels."""
    pixels = (np.clip(image28, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((factor, factor), dtype=np.uint8))


RANK_BUCKETS = ((1, "top 1"), (10, "top 10"), (100, "top 100"), (None, "beyond 100"))


def rank_bucket(rank: int) -> str:
    """GLTR's colour classes: whether a token was the model's first choice, in its top 10, top 100, or beyond."""
    return next(name for limit, name in RANK_BUCKETS if limit is None or rank <= limit)


def ranked_tokens(model: JokeLSTM, steps: list[Sampled]) -> list[tuple[str, str]]:
    """Each sampled token's text with its rank bucket, as the token view colours it."""
    return [(r["token"], rank_bucket(r["rank"])) for r in token_records(model, steps, alternatives=1)]


def token_records(model: JokeLSTM, steps: list[Sampled], alternatives: int = 5) -> list[dict]:
    """Per sampled token: the text it wrote, its probability in the distribution it was drawn from, the model's
    own probability (T = 1) and its rank there, and the model's top alternatives at that position."""
    records = []
    for step in steps:
        probs = step.log_probs.softmax(-1)
        top = probs.topk(alternatives)
        records.append({
            "token": record_text(model, step.token),
            "id": step.token,
            "probability": step.prob,
            "model_probability": float(probs[step.token]),
            "rank": int((probs > probs[step.token]).sum()) + 1,
            "alternatives": [{"token": record_text(model, t), "id": int(t), "probability": float(p)}
                             for p, t in zip(top.values, top.indices)],
        })
    return records
