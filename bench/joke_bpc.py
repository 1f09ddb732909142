"""Bits per character of joke LMs on the held-out jokes, split by whether a joke is clean text.

    python -m bench.joke_bpc [FOLDER ...]      # default: the bundled checkpoints/joke-lstm
    python -m bench.joke_bpc --junk-jokes A B  # also each junk test joke's bits under each folder
    python -m bench.joke_bpc --bootstrap 2000 A B  # how far another sample of jokes would move the scores

For each joke-lstm folder: bits per character on the 162 test jokes (cleanjokes ID % 10 == 0, never
trained on) and the validation jokes, and on the test jokes split by src.data.junk_rule (links, markup,
runs of one character: what the training text is filtered of) into clean ones and junk ones, with each
part's joke and character counts. With --junk-jokes, each junk test joke's bits under each folder too (where
a filter's cost sits). With --bootstrap N, per split (test, validation) and folder: the spread of its
score over N samples of as many jokes drawn with replacement (how much the score is the jokes' rather than
the model's), and the 95% interval of its difference from the first folder on the same samples (paired).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from src import data
from src.hub import bundled_folder, load_folder
from src.jokes import JokeLSTM


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="*", help="joke-lstm checkpoint folders")
    parser.add_argument("--junk-jokes", action="store_true", help="also score each junk test joke in bits")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N", help="resamples of the jokes (0: none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    test, val = data.clean_jokes("test"), data.clean_jokes("val")
    parts = {"test": test, "clean test": [j for j in test if data.junk_rule(j) is None],
             "junk test": [j for j in test if data.junk_rule(j) is not None], "validation": val}
    print("| checkpoint | " + " | ".join(f"{name} ({len(jokes)} jokes, {sum(map(len, jokes)):,} chars)"
                                        for name, jokes in parts.items()) + " |")
    print("|---" * (len(parts) + 1) + "|")
    models = {folder: load_folder(JokeLSTM, folder).eval() for folder in args.folders or [bundled_folder("joke-lstm")]}
    # Each joke is scored once per model; every table below sums these bits.
    bits = {folder: {joke: model.nll(joke) / math.log(2) for joke in test + val} for folder, model in models.items()}
    for folder in models:
        print(f"| {folder} | " + " | ".join(f"{per_char(bits[folder], jokes):.3f}" for jokes in parts.values()) + " |")
    if args.junk_jokes:
        print("\n| junk test joke | rule | chars | " + " | ".join(f"bits, {folder}" for folder in models) + " |")
        print("|---|---|---|" + "---|" * len(models))
        for joke in parts["junk test"]:
            print(f"| {joke[:40]!r} | {data.junk_rule(joke)} | {len(joke)} | "
                  + " | ".join(f"{bits[folder][joke]:.0f}" for folder in models) + " |")
    if args.bootstrap:
        first = args.folders[0] if args.folders else "the first"
        print(f"\n{args.bootstrap} resamples of the jokes (seed 0): spread (sd) of each score, and the 95% interval "
              f"of each folder's difference from {first} on the same samples")
        print("\n| split | checkpoint | bits per character | sd over resamples | minus the first, 95% interval |")
        print("|---|---|---|---|---|")
        for split in ("test", "validation"):
            resampled(bits, parts[split], split, args.bootstrap)


def per_char(bits: dict[str, float], jokes: list[str]) -> float:
    """Bits per character of `jokes`, from each joke's bits."""
    return sum(bits[joke] for joke in jokes) / sum(map(len, jokes))


def resampled(bits: dict[Path, dict[str, float]], jokes: list[str], split: str, n: int) -> None:
    """Print each folder's bits per character on `jokes` (from each joke's bits), its spread over n resamples of
    them, and the paired interval of its difference from the first folder's."""
    rng = np.random.default_rng(0)
    samples = rng.integers(0, len(jokes), (n, len(jokes)))
    chars = np.array([len(j) for j in jokes])[samples].sum(1)
    first = None
    for folder, scored in bits.items():
        scores = np.array([scored[j] for j in jokes])[samples].sum(1) / chars
        if first is None:
            first, interval = scores, "-"
        else:
            low, high = np.percentile(scores - first, [2.5, 97.5])
            interval = f"[{low:+.4f}, {high:+.4f}]"
        print(f"| {split} | {folder} | {per_char(scored, jokes):.4f} | {scores.std():.4f} | {interval} |")


if __name__ == "__main__":
    main()
