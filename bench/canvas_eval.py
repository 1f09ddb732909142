"""/classify's pipeline on MNIST test digits redrawn as canvas exports, in process.

    python -m bench.canvas_eval [--n 2000] [--seed 0]

Each digit is scaled to a random size (80-400 px), pasted at a random place as black ink on a 400x400
canvas (transparent for every other digit, white for the rest), saved as PNG, and then read back exactly
as /classify reads an upload (read_image -> ink_map -> to_mnist -> Bi-LSTM). Prints the accuracy beside
the same digits given to the model as MNIST stores them.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from src import data
from src.hub import load_model
from src.preprocess import ink_map, read_image, to_mnist
from src.strokes import canvas_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model("digit-bilstm")
    images, labels = data.mnist_tensors(train=False)
    rng = np.random.default_rng(args.seed)
    canvas_right = raw_right = 0
    for k, i in enumerate(rng.choice(len(images), args.n, replace=False)):
        size = int(rng.integers(80, 401))
        at = (int(rng.integers(0, 401 - size)), int(rng.integers(0, 401 - size)))
        image28 = to_mnist(ink_map(read_image(canvas_png(images[i].numpy(), size, at, k % 2 == 0))[0]))
        with torch.no_grad():
            canvas_right += int(model(torch.from_numpy(image28)[None]).argmax()) == int(labels[i])
            raw_right += int(model(images[i][None]).argmax()) == int(labels[i])
    print(f"Bi-LSTM on {args.n} MNIST test digits as canvas exports: {canvas_right / args.n:.2%} "
          f"(the same digits as stored in MNIST: {raw_right / args.n:.2%})")


if __name__ == "__main__":
    main()
