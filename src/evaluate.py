"""The measures every checkpoint is scored by, shared by training, tests and benchmarks."""
from __future__ import annotations

import math

import torch

from src.blanks import JokeBiLSTM
from src.digits import DigitRNN, logits_in_batches
from src.jokes import JokeLSTM


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def digit_accuracy(model: DigitRNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of `model` (put in eval mode) on (N, 28, 28) images."""
    model.eval()
    return (logits_in_batches(model, images).argmax(-1) == labels).sum().item() / len(images)


def calibration(confidences: list[float], hits: list[bool], bins: int = 10) -> tuple[float, float, float]:
    """How honest shown probabilities are: their mean, the share of predictions that were right, and the
    expected calibration error (in each of `bins` equal-width bins of the probability, the gap between the
    share right and the mean probability, weighted by the bin's share of the predictions)."""
    confidence, hit = torch.tensor(confidences, dtype=torch.float64), torch.tensor(hits, dtype=torch.float64)
    which = (confidence * bins).long().clamp(0, bins - 1)
    error = sum(abs(hit[which == b].sum() - confidence[which == b].sum()) for b in range(bins)) / len(hit)
    return confidence.mean().item(), hit.mean().item(), float(error)


def bits_per_char(model: JokeLSTM, jokes: list[str]) -> float:
    """Total nll of the jokes / ln 2 / their total characters (model put in eval mode)."""
    model.eval()
    return sum(model.nll(j) for j in jokes) / math.log(2) / sum(len(j) for j in jokes)


@torch.no_grad()
def blank_bits_per_char(model: JokeBiLSTM, jokes: list[str], batch_size: int = 64) -> float:
    """Total nll of every token of the jokes, each predicted from both sides (not a joke's likelihood: a
    measure of how well blanks are filled) / ln 2 / their total characters (model put in eval mode)."""
    model.eval()
    encoded = [model.tokenizer.encode(j) for j in jokes]
    total = sum(model.loss(encoded[i:i + batch_size])[0].item() for i in range(0, len(encoded), batch_size))
    return total / math.log(2) / sum(len(j) for j in jokes)
