"""MNIST digits as people's canvases hold them: traced into pen strokes and drawn again, or pasted as ink.

A digit's ink is upsampled, thinned to a one-pixel skeleton (Zhang-Suen; round the loops its writer's pen
filled in) and traced into polylines; those can then be drawn with any pen width, size, place, slant and
jitter, with round caps and joins like the app's brush. The drawing benchmarks (bench.drawn_eval,
bench.browser_drawn) and the browser tests draw digits this way; so does the drawn-digit training stage,
with the plain skeleton unless its recipe asks for the loops.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

SCALE = 4  # skeletons are traced on the digit upsampled to 112x112, where strokes are ~10 px wide
# A skeleton pixel is about the stroke's half-width deep in the ink; ink deeper than BLOB times that is
# a filled loop, unless there are only MIN_BLOB pixels of it (where strokes cross).
BLOB = 1.4
MIN_BLOB = 10
# The eight neighbours in Zhang-Suen's order P2..P9 (north, then clockwise).
_RING = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]


def skeleton(image28: np.ndarray, threshold: float = 0.5, blob: float = BLOB) -> np.ndarray:
    """The one-pixel-wide skeleton (bool, 112x112) of a (28, 28) white-on-black digit.

    Where the writer's pen filled a loop (a 6's or an 8's), the ink there is much deeper than the
    digit's stroke, and its skeleton would be a line: the 6 redrawn would be an L. The blob's core (ink
    deeper than `blob` times the stroke's half-width) is cut out first, so the skeleton goes round it, as a
    person drawing that digit draws the loop. `blob=math.inf` thins the ink as it is.
    """
    big = torch.nn.functional.interpolate(torch.as_tensor(image28, dtype=torch.float32)[None, None],
                                          scale_factor=SCALE, mode="bilinear", align_corners=False)[0, 0]
    mask = (big > threshold).numpy()
    line = thin(mask)
    if not line.any() or math.isinf(blob):
        return line
    deep = depth(mask)
    core = deep > blob * np.median(deep[line])  # the median along the skeleton: the stroke's half-width
    return thin(mask & ~core) if core.sum() > MIN_BLOB else line


def depth(mask: np.ndarray) -> np.ndarray:
    """Each pixel's chessboard distance from outside a boolean mask (0 outside, 1 on its edge)."""
    ink = torch.as_tensor(mask, dtype=torch.float32)[None, None]
    out = torch.zeros_like(ink)
    while ink.any():
        out += ink
        ink = -torch.nn.functional.max_pool2d(-ink, 3, 1, 1)  # erosion by a 3x3 square
    return out[0, 0].numpy()


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean mask to a one-pixel-wide skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    h, w = mask.shape
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = [img[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in _RING]
            neighbours = sum(x.astype(np.int16) for x in p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.int16) for i in range(8))
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            if step == 0:
                keep_shape = ((p2 * p4 * p6) == 0) & ((p4 * p6 * p8) == 0)
            else:
                keep_shape = ((p2 * p4 * p8) == 0) & ((p2 * p6 * p8) == 0)
            remove = (img[1:-1, 1:-1] == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & keep_shape
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)


def trace(mask: np.ndarray) -> list[np.ndarray]:
    """A skeleton as polylines of (x, y) pixel centres covering each of its edges once.

    Pixels are joined to their 8 neighbours, except diagonally where an orthogonal path exists (so a
    corner is not also a triangle). Paths start at line ends, so a stroke is drawn in one go.
    """
    on = set(zip(*np.nonzero(mask)))
    edges: dict[tuple[int, int], set[tuple[int, int]]] = {p: set() for p in on}
    for y, x in on:
        for dy, dx in _RING:
            q = (y + dy, x + dx)
            if q not in on:
                continue
            if dy and dx and ((y + dy, x) in on or (y, x + dx) in on):
                continue
            edges[(y, x)].add(q)
    paths, drawn = [], set()
    # Line ends first, then whatever loops remain (a 0 or an 8 has none); a lone pixel is a dot.
    for start in sorted(on, key=lambda p: (len(edges[p]) != 1, p)):
        if start not in drawn and not edges[start]:
            paths.append(np.array([start[::-1]], dtype=np.float64))
        while edges[start]:
            path, here = [start], start
            while edges[here]:
                nxt = min(edges[here])
                edges[here].discard(nxt)
                edges[nxt].discard(here)
                path.append(nxt)
                here = nxt
            drawn.update(path)
            paths.append(np.array([(x, y) for y, x in path], dtype=np.float64))
    return paths


def digit_strokes(image28: np.ndarray, blob: float = BLOB) -> list[np.ndarray]:
    """Polylines tracing a (28, 28) digit, in 112x112 skeleton pixel coordinates (x, y); `blob`: see skeleton."""
    return trace(skeleton(image28, blob=blob))


@dataclass(frozen=True)
class Pen:
    """How one drawing is made: pen width and the ink's size in canvas pixels, where, and how wobbly."""

    width: float  # stroke width in canvas pixels (gradio's Brush(default_size=r) draws 2r)
    size: float  # the ink's longer side (pen included) as a share of the canvas side
    centre: tuple[float, float] = (0.5, 0.5)  # where the ink's box is centred, as shares of the canvas
    slant: float = 0.0  # shear of x by y, in degrees (positive leans right)
    rotate: float = 0.0  # degrees, counter-clockwise
    jitter: float = 0.0  # smooth wobble of the path, in canvas pixels
    transparent: bool = False  # transparent canvas (ink only) or opaque white paper


def place(strokes: list[np.ndarray], pen: Pen, canvas: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The strokes slanted, rotated, wobbled and scaled so the inked box fits `pen.size` of the canvas."""
    points = np.concatenate(strokes)
    middle = (points.min(0) + points.max(0)) / 2
    slant, turn = np.deg2rad(pen.slant), np.deg2rad(pen.rotate)
    shear = np.array([[1.0, -np.tan(slant)], [0.0, 1.0]])  # y grows downwards: lean right at the top
    rotation = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    matrix = rotation @ shear
    moved = [(s - middle) @ matrix.T for s in strokes]
    if pen.jitter > 0:
        # Low-frequency wobble: a random sinusoid along x and y of the path, like an unsteady hand.
        phase, freq = rng.uniform(0, 2 * np.pi, 4), rng.uniform(0.02, 0.06, 2)
        moved = [m + pen.jitter * np.stack([np.sin(freq[0] * m[:, 1] + phase[0]) * np.cos(phase[2]),
                                            np.sin(freq[1] * m[:, 0] + phase[1]) * np.cos(phase[3])], -1)
                 for m in moved]
    points = np.concatenate(moved)
    extent = max(float(np.ptp(points[:, 0])), float(np.ptp(points[:, 1])), 1.0)
    # The pen adds its width to the box: scale the path to what is left of the wanted size.
    scale = max(pen.size * canvas - pen.width, 1.0) / extent
    low, high = points.min(0) * scale, points.max(0) * scale
    target = np.array(pen.centre) * canvas
    offset = target - (low + high) / 2
    return [m * scale + offset for m in moved]


def draw(strokes: list[np.ndarray], pen: Pen, canvas: int = 300, seed: int = 0, supersample: int = 2) -> np.ndarray:
    """Place strokes with `pen` (see place) and draw them; returns (canvas, canvas, 4) uint8 RGBA."""
    placed = place(strokes, pen, canvas, np.random.default_rng(seed))
    return render(placed, pen.width, canvas, pen.transparent, supersample)


def render(placed: list[np.ndarray], width: float, canvas: int = 300, transparent: bool = False,
           supersample: int = 2) -> np.ndarray:
    """Draw polylines given in canvas pixels as black round-capped lines `width` pixels wide; returns
    (canvas, canvas, 4) uint8 RGBA, ink on white paper or, `transparent`, on a transparent canvas.

    Rendered at `supersample` times the size and shrunk, so the edges are antialiased like a browser's.
    """
    big = canvas * supersample
    image = Image.new("L", (big, big), 0)
    pen_draw = ImageDraw.Draw(image)
    radius = width * supersample / 2
    for stroke in placed:
        xy = [tuple(p) for p in stroke * supersample]
        if len(xy) > 1:
            pen_draw.line(xy, fill=255, width=max(1, round(2 * radius)))
        for x, y in xy:  # a round pen: a disc at every point gives round caps and joins without gaps
            pen_draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    ink = np.asarray(image.resize((canvas, canvas), Image.BOX))
    out = np.zeros((canvas, canvas, 4), np.uint8)
    if transparent:
        out[..., 3] = ink
    else:
        out[..., :3] = 255 - ink[..., None]
        out[..., 3] = 255
    return out


def canvas_png(digit: np.ndarray, size: int, at: tuple[int, int], transparent: bool) -> io.BytesIO:
    """An MNIST digit as black ink on a 400x400 canvas export."""
    ink = Image.fromarray((digit * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    canvas = Image.new("RGBA", (400, 400), (255, 255, 255, 0 if transparent else 255))
    canvas.paste(Image.new("RGBA", (size, size), (0, 0, 0, 255)), at, mask=ink)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    buffer.seek(0)
    return buffer
