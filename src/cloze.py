"""Filling a one-word blank in a joke three ways: the LSTM from the left only, the LSTM rescoring whole
sentences, and the Bi-LSTM from both sides.

A blank is written `___` (three or more underscores) and stands for one whole word; each method ranks the
vocabulary's word tokens (a word with its leading space, as the tokenizer cuts text) and nothing else, so
the three rankings are over the same candidates.
"""
from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch

from src.blanks import JokeBiLSTM
from src.jokes import JokeLSTM
from src.sampling import CRUDE
from src.tokenizer import EOS, Tokenizer, pieces, to_bytes

BLANK = re.compile(r"_{3,}")
WORD_TOKEN = re.compile(rb" ?[A-Za-z']+")
MAX_CLOZE_CHARS = 1000
RESCORE_K = 50
READ_VALUES = 16_000_000  # word_saliency reads its variants in chunks of about this many output values


@dataclass(frozen=True)
class Blank:
    """A joke cut at its blank: token ids on each side, and whether the missing word follows a space."""

    left: list[int]
    right: list[int]
    spaced: bool


def parse_blank(text: str, tokenizer: Tokenizer) -> Blank:
    """The joke around its one blank; ValueError saying what is wrong otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Write a joke with one blank in it, e.g. 'Why did the ___ cross the road?'")
    if len(text) > MAX_CLOZE_CHARS:
        raise ValueError(f"The text is {len(text):,} characters long; the limit is {MAX_CLOZE_CHARS:,}.")
    blanks = BLANK.findall(text)
    if not blanks:
        raise ValueError("There is no blank: put ___ (three underscores) where a word is missing.")
    if len(blanks) > 1:
        raise ValueError(f"There are {len(blanks)} blanks; put exactly one ___ where a word is missing.")
    left, right = BLANK.split(text)
    # Any letter or digit (é, ß and 語 too) or an apostrophe next to ___ makes it part of a word. \Z: "$"
    # would also match before a final line break.
    if re.search(r"([^\W_]|')\Z", left) or re.match(r"[^\W_]|'", right):
        raise ValueError("The blank must stand for a whole word: leave a space or punctuation on each side of ___ "
                         "(not an apostrophe: in ___'s the blank would be part of a word).")
    # White space before the blank (a space, a line break, a tab) stands for the word's own leading space, as in
    # generation: the candidates are the vocabulary's spaced words, read right after the text before it.
    spaced = left[-1:].isspace()
    return Blank(tokenizer.encode(left.rstrip() if spaced else left), tokenizer.encode(right), spaced)


@lru_cache(maxsize=8)
def word_candidates(tokenizer: Tokenizer, spaced: bool) -> torch.Tensor:
    """Ids of the word tokens that can fill a blank (with a leading space when the blank follows one), less
    any crude one: what generation never writes (src.sampling.CRUDE_STEMS) is never offered for a blank."""
    ids = [i for i, t in enumerate(tokenizer.tokens)
           if WORD_TOKEN.fullmatch(t) and t.startswith(b" ") == spaced and not CRUDE.search(t)]
    return torch.tensor(ids)


def ranked(logits: torch.Tensor, candidates: torch.Tensor, top: int) -> list[tuple[int, float]]:
    """The `top` candidates by logit, with their probabilities among all the candidates."""
    probs = logits[candidates].softmax(-1)
    values, order = probs.topk(min(top, len(candidates)))
    return [(int(candidates[i]), float(p)) for i, p in zip(order, values)]


@torch.no_grad()
def fill_left(lm: JokeLSTM, blank: Blank, top: int = 5) -> list[tuple[int, float]]:
    """The LSTM's next word after the left context: it never sees the right side."""
    log_probs, _ = lm.read(torch.tensor([[EOS, *blank.left]]))
    return ranked(log_probs[0, -1], word_candidates(lm.tokenizer, blank.spaced), top)


@torch.no_grad()
def fill_rescore(lm: JokeLSTM, blank: Blank, top: int = 5, k: int = RESCORE_K) -> list[tuple[int, float]]:
    """The LSTM's k likeliest next words after the left context, ranked by the likelihood of the whole joke
    with each in the blank (probabilities: that likelihood normalised over the k). The left context is read
    once and its context shared by the k continuations, which are scored in one batch: the same numbers as k
    calls of `lm.nll`, at about the cost of reading the right side k times."""
    log_probs, context = lm.read(torch.tensor([[EOS, *blank.left]]))
    candidates = torch.tensor([c for c, _ in ranked(log_probs[0, -1], word_candidates(lm.tokenizer, blank.spaced), k)])
    rest = torch.cat([candidates[:, None], torch.tensor([[*blank.right, EOS]]).expand(len(candidates), -1)], 1)
    after, _ = lm.read(rest[:, :-1], context.expand(len(candidates)))
    score = log_probs[0, -1, candidates] + after.gather(2, rest[:, 1:, None])[..., 0].sum(1)
    return [(int(candidates[i]), p) for i, p in ranked(score, torch.arange(len(candidates)), top)]


def fill_bidirectional(model: JokeBiLSTM, blank: Blank, top: int = 5) -> dict[str, list[tuple[int, float]]]:
    """The Bi-LSTM's words for the blank from both sides in one pass, and each half's guess alone."""
    candidates = word_candidates(model.tokenizer, blank.spaced)
    return {name: ranked(logits, candidates, top) for name, logits in model.fill(blank.left, blank.right).items()}


def word_slots(parts: list[str], tokenizer: Tokenizer) -> list[tuple[int, int]]:
    """(index, token) of each of a joke's pieces (tokenizer.pieces) that is one word token: its blanks."""
    slots = []
    for i, part in enumerate(parts):
        ids = tokenizer.encode(part)
        if len(ids) == 1 and WORD_TOKEN.fullmatch(to_bytes(part)):
            slots.append((i, ids[0]))
    return slots


def joke_blanks(joke: str, tokenizer: Tokenizer) -> list[tuple[Blank, int]]:
    """Every blank a joke gives: each word that is one word token, cut out, with that token (the answer)."""
    parts = pieces(joke)
    return [(Blank(tokenizer.encode("".join(parts[:i])), tokenizer.encode("".join(parts[i + 1:])),
                   parts[i].startswith(" ")), token) for i, token in word_slots(parts, tokenizer)]


def cloze_accuracy(method: Callable[[Blank], list[int]], blanks: list[tuple[Blank, int]]) -> tuple[float, float]:
    """Top-1 and top-5 accuracy of `method` (a blank -> its ranked token ids) on (blank, answer) pairs."""
    ranked_ids = [(method(blank)[:5], answer) for blank, answer in blanks]
    top1 = sum(ids[:1] == [answer] for ids, answer in ranked_ids)
    top5 = sum(answer in ids for ids, answer in ranked_ids)
    return top1 / len(blanks), top5 / len(blanks)


def word_of(tokenizer: Tokenizer, token: int) -> str:
    """A word token as the word it fills in (without its leading space)."""
    return tokenizer.token_bytes(token).decode("utf-8").strip()


def fill_every_way(lm: JokeLSTM, bi: JokeBiLSTM, lm_blank: Blank, bi_blank: Blank, top: int = 5,
                   k: int = RESCORE_K) -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
    """A blank (as each model's tokenizer cuts it) filled all three ways, plus each half of the Bi-LSTM
    alone: per method its `top` token ids with probabilities, and per method the milliseconds it took (the
    halves come from the Bi-LSTM's pass)."""
    ms, found = {}, {}
    for name, run in (("lstm_left", lambda: fill_left(lm, lm_blank, top)),
                      ("lstm_rescoring", lambda: fill_rescore(lm, lm_blank, top, k)),
                      ("bilstm", lambda: fill_bidirectional(bi, bi_blank, top))):
        start = time.perf_counter()
        found[name] = run()
        ms[name] = (time.perf_counter() - start) * 1000
    halves = found.pop("bilstm")
    found.update({"bilstm": halves["both"], "bilstm_forward_half": halves["forward"],
                  "bilstm_backward_half": halves["backward"]})
    return found, ms


def fill_blank(lm: JokeLSTM, bi: JokeBiLSTM, text: str, top: int = 5, k: int = RESCORE_K
               ) -> tuple[dict[str, list[tuple[str, float]]], dict[str, float]]:
    """The blank of `text` filled every way (fill_every_way), as words, with the milliseconds rounded."""
    found, ms = fill_every_way(lm, bi, parse_blank(text, lm.tokenizer), parse_blank(text, bi.tokenizer), top, k)
    model_of = {name: bi if name.startswith("bilstm") else lm for name in found}
    words = {name: [(word_of(model_of[name].tokenizer, t), p) for t, p in ranking] for name, ranking in found.items()}
    return words, {name: round(value, 2) for name, value in ms.items()}


def blanked(joke: str, tokenizer: Tokenizer, rng: random.Random) -> tuple[str, str] | None:
    """A joke with one of its one-token words, picked by `rng`, replaced by ___, and that word (None when
    the joke has no such word)."""
    parts = pieces(joke)
    slots = word_slots(parts, tokenizer)
    if not slots:
        return None
    i, _ = rng.choice(slots)
    return blank_at(parts, i)


def blank_at(parts: list[str], i: int) -> tuple[str, str]:
    """A joke's pieces joined with piece i (a word) replaced by ___ (after its space), and that word."""
    word = parts[i]
    return "".join([*parts[:i], (" " if word.startswith(" ") else "") + "___", *parts[i + 1:]]), word.strip()


@dataclass(frozen=True)
class LeansOn:
    """Which words one method's answer leans on: its top word, and the joke's pieces (words, punctuation, white
    space, the blank as written) each with the drop in the top word's probability when that piece alone is left
    out (None: white space, the blank, or a side this method does not read)."""

    word: str
    pieces: list[tuple[str, float | None]]


def word_saliency(lm: JokeLSTM, bi: JokeBiLSTM, text: str) -> dict[str, LeansOn]:
    """Leave-one-out saliency of the blank's answer, for the LSTM from the left only ('lstm_left') and the
    Bi-LSTM ('bilstm'): the joke is read again without each of its words and punctuation marks in turn, and
    the drop in the probability of each method's top word (among the word candidates, as fill_blank shows it)
    is that piece's score. The LSTM never reads the right side, so its right side has no scores. Refuses what
    fill_blank refuses, with the same ValueError."""
    blank = parse_blank(text, lm.tokenizer)
    left_text, right_text = BLANK.split(text)
    left, right = pieces(left_text), pieces(right_text)
    out_left = [i for i, piece in enumerate(left) if not piece.isspace()]
    out_right = [j for j, piece in enumerate(right) if not piece.isspace()]

    def side(tokenizer: Tokenizer, parts: list[str], leave_out: int | None, is_left: bool) -> list[int]:
        kept = "".join(part for i, part in enumerate(parts) if i != leave_out)
        # As parse_blank cuts it: white space before a spaced blank is the candidate word's own space.
        return tokenizer.encode(kept.rstrip() if is_left and blank.spaced else kept)

    lefts = [side(lm.tokenizer, left, i, True) for i in (None, *out_left)]
    lm_log_probs = _in_chunks(lambda rows: lm.last_log_probs([[EOS, *ids] for ids in rows]), lefts,
                              len(lefts[0]) + 1, lm.lstm.hidden_size)
    lm_probs = lm_log_probs[:, word_candidates(lm.tokenizer, blank.spaced)].softmax(-1)
    tok = bi.tokenizer
    base_left, base_right = side(tok, left, None, True), side(tok, right, None, False)
    pairs = ([(base_left, base_right)] + [(side(tok, left, i, True), base_right) for i in out_left]
             + [(base_left, side(tok, right, j, False)) for j in out_right])
    bi_logits = _in_chunks(lambda rows: bi.fill_pairs([l for l, _ in rows], [r for _, r in rows]), pairs,
                           max(len(base_left), len(base_right)) + 1, bi.forward_lstm.hidden_size)
    bi_probs = bi_logits[:, word_candidates(tok, blank.spaced)].softmax(-1)
    gap = BLANK.search(text).group()
    return {"lstm_left": _scored(lm.tokenizer, blank.spaced, lm_probs, (left, out_left), (right, []), gap),
            "bilstm": _scored(tok, blank.spaced, bi_probs, (left, out_left), (right, out_right), gap)}


def _in_chunks(read: Callable[[list], torch.Tensor], rows: list, longest: int, width: int) -> torch.Tensor:
    """read(rows) over chunks of rows, each small enough that a read's outputs (rows x `longest` tokens x
    `width` values) stay under READ_VALUES: a 1,000-character joke has hundreds of words to leave out."""
    size = max(1, READ_VALUES // (longest * width))
    return torch.cat([read(rows[i:i + size]) for i in range(0, len(rows), size)])


def _scored(tokenizer: Tokenizer, spaced: bool, probs: torch.Tensor, left: tuple[list[str], list[int]],
            right: tuple[list[str], list[int]], gap: str) -> LeansOn:
    """LeansOn from probabilities (1 + left-outs, candidates): the full joke's first, then one row per piece
    left out, in the order of the left side's and then the right side's indices."""
    (left_parts, out_left), (right_parts, out_right) = left, right
    top = int(probs[0].argmax())
    drops = iter((probs[0, top] - probs[1:, top]).tolist())
    left_drops = {i: round(next(drops), 4) for i in out_left}
    right_drops = {j: round(next(drops), 4) for j in out_right}
    shown = ([(part, left_drops.get(i)) for i, part in enumerate(left_parts)] + [(gap, None)]
             + [(part, right_drops.get(j)) for j, part in enumerate(right_parts)])
    return LeansOn(word_of(tokenizer, int(word_candidates(tokenizer, spaced)[top])), shown)
