"""Train one checkpoint folder from the command line, by the name of its recipe (src.recipes).

    python -m src.train digit-bilstm --out checkpoints/digit-bilstm
    python -m src.train digit-lstm --out checkpoints/digit-lstm
    python -m src.train joke-lstm --out checkpoints/joke-lstm
    python -m src.train digit-lstm --help          # every setting, with the recipe's value

Each run is seeded, shows a progress bar, and writes config.json, model.safetensors, metrics.json (test
score, parameter count, training time, per-epoch curves, the recipe and the exact command) and a model card.
"""
from __future__ import annotations

import argparse
import copy
import math
import platform
import random
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from src import data
from src.digits import DigitRNN
from src.evaluate import bits_per_char, count_parameters, digit_accuracy
from src.checkpoint import read_metrics
from src.recipes import RECIPES, DigitRecipe, JokeRecipe, Recipe, add_arguments, as_record, from_arguments
from src.hub import load_folder
from src.jokes import JokeLSTM
from src.tokenizer import EOS, build_vocab


def train_digits(recipe: DigitRecipe, progress: bool = True) -> tuple[DigitRNN, dict]:
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
    width and read back through the app's preprocessing (data.drawn_digits, made once per run): what
    people's drawings look like after stroke normalisation, fat pens' closed loops included. `init` starts
    from a checkpoint folder's weights instead of a random initialisation.
    """
    r = recipe
    seed, limit, init, teachers = r.seed, r.limit, r.init, r.teachers
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = data.mnist_tensors(train=True)
    test_x, test_y = data.mnist_tensors(train=False)
    if limit:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]
    model = DigitRNN(hidden_size=r.hidden_size, bidirectional=r.bidirectional, dropout=r.dropout)
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
        drawn_x = data.drawn_digits(train_x, seed)
        tqdm.write(f"drew {len(drawn_x):,} training digits again with a round pen")

        def mixed(idx: torch.Tensor) -> torch.Tensor:
            use_drawn = torch.rand(len(idx), generator=generator) < r.drawn_p
            return torch.where(use_drawn[:, None, None], drawn_x[idx], train_x[idx])

        run("drawn", r.drawn_epochs, r.drawn_lr, mixed)
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
        base = read_metrics(init)
        metrics["init"] = {"folder": str(init), "command": base.get("command"),
                           "test_accuracy": base.get("test_accuracy"),
                           "train_seconds": base.get("total_train_seconds", base.get("train_seconds", 0))}
    if teacher_models:
        recorded = [m.metrics or {} for m in teacher_models]
        metrics["teachers"] = [{"folder": str(t), "command": r.get("command"), "test_accuracy": r.get("test_accuracy")}
                               for t, r in zip(teachers, recorded)]
        metrics["summary"]["trained on"] = f"the mean probabilities of {len(teachers)} teacher runs (distillation)"
    return model, _finish(metrics, model, start, recipe)


def joke_stream(encoded: list[list[int]], rng: random.Random) -> torch.Tensor:
    """Encoded jokes in a random order as one token stream, each preceded and the last followed by EOS."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    tokens = [EOS]
    for i in order:
        tokens += encoded[i] + [EOS]
    return torch.tensor(tokens)


def _lm_epoch(model: JokeLSTM, stream: torch.Tensor, batch_size: int, seq_len: int,
              optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LRScheduler | None,
              desc: str, progress: bool) -> float:
    """One pass of truncated backprop through time over `stream` cut into `batch_size` rows; the LSTM
    state is carried from chunk to chunk. Returns the mean training loss in nats per token."""
    model.train()
    columns = (len(stream) - 1) // batch_size
    inputs = stream[:batch_size * columns].view(batch_size, columns)
    targets = stream[1:batch_size * columns + 1].view(batch_size, columns)
    state, total, count = None, 0.0, 0
    bar = tqdm(range(0, columns, seq_len), desc=desc, disable=not progress, leave=False)
    for i in bar:
        logits, state = model(inputs[:, i:i + seq_len], state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.flatten(0, 1), targets[:, i:i + seq_len].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if schedule is not None:
            schedule.step()
        total += loss.item()
        count += 1
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return total / max(count, 1)


def train_jokes(recipe: JokeRecipe, progress: bool = True) -> tuple[JokeLSTM, dict]:
    """Build the vocabulary from the training text, pretrain on the filtered extra jokes plus the
    cleanjokes training split (repeated `r.clean_weight` times), then fine-tune on the cleanjokes training
    split alone, keeping the epoch with the best validation bits per character. The test split is
    scored once, at the end."""
    r = recipe
    torch.manual_seed(r.seed)
    rng = random.Random(r.seed)
    clean_train, val, test = (data.clean_jokes(s) for s in ("train", "val", "test"))
    extra = data.pretraining_jokes()
    if r.limit:
        clean_train, val, extra = clean_train[:r.limit], val[:r.limit // 4 + 1], extra[:r.limit]
    corpus = extra + clean_train * r.clean_weight
    model = JokeLSTM(build_vocab(corpus, r.n_words, r.n_chunks), embed_dim=r.embed_dim, hidden_size=r.hidden_size,
                     num_layers=r.num_layers, dropout=r.dropout)
    encoded_corpus = [model.tokenizer.encode(j) for j in corpus]
    encoded_clean = encoded_corpus[len(extra):len(extra) + len(clean_train)]
    curves: dict[str, list] = {"stage": [], "epoch": [], "train_bpc": [], "val_bpc": []}
    chars_per_token = sum(map(len, corpus)) / sum(map(len, encoded_corpus))
    start = time.time()

    def record(stage: str, epoch: int, loss: float) -> float:
        train_bpc = loss / math.log(2) / chars_per_token
        val_bpc = bits_per_char(model, val)
        for key, value in zip(curves, (stage, epoch, round(train_bpc, 4), round(val_bpc, 4))):
            curves[key].append(value)
        tqdm.write(f"{stage} epoch {epoch}: train ~{train_bpc:.3f} bpc, val {val_bpc:.3f} bpc")
        return val_bpc

    if r.pretrain_epochs:
        optimizer = torch.optim.AdamW(model.parameters(), lr=r.lr, weight_decay=0.01)
        tokens = sum(len(e) + 1 for e in encoded_corpus)
        steps = r.pretrain_epochs * math.ceil(tokens // r.batch_size / r.seq_len)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=r.lr, total_steps=steps + 1,
                                                       pct_start=0.05)
        for epoch in range(1, r.pretrain_epochs + 1):
            loss = _lm_epoch(model, joke_stream(encoded_corpus, rng), r.batch_size, r.seq_len, optimizer, schedule,
                             f"pretrain {epoch}/{r.pretrain_epochs}", progress)
            record("pretrain", epoch, loss)
    best_bpc, best_state = bits_per_char(model, val), copy.deepcopy(model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=r.finetune_lr, weight_decay=0.01)
    for epoch in range(1, r.finetune_epochs + 1):
        loss = _lm_epoch(model, joke_stream(encoded_clean, rng), min(r.batch_size, 16), r.seq_len, optimizer, None,
                         f"finetune {epoch}/{r.finetune_epochs}", progress)
        val_bpc = record("finetune", epoch, loss)
        if val_bpc < best_bpc:
            best_bpc, best_state = val_bpc, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    test_bpc = bits_per_char(model, test)
    per_joke = [model.nll(j) / math.log(2) / len(j) for j in test]
    metrics = {
        "test_bpc": round(test_bpc, 4),
        "val_bpc": round(best_bpc, 4),
        "test_jokes": len(test),
        "test_min_joke_bpc": round(min(per_joke), 4),
        "pretraining_jokes": len(extra),
        "vocab_size": len(model.tokenizer),
        "summary": {
            f"bits per character, {len(test)} held-out cleanjokes": f"{test_bpc:.3f}",
            "lowest bits per character of any held-out joke (memorisation check)": f"{min(per_joke):.3f}",
            "parameters": f"{count_parameters(model):,}",
            "vocabulary": f"{len(model.tokenizer):,} tokens (words, word pieces, 256 bytes, end)",
            "pretraining jokes (filtered)": f"{len(extra):,}",
        },
        "curves": curves,
    }
    return model, _finish(metrics, model, start, recipe)


def _finish(metrics: dict, model: torch.nn.Module, start: float, recipe: Recipe) -> dict:
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


def save(model: DigitRNN | JokeLSTM, metrics: dict, out: Path, name: str) -> None:
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
    train = train_digits if isinstance(recipe, DigitRecipe) else train_jokes
    model, metrics = train(recipe, progress=not args.no_progress)
    save(model, metrics, args.out, args.name)


if __name__ == "__main__":
    main()
