"""What every training run records in its metrics.json, whatever it trained: parameters, training time,
machine, seed, the whole recipe and the exact command."""
from __future__ import annotations

import platform
import shlex
import sys
import time

import torch

from src.evaluate import count_parameters
from src.recipes import Recipe, as_record


def finish(metrics: dict, model: torch.nn.Module, start: float, recipe: Recipe) -> dict:
    """Add what every checkpoint records: size, time, machine, seed, the recipe and the exact command."""
    metrics.update({
        "parameters": count_parameters(model),
        "train_seconds": round(time.time() - start, 1),
        "device": f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "seed": recipe.seed,
        "recipe": as_record(recipe),
        "command": "python -m src.train " + shlex.join(sys.argv[1:]),
        "torch": torch.__version__,
    })
    # A run that started from a checkpoint (init) took that checkpoint's training time too.
    metrics["total_train_seconds"] = round(metrics["train_seconds"] + metrics.get("init", {}).get("train_seconds", 0), 1)
    metrics["summary"]["training time"] = f"{metrics['total_train_seconds'] / 60:.1f} min on {metrics['device']}"
    if "init" in metrics:
        metrics["summary"]["training time"] += (f" ({metrics['train_seconds'] / 60:.1f} min for this run, after "
                                                f"`{metrics['init']['command']}`)")
    return metrics
