"""Drawing as people draw: MNIST test digits traced into strokes (src.strokes) and drawn with the mouse,
with the app's default brush, then cleared with the Clear button or the canvas's own trash icon, again and
again. Every drawing after a clear must reach the model and be read right.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from src import data
from src.strokes import Pen, digit_strokes, place
from src.ui.widgets import BRUSH_RADIUS
from tests.test_browser import browser, page  # noqa: F401 (fixtures)
from tests.test_browser import (CANVAS_SIZE, PHONE, Locator, Page, canvas_frame, clear_button, expect, hint_of,
                                open_tab, predictions, top_class)

pytestmark = pytest.mark.data
DIGIT_SIZE = 0.6  # the ink's box as a share of the canvas: how large people draw


def on_page(panel: Locator, strokes: list[np.ndarray]) -> list[list[tuple[float, float]]]:
    """Polylines given in canvas pixels, in page pixels on the panel's sketchpad (every 6th point and the last)."""
    left, top, zoom = canvas_frame(panel)
    return [[(left + x * zoom, top + y * zoom) for x, y in stroke[::6].tolist() + [stroke[-1].tolist()]]
            for stroke in strokes]


def draw_strokes(page: Page, panel: Locator, strokes: list[np.ndarray]) -> None:
    """Draw polylines given in canvas pixels with the mouse, one press per stroke."""
    for points in on_page(panel, strokes):
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def draw_with_a_finger(page: Page, panel: Locator, strokes: list[np.ndarray]) -> None:
    """Draw polylines given in canvas pixels as a finger does, one touch per stroke: the browser's own touch
    input (Chromium's DevTools protocol; Playwright's touchscreen only taps)."""
    session = page.context.new_cdp_session(page)
    for points in on_page(panel, strokes):
        for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * (len(points) - 1), points):
            session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def digit_on_canvas(image28: np.ndarray, brush_radius: float, seed: int) -> list[np.ndarray]:
    """A digit's strokes placed on the canvas as a person would draw it: ~60% of the canvas, centred."""
    pen = Pen(width=2 * brush_radius, size=DIGIT_SIZE)
    return place(digit_strokes(image28), pen, CANVAS_SIZE, np.random.default_rng(seed))


@pytest.fixture(scope="module")
def mnist_test():
    return data.mnist_tensors(train=False)


@pytest.mark.parametrize("tab", ["Sketch", "LSTM vs Bi-LSTM"])
def test_draw_clear_draw_trash_draw(page: Page, tab: str, mnist_test):
    """Five rounds on one page: draw a digit, see it read right, clear (button and trash icon in turn)."""
    images, labels = mnist_test
    panel = open_tab(page, tab)
    hint = hint_of(panel)
    for round_, index in enumerate([0, 1, 2, 3, 4]):  # MNIST test digits 7, 2, 1, 0, 4
        draw_strokes(page, panel, digit_on_canvas(images[index].numpy(), BRUSH_RADIUS, round_))
        for label in predictions(panel).all():
            expect(top_class(label), f"round {round_}").to_have_text(str(int(labels[index])))
        expect(hint).to_have_count(0)
        if round_ % 2 == 0:
            clear_button(panel).click()
        else:
            panel.locator("button[aria-label='Clear canvas']").click()
        expect(top_class(panel)).to_have_count(0)
        expect(hint).to_be_visible()
        # The brush is picked again, so the next strokes draw (the trash icon alone deselects it).
        expect(panel.locator("button[aria-label='Brush']")).to_have_class(re.compile(r"\bhighlight\b"))


@pytest.mark.parametrize("page", [PHONE], indirect=True)
@pytest.mark.parametrize("tab", ["Sketch", "LSTM vs Bi-LSTM"])
def test_a_finger_draws_on_a_phone(page: Page, tab: str, mnist_test):
    """On a phone, digits drawn with a finger reach the models and are read right, twice with a Clear between,
    and drawing does not scroll the page under the finger."""
    images, labels = mnist_test
    panel = open_tab(page, tab)
    for round_, index in enumerate([0, 1]):  # MNIST test digits 7 and 2
        scrolled = page.evaluate("window.scrollY")
        draw_with_a_finger(page, panel, digit_on_canvas(images[index].numpy(), BRUSH_RADIUS, round_))
        for label in predictions(panel).all():
            expect(top_class(label), f"round {round_}").to_have_text(str(int(labels[index])))
        assert page.evaluate("window.scrollY") == scrolled
        clear_button(panel).click()
        expect(top_class(panel)).to_have_count(0)


@pytest.mark.parametrize("tab", ["Sketch", "LSTM vs Bi-LSTM"])
def test_undo_and_redo_take_the_answer_with_the_stroke(page: Page, tab: str, mnist_test):
    """The canvas's own Undo and Redo, twice: undoing the only stroke leaves no answer and the hint, and redoing
    it brings the answer back."""
    images, labels = mnist_test
    panel = open_tab(page, tab)
    strokes = digit_on_canvas(images[0].numpy(), BRUSH_RADIUS, 0)  # a 7 in one stroke
    assert len(strokes) == 1
    draw_strokes(page, panel, strokes)
    for round_ in range(2):
        expect(top_class(panel), f"round {round_}").to_have_text("7")
        panel.locator("button[aria-label='Undo']").click()
        expect(top_class(panel)).to_have_count(0)
        expect(hint_of(panel)).to_be_visible()
        expect(panel.locator(".input-view img")).to_have_count(0)
        panel.locator("button[aria-label='Redo']").click()
    for label in predictions(panel).all():
        expect(top_class(label)).to_have_text("7")
