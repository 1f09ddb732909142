"""What every training run records in its metrics.json, whatever it trained: parameters, training time,
machine, seed, the whole recipe and the exact command."""
from __future__ import annotations

import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from src.checkpoint import read_metrics
from src.evaluate import count_parameters
from src.recipes import Recipe, as_record


def init_record(folder: Path, score: str) -> dict:
    """What a run started from another checkpoint (`init`) records of it: where, how it was made, its
    `score`, and its training time (which the new checkpoint's total includes)."""
    base = read_metrics(folder)
    return {"folder": str(folder), "command": base.get("command"), score: base.get(score),
            "train_seconds": base.get("total_train_seconds", base.get("train_seconds", 0))}


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
