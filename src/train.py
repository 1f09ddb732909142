"""Train one checkpoint folder from the command line, by the name of its recipe (src.recipes).

    python -m src.train digit-bilstm --out checkpoints/digit-bilstm
    python -m src.train digit-lstm --out checkpoints/digit-lstm
    python -m src.train joke-lstm --out checkpoints/joke-lstm
    python -m src.train joke-bilstm --out checkpoints/joke-bilstm   # trains runs/joke-lstm-512 first if missing
    python -m src.train digit-lstm --help          # every setting, with the recipe's value

A recipe that starts from a folder named after a recipe (joke-bilstm: runs/joke-lstm-512) trains that
folder first by its recipe when it is missing, so every checkpoint takes one command. Each run is seeded,
shows a progress bar, and writes config.json, model.safetensors, metrics.json (test score, parameter count,
training time, per-epoch curves, the recipe and the exact command) and a model card.
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path

from src.blanks import JokeBiLSTM
from src.digits import DigitRNN
from src.jokes import JokeLSTM
from src.recipes import RECIPES, DigitRecipe, Recipe, add_arguments, from_arguments
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
    if recipe.init is not None and not recipe.init.exists() and recipe.init.name in RECIPES:
        if recipe.limit and recipe.init == RECIPES[args.name].init:
            # a small LM in runs/joke-lstm-512 would be taken for the real one by the next full run
            parser.error(f"{recipe.init} is missing: with --limit, give --init a scratch folder to train it into")
        print(f"{recipe.init} is missing: training it first by its recipe, {recipe.init.name}")
        base = dataclasses.replace(RECIPES[recipe.init.name], limit=recipe.limit)  # smoke tests: both small
        command = ["python", "-m", "src.train", recipe.init.name, "--out", str(recipe.init)]
        run(base, recipe.init, recipe.init.name, not args.no_progress,
            shlex.join(command + (["--limit", str(recipe.limit)] if recipe.limit else [])))
    run(recipe, args.out, args.name, not args.no_progress)


def run(recipe: Recipe, out: Path, name: str, progress: bool, command: str | None = None) -> None:
    """Train `recipe` by the trainer for its kind and save the folder; `command` is the one recorded, when it
    is not this process's own."""
    if isinstance(recipe, DigitRecipe):
        train = train_digits
    else:
        train = train_blanks if recipe.bidirectional else train_jokes
    model, metrics = train(recipe, progress=progress)
    save(model, metrics | ({"command": command} if command else {}), out, name)


if __name__ == "__main__":
    main()
