"""Tracing digits into pen strokes (src.strokes) on synthetic 28x28 digits: lines stay lines, and a loop the
writer's pen filled in is traced round, as a person would draw it."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw

from src.strokes import depth, skeleton


def digit(line_width: int, loop: str | None) -> np.ndarray:
    """A '6'-like (28, 28) white-on-black digit: a stem curving down into a loop that is 'open' (a ring of
    the stem's width), 'filled' (a blob) or absent (None: the stem alone)."""
    image = Image.new("L", (28, 28), 0)
    pen = ImageDraw.Draw(image)
    pen.line([(17, 3), (12, 9), (10, 16)], fill=255, width=line_width, joint="curve")
    if loop == "filled":
        pen.ellipse((8, 13, 19, 24), fill=255)
    elif loop == "open":
        pen.ellipse((8, 13, 19, 24), outline=255, width=line_width)
    return np.asarray(image, dtype=np.float32) / 255


def holes(mask: np.ndarray) -> int:
    """Background pixels enclosed by the mask (not reachable from the border through 4-neighbours).

    Not src.preprocess._joined_to_edge, which steps to 8-neighbours: a skeleton is 8-connected, so the
    background would slip out of a traced loop through its diagonal steps."""
    free = torch.as_tensor(~mask, dtype=torch.float32)[None, None]
    reached = torch.zeros_like(free)
    reached[..., 0, :] = reached[..., -1, :] = reached[..., :, 0] = reached[..., :, -1] = 1
    reached *= free
    cross = torch.tensor([[0.0, 1, 0], [1, 1, 1], [0, 1, 0]])[None, None]
    while True:
        grown = (torch.nn.functional.conv2d(reached, cross, padding=1) > 0).float() * free
        if torch.equal(grown, reached):
            return int((free - reached).sum())
        reached = grown


def test_depth_counts_the_steps_to_the_edge():
    mask = np.zeros((9, 9), bool)
    mask[1:8, 2:7] = True  # 7 rows by 5 columns
    assert depth(mask)[4].tolist() == [0, 0, 1, 2, 3, 2, 1, 0, 0]
    assert depth(mask)[~mask].max() == 0


def test_a_filled_loop_is_traced_round_like_the_open_one():
    open_loop, filled = skeleton(digit(2, "open")), skeleton(digit(2, "filled"))
    assert holes(open_loop) > 20
    # Thinned as it is, the blob would be a line: the digit redrawn would lose its loop.
    assert holes(skeleton(digit(2, "filled"), blob=math.inf)) == 0
    assert holes(filled) > 20


def test_strokes_of_even_width_are_thinned_as_they_are():
    for width in (2, 3, 4):
        stem = digit(width, None)
        assert np.array_equal(skeleton(stem), skeleton(stem, blob=math.inf))
        assert holes(skeleton(stem)) == 0
