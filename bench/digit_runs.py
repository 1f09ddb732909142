"""How much of the gap between digit training runs is recipe and how much is chance.

    python -m bench.digit_runs checkpoints/digit-bilstm runs/other-run ...

Each argument is a digit checkpoint folder (from `python -m src.train digits ...`). Prints each folder's
MNIST test accuracy and error count, the runs' mean accuracy and its standard deviation, how many of the
10,000 test images every run gets wrong and how many at least one run does, and the accuracy of the runs' averaged probabilities (an ensemble, for scale).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from src import data
from src.digits import DigitRNN, logits_in_batches
from src.hub import load_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    images, labels = data.mnist_tensors(train=False)
    probs, wrong = [], []
    for folder in args.folders:
        model = load_folder(DigitRNN, folder)
        p = logits_in_batches(model, images).softmax(-1)
        errors = set((p.argmax(-1) != labels).nonzero().flatten().tolist())
        print(f"{folder}: {1 - len(errors) / len(labels):.2%} ({len(errors)} errors)  [{model.metrics['command']}]")
        probs.append(p)
        wrong.append(errors)
    if len(wrong) > 1:
        accuracy = torch.tensor([1 - len(errors) / len(labels) for errors in wrong])
        print(f"mean accuracy {accuracy.mean():.2%}, standard deviation {accuracy.std():.2%} over {len(wrong)} runs")
        print(f"wrong in every run: {len(set.intersection(*wrong))}; wrong in at least one: {len(set.union(*wrong))}")
        ensemble = (sum(probs).argmax(-1) == labels).float().mean().item()
        print(f"ensemble of the {len(probs)} runs (mean probabilities): {ensemble:.2%}")


if __name__ == "__main__":
    main()
