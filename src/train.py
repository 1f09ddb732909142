"""Train one checkpoint folder from the command line.

    python -m src.train digits --bidirectional --out checkpoints/digit-bilstm
    python -m src.train digits --out checkpoints/digit-lstm
    python -m src.train jokes --out checkpoints/joke-lstm

Each run is seeded, shows a progress bar, and writes config.json, model.safetensors, metrics.json (test
score, parameter count, training time, per-epoch curves, the exact command) and a model card.
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
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from src import data
from src.digits import DigitRNN, logits_in_batches
from src.checkpoint import read_metrics
from src.hub import load_folder
from src.jokes import JokeLSTM
from src.tokenizer import EOS, build_vocab


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def digit_accuracy(model: DigitRNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of `model` on (N, 28, 28) images."""
    model.eval()
    return (logits_in_batches(model, images).argmax(-1) == labels).sum().item() / len(images)


def bits_per_char(model: JokeLSTM, jokes: list[str]) -> float:
    """Total nll of the jokes / ln 2 / their total characters."""
    model.eval()
    return sum(model.nll(j) for j in jokes) / math.log(2) / sum(len(j) for j in jokes)


def train_digits(*, bidirectional: bool, hidden_size: int = 128, epochs: int = 30, batch_size: int = 128,
                 lr: float = 3e-3, weight_decay: float = 1e-4, dropout: float = 0.2, label_smoothing: float = 0.1,
                 augment_p: float = 1.0, elastic: float = 0.0, interpolation: str = "bilinear",
                 teachers: Sequence[Path] = (), drawn_epochs: int = 0, drawn_p: float = 0.5,
                 drawn_lr: float = 5e-4, init: Path | None = None, seed: int = 0,
                 limit: int | None = None, progress: bool = True) -> tuple[DigitRNN, dict]:
    """Train a row-reading digit classifier on MNIST with random-affine augmentation (of a share
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
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = data.mnist_tensors(train=True)
    test_x, test_y = data.mnist_tensors(train=False)
    if limit:
        train_x, train_y, test_x, test_y = train_x[:limit], train_y[:limit], test_x[:limit], test_y[:limit]
    model = DigitRNN(hidden_size=hidden_size, bidirectional=bidirectional, dropout=dropout)
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
        optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=n_epochs,
                                                       steps_per_epoch=math.ceil(len(train_x) / batch_size))
        for epoch in range(1, n_epochs + 1):
            model.train()
            order = torch.randperm(len(train_x), generator=generator)
            total_loss, correct = 0.0, 0
            bar = tqdm(range(0, len(train_x), batch_size), desc=f"{stage} {epoch}/{n_epochs}",
                       disable=not progress, leave=False)
            for i in bar:
                idx = order[i:i + batch_size]
                images = data.random_affine(inputs(idx), generator, elastic=elastic, p=augment_p,
                                            mode=interpolation)
                if teacher_models:
                    teacher = teacher_models[torch.randint(len(teacher_models), (), generator=generator)]
                    with torch.no_grad():
                        target = teacher(images).softmax(-1)
                    smoothing = 0.0  # a teacher's probabilities are soft already
                else:
                    target, smoothing = train_y[idx], label_smoothing
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

    if epochs:
        run("mnist", epochs, lr, lambda idx: train_x[idx])
    if drawn_epochs:
        drawn_x = data.drawn_digits(train_x, seed)
        tqdm.write(f"drew {len(drawn_x):,} training digits again with a round pen")

        def mixed(idx: torch.Tensor) -> torch.Tensor:
            use_drawn = torch.rand(len(idx), generator=generator) < drawn_p
            return torch.where(use_drawn[:, None, None], drawn_x[idx], train_x[idx])

        run("drawn", drawn_epochs, drawn_lr, mixed)
    model.eval()
    test_acc = digit_accuracy(model, test_x, test_y)
    metrics = {
        "test_accuracy": round(test_acc, 5),
        "test_images": len(test_x),
        "summary": {
            f"MNIST test accuracy ({len(test_x):,} images)": f"{test_acc:.2%}",
            "parameters": f"{count_parameters(model):,}",
            "epochs": f"{epochs} on MNIST" + (f" + {drawn_epochs} with redrawn digits" if drawn_epochs else ""),
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
    return model, _finish(metrics, model, start, seed)


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


def train_jokes(*, n_words: int = 5000, n_chunks: int = 1500, embed_dim: int = 256, hidden_size: int = 512,
                num_layers: int = 1, dropout: float = 0.25, pretrain_epochs: int = 10, finetune_epochs: int = 6,
                batch_size: int = 64, seq_len: int = 64, lr: float = 3e-3, finetune_lr: float = 3e-4,
                clean_weight: int = 2, seed: int = 0, limit: int | None = None, progress: bool = True
                ) -> tuple[JokeLSTM, dict]:
    """Build the vocabulary from the training text, pretrain on the filtered extra jokes plus the
    cleanjokes training split (repeated `clean_weight` times), then fine-tune on the cleanjokes training
    split alone, keeping the epoch with the best validation bits per character. The test split is
    scored once, at the end."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    clean_train, val, test = (data.clean_jokes(s) for s in ("train", "val", "test"))
    extra = data.pretraining_jokes()
    if limit:
        clean_train, val, extra = clean_train[:limit], val[:limit // 4 + 1], extra[:limit]
    corpus = extra + clean_train * clean_weight
    model = JokeLSTM(build_vocab(corpus, n_words, n_chunks), embed_dim=embed_dim, hidden_size=hidden_size,
                     num_layers=num_layers, dropout=dropout)
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

    if pretrain_epochs:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        tokens = sum(len(e) + 1 for e in encoded_corpus)
        steps = pretrain_epochs * math.ceil(tokens // batch_size / seq_len)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps + 1,
                                                       pct_start=0.05)
        for epoch in range(1, pretrain_epochs + 1):
            loss = _lm_epoch(model, joke_stream(encoded_corpus, rng), batch_size, seq_len, optimizer, schedule,
                             f"pretrain {epoch}/{pretrain_epochs}", progress)
            record("pretrain", epoch, loss)
    best_bpc, best_state = bits_per_char(model, val), copy.deepcopy(model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=finetune_lr, weight_decay=0.01)
    for epoch in range(1, finetune_epochs + 1):
        loss = _lm_epoch(model, joke_stream(encoded_clean, rng), min(batch_size, 16), seq_len, optimizer, None,
                         f"finetune {epoch}/{finetune_epochs}", progress)
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
    return model, _finish(metrics, model, start, seed)


def _finish(metrics: dict, model: torch.nn.Module, start: float, seed: int) -> dict:
    """Add what every checkpoint records: size, time, machine, seed and the exact command."""
    metrics.update({
        "parameters": count_parameters(model),
        "train_seconds": round(time.time() - start, 1),
        "device": f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "seed": seed,
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
    sub = parser.add_subparsers(dest="task", required=True)
    digits = sub.add_parser("digits", help="MNIST row-reading classifier")
    digits.add_argument("--bidirectional", action="store_true")
    digits.add_argument("--hidden-size", type=int, default=128)
    digits.add_argument("--epochs", type=int, default=30)
    digits.add_argument("--batch-size", type=int, default=128)
    digits.add_argument("--lr", type=float, default=3e-3)
    digits.add_argument("--label-smoothing", type=float, default=0.1)
    digits.add_argument("--augment-p", type=float, default=1.0, help="share of training images augmented")
    digits.add_argument("--elastic", type=float, default=0.0, help="elastic distortion in pixels (0: off)")
    digits.add_argument("--interpolation", choices=["bilinear", "nearest"], default="bilinear",
                        help="resampling of the augmented images")
    digits.add_argument("--teacher", type=Path, nargs="+", default=[],
                        help="digit checkpoint folders to distil from (their mean probabilities become the targets)")
    digits.add_argument("--drawn-epochs", type=int, default=0,
                        help="epochs after the MNIST ones with a share of each batch redrawn with a round pen")
    digits.add_argument("--drawn-p", type=float, default=0.5, help="share of each batch redrawn in those epochs")
    digits.add_argument("--drawn-lr", type=float, default=5e-4, help="peak learning rate of those epochs")
    digits.add_argument("--init", type=Path, default=None, help="start from this checkpoint folder's weights")
    jokes = sub.add_parser("jokes", help="subword joke language model")
    jokes.add_argument("--hidden-size", type=int, default=512)
    jokes.add_argument("--num-layers", type=int, default=1)
    jokes.add_argument("--pretrain-epochs", type=int, default=10)
    jokes.add_argument("--finetune-epochs", type=int, default=6)
    jokes.add_argument("--batch-size", type=int, default=64)
    jokes.add_argument("--seq-len", type=int, default=64)
    jokes.add_argument("--lr", type=float, default=3e-3)
    for p in (digits, jokes):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--limit", type=int, default=None, help="train on a small slice (smoke tests)")
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    common = dict(seed=args.seed, limit=args.limit, progress=not args.no_progress)
    if args.task == "digits":
        model, metrics = train_digits(bidirectional=args.bidirectional, hidden_size=args.hidden_size,
                                      epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                      label_smoothing=args.label_smoothing, augment_p=args.augment_p,
                                      elastic=args.elastic, interpolation=args.interpolation,
                                      teachers=args.teacher, drawn_epochs=args.drawn_epochs,
                                      drawn_p=args.drawn_p, drawn_lr=args.drawn_lr, init=args.init, **common)
        name = "digit-bilstm" if args.bidirectional else "digit-lstm"
    else:
        model, metrics = train_jokes(hidden_size=args.hidden_size, num_layers=args.num_layers,
                                     pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs,
                                     batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, **common)
        name = "joke-lstm"
    save(model, metrics, args.out, name)


if __name__ == "__main__":
    main()
