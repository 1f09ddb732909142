"""Training the subword joke language model (JokeLSTM) by a JokeRecipe; `python -m src.train` runs it."""
from __future__ import annotations

import copy
import math
import random
import time

import torch
from torch.nn import functional as F
from tqdm import tqdm

from src import data
from src.evaluate import bits_per_char, count_parameters
from src.jokes import JokeLSTM
from src.recipes import JokeRecipe
from src.run_record import finish
from src.tokenizer import EOS, build_vocab


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
        "finetuning_jokes": len(clean_train),
        "jokes_dropped": data.jokes_dropped(),
        "vocab_size": len(model.tokenizer),
        "summary": {
            f"bits per character, {len(test)} held-out cleanjokes": f"{test_bpc:.3f}",
            "lowest bits per character of any held-out joke (memorisation check)": f"{min(per_joke):.3f}",
            "parameters": f"{count_parameters(model):,}",
            "vocabulary": f"{len(model.tokenizer):,} tokens (words, word pieces, 256 bytes, end)",
            "pretraining jokes (filtered)": f"{len(extra):,}",
            "fine-tuning jokes (cleanjokes training split, filtered)": f"{len(clean_train):,}",
        },
        "curves": curves,
    }
    return model, finish(metrics, model, start, recipe)
