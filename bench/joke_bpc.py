"""Bits per character of joke LMs on the held-out jokes, split by whether a joke is clean text.

    python -m bench.joke_bpc [FOLDER ...]      # default: the bundled checkpoints/joke-lstm
    python -m bench.joke_bpc --junk-jokes A B  # also each junk test joke's bits under each folder

For each joke-lstm folder: bits per character on the 162 test jokes (cleanjokes ID % 10 == 0, never
trained on) and the validation jokes, and on the test jokes split by src.data.junk_rule (links, markup,
runs of one character: what the training text is filtered of) into clean ones and junk ones, with each
part's joke and character counts. With --junk-jokes, each junk test joke's bits under each folder too (where
a filter's cost sits).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from src import data
from src.evaluate import bits_per_char
from src.hub import bundled_folder, load_folder
from src.jokes import JokeLSTM


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="*", help="joke-lstm checkpoint folders")
    parser.add_argument("--junk-jokes", action="store_true", help="also score each junk test joke in bits")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    test, val = data.clean_jokes("test"), data.clean_jokes("val")
    parts = {"test": test, "clean test": [j for j in test if data.junk_rule(j) is None],
             "junk test": [j for j in test if data.junk_rule(j) is not None], "validation": val}
    print("| checkpoint | " + " | ".join(f"{name} ({len(jokes)} jokes, {sum(map(len, jokes)):,} chars)"
                                        for name, jokes in parts.items()) + " |")
    print("|---" * (len(parts) + 1) + "|")
    models = {folder: load_folder(JokeLSTM, folder) for folder in args.folders or [bundled_folder("joke-lstm")]}
    for folder, model in models.items():
        print(f"| {folder} | " + " | ".join(f"{bits_per_char(model, jokes):.3f}" for jokes in parts.values()) + " |")
    if args.junk_jokes:
        print("\n| junk test joke | rule | chars | " + " | ".join(f"bits, {folder}" for folder in models) + " |")
        print("|---|---|---|" + "---|" * len(models))
        for joke in parts["junk test"]:
            bits = " | ".join(f"{model.nll(joke) / math.log(2):.0f}" for model in models.values())
            print(f"| {joke[:40]!r} | {data.junk_rule(joke)} | {len(joke)} | {bits} |")


if __name__ == "__main__":
    main()
