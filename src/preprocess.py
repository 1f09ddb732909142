"""Turn a drawing or a photo into the 28x28 input MNIST models expect, the way MNIST itself was made.

Ink is read from transparency when the image has any (a canvas layer or a transparent export), otherwise
from the difference to the background colour, which is taken from the image border, so dark-on-light
and light-on-dark both work. The ink is cropped, fitted into 20x20 keeping its aspect ratio, and placed
in a 28x28 frame with its centre of mass at the centre.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger uploads are refused rather than decoded
WORK_SIDE = 512  # big images are shrunk to this before the ink is located
INK_FLOOR = 0.25  # photo noise below this share of the strongest ink is treated as paper
NORM_SIDE = 80  # stroke width is measured and set with the ink's box at this side (4x MNIST's 20 px)
MNIST_STROKE = 9.7  # median stroke_width of the MNIST training digits at NORM_SIDE (tests/test_preprocess.py)


class NotAnImageError(ValueError):
    """The input could not be read as an image."""


def read_image(path: str | Path | BinaryIO) -> tuple[np.ndarray, str]:
    """An image file as an RGBA uint8 array (EXIF rotation applied), and a note for the user ('' when there
    is nothing to say: an animated or multi-page file is read from its first frame, and the note says so).

    Every Pillow mode is read by its own range: 16-bit and 32-bit greyscale are scaled down rather than
    clipped at 255, palette and greyscale-with-alpha images keep their transparency, CMYK becomes RGB.
    Refuses non-images and huge ones with NotAnImageError.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise NotAnImageError(
                    f"image is too large ({width}x{height} pixels); the limit is {MAX_PIXELS // 1_000_000} megapixels")
            frames = getattr(image, "n_frames", 1)
            note = f"The file has {frames} frames; its first frame was read." if frames > 1 else ""
            image.draft("RGB", (WORK_SIDE * 2, WORK_SIDE * 2))  # JPEGs decode straight at a reduced size
            image = ImageOps.exif_transpose(image)
            return _rgba(image), note
    except NotAnImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise NotAnImageError("it is not a picture in a format that can be read (PNG, JPEG, GIF, BMP, TIFF, WebP "
                              "...)") from error


def _rgba(image: Image.Image) -> np.ndarray:
    """A Pillow image of any mode as RGBA uint8."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # convert("RGBA") would clip these to 0..255: scale by the mode's range instead.
        grey = np.asarray(image, dtype=np.float64)
        top = 1.0 if image.mode == "F" and grey.max() <= 1.0 else 255.0 if grey.max() <= 255 else 65535.0
        grey = (np.clip(grey / top, 0.0, 1.0) * 255).round().astype(np.uint8)
        return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return np.asarray(image.convert("RGBA"))


def _as_rgba(image: np.ndarray) -> np.ndarray:
    """Any of (H, W), (H, W, 1|3|4) in uint8 or float [0, 1] -> (H, W, 4) float in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    image = image.astype(np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise NotAnImageError(f"expected an image array, got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.shape[2] == 3:
        image = np.concatenate([image, np.ones_like(image[..., :1])], axis=2)
    return np.clip(image, 0.0, 1.0)


def _shrink(image: np.ndarray) -> np.ndarray:
    """Downscale (antialiased) so the longer side is at most WORK_SIDE."""
    height, width = image.shape[:2]
    if max(height, width) <= WORK_SIDE:
        return image
    scale = WORK_SIDE / max(height, width)
    size = [max(1, round(height * scale)), max(1, round(width * scale))]
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    return _resize(tensor, size).permute(1, 2, 0).numpy()


def _resize(channels: torch.Tensor, size: list[int]) -> torch.Tensor:
    """(C, H, W) resized with antialiased bilinear interpolation: what torchvision's resize does for
    tensors, without importing torchvision (1.7 s) at the app's start."""
    return torch.nn.functional.interpolate(channels[None], size=size, mode="bilinear", align_corners=False,
                                           antialias=True)[0]


def ink_map(image: np.ndarray) -> np.ndarray:
    """Ink intensity in [0, 1] (1 = strongest stroke) for an image array of any common layout."""
    rgba = _shrink(_as_rgba(image))
    alpha = rgba[..., 3]
    see_through = alpha <= 0.5
    if see_through.mean() >= 0.5:
        # Mostly transparent: transparency carries the drawing (a canvas layer, a transparent export), and
        # ink is what is opaque, whatever its colour.
        return alpha
    gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    outside = np.zeros_like(see_through)
    if see_through.any():
        # A picture with transparent parts: those joined to its edge (rounded corners, a frame) are outside
        # it, and like any transparent part they take the paper's colour rather than count as ink.
        outside = _joined_to_edge(see_through)
        gray = np.where(see_through, float(np.median(gray[~see_through])), gray)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = (background - gray) if background > 0.5 else (gray - background)
    strongest = float(ink.max())
    if strongest < 0.1:  # one flat colour, unless strokes were cut out of it (transparent, inside the picture)
        return np.where(outside, 0.0, 1.0 - alpha).astype(np.float32) if see_through.any() else np.zeros_like(gray)
    return np.clip((ink / strongest - INK_FLOOR) / (1 - INK_FLOOR), 0.0, 1.0)


def _joined_to_edge(mask: np.ndarray) -> np.ndarray:
    """The pixels of a boolean mask that a path through the mask (8-neighbours) joins to the image's edge."""
    allowed = torch.from_numpy(mask.astype(np.float32))[None, None]
    reached = torch.zeros_like(allowed)
    for edge in (reached[..., 0, :], reached[..., -1, :], reached[..., :, 0], reached[..., :, -1]):
        edge.fill_(1.0)
    reached *= allowed
    while True:  # grow one pixel a step: as many steps as the longest such path, a few for corners and frames
        grown = torch.nn.functional.max_pool2d(reached, 3, stride=1, padding=1) * allowed
        if torch.equal(grown, reached):
            return reached[0, 0].numpy() > 0
        reached = grown


def editor_ink(background: np.ndarray | None, layers: list[np.ndarray] | None,
               composite: np.ndarray | None) -> np.ndarray | None:
    """Ink of a sketchpad value: from its composite when sent, else from its layers over its background."""
    if composite is not None:
        return ink_map(composite)
    parts = [ink_map(layer) for layer in (layers or []) if layer is not None]
    if background is not None:
        parts.append(ink_map(background))
    if not parts:
        return None
    shape = parts[0].shape
    return np.maximum.reduce([p for p in parts if p.shape == shape])


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a boolean ink mask: twice its area over its perimeter (a stroke of
    width w and length L has area wL and perimeter about 2L). The perimeter is counted as ink/paper edges
    between 4-neighbours times pi/4, which makes it independent of the stroke's direction on average."""
    padded = np.pad(mask, 1)
    edges = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    return 2 * float(mask.sum()) / max(edges * np.pi / 4, 1.0)


def _disc(radius: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(-radius, radius + 1), torch.arange(-radius, radius + 1), indexing="ij")
    return ((yy ** 2 + xx ** 2) <= radius ** 2 + radius).float()[None, None]


def set_stroke_width(mask: np.ndarray, target: float = MNIST_STROKE) -> np.ndarray:
    """Thin or thicken a boolean ink mask with a round pen so that, once its box is fitted back to the same
    side, its strokes are about `target` pixels wide: a drawing made with a fat or a fine pen becomes the
    same drawing made with an MNIST-like pen. Returns the new mask (unchanged if it would vanish)."""
    width, side = stroke_width(mask), max(mask.shape)
    # Growing or shrinking each side by r changes the box by 2r, and the refit scales the width along:
    # (width - 2r) * side / (side - 2r) = target.
    radius = int(round(side * (width - target) / (2 * side - 2 * target)))
    if radius == 0:
        return mask
    disc = _disc(abs(radius))
    padded = torch.from_numpy(np.pad(mask, abs(radius) + 1).astype(np.float32))[None, None]
    covered = torch.nn.functional.conv2d(padded, disc)[0, 0].numpy()  # ink pixels under the pen at each place
    out = covered > 0.5 if radius < 0 else covered > disc.sum().item() - 0.5
    return out if out.any() else mask


def to_mnist(ink: np.ndarray | None, min_ink: float = 4.0) -> np.ndarray | None:
    """Crop to the ink, give its strokes MNIST's width, fit it into 20x20 keeping the aspect ratio, and
    centre its mass in 28x28.

    Returns float32 (28, 28) in [0, 1], white digit on black, or None when there is (almost) no ink.
    """
    if ink is None or ink.sum() < min_ink:
        return None
    crop = _crop(ink)
    # Stroke width is measured and set at 4x the final 20 px box, where MNIST's pen is ~10 px wide.
    crop = _fit(crop, NORM_SIDE)
    mask = set_stroke_width(crop > 0.5)
    if not mask.any():
        return None
    small = _fit(_crop(mask.astype(np.float32)), 20)
    if small.max() <= 0:
        return None
    small = small / small.max()
    total = small.sum()
    com_y = (small.sum(axis=1) * np.arange(small.shape[0])).sum() / total
    com_x = (small.sum(axis=0) * np.arange(small.shape[1])).sum() / total
    top = int(np.clip(round(13.5 - com_y), 0, 28 - small.shape[0]))
    left = int(np.clip(round(13.5 - com_x), 0, 28 - small.shape[1]))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top:top + small.shape[0], left:left + small.shape[1]] = small
    return out


def _crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(ink > 0.05)
    return ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    """Resize (antialiased) so the longer side is `side`, keeping the aspect ratio."""
    height, width = image.shape
    scale = side / max(height, width)
    size = [max(1, round(height * scale)), max(1, round(width * scale))]
    small = _resize(torch.from_numpy(np.ascontiguousarray(image))[None], size)[0].numpy()
    return np.clip(small, 0.0, None)
