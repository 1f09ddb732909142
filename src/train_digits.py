"""Training a row-reading digit classifier (DigitRNN) on MNIST by a DigitRecipe; `python -m src.train` runs it."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from src import data
from src.digits import DigitRNN
from src.evaluate import count_parameters, digit_accuracy
from src.hub import load_folder
from src.recipes import DigitRecipe
from src.run_record import finish, init_record
from src.strokes import BLOB


def mixed(images: torch.Tensor, drawings: torch.Tensor, idx: torch.Tensor, p: float,
          generator: torch.Generator) -> torch.Tensor:
    """The batch `idx` of `images` (N, 28, 28) with a share `p` replaced by one of their drawings, taken at
    random from `drawings` (sets, N, 28, 28)."""
    use_drawn = torch.rand(len(idx), generator=generator) < p
    # One set draws nothing more from the generator, so runs of recipes made before sets repeat exactly.
    sets = torch.randint(len(drawings), (len(idx),), generator=generator) if len(drawings) > 1 else 0
    return torch.where(use_drawn[:, None, None], drawings[sets, idx], images[idx])


def train_digits(recipe: DigitRecipe, progress: bool = True,
                 reader: Callable[[], torch.nn.Module] | None = None) -> tuple[torch.nn.Module, dict]:
    """Train a row-reading digit classifier on MNIST by `recipe`: random-affine augmentation (of a share
    `augment_p` of the images, resampled with `interpolation`, plus an elastic distortion of `elastic`
    pixels if > 0) and a one-cycle schedule; `limit` trains and tests on the first `limit` images of each
    split (for smoke tests).

    With `teachers` (digit checkpoint folders) the targets are the teachers' mean probabilities on the
    same augmented images instead of the labels (knowledge distillation from their ensemble). Each step
    asks one teacher drawn at random: the loss is linear in the target, so its expectation is the loss
    against the ensemble mean, at the cost of one teacher forward pass per step instead of all of them.

    Then, for `drawn_epochs` more epochs (a second one-cycle schedule peaking at `drawn_lr`), a share
    `drawn_p` of each batch is replaced by the same training digits drawn again with a round pen of random
    width and read back through the app's preprocessing (data.drawn_digits, made once per run, `drawn_sets`
    times with other pens, places and slants; each image takes one of its drawings at random): what
    people's drawings look like after stroke normalisation, fat pens' closed loops included. The tracer
    thins each digit's ink as it is, or with `drawn_loops` goes round the loops a writer filled in. `init`
    starts from a checkpoint folder's weights instead of a random initialisation.

    `reader` builds another (batch, 28, 28) -> logits module to train by the recipe instead of its DigitRNN
    (bench.drawn_ceiling's convolutional reference); the recipe's model fields are then unused.
    """
    r = recipe
    seed, limit, init, teachers = r.seed, r.limit, r.init, r.teachers
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = data.mnist_tensors(train=True)
    test_x, test_y = data.mnist_tensors(train=False)
    if limit:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]
    model = reader() if reader else DigitRNN(hidden_size=r.hidden_size, num_layers=r.num_layers,
                                             bidirectional=r.bidirectional, dropout=r.dropout)
    if init is not None:
        model.load_state_dict(load_folder(DigitRNN, Path(init)).state_dict())
    teacher_models = [load_folder(DigitRNN, Path(t)) for t in teachers]  # in eval mode, as loaded
    curves: dict[str, list] = {"stage": [], "epoch": [], "train_loss": [], "train_accuracy": [], "test_accuracy": []}
    start = time.time()

    def run(stage: str, n_epochs: int, max_lr: float, inputs: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """`n_epochs` epochs of AdamW under one one-cycle schedule; `inputs` gives a batch's images."""
        if stage != "mnist":
            # Seeded afresh, so a later stage is the same whether it follows the first stage in one run
            # or starts from that stage's saved checkpoint (`init`).
            torch.manual_seed(seed + 1)
            generator.manual_seed(seed + 1)
        optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=r.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=n_epochs,
                                                       steps_per_epoch=math.ceil(len(train_x) / r.batch_size))
        for epoch in range(1, n_epochs + 1):
            model.train()
            order = torch.randperm(len(train_x), generator=generator)
            total_loss, correct = 0.0, 0
            bar = tqdm(range(0, len(train_x), r.batch_size), desc=f"{stage} {epoch}/{n_epochs}",
                       disable=not progress, leave=False)
            for i in bar:
                idx = order[i:i + r.batch_size]
                images = data.random_affine(inputs(idx), generator, elastic=r.elastic, p=r.augment_p,
                                            mode=r.interpolation)
                if teacher_models:
                    teacher = teacher_models[torch.randint(len(teacher_models), (), generator=generator)]
                    with torch.no_grad():
                        target = teacher(images).softmax(-1)
                    smoothing = 0.0  # a teacher's probabilities are soft already
                else:
                    target, smoothing = train_y[idx], r.label_smoothing
                logits = model(images)
                loss = F.cross_entropy(logits, target, label_smoothing=smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                total_loss += loss.item() * len(idx)
                correct += (logits.argmax(-1) == train_y[idx]).sum().item()
                bar.set_postfix(loss=f"{loss.item():.3f}")
            test_acc = digit_accuracy(model, test_x, test_y)
            for key, value in zip(curves, (stage, len(curves["epoch"]) + 1, round(total_loss / len(train_x), 5),
                                           round(correct / len(train_x), 5), round(test_acc, 5))):
                curves[key].append(value)
            tqdm.write(f"{stage} epoch {epoch}: loss {total_loss / len(train_x):.4f}, test accuracy {test_acc:.4%}")

    if r.epochs:
        run("mnist", r.epochs, r.lr, lambda idx: train_x[idx])
    if r.drawn_epochs:
        blob = BLOB if r.drawn_loops else math.inf
        drawn_x = torch.stack([data.drawn_digits(train_x, seed + k, blob=blob) for k in range(r.drawn_sets)])
        tqdm.write(f"drew {len(train_x):,} training digits again with a round pen, {r.drawn_sets} time(s)")

        run("drawn", r.drawn_epochs, r.drawn_lr, lambda idx: mixed(train_x, drawn_x, idx, r.drawn_p, generator))
    model.eval()
    test_acc = digit_accuracy(model, test_x, test_y)
    metrics = {
        "test_accuracy": round(test_acc, 5),
        "test_images": len(test_x),
        "summary": {
            f"MNIST test accuracy ({len(test_x):,} images)": f"{test_acc:.2%}",
            "parameters": f"{count_parameters(model):,}",
            "epochs": f"{r.epochs} on MNIST" + (f" + {r.drawn_epochs} with redrawn digits" if r.drawn_epochs else ""),
        },
        "curves": curves,
    }
    if init is not None:
        metrics["init"] = init_record(init, "test_accuracy")
    if teacher_models:
        recorded = [m.metrics or {} for m in teacher_models]
        metrics["teachers"] = [{"folder": str(t), "command": r.get("command"), "test_accuracy": r.get("test_accuracy")}
                               for t, r in zip(teachers, recorded)]
        metrics["summary"]["trained on"] = f"the mean probabilities of {len(teachers)} teacher runs (distillation)"
    return model, finish(metrics, model, start, recipe)
