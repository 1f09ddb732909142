"""Subword tokenizer for the joke model: frequent words, frequent word pieces, and every single byte.

Text is split into pieces (a word with its leading space, a number, a punctuation mark, a whitespace
character); a piece in the vocabulary is one token, any other is cut greedily into the longest known
chunks, down to single bytes, which are always in the vocabulary. So every string encodes, decoding
gives it back exactly, and unknown words cost the model the tokens that spell them.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

PIECE = re.compile(r" ?[A-Za-z']+| ?\d+| ?[^\sA-Za-z\d]|\s")
EOS = 0  # marks both the start and the end of a joke
BYTE_OFFSET = 1  # ids 1..256 are the single bytes


def pieces(text: str) -> list[str]:
    """Split text into pieces that join back to exactly the text."""
    return PIECE.findall(text)


def to_bytes(text: str) -> bytes:
    """UTF-8, with surrogatepass so that every Python str (even a lone surrogate) has bytes."""
    return text.encode("utf-8", errors="surrogatepass")


def build_vocab(texts: Iterable[str], n_words: int, n_chunks: int) -> list[str]:
    """The multi-byte tokens: the n_words most frequent pieces, then the n_chunks most frequent 2-5 byte
    chunks of the remaining pieces. Returned as latin-1 strings (one char per byte) for config.json."""
    counts = Counter(to_bytes(p) for text in texts for p in pieces(text))
    words = [w for w, _ in counts.most_common() if len(w) > 1][:n_words]
    known = set(words)
    chunks: Counter[bytes] = Counter()
    for piece, n in counts.items():
        if piece not in known:
            for size in range(2, 6):
                for i in range(len(piece) - size + 1):
                    chunks[piece[i:i + size]] += n
    extra = [c for c, _ in chunks.most_common() if c not in known][:n_chunks]
    return [t.decode("latin-1") for t in words + extra]


class Tokenizer:
    """Encodes text to ids and decodes ids to bytes, given the multi-byte tokens of `build_vocab`."""

    def __init__(self, multibyte: list[str]):
        self.tokens: list[bytes] = [b""] + [bytes([b]) for b in range(256)] + [t.encode("latin-1") for t in multibyte]
        self.ids = {t: i for i, t in enumerate(self.tokens) if i != EOS}
        self.longest = max(len(t) for t in self.tokens)
        self._encode_piece = lru_cache(maxsize=200_000)(self._encode_piece_uncached)

    @property
    def vocab(self) -> list[str]:
        """The multi-byte tokens, as build_vocab gave them (the constructor's argument)."""
        return [t.decode("latin-1") for t in self.tokens[BYTE_OFFSET + 256:]]

    def __len__(self) -> int:
        return len(self.tokens)

    def _encode_piece_uncached(self, piece: bytes) -> tuple[int, ...]:
        if piece in self.ids:
            return (self.ids[piece],)
        out, i = [], 0
        while i < len(piece):
            for size in range(min(self.longest, len(piece) - i), 0, -1):
                token = self.ids.get(piece[i:i + size])
                if token is not None:
                    out.append(token)
                    i += size
                    break
        return tuple(out)

    def encode(self, text: str) -> list[int]:
        """Token ids of text (no EOS added)."""
        return [i for p in pieces(text) for i in self._encode_piece(to_bytes(p))]

    def token_bytes(self, token: int) -> bytes:
        """The bytes a token stands for (EOS: none)."""
        return self.tokens[token]
