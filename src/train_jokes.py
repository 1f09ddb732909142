"""Training the subword joke language model (JokeLSTM) by a JokeRecipe; `python -m src.train` runs it."""
from __future__ import annotations

import copy
import dataclasses
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from src import data
from src.checkpoint import HubCheckpoint
from src.evaluate import bits_per_char, count_parameters
from src.jokes import JokeLSTM
from src.recipes import JokeRecipe
from src.hub import load_folder
from src.run_record import finish, init_record
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


@dataclass(frozen=True)
class JokeTexts:
    """The joke splits every text model trains and is scored on."""

    clean_train: list[str]
    val: list[str]
    test: list[str]
    extra: list[str]
    clean_weight: int  # times the training split is repeated in the pretraining corpus

    @property
    def corpus(self) -> list[str]:
        """The pretraining text: the extra jokes, then the cleanjokes training split `clean_weight` times."""
        return self.extra + self.clean_train * self.clean_weight


def joke_texts(r: JokeRecipe) -> JokeTexts:
    """The splits (data.clean_jokes, data.pretraining_jokes), cut to `r.limit` jokes for smoke tests."""
    clean_train = data.clean_jokes("train", tidy=r.tidy_spacing)
    val, test = data.clean_jokes("val"), data.clean_jokes("test")
    extra = data.pretraining_jokes(tidy=r.tidy_spacing)
    if r.limit:
        clean_train, val, extra = clean_train[:r.limit], val[:r.limit // 4 + 1], extra[:r.limit]
    return JokeTexts(clean_train, val, test, extra, r.clean_weight)


def vocabulary(r: JokeRecipe, texts: JokeTexts) -> list[str]:
    """The vocabulary (src.tokenizer.build_vocab) of the pretraining text as the filters leave it, before any
    tidying of its spacing: every joke model trained from the same jokes has the same tokens, so the LMs
    and the Bi-LSTM fill the same blanks (22 of 6,500 tokens would differ on the tidied text)."""
    if r.tidy_spacing:
        texts = joke_texts(dataclasses.replace(r, tidy_spacing=False))
    return build_vocab(texts.corpus, r.n_words, r.n_chunks)


# One pass over encoded jokes: (encoded, batch_size, optimizer, schedule or None, progress label) -> mean loss.
Epoch = Callable[..., float]


def two_stages(model: HubCheckpoint, r: JokeRecipe, texts: JokeTexts, encoded_corpus: list[list[int]],
               epoch: Epoch, steps: Callable[[list[list[int]], int], int], val_bpc: Callable[[], float]
               ) -> tuple[dict[str, list], float]:
    """Pretrain on the corpus for `r.pretrain_epochs` (AdamW, one-cycle to `r.lr`), then fine-tune on the
    cleanjokes training split alone for `r.finetune_epochs` (at `r.finetune_lr`, batches of at most 16),
    keeping the weights of the epoch with the best validation bits per character. `epoch(encoded, batch_size,
    optimizer, schedule, desc)` runs one pass and returns its mean loss in nats per token; `steps` counts
    its optimizer steps. The kept weights are then rounded to the model's stored_as. Returns the per-epoch
    curves and the kept weights' validation score (scored again after rounding to float16)."""
    encoded_clean = encoded_corpus[len(texts.extra):len(texts.extra) + len(texts.clean_train)]
    curves: dict[str, list] = {"stage": [], "epoch": [], "train_bpc": [], "val_bpc": []}
    chars_per_token = sum(map(len, texts.corpus)) / sum(map(len, encoded_corpus))

    def record(stage: str, n: int, loss: float) -> float:
        train_bpc, score = loss / math.log(2) / chars_per_token, val_bpc()
        for key, value in zip(curves, (stage, n, round(train_bpc, 4), round(score, 4))):
            curves[key].append(value)
        tqdm.write(f"{stage} epoch {n}: train ~{train_bpc:.3f} bpc, val {score:.3f} bpc")
        return score

    if r.pretrain_epochs:
        optimizer = torch.optim.AdamW(model.parameters(), lr=r.lr, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=r.lr, total_steps=r.pretrain_epochs * steps(encoded_corpus, r.batch_size) + 1,
            pct_start=0.05)
        for n in range(1, r.pretrain_epochs + 1):
            record("pretrain", n, epoch(encoded_corpus, r.batch_size, optimizer, schedule,
                                        f"pretrain {n}/{r.pretrain_epochs}"))
    best_bpc, best_state = val_bpc(), copy.deepcopy(model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=r.finetune_lr, weight_decay=0.01)
    for n in range(1, r.finetune_epochs + 1):
        score = record("finetune", n, epoch(encoded_clean, min(r.batch_size, 16), optimizer, None,
                                            f"finetune {n}/{r.finetune_epochs}"))
        if score < best_bpc:
            best_bpc, best_state = score, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    model.round_to_stored()  # from here on, every score is the saved folder's (the model's stored_as)
    return curves, best_bpc if model.stored_as == "float32" else val_bpc()


def finish_text_model(metrics: dict, model: torch.nn.Module, texts: JokeTexts, r: JokeRecipe, start: float,
                      vocabulary_note: str) -> dict:
    """What every text model records beyond its own scores: the jokes it was trained on (and what the
    filters dropped), its size and vocabulary, the run it started from, then src.run_record.finish."""
    metrics.update({"pretraining_jokes": len(texts.extra), "finetuning_jokes": len(texts.clean_train),
                    "jokes_dropped": data.jokes_dropped(tidy=r.tidy_spacing), "vocab_size": len(model.tokenizer)})
    metrics["summary"].update({
        "parameters": f"{count_parameters(model):,}",
        "vocabulary": f"{len(model.tokenizer):,} tokens ({vocabulary_note})",
        "pretraining jokes (filtered)": f"{len(texts.extra):,}",
        "fine-tuning jokes (cleanjokes training split, filtered)": f"{len(texts.clean_train):,}",
    })
    if model.stored_as != "float32":  # the scores above are the rounded weights' (HubCheckpoint.round_to_stored)
        metrics["summary"]["weights"] = f"stored as {model.stored_as}, loaded as float32"
    if r.init is not None:
        metrics["init"] = init_record(r.init, "test_bpc")
    return finish(metrics, model, start, r)


def train_jokes(recipe: JokeRecipe, progress: bool = True) -> tuple[JokeLSTM, dict]:
    """Build the vocabulary from the training text (see `vocabulary`), pretrain on the filtered extra jokes
    plus the cleanjokes training split (repeated `r.clean_weight` times), then fine-tune on the cleanjokes
    training split alone, keeping the epoch with the best validation bits per character; with `r.calibrate`,
    fit a temperature on validation (JokeLSTM.calibrate), and with `r.cache` the cache's settings
    (JokeLSTM.fit_cache). The test split is scored at the end: with the cache and, for comparison, without."""
    r = recipe
    torch.manual_seed(r.seed)
    rng = random.Random(r.seed)
    texts = joke_texts(r)
    if r.init is not None:  # continue training an LM: its vocabulary, sizes and weights, the recipe's regularisation
        model = load_folder(JokeLSTM, Path(r.init), dropout=r.dropout, weight_drop=r.weight_drop, stored_as=r.stored_as)
    else:
        model = JokeLSTM(vocabulary(r, texts), embed_dim=r.embed_dim,
                         hidden_size=r.hidden_size, num_layers=r.num_layers, dropout=r.dropout,
                         weight_drop=r.weight_drop, stored_as=r.stored_as)
    encoded_corpus = [model.tokenizer.encode(j) for j in texts.corpus]
    start = time.time()

    def epoch(encoded: list[list[int]], batch_size: int, optimizer: torch.optim.Optimizer,
              schedule: torch.optim.lr_scheduler.LRScheduler | None, desc: str) -> float:
        return _lm_epoch(model, joke_stream(encoded, rng), batch_size, r.seq_len, optimizer, schedule, desc, progress)

    def steps(encoded: list[list[int]], batch_size: int) -> int:
        return math.ceil(sum(len(e) + 1 for e in encoded) // batch_size / r.seq_len)

    curves, best_bpc = two_stages(model, r, texts, encoded_corpus, epoch, steps,
                                  lambda: bits_per_char(model, texts.val))
    calibration, cache = {}, {}
    if r.calibrate:
        temperature = model.calibrate(texts.val)
        model.round_to_stored()
        calibration = {"temperature": round(temperature, 4), "val_bpc_before": round(best_bpc, 4)}
        best_bpc = bits_per_char(model, texts.val)
    test = texts.test
    if r.cache:
        test_alone = bits_per_char(model, test)  # the LSTM alone: the cache is off until fitted
        weight, sharpness = model.fit_cache(texts.val)
        cache = {"weight": weight, "sharpness": sharpness, "val_bpc_before": round(best_bpc, 4),
                 "test_bpc_before": round(test_alone, 4)}
        best_bpc = bits_per_char(model, texts.val)
    test_bits = [model.nll(j) / math.log(2) for j in test]  # each test joke scored once, for both figures
    test_bpc = sum(test_bits) / sum(map(len, test))
    per_joke = [bits / len(j) for bits, j in zip(test_bits, test)]
    metrics = {
        "test_bpc": round(test_bpc, 4),
        "val_bpc": round(best_bpc, 4),
        "test_jokes": len(test),
        "test_min_joke_bpc": round(min(per_joke), 4),
        "summary": {
            f"bits per character, {len(test)} held-out cleanjokes": f"{test_bpc:.3f}",
            "lowest bits per character of any held-out joke (memorisation check)": f"{min(per_joke):.3f}",
        },
        "curves": curves,
    }
    if calibration:
        metrics["calibration"] = calibration
        metrics["summary"]["temperature fitted on validation, folded into the weights"] = (
            f"{calibration['temperature']:.3f} (validation {calibration['val_bpc_before']:.3f} -> "
            f"{cache.get('val_bpc_before', best_bpc):.3f})")
    if cache:
        metrics["cache"] = cache
        metrics["summary"]["within-joke cache fitted on validation (weight, sharpness)"] = (
            f"{cache['weight']}, {cache['sharpness']} (validation {cache['val_bpc_before']:.3f} -> {best_bpc:.3f}, "
            f"test {cache['test_bpc_before']:.3f} -> {test_bpc:.3f})")
    return model, finish_text_model(metrics, model, texts, r, start, "words, word pieces, 256 bytes, end")
