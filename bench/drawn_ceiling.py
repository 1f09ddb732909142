"""How well the drawn-digit benchmark's drawings can be read at all: a small convolutional network, trained
on the same data as the digit models, beside the two row readers on the same drawings.

    python -m bench.drawn_ceiling                      # all 10,000 test digits at 12 and 22 px, 45-70%
    python -m bench.drawn_ceiling --widths 12 22 32 44 --n 1000 --seed 13

The row readers (digit-bilstm, digit-lstm) take a digit one row of 28 pixels at a time. A convolutional
network looks at small patches wherever they are, which makes it the usual strongest simple reader of
MNIST. It is trained by the digit recipes' own code (src.train_digits) from scratch for `--epochs` epochs of
the recipes' drawn stage: half of each batch is the training digits redrawn with a round pen, the other
half MNIST as stored, with the same augmentation (no MNIST-only stage first; a higher peak rate). A drawing
it misses as well is one the tracer or the pen has made hard to read, whatever reads it. Not a product
model: nothing is saved. About 12 minutes here (3 of them drawing the training digits).
"""
from __future__ import annotations

import argparse
import dataclasses

import torch
from torch import nn

from bench.drawn_eval import NAMES, ROOT, evaluate, parse_sizes, table
from src.digits import MNIST_MEAN, MNIST_STD, DigitRNN
from src.hub import load_folder
from src.recipes import RECIPES
from src.strokes import BLOB
from src.train_digits import train_digits


class ConvReader(nn.Module):
    """Two blocks of two 3x3 convolutions and a pooling, then two linear layers: (batch, 28, 28) -> logits."""

    def __init__(self, dropout: float = 0.3):
        super().__init__()

        def block(into: int, out: int) -> list[nn.Module]:
            return [nn.Conv2d(into, out, 3, padding=1), nn.ReLU(), nn.Conv2d(out, out, 3, padding=1), nn.ReLU(),
                    nn.MaxPool2d(2)]

        self.layers = nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Dropout(dropout),
                                    nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(dropout), nn.Linear(256, 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(((images - MNIST_MEAN) / MNIST_STD)[:, None])


def train_reference(epochs: int, limit: int | None = None, progress: bool = True) -> tuple[nn.Module, float]:
    """The convolutional reader trained by the digit recipe's drawn stage alone; returns it (in eval mode) and
    its MNIST test accuracy. `limit`: train and test on that many digits (smoke tests)."""
    recipe = dataclasses.replace(RECIPES["digit-bilstm"], epochs=0, drawn_epochs=epochs, drawn_lr=2e-3, limit=limit)
    model, metrics = train_digits(recipe, progress=progress, reader=ConvReader)
    return model.eval(), metrics["test_accuracy"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="drawings per pen width and size bucket")
    parser.add_argument("--seed", type=int, default=50)
    parser.add_argument("--widths", type=int, nargs="+", default=[12, 22], help="pen widths (px) to draw with")
    parser.add_argument("--sizes", nargs="+", default=["45-70"], help="size buckets in percent of the canvas")
    parser.add_argument("--blob", type=float, default=BLOB, help="the tracer's filled-loop setting (bench.drawn_eval)")
    parser.add_argument("--epochs", type=int, default=8, help="the convolutional reader's training epochs")
    parser.add_argument("--limit", type=int, help="train on this many digits (smoke tests)")
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.sizes)
    reference, mnist = train_reference(args.epochs, args.limit, progress=args.limit is None)
    models = {"conv": reference} | {name: load_folder(DigitRNN, ROOT / "checkpoints" / name) for name in NAMES}
    rows, results = evaluate(models, args.n, args.seed, tuple(args.widths), sizes, photos=False, blob=args.blob)
    print(table(rows, results, args.n, sizes))
    print(f"\nThe convolutional reader on MNIST test as stored, after training: {mnist:.2%}.")


if __name__ == "__main__":
    main()
