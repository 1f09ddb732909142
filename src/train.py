"""Train one checkpoint folder from the command line, by the name of its recipe (src.recipes).

    python -m src.train digit-bilstm --out checkpoints/digit-bilstm
    python -m src.train digit-lstm --out checkpoints/digit-lstm
    python -m src.train joke-lstm --out checkpoints/joke-lstm
    python -m src.train joke-lstm-512 --out runs/joke-lstm-512     # joke-bilstm starts from this LM
    python -m src.train joke-bilstm --out checkpoints/joke-bilstm
    python -m src.train digit-lstm --help          # every setting, with the recipe's value

Each run is seeded, shows a progress bar, and writes config.json, model.safetensors, metrics.json (test
score, parameter count, training time, per-epoch curves, the recipe and the exact command) and a model card.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from src.blanks import JokeBiLSTM
from src.digits import DigitRNN
from src.jokes import JokeLSTM
from src.recipes import RECIPES, DigitRecipe, add_arguments, from_arguments
from src.train_blanks import train_blanks
from src.train_digits import train_digits
from src.train_jokes import train_jokes


def save(model: DigitRNN | JokeLSTM | JokeBiLSTM, metrics: dict, out: Path, name: str) -> None:
    """Write the checkpoint folder (weights, config, metrics, card)."""
    model.metrics = {"name": name, **metrics}
    (out / "README.md").unlink(missing_ok=True)  # the card is regenerated from the new metrics
    model.save_pretrained(out)
    print(f"saved {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="name", required=True, metavar="RECIPE")
    for name, recipe in RECIPES.items():
        recipe_parser = sub.add_parser(name, help=type(recipe).__doc__,
                                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_arguments(recipe_parser, recipe)
        recipe_parser.add_argument("--out", type=Path, required=True, help="the checkpoint folder to write")
        recipe_parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    recipe = from_arguments(RECIPES[args.name], args)
    if isinstance(recipe, DigitRecipe):
        train = train_digits
    else:
        train = train_blanks if recipe.bidirectional else train_jokes
    model, metrics = train(recipe, progress=not args.no_progress)
    save(model, metrics, args.out, args.name)


if __name__ == "__main__":
    main()
