"""Preprocessing on synthetic digits: wherever and however a digit is drawn, the model sees the same 28x28."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from src.preprocess import (MNIST_STROKE, NotAnImageError, editor_ink, ink_map, read_image, set_stroke_width,
                            stroke_width, to_mnist)


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
    assert np.corrcoef(thin.ravel(), thick.ravel())[0, 1] > 0.6


def four(width: int, size: int = 300) -> np.ndarray:
    """An open-top '4' drawn with a round pen `width` px wide on white paper."""
    image = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    for line in ([(110, 60), (80, 170), (200, 170)], [(170, 70), (170, 250)]):
        draw.line(line, fill=(0, 0, 0, 255), width=width, joint="curve")
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=(0, 0, 0, 255))
    return np.asarray(image)


@pytest.mark.parametrize("shape", [seven, four])
def test_stroke_width_is_normalised(shape):
    """The same digit drawn with a fine and a fat pen reaches the model nearly the same: the strokes are
    brought to MNIST's width before the 20x20 fit, so the pen stops mattering."""
    thin, thick = mnist_like(shape(width=8)), mnist_like(shape(width=44))
    # Without the normalisation: a mean difference of 0.11-0.13 and 2.6-2.8 times the ink.
    assert np.abs(thin - thick).mean() < 0.07
    assert abs(thin.sum() - thick.sum()) / thin.sum() < 0.15
    # Without the normalisation the fat pen would put far more ink into the 28x28 input.
    ink = [(shape(width=w)[..., 0] < 128) for w in (8, 44)]
    assert stroke_width(ink[1]) > 4 * stroke_width(ink[0])


@pytest.mark.parametrize("width", [3, 6, 12, 20])
def test_stroke_width_measures_a_ring(width):
    """A ring has strokes in every direction, as a digit has: its width is measured within 15%."""
    yy, xx = np.mgrid[-100:100, -100:100]
    radius = np.hypot(yy, xx)
    assert stroke_width((radius >= 60) & (radius < 60 + width)) == pytest.approx(width, rel=0.15)


def test_set_stroke_width_thins_and_thickens_towards_the_target():
    side = 80
    for width in (3, 20):
        mask = np.zeros((side, side), bool)
        mask[:, side // 2 - width // 2:side // 2 - width // 2 + width] = True
        after = stroke_width(set_stroke_width(mask))
        assert abs(after - MNIST_STROKE) < abs(width - MNIST_STROKE) / 2


def test_transparent_white_and_inverted_backgrounds_agree():
    white = mnist_like(seven())
    transparent = mnist_like(seven(paper=(0, 0, 0, 0)))
    white_on_black = mnist_like(seven(ink=(255, 255, 255, 255), paper=(0, 0, 0, 255)))
    grey_rgb = mnist_like(seven(ink=(40, 40, 60, 255), paper=(200, 190, 180, 255))[..., :3])
    for other in (transparent, white_on_black, grey_rgb):
        assert np.abs(other - white).mean() < 0.03


def test_a_picture_with_transparent_corners_or_frame_is_read_from_its_colours():
    """Rounded transparent corners (a screenshot of a window) or a transparent frame are outside the picture:
    the digit is read from the picture's colours, as without them, and they alone are no digit. Strokes cut
    out of a flat opaque picture are still its ink."""
    plain = mnist_like(seven())
    rounded = Image.new("L", (400, 400), 0)
    ImageDraw.Draw(rounded).rounded_rectangle((0, 0, 399, 399), radius=40, fill=255)
    framed = np.pad(np.full((392, 392), 255, np.uint8), 4)
    for alpha in (np.asarray(rounded), framed):
        picture = seven().copy()
        picture[..., 3] = alpha
        assert np.abs(mnist_like(picture) - plain).mean() < 0.01
        blank = np.full((400, 400, 4), 255, np.uint8)
        blank[..., 3] = alpha
        assert to_mnist(ink_map(blank)) is None
    cut_out = np.full((400, 400, 4), 255, np.uint8)
    cut_out[..., 3] = np.minimum(np.asarray(rounded), 255 - seven()[..., 0])  # the 7 is transparent
    assert np.abs(mnist_like(cut_out) - plain).mean() < 0.03


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
    with pytest.raises(NotAnImageError, match="not a picture in a format that can be read"):
        read_image(text)
    huge = tmp_path / "huge.png"
    Image.new("L", (9000, 9000), 255).save(huge)
    with pytest.raises(NotAnImageError, match="too large"):
        read_image(huge)
    ok = tmp_path / "seven.png"
    Image.fromarray(seven()).save(ok)
    assert read_image(ok)[0].shape == (400, 400, 4)


def save_as(tmp_path, name: str, image: Image.Image, **options) -> str:
    path = tmp_path / name
    image.save(path, **options)
    return str(path)


def test_image_modes_all_read_as_the_same_digit(tmp_path):
    """16-bit, palette, greyscale-with-alpha and CMYK files read like the plain RGB file of the same digit."""
    rgb = Image.fromarray(seven()[..., :3])
    grey = np.asarray(rgb.convert("L"))
    expected = to_mnist(ink_map(np.asarray(rgb)))
    files = {
        "16-bit grey": save_as(tmp_path, "a.png", Image.fromarray(grey.astype(np.uint16) * 257)),
        "palette": save_as(tmp_path, "b.png", rgb.convert("P", palette=Image.ADAPTIVE, colors=4)),
        "grey with alpha": save_as(tmp_path, "c.png", Image.fromarray(seven(paper=(255, 255, 255, 0))).convert("LA")),
        "palette, transparent paper": save_as(tmp_path, "d.png", Image.fromarray(seven(paper=(0, 0, 0, 0))).convert("P")),
        "CMYK": save_as(tmp_path, "e.jpg", rgb.convert("CMYK"), quality=95),
        "1-bit": save_as(tmp_path, "f.png", rgb.convert("1")),
    }
    for mode, path in files.items():
        pixels, note = read_image(path)
        assert pixels.dtype == np.uint8 and pixels.shape == (400, 400, 4), mode
        assert note == "", mode
        assert np.abs(to_mnist(ink_map(pixels)) - expected).mean() < 0.03, mode


def test_16_bit_dark_digit_on_light_paper_is_not_blank(tmp_path):
    """A dark 1 on light paper, as a 16-bit PNG: its values run up to 65535 and must not be clipped to 255."""
    paper = np.full((120, 120), 52000, np.uint16)
    paper[20:100, 55:65] = 9000
    pixels, _ = read_image(save_as(tmp_path, "one16.png", Image.fromarray(paper)))
    out = to_mnist(ink_map(pixels))
    assert out is not None
    rows, cols = np.nonzero(out > 0.5)
    assert np.ptp(rows) > 3 * np.ptp(cols)  # a tall thin stroke: a 1


def test_animated_image_says_which_frame_was_read(tmp_path):
    frames = [Image.fromarray(seven()[..., :3]), Image.new("RGB", (400, 400), "white")]
    path = save_as(tmp_path, "anim.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)
    pixels, note = read_image(path)
    assert note == "The file has 2 frames; its first frame was read."
    assert to_mnist(ink_map(pixels)) is not None  # the first frame holds the digit


@pytest.mark.data
def test_mnist_stroke_constant_is_the_median_of_mnist_training_digits():
    """MNIST_STROKE is measured, not chosen: the median stroke width of the training digits at the size
    to_mnist measures drawings (every 20th training digit)."""
    from src import data
    from src.preprocess import NORM_SIDE, _crop, _fit

    images, _ = data.mnist_tensors(train=True)
    widths = [stroke_width(_fit(_crop(image.numpy()), NORM_SIDE) > 0.5) for image in images[::20]]
    assert np.median(widths) == pytest.approx(MNIST_STROKE, abs=0.1)
