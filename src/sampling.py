"""Sampling a joke token by token: the settings' filters (temperature, top-k, top-p), the bounds every
generated text keeps (words, characters per word, symbol runs, spacing, whole characters), and what each
sampled token carries (`Sampled`: enough to show it and to branch there). The model itself is
src.jokes.JokeLSTM.
"""
from __future__ import annotations

import codecs
import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from src.tokenizer import to_bytes

if TYPE_CHECKING:
    from src.jokes import Context

# Bounds that hold whatever the model writes: tokens per requested word before generation gives up on
# reaching max_words, and the characters one word may have (a "word" that never ends stops the joke).
MAX_TOKENS_PER_WORD = 16
MAX_WORD_CHARS = 30
# A symbol ('.', '!', '*', '_' ...) written this many times in a row is not written once more: "....." and
# "!!!!!" are never written (filtering them from the corpus is not enough, "..." followed by ".." is one).
MAX_SYMBOL_RUN = 4
# A space and then a lone ? ! . , ; or : ("who ?") is never written: it ends a word, so it takes no space.
SPACED_PUNCTUATION = re.compile(rb" +[?!.,;:]\s*")
# Crude stems never written, whole or spelled from pieces ("Re" + "fuck" + "ing"): the training jokes that hold
# them are dropped (src.data), but the LM can still spell one from word pieces and bytes.
CRUDE_STEMS = (b"fuck", b"shit", b"cunt", b"bitch", b"slut", b"whore", b"nigg", b"porn", b"penis", b"vagina",
               b"dildo", b"blowjob", b"masturbat", b"orgasm", b"horny", b"boob")
CRUDE = re.compile(b"|".join(CRUDE_STEMS), re.IGNORECASE)


@dataclass(frozen=True)
class Sampled:
    """One sampled token and what the model knew when it was drawn: enough to show it and to branch there."""

    token: int
    data: bytes  # what it writes (the end token: a new line)
    prob: float  # its probability in the distribution it was drawn from (after temperature, top-k, top-p)
    log_probs: torch.Tensor  # the model's log-probabilities at this position, the blocked tokens (JokeLSTM.blocked) masked
    before: Context  # the model's context before it (the LSTM state and what its cache holds)
    written: Written  # the text before it, as the bounds count it


@dataclass(frozen=True)
class Written:
    """What the text written so far means for generation's bounds: its words, the characters of the word
    being written (0 after white space), the symbol byte repeated at its end with how many times, whether
    it ends with a space the next word takes as its own, the bytes of a character it has begun but not
    finished, and the end of the word being written that begins a crude stem (see crude_start).

    The space is white space typed at the end of a prompt (after some text), or a space the model wrote. The
    vocabulary's words carry their own leading space, so the next token must start with one
    (JokeLSTM.blocked) and writes itself without it: no "chicken  cross" (the corpus has two spaces in a row
    in 10.5% of its jokes) and no "chicken\n the". The unfinished character is there because the vocabulary
    holds every single byte: a sampled byte may start a character that only some tokens can finish (the
    others would be written as \ufffd)."""

    words: int = 0
    word_chars: int = 0
    symbol: int = 0
    repeats: int = 0
    space: bool = False
    partial: bytes = b""
    crude: bytes = b""

    @classmethod
    def prompt(cls, prompt: str) -> Written:
        """Before the first sampled token: no words yet (a prompt that ends inside a word is continued, its
        typed part not counted against MAX_WORD_CHARS), the symbol run the prompt ends with, and whether it
        ends with white space after some text."""
        data = to_bytes(prompt)
        tail = data[len(data.rstrip(data[-1:])):] if data and is_symbol(data[-1]) else b""
        return cls(0, int(bool(prompt) and not prompt[-1].isspace()), tail[0] if tail else 0, len(tail),
                   prompt[-1:].isspace() and bool(prompt.strip()), crude=crude_start(data))

    def after(self, data: bytes) -> Written:
        """The counts once `data` (UTF-8 bytes, possibly part of a character) is written too."""
        words, word_chars = count_words(data, self.words, self.word_chars)
        symbol, repeats = self.symbol, self.repeats
        for byte in data:
            symbol, repeats = ((byte, repeats + 1 if byte == symbol else 1) if is_symbol(byte) else (0, 0))
        return Written(words, word_chars, symbol, repeats, data.endswith(b" ") if data else self.space,
                       unfinished(self.partial + data) or b"", crude_start(self.crude + data))


def crude_start(text: bytes) -> bytes:
    """The longest end of `text`'s last word (lower case; b"" after ASCII white space) that begins a crude
    stem, or b"": all the text can still contribute to one (Aho-Corasick's state)."""
    word = re.split(rb"\s", text)[-1].lower()
    return next((word[i:] for i in range(len(word)) if any(stem.startswith(word[i:]) for stem in CRUDE_STEMS)), b"")


def is_symbol(byte: int) -> bool:
    """An ASCII character that is neither a letter, a digit nor white space."""
    return byte < 128 and not chr(byte).isalnum() and not chr(byte).isspace()


def unfinished(data: bytes) -> bytes | None:
    """The bytes at the end of `data` that begin a UTF-8 character without finishing it (b"" if none), or
    None if `data` is not UTF-8 or a beginning of it that some bytes could finish."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data)
    except UnicodeDecodeError:
        return None
    tail = decoder.getstate()[0]
    return tail if _finishable(tail) else None


@functools.cache
def _finishable(tail: bytes) -> bool:
    """Whether continuation bytes can finish the character `tail` begins. Python's incremental decoder
    holds b"\xed\xa0" (the start of a surrogate) without complaint, and no third byte finishes it."""
    return not tail or any(unfinished(tail + bytes([byte])) is not None for byte in range(0x80, 0xC0))


def decoded(steps: Iterator[Sampled]) -> Iterator[str]:
    """Sampled tokens as text pieces (UTF-8 characters split across tokens come out whole; a character left
    unfinished when generation stops at its token bound is not written)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for step in steps:
        piece = decoder.decode(step.data)
        if piece:
            yield piece


def count_words(data: bytes, words: int, word_chars: int) -> tuple[int, int]:
    """Word count and the characters of the word being written (0 after whitespace) after appending
    UTF-8 `data`; words are runs of non-whitespace."""
    for byte in data:
        if byte < 128 and chr(byte).isspace():  # bytes >= 128 are parts of characters
            word_chars = 0
            continue
        if word_chars == 0:
            words += 1
        word_chars += byte & 0xC0 != 0x80  # a continuation byte adds no character
    return words, word_chars


def check_sampling(temperature: float, top_k: int, top_p: float, max_words: int) -> None:
    """Raise ValueError with a plain message for sampling settings outside their ranges."""
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 means no top-k filtering), got {top_k}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1 means no nucleus filtering), got {top_p}")
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}")


# float32's smallest normal number: a positive temperature below it samples greedily (7e-220 became 0 in the
# division and gave NaN probabilities; any temperature that small is greedy in effect anyway).
GREEDY_BELOW = torch.finfo(torch.float32).tiny


def greedy(temperature: float) -> bool:
    """Whether a temperature samples greedily: 0, or one below GREEDY_BELOW."""
    return temperature < GREEDY_BELOW


def filtered_probs(logits: torch.Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0
                   ) -> torch.Tensor:
    """Sampling distribution after temperature, top-k and top-p (nucleus) filtering; temperature 0 (or one too
    small for float32, see greedy) is one-hot on the argmax."""
    if greedy(temperature):
        return F.one_hot(logits.argmax(), logits.numel()).float()
    # Shifted so the top logit is 0: a tiny temperature then sends the others to -inf, never the top to +inf.
    logits = (logits - logits.max()) / temperature
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = logits.softmax(-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the top token always survives).
        drop = sorted_probs.cumsum(-1) - sorted_probs >= top_p
        probs = probs.scatter(0, order, sorted_probs.masked_fill(drop, 0.0))
        probs = probs / probs.sum()
    return probs


def sample_token(logits: torch.Tensor, temperature: float, top_k: int, top_p: float,
                 generator: torch.Generator) -> int:
    """Draw one token id from the filtered distribution."""
    return draw(filtered_probs(logits, temperature, top_k, top_p), temperature, generator)


def draw(probs: torch.Tensor, temperature: float, generator: torch.Generator) -> int:
    """One token id from a filtered distribution (its argmax at temperature 0, see greedy)."""
    if greedy(temperature):
        return int(probs.argmax())
    return int(torch.multinomial(probs, 1, generator=generator))
