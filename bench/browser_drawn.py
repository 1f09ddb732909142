"""Digits drawn with the mouse in a real browser on the Sketch tab, with the app's default brush.

    python -m bench.browser_drawn [--n 100] [--seed 0]

Starts app.py on loopback, opens the Sketch tab in headless Chromium (/usr/bin/chromium), and for each of
`n` random MNIST test digits: traces it into strokes (src.strokes), draws them with the mouse at a random
size (45-70% of the canvas), place, slant and wobble, reads the Bi-LSTM's top class from the page, and
clears with the Clear button. Prints the accuracy and the misread digits, and the same strokes drawn offline
(src.strokes.render, the same pen width) through the app's preprocessing into the same checkpoint: where the
page and the offline drawing disagree, the browser path (mouse, canvas, export) changed the drawing.
"""
from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import expect, sync_playwright

from bench.drawn_eval import random_pen
from src import data
from src.digits import DigitRNN
from src.hub import load_folder
from src.predict import digit_probabilities, top_digit
from src.preprocess import ink_map, to_mnist
from src.strokes import digit_strokes, place, render
from src.ui.widgets import BRUSH_RADIUS
from tests.app_server import start_server
from tests.test_browser import CANVAS_SIZE, CHROMIUM, CHROMIUM_ARGS, open_tab, top_class
from tests.test_browser_drawing import draw_strokes

SETTLE_MS = 1500
CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "digit-bilstm"


def offline_read(model: DigitRNN, strokes: list[np.ndarray], width: float) -> str:
    """The digit `model` reads in the same placed strokes drawn offline through the app's preprocessing."""
    image28 = to_mnist(ink_map(render(strokes, width, CANVAS_SIZE)))
    return "-" if image28 is None else top_digit(digit_probabilities(model, image28)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images, labels = data.mnist_tensors(train=False)
    rng = np.random.default_rng(args.seed)
    model = load_folder(DigitRNN, CHECKPOINT)
    server, _ = start_server(log_path=Path(tempfile.mkdtemp()) / "app.log")
    wrong, offline_wrong, disagree, start = [], [], [], time.time()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(20_000)
            page.goto(server.url)
            panel = open_tab(page, "Sketch")
            for index in rng.choice(len(images), args.n, replace=False).tolist():
                pen = random_pen(rng, 2 * BRUSH_RADIUS, (0.45, 0.70), transparent=False)
                strokes = place(digit_strokes(images[index].numpy()), pen, CANVAS_SIZE, rng)
                draw_strokes(page, panel, strokes)
                answer = top_class(panel)
                expect(answer).to_have_text(re.compile(r"^\d$"))
                # The label follows the drawing live, one answer per stroke, and a busy server answers the last
                # stroke a while after it is drawn: read it once no answer has changed it for SETTLE_MS.
                read = ""
                while read != answer.inner_text():
                    read = answer.inner_text()
                    page.wait_for_timeout(SETTLE_MS)
                label, offline = str(int(labels[index])), offline_read(model, strokes, pen.width)
                if read != label:
                    wrong.append((index, int(label), read))
                if offline != label:
                    offline_wrong.append((index, int(label), offline))
                if offline != read:
                    disagree.append((index, int(label), read, offline))
                panel.get_by_role("button", name="Clear", exact=True).click()
                expect(answer).to_have_count(0)
            browser.close()
    finally:
        server.stop()
    print(f"{args.n - len(wrong)}/{args.n} = {1 - len(wrong) / args.n:.1%} of mouse-drawn MNIST test digits read "
          f"right by the Bi-LSTM on the Sketch tab (brush radius {BRUSH_RADIUS}, {time.time() - start:.0f} s)")
    print("misread (test index, digit, read as):", wrong)
    print(f"the same strokes drawn offline: {args.n - len(offline_wrong)}/{args.n} read right; misread:", offline_wrong)
    print("page and offline drawing disagree on (test index, digit, page, offline):", disagree)


if __name__ == "__main__":
    main()
