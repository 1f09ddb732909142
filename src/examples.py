"""What the app shows from the held-out data, saved beside the checkpoints: the MNIST test digits on which
the LSTM and the Bi-LSTM disagree (the comparison's gallery), and short held-out jokes (the text
comparison's "random test joke").

    python -m src.examples      # after training both digit models; writes checkpoints/disagreements.npz
                                # and checkpoints/blank-jokes.json

The app reads the files (the data itself is not shipped), so a Space shows them too.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from src.digits import logits_in_batches
from src.hub import MODELS, bundled_folder, checkpoints_dir, load_folder

GALLERY_NAME = "disagreements.npz"
JOKES_NAME = "blank-jokes.json"
MAX_EXAMPLE_CHARS = 160  # a joke that fits the text box without scrolling


def disagreements(lstm: torch.nn.Module, bilstm: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  limit: int) -> dict[str, np.ndarray]:
    """The first `limit` images whose predicted digits differ between the two models."""
    lstm_pred, bilstm_pred = (logits_in_batches(m, images).argmax(-1) for m in (lstm, bilstm))
    index = (lstm_pred != bilstm_pred).nonzero().flatten()[:limit]
    return {
        "index": index.numpy(),
        "images": (images[index] * 255).round().to(torch.uint8).numpy(),
        "label": labels[index].numpy(),
        "lstm": lstm_pred[index].numpy(),
        "bilstm": bilstm_pred[index].numpy(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None, help="default: checkpoints/disagreements.npz")
    args = parser.parse_args(argv)
    from src import data  # here, not at the top: the app imports load_gallery and needs no MNIST (nor torchvision)

    lstm, bilstm = (load_folder(MODELS[n].cls, bundled_folder(n)) for n in ("digit-lstm", "digit-bilstm"))
    images, labels = data.mnist_tensors(train=False)
    found = disagreements(lstm, bilstm, images, labels, args.limit)
    out = args.out or checkpoints_dir() / GALLERY_NAME
    np.savez_compressed(out, **found)
    print(f"{len(found['index'])} disagreements -> {out}")
    jokes = [j for j in data.clean_jokes("test")
             if len(j) <= MAX_EXAMPLE_CHARS and data.is_clean(j) and data.junk_rule(j) is None]
    path = (args.out.parent if args.out else checkpoints_dir()) / JOKES_NAME
    path.write_text(json.dumps(jokes, indent=0, ensure_ascii=False) + "\n")
    print(f"{len(jokes)} short held-out jokes -> {path}")


if __name__ == "__main__":
    main()


def load_gallery(path: Path | None = None) -> dict[str, np.ndarray] | None:
    """The saved disagreements (images as float [0, 1]), or None when the file is absent."""
    path = path or checkpoints_dir() / GALLERY_NAME
    if not path.is_file():
        return None
    with np.load(path) as saved:
        found = {key: saved[key] for key in saved.files}
    found["images"] = found["images"].astype(np.float32) / 255.0
    return found


def load_blank_jokes(path: Path | None = None) -> list[str]:
    """The saved held-out jokes ([] when the file is absent)."""
    path = path or checkpoints_dir() / JOKES_NAME
    return json.loads(path.read_text()) if path.is_file() else []
