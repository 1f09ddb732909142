"""Training the fill-in-the-blank Bi-LSTM (JokeBiLSTM) by a JokeRecipe with bidirectional=True, on the same
vocabulary, splits and two stages as the joke LM (src.train_jokes); `python -m src.train` runs it."""
from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from tqdm import tqdm

from src.blanks import JokeBiLSTM
from src.cloze import cloze_accuracy, fill_bidirectional, joke_blanks
from src.evaluate import blank_bits_per_char
from src.recipes import JokeRecipe
from src.hub import load_folder
from src.jokes import JokeLSTM
from src.train_jokes import finish_text_model, joke_texts, two_stages, vocabulary


def length_batches(encoded: list[list[int]], batch_size: int, rng: random.Random) -> Iterator[list[list[int]]]:
    """Jokes in batches of similar length (little padding), the batches in a random order."""
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), rng.random()))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    for batch in batches:
        yield [encoded[i] for i in batch]


def train_blanks(recipe: JokeRecipe, progress: bool = True) -> tuple[JokeBiLSTM, dict]:
    """The joke LM's vocabulary (its `init` folder's, or built the same way from the same text), then its
    two stages (pretraining on the filtered extra jokes plus the cleanjokes training split, fine-tuning on
    that split, the best validation epoch kept), where each joke's every token is predicted from the
    tokens on both sides. With `init`, the forward half starts as that joke LM (JokeBiLSTM.start_from)."""
    r = recipe
    if r.weight_drop or r.calibrate or r.cache:
        raise ValueError("weight_drop, calibrate and cache are the LM's (JokeLSTM); the Bi-LSTM has none of them")
    torch.manual_seed(r.seed)
    rng = random.Random(r.seed)
    texts = joke_texts(r)
    lm = load_folder(JokeLSTM, Path(r.init)) if r.init is not None else None
    vocab = lm.tokenizer.vocab if lm is not None else vocabulary(r, texts)
    model = JokeBiLSTM(vocab, embed_dim=r.embed_dim, hidden_size=r.hidden_size, backward_size=r.backward_size,
                       dropout=r.dropout, stored_as=r.stored_as)
    if lm is not None:
        model.start_from(lm)
    encoded_corpus = [model.tokenizer.encode(j) for j in texts.corpus]
    start = time.time()

    def epoch(encoded: list[list[int]], batch_size: int, optimizer: torch.optim.Optimizer,
              schedule: torch.optim.lr_scheduler.LRScheduler | None, desc: str) -> float:
        model.train()
        total, count = 0.0, 0
        bar = tqdm(length_batches(encoded, batch_size, rng), desc=desc, disable=not progress, leave=False,
                   total=math.ceil(len(encoded) / batch_size))
        for batch in bar:
            loss_sum, n = model.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            (loss_sum / n).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            total, count = total + loss_sum.item(), count + n
            bar.set_postfix(loss=f"{loss_sum.item() / n:.3f}")
        return total / max(count, 1)

    curves, best_bpc = two_stages(model, r, texts, encoded_corpus, epoch,
                                  lambda encoded, batch_size: math.ceil(len(encoded) / batch_size),
                                  lambda: blank_bits_per_char(model, texts.val))
    test_bpc = blank_bits_per_char(model, texts.test)
    blanks = [b for joke in texts.test for b in joke_blanks(joke, model.tokenizer)]
    top1, top5 = cloze_accuracy(lambda blank: [t for t, _ in fill_bidirectional(model, blank)["both"]], blanks)
    metrics = {
        "test_bpc": round(test_bpc, 4),
        "val_bpc": round(best_bpc, 4),
        "test_blanks": len(blanks),
        "test_top1": round(top1, 4),
        "test_top5": round(top5, 4),
        "summary": {
            f"one-word blanks filled, {len(texts.test)} held-out cleanjokes ({len(blanks):,} blanks)":
                f"top-1 {top1:.1%}, top-5 {top5:.1%}",
            "bits per character, each token predicted from both sides": f"{test_bpc:.3f}",
        },
        "curves": curves,
    }
    return model, finish_text_model(metrics, model, texts, r, start,
                                    "joke-lstm's: words, word pieces, 256 bytes, end")
