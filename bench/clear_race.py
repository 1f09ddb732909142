"""Clear soon after an upload, on a busy server, in a real browser: does the page end empty?

    python -m bench.clear_race [--tries 90] [--tabs "LSTM vs Bi-LSTM" Sketch]

Starts app.py on loopback and, while three other clients keep sending /classify, opens each tab in headless
Chromium (/usr/bin/chromium) and `tries` times uploads a picture of a 7, presses Clear after a delay that
walks over 0-1.2 s (97 ms more each try), waits 3 s for late answers and counts the tries that leave an
answer or the 28x28 view beside the empty canvas and upload. The Clear needs no queue, so it can be answered
while the upload's own events are still on the server; this counts whether their answers undo it.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.app_server import start_server
from tests.test_browser import (CHROMIUM, CHROMIUM_ARGS, busy, clear_button, draw_seven, open_tab, predictions,
                                top_class, upload_input)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=90)
    parser.add_argument("--tabs", nargs="+", default=["LSTM vs Bi-LSTM", "Sketch"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    picture = draw_seven(work / "seven.png")
    server, _ = start_server(log_path=work / "app.log")
    try:
        with sync_playwright() as playwright, busy(server.url, clients=3):
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(server.url, wait_until="load")
            for tab in args.tabs:
                panel = open_tab(page, tab)
                left = []
                for k in range(args.tries):
                    delay = (k * 97) % 1200
                    upload_input(panel).set_input_files(str(picture))
                    page.wait_for_timeout(delay)
                    clear_button(panel).click()
                    page.wait_for_timeout(3000)
                    answers = sum(top_class(label).count() for label in predictions(panel).all())
                    view = panel.locator(".input-view img").count()
                    if answers or view:
                        left.append(f"Clear after {delay} ms: {answers} answer(s), {view} view(s)")
                        clear_button(panel).click()
                        page.wait_for_timeout(1000)
                print(f"{tab}: {len(left)} of {args.tries} tries left something beside the empty canvas"
                      + "".join(f"\n  {line}" for line in left), flush=True)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
