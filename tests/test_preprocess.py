"""Preprocessing on synthetic digits: wherever and however a digit is drawn, the model sees the same 28x28."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from src.preprocess import NotAnImageError, editor_ink, ink_map, read_image, to_mnist


def seven(size: int = 400, box: tuple[int, int, int] = (100, 80, 200), width: int = 24, ink=(0, 0, 0, 255),
          paper=(255, 255, 255, 255)) -> np.ndarray:
    """A '7' of height box[2] with its top-left corner at (box[0], box[1]) on a size x size canvas."""
    image = Image.new("RGBA", (size, size), paper)
    draw = ImageDraw.Draw(image)
    x, y, h = box
    draw.line([(x, y), (x + 0.7 * h, y), (x + 0.25 * h, y + h)], fill=ink, width=width, joint="curve")
    return np.asarray(image)


def centre_of_mass(image28: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image28.shape)
    return (rows * image28).sum() / image28.sum(), (cols * image28).sum() / image28.sum()


def mnist_like(image: np.ndarray) -> np.ndarray:
    out = to_mnist(ink_map(image))
    assert out is not None and out.shape == (28, 28) and out.dtype == np.float32
    return out


def test_fitted_into_20x20_and_centred_by_mass():
    out = mnist_like(seven())
    assert out.min() >= 0 and out.max() == pytest.approx(1.0)
    rows, cols = np.nonzero(out > 0.05)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 in (19, 20, 21)
    cy, cx = centre_of_mass(out)
    assert abs(cy - 13.5) <= 0.75 and abs(cx - 13.5) <= 0.75


@pytest.mark.parametrize("variant", [
    dict(box=(10, 10, 200)),            # shifted to a corner
    dict(box=(230, 200, 150)),          # shifted the other way, smaller
    dict(box=(60, 40, 320), width=38),  # large (thickness scaled along)
    dict(box=(150, 150, 90), width=9),  # small
])
def test_same_digit_anywhere_at_any_size_looks_the_same(variant):
    reference = mnist_like(seven())
    assert np.abs(mnist_like(seven(**variant)) - reference).mean() < 0.06


def test_thick_and_thin_strokes_keep_the_shape():
    thin, thick = mnist_like(seven(width=8)), mnist_like(seven(width=40))
    assert thick.sum() > thin.sum()
    assert np.corrcoef(thin.ravel(), thick.ravel())[0, 1] > 0.6


def test_transparent_white_and_inverted_backgrounds_agree():
    white = mnist_like(seven())
    transparent = mnist_like(seven(paper=(0, 0, 0, 0)))
    white_on_black = mnist_like(seven(ink=(255, 255, 255, 255), paper=(0, 0, 0, 255)))
    grey_rgb = mnist_like(seven(ink=(40, 40, 60, 255), paper=(200, 190, 180, 255))[..., :3])
    for other in (transparent, white_on_black, grey_rgb):
        assert np.abs(other - white).mean() < 0.03


def test_photo_like_paper_with_shading_and_noise():
    rng = np.random.default_rng(0)
    photo = seven()[..., :3].astype(np.float32) * 0.75 + 40  # grey-ish paper, dark-grey ink
    photo += np.linspace(-25, 25, 400)[None, :, None] + rng.normal(0, 6, photo.shape)  # light gradient, noise
    out = mnist_like(np.clip(photo, 0, 255).astype(np.uint8))
    assert np.abs(out - mnist_like(seven())).mean() < 0.06


@pytest.mark.parametrize("blank", [
    np.full((300, 300, 4), 255, np.uint8), np.zeros((300, 300, 4), np.uint8),
    np.full((50, 80, 3), 128, np.uint8), np.zeros((28, 28), np.float32),
])
def test_blank_images_have_no_digit(blank):
    assert to_mnist(ink_map(blank)) is None


def test_sketchpad_values():
    """The shapes gradio 6.31's Sketchpad sends: an opaque white composite with black ink, or layers only."""
    composite = seven()
    layer = seven(paper=(0, 0, 0, 0))
    background = np.full_like(composite, 255)
    expected = to_mnist(ink_map(composite))
    assert np.abs(to_mnist(editor_ink(background, [layer], composite)) - expected).mean() < 0.03
    assert np.abs(to_mnist(editor_ink(background, [layer], None)) - expected).mean() < 0.03
    assert to_mnist(editor_ink(background, [np.zeros_like(layer)], background)) is None
    assert editor_ink(None, [], None) is None


def test_files_that_are_not_images_or_too_big(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(NotAnImageError, match="could not read"):
        read_image(text)
    huge = tmp_path / "huge.png"
    Image.new("L", (9000, 9000), 255).save(huge)
    with pytest.raises(NotAnImageError, match="too large"):
        read_image(huge)
    ok = tmp_path / "seven.png"
    Image.fromarray(seven()).save(ok)
    assert read_image(ok).shape == (400, 400, 4)
