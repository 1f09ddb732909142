"""Row-reading digit classifiers: an LSTM or Bi-LSTM reads a 28x28 image as 28 rows of 28 pixels."""
from __future__ import annotations

import torch
from src.checkpoint import HubCheckpoint
from torch import nn

# MNIST training-set statistics; normalisation lives inside the model so callers pass raw [0, 1] pixels.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class DigitRNN(
    nn.Module,
    HubCheckpoint,
    library_name="pytorch",
    tags=["mnist", "lstm", "image-classification"],
    license="mit",
):
    """Classifies a digit from its rows; `bidirectional` switches between LSTM and Bi-LSTM."""

    card_title = "Row-reading MNIST digit classifier (LSTM / Bi-LSTM)"
    card_description = (
        "Reads a 28x28 image as 28 time steps of 28 pixels. Input: float tensor (batch, 28, 28) of "
        "intensities in [0, 1], white digit on black; output: logits (batch, 10). The classifier uses "
        "the final state of each direction."
    )

    def __init__(self, hidden_size: int = 128, num_layers: int = 1, bidirectional: bool = True,
                 dropout: float = 0.2):
        super().__init__()
        self.bidirectional = bidirectional
        self.lstm = nn.LSTM(28, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), 10)

    def _read_rows(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the LSTM over the rows; returns per-row outputs and the final hidden states h_n."""
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"expected images of shape (batch, 28, 28), got {tuple(images.shape)}")
        output, (h_n, _) = self.lstm((images - MNIST_MEAN) / MNIST_STD)
        return output, h_n

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(batch, 28, 28) intensities in [0, 1], white on black -> logits (batch, 10)."""
        _, h_n = self._read_rows(images)
        # The last layer's final state of each direction: forward after row 28, backward after row 1.
        last = h_n[-2:] if self.bidirectional else h_n[-1:]
        return self.head(self.dropout(torch.cat(list(last), dim=-1)))

    @torch.no_grad()
    def row_by_row(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the model believes after each row, as class probabilities of shape (batch, 28, 10).

        For the LSTM, 'forward'[:, t] is its prediction having read rows 1..t+1. For the Bi-LSTM the
        head is linear in [h_forward, h_backward], so each direction's share of the logits can be read
        alone: 'forward'[:, t] uses the forward half after rows 1..t+1 (top-down), 'backward'[:, t] the
        backward half after rows t+1..28 (bottom-up). Each uses the head's bias once.
        """
        output, _ = self._read_rows(images)
        if not self.bidirectional:
            return {"forward": self.head(output).softmax(-1)}
        hidden = self.lstm.hidden_size
        w_fwd, w_bwd = self.head.weight[:, :hidden], self.head.weight[:, hidden:]
        fwd = output[..., :hidden] @ w_fwd.T + self.head.bias
        bwd = output[..., hidden:] @ w_bwd.T + self.head.bias
        return {"forward": fwd.softmax(-1), "backward": bwd.softmax(-1)}


@torch.no_grad()
def logits_in_batches(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits (N, 10) for many (N, 28, 28) images, `batch_size` at a time to bound memory."""
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
