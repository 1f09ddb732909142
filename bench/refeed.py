"""The seed tutorial's way of sampling, for comparison with JokeLSTM.generate's carried state.

Instead of keeping the LSTM state between steps, every step runs the model from a zero state over the
last `window` tokens, where `window` is the length of the prompt as the model reads it (the start token
plus the prompt's tokens), and samples from the last position's logits. Each token therefore costs
`window` LSTM steps instead of one, and nothing before the window is remembered.
"""
from __future__ import annotations

import codecs
from collections.abc import Iterator

import torch

from src.jokes import JokeLSTM
from src.sampling import sample_token
from src.tokenizer import EOS


@torch.no_grad()
def refeed_generate(model: JokeLSTM, prompt: str, *, temperature: float = 0.8, top_k: int = 0,
                    top_p: float = 1.0, seed: int = 0) -> Iterator[str]:
    """Yield sampled text pieces forever (jokes one after another); the caller stops it."""
    generator = torch.Generator().manual_seed(seed)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tokens = model.encode_joke(prompt)
    window = len(tokens)
    while True:
        log_probs, _ = model.read(torch.tensor([tokens[-window:]]))  # a fresh zero state every step
        token = sample_token(log_probs[0, -1], temperature, top_k, top_p, generator)
        tokens.append(token)
        # As in JokeLSTM.generate without stop_at_end: the end of a joke starts the next, on a new line.
        piece = decoder.decode(b"\n" if token == EOS else model.tokenizer.token_bytes(token))
        if piece:
            yield piece
