"""A fill-in-the-blank Bi-LSTM over the joke LM's subword tokens.

How a blank is fed: not as a token. The forward LSTM reads the joke up to the token before the gap, the
backward LSTM reads it from the end down to the token after the gap, and the head predicts the gap's token
from those two states. So the prediction at a position cannot depend on the token there (there is no mask
token whose value the model could learn to ignore or not), every position of a joke is a training example
in one pass (no per-blank masking of the input), and the gap's size need not be known to the reader: a
blank is one token, and the app only blanks words that are one word token.

The two directions are two one-way LSTMs (the backward one reads each joke reversed), which is what
nn.LSTM(bidirectional=True) computes, except that filling one blank runs each over its own side only:
one pass over the joke instead of both directions over all of it.

The head is linear in [forward state, backward state], so each half's own guess is exact: its share of
the logits plus the bias, as the digit models' row-by-row view splits theirs.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from src.checkpoint import HubCheckpoint
from src.jokes import JokeLSTM, padded
from src.tokenizer import EOS, Tokenizer


class JokeBiLSTM(
    nn.Module,
    HubCheckpoint,
    library_name="pytorch",
    tags=["fill-mask", "lstm", "bidirectional", "jokes"],
    license="mit",
):
    """Predicts each token of a joke from the tokens on both sides of it (a blank is one token)."""

    card_title = "Bi-LSTM joke blank filler"
    card_description = (
        "Predicts a blanked-out token of a short joke from both sides: the forward LSTM's state before the "
        "gap and the backward LSTM's state after it. Same tokenizer and data split as joke-lstm: pretrained on "
        "filtered jokes from the Short Jokes collections, fine-tuned on the training split of r/cleanjokes; "
        "the 162 held-out jokes (ID % 10 == 0) were never trained on."
    )

    def __init__(self, vocab: list[str], embed_dim: int = 256, hidden_size: int = 512,
                 backward_size: int | None = None, dropout: float = 0.25, stored_as: str = "float32"):
        super().__init__()
        self.stored_as = stored_as  # model.safetensors' dtype (src.checkpoint.HubCheckpoint)
        self.tokenizer = Tokenizer(vocab)
        self.embed = nn.Embedding(len(self.tokenizer), embed_dim)
        self.forward_lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.backward_lstm = nn.LSTM(embed_dim, backward_size or hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(hidden_size + (backward_size or hidden_size), embed_dim)
        self.head = nn.Linear(embed_dim, len(self.tokenizer))
        self.head.weight = self.embed.weight  # tied, as in joke-lstm

    def states(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward and backward states (batch, time, hidden) of EOS-framed token rows; rows shorter than
        the batch are padded at the end and give their `lengths` (the backward LSTM starts at each row's end).
        Padding never reaches a real position's state: each LSTM reads its real tokens first."""
        x = self.dropout(self.embed(tokens))
        if lengths is None:
            lengths = torch.full((len(tokens),), tokens.shape[1])
        steps = torch.arange(tokens.shape[1])
        # Reverse each row's real part in place; padding stays at the end. The map is its own inverse.
        flip = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
        fwd, _ = self.forward_lstm(x)
        bwd, _ = self.backward_lstm(x.gather(1, flip[..., None].expand_as(x)))
        return fwd, bwd.gather(1, flip[..., None].expand_as(bwd))

    def gap_logits(self, before: torch.Tensor | None, after: torch.Tensor | None) -> torch.Tensor:
        """Logits for the token between a forward state `before` and a backward state `after` (either can
        be None: that half's guess alone, with the biases once)."""
        return self.head(self._projected(before, after))

    def _projected(self, before: torch.Tensor | None, after: torch.Tensor | None) -> torch.Tensor:
        """The head's input: proj([before, after]), as the sum of each half's share and the bias."""
        hidden = self.forward_lstm.hidden_size
        z = self.proj.bias
        if before is not None:
            z = z + self.dropout(before) @ self.proj.weight[:, :hidden].T
        if after is not None:
            z = z + self.dropout(after) @ self.proj.weight[:, hidden:].T
        return z

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, time) EOS-framed rows [EOS, t1..tn, EOS] -> logits (batch, time - 2, vocab) for t1..tn,
        each from the states on either side of it."""
        fwd, bwd = self.states(tokens, lengths)
        return self.gap_logits(fwd[:, :-2], bwd[:, 2:])

    @torch.no_grad()
    def start_from(self, lm: JokeLSTM) -> None:
        """Copy a one-layer joke LM of the same vocabulary and sizes into the forward half: its embeddings
        (tied to the head), its LSTM and its projection, so that the forward half's own guess starts as
        exactly the LM's next-token distribution and training mostly has the backward half to learn."""
        if lm.tokenizer.tokens != self.tokenizer.tokens or lm.lstm.num_layers != 1 \
                or lm.lstm.hidden_size != self.forward_lstm.hidden_size \
                or lm.embed.embedding_dim != self.embed.embedding_dim:
            raise ValueError("start_from needs a one-layer joke LM with this model's vocabulary and sizes")
        self.embed.weight.copy_(lm.embed.weight)
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(self.forward_lstm, name).copy_(getattr(lm.lstm, name))
        hidden = self.forward_lstm.hidden_size
        self.proj.weight[:, :hidden] = lm.proj.weight
        self.proj.weight[:, hidden:] = 0.0
        self.proj.bias.copy_(lm.proj.bias)
        self.head.bias.copy_(lm.head.bias)

    def loss(self, encoded: list[list[int]]) -> tuple[torch.Tensor, int]:
        """Summed cross-entropy in nats of every token of the encoded jokes predicted from both sides, and
        how many tokens that is (the training loss, and the measure of evaluate.blank_bits_per_char)."""
        tokens, lengths, targets = framed_batch(encoded)
        logits = self(tokens, lengths)
        total = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="sum")
        return total, int((targets >= 0).sum())

    @torch.no_grad()
    def fill(self, left: list[int], right: list[int]) -> dict[str, torch.Tensor]:
        """Logits (vocab,) for the one token between the ids `left` and `right` of a joke: 'both' sides
        together, and the 'forward' and 'backward' halves alone. Each LSTM reads only its own side."""
        forward, _ = self.forward_lstm(self.embed(torch.tensor([[EOS, *left]])))
        backward, _ = self.backward_lstm(self.embed(torch.tensor([[EOS, *reversed(right)]])))
        before, after = forward[0, -1], backward[0, -1]
        # The three heads in one product: the output matrix is read once, not three times.
        both, fwd, bwd = self.head(torch.stack([self._projected(before, after), self._projected(before, None),
                                                self._projected(None, after)]))
        return {"both": both, "forward": fwd, "backward": bwd}

    @torch.no_grad()
    def fill_pairs(self, lefts: list[list[int]], rights: list[list[int]]) -> torch.Tensor:
        """Logits (n, vocab) for the token between lefts[i] and rights[i]: fill's 'both' for many blanks at
        once, each side read in one padded batch (padding follows a row's tokens, so its state never reads it)."""
        before = self._last_states(self.forward_lstm, [[EOS, *left] for left in lefts])
        after = self._last_states(self.backward_lstm, [[EOS, *reversed(right)] for right in rights])
        return self.head(self._projected(before, after))

    def _last_states(self, lstm: nn.LSTM, rows: list[list[int]]) -> torch.Tensor:
        """`lstm`'s state (n, hidden) after the last token of each row."""
        tokens, lengths = padded(rows)
        output, _ = lstm(self.embed(tokens))
        return output[torch.arange(len(rows)), lengths - 1]


def framed_batch(encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows [EOS, t1..tn, EOS] padded to one length, their lengths, and the targets t1..tn per row
    (padding marked -100, which cross_entropy ignores)."""
    tokens, lengths = padded([[EOS, *e, EOS] for e in encoded])
    targets = torch.full((len(encoded), tokens.shape[1] - 2), -100)
    for row, e in enumerate(encoded):
        targets[row, :len(e)] = torch.tensor(e, dtype=torch.long)
    return tokens, lengths, targets
