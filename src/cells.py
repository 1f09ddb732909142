"""The joke LM's cells (hidden units): each one's activation over a text, and which cells track a named
feature of the text, found by correlation over the validation jokes (after Karpathy's and LSTMVis's cells).

    python -m src.cells      # after training joke-lstm; writes checkpoints/joke-lstm-cells.json

The app reads the file (the jokes are not shipped), so a Space lists the cells too.
"""
from __future__ import annotations

import argparse
import codecs
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from src.jokes import JokeLSTM
from src.tokenizer import EOS

CELLS_NAME = "joke-lstm-cells.json"
TOP = 5  # cells kept per feature


def _states(model: JokeLSTM, ids: list[int]) -> np.ndarray:
    """The LSTM's last-layer hidden state (tokens, units) after each of the ids, read as the start of a joke."""
    with torch.no_grad():
        output, _ = model.lstm(model.embed(torch.tensor([[EOS, *ids]])))
    return output[0, 1:].numpy()


def activations(model: JokeLSTM, text: str) -> tuple[list[str], np.ndarray]:
    """The text's tokens and the LSTM's last-layer hidden state (tokens, units) after reading each one."""
    ids = model.tokenizer.encode(text)
    return [model.token_text(t) for t in ids], _states(model, ids)


def readable_activations(model: JokeLSTM, text: str) -> tuple[list[str], np.ndarray]:
    """`activations` as people read the text: tokens that spell one character between them (the bytes of an
    emoji or of 語, each of which alone shows as �) joined into that character, with the state after the last
    (decoded incrementally, as generation's src.sampling.decoded does)."""
    ids = model.tokenizer.encode(text)
    h = _states(model, ids)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    shown, rows = [], []
    for row, token in enumerate(ids):
        piece = decoder.decode(model.tokenizer.token_bytes(token), final=row == len(ids) - 1)
        if piece:  # empty while a character is cut between tokens
            shown.append(piece)
            rows.append(row)
    return shown, h[rows]


def _inside(opening: str, closing: str) -> Callable[[list[str]], np.ndarray]:
    """Per token: 1 while inside opening...closing (the same mark for quotes), after the mark that opens."""
    def feature(tokens: list[str]) -> np.ndarray:
        inside, out = False, []
        for token in tokens:
            out.append(float(inside))
            for char in token:
                if inside and char == closing:
                    inside = False
                elif not inside and char == opening:
                    inside = True
        return np.array(out)
    return feature


def _after_question(tokens: list[str]) -> np.ndarray:
    seen, out = False, []
    for token in tokens:
        out.append(float(seen))
        seen = seen or "?" in token
    return np.array(out)


FEATURES: dict[str, Callable[[list[str]], np.ndarray]] = {
    "inside quotes": _inside('"', '"'),
    "inside parentheses": _inside("(", ")"),
    "after the question mark (the punchline)": _after_question,
    "position in the joke (0 at the start, 1 at the end)": lambda tokens: np.linspace(0, 1, len(tokens)),
    "start of a word": lambda tokens: np.array([float(t[:1] == " " or i == 0) for i, t in enumerate(tokens)]),
    "capitalised word": lambda tokens: np.array([float(t.strip()[:1].isupper()) for t in tokens]),
}


def cell_correlations(model: JokeLSTM, jokes: list[str]) -> dict[str, list[tuple[int, float]]]:
    """Per feature, the TOP cells by |Pearson correlation| between their activation and the feature over every
    token of the jokes, with that correlation (a feature constant over the jokes gets no cells)."""
    states, values = [], {name: [] for name in FEATURES}
    for joke in jokes:
        tokens, h = activations(model, joke)
        states.append(h)
        for name, feature in FEATURES.items():
            values[name].append(feature(tokens))
    h = np.concatenate(states)
    h = (h - h.mean(0)) / (h.std(0) + 1e-8)
    ranked = {}
    for name, parts in values.items():
        f = np.concatenate(parts)
        if f.std() == 0:
            ranked[name] = []
            continue
        r = h.T @ ((f - f.mean()) / f.std()) / len(f)
        order = np.argsort(-np.abs(r))[:TOP]
        ranked[name] = [(int(unit), round(float(r[unit]), 3)) for unit in order]
    return ranked


def load_cells(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """The saved ranking ({} when the file is absent)."""
    path = folder / CELLS_NAME
    return {k: [tuple(c) for c in v] for k, v in json.loads(path.read_text()).items()} if path.is_file() else {}


def main(argv: list[str] | None = None) -> None:
    from src import data  # here: the app imports this module and needs no data
    from src.hub import MODELS, bundled_folder, checkpoints_dir, load_folder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help=f"default: checkpoints/{CELLS_NAME}")
    args = parser.parse_args(argv)
    model = load_folder(MODELS["joke-lstm"].cls, bundled_folder("joke-lstm"))
    ranked = cell_correlations(model, data.clean_jokes("val"))
    out = args.out or checkpoints_dir() / CELLS_NAME
    out.write_text(json.dumps(ranked, indent=1) + "\n")
    for name, cells in ranked.items():
        print(f"{name}: " + ", ".join(f"cell {unit} r={r:+.2f}" for unit, r in cells))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
