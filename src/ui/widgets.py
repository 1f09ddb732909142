"""Parts that more than one tab uses: the digit input column (and reading its values), charts, CSS and JS."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
import numpy as np

from src import predict
from src.preprocess import NotAnImageError, editor_ink, ink_map, read_image, to_mnist
from src.ui.models import refusal

DRAW_HINT = "✏️ **Draw a digit** (0-9) on the canvas, or upload a picture of one."
CANVAS_SIZE = 300
# gradio's Brush size is a radius: 10 draws 20 px strokes on the 300 px canvas, MNIST's proportions
# (a stroke ~12% of the digit's height) for a digit drawn over ~60% of the canvas.
BRUSH_RADIUS = 10

# The page's own JS, run once at load:
# - gradio 6.31's Sketchpad starts with no tool selected, and its trash icon ("Clear canvas") deselects the
#   brush again: pick the brush for the user on every sketchpad, at start and after every clear.
# - On a busy server an upload's events can be sent with the file after a Clear has emptied the upload box
#   (the upload's completion and the Clear's answer cross). window.digitInput(id) holds, per digit input
#   (keyed by its sketchpad's id), its Clears (clear_js counts them) and their count when a file was last
#   chosen or dropped; upload_js then sends those events no file, as if the Clear had come first.
PAGE_JS = """
() => {
  const inputs = {};
  window.digitInput = (id) => (inputs[id] ??= {clears: 0, chosenAt: 0});
  const chosen = (event) => {
    const upload = event.target.closest?.("[id$='-upload']");
    if (!upload || (event.type === "change" && !event.target.matches("input[type=file]"))) return;
    const input = window.digitInput(upload.id.slice(0, -"-upload".length));
    input.chosenAt = input.clears;
  };
  document.addEventListener("change", chosen, true);
  document.addEventListener("drop", chosen, true);
  const pick = (root) => root.querySelectorAll("button[aria-label='Brush']").forEach((button) => {
    if (button.offsetParent !== null && !button.classList.contains("highlight")) button.click();
  });
  const started = new WeakSet();
  new MutationObserver(() => document.querySelectorAll("button[aria-label='Brush']").forEach((button) => {
    if (!started.has(button) && button.offsetParent !== null) { started.add(button); pick(button.parentElement); }
  })).observe(document.body, {childList: true, subtree: true, attributes: true});
  document.addEventListener("click", (event) => {
    const trash = event.target.closest("button[aria-label='Clear canvas']");
    if (!trash) return;
    const editor = trash.closest(".block");
    // The editor rebuilds its toolbar after clearing; pick the brush once it is there again.
    for (const wait of [50, 200, 500, 1000]) setTimeout(() => pick(editor), wait);
  }, true);  // capture: the editor stops the click from bubbling
}
"""

CSS = """
.pixel-view img { image-rendering: pixelated; }
/* gradio leaves an empty button box on an image without buttons: a grey dot over the model's input */
.pixel-view .icon-button-wrapper { display: none; }
#joke-output textarea { font-size: 1.15rem; line-height: 1.5; }
/* On a phone the three tab names fit in one row with tighter padding (else the third hides behind "...") */
@media (max-width: 480px) { .tab-container button { padding-left: 8px; padding-right: 8px; } }
@media (max-width: 360px) { .tab-container button { padding-left: 4px; padding-right: 4px; font-size: 13px; } }
/* Below ~390 px the canvas's own toolbar (zoom, undo, trash) sits on its label; the hint says "Draw a digit" */
@media (max-width: 400px) { .digit-pad [data-testid="block-label"] { display: none; } }
"""

# For the page's own events: not in the API, no spinner, only the latest of a burst of changes runs.
PRIVATE = dict(api_visibility="private", show_progress="hidden", trigger_mode="always_last")


def clear_js(sketchpad_id: str) -> str:
    """JS for a Clear button: count the Clear (see PAGE_JS) and clear the sketchpad with its own trash icon,
    which leaves it ready to draw. (Sending None to a Sketchpad from Python leaves it on a spinner in gradio
    6.31: gradio issue #9978.)"""
    return (f"() => {{ window.digitInput('{sketchpad_id}').clears += 1;"
            f" document.querySelector(\"#{sketchpad_id} button[aria-label='Clear canvas']\")?.click(); }}")


def upload_js(sketchpad_id: str, more_inputs: bool) -> str:
    """JS for an upload's events, whose first input is the file: no file if a Clear has come since it was
    chosen (see PAGE_JS). gradio takes a single input's value bare, several as a list."""
    cleared = f"(({{clears, chosenAt}}) => clears > chosenAt)(window.digitInput('{sketchpad_id}'))"
    if more_inputs:
        return f"(file, ...rest) => [{cleared} ? null : file, ...rest]"
    return f"(file) => {cleared} ? null : file"


@dataclass
class DigitInput:
    """The digit input: a canvas with its Clear button, an upload, the 28x28 view and the hint, built apart
    (digit_input) and rendered where a tab wants each part."""

    sketchpad: gr.Sketchpad
    clear: gr.Button
    upload: gr.File
    view_title: gr.Markdown
    view: gr.Image
    hint: gr.Markdown
    sketchpad_id: str

    def render_canvas(self) -> None:
        """The canvas and its Clear button, in the current layout. Nothing above them changes as people draw
        (the hint, which goes once there is an answer, would move the canvas under the pen)."""
        for part in (self.sketchpad, self.clear):
            part.render()

    def render_hint(self) -> None:
        """The hint, where the answer will be (at the top of the answer's column)."""
        self.hint.render()

    def render_view_and_upload(self) -> None:
        """The 28x28 view with its title, then the upload, in the current layout (beside the answer: on a phone,
        where columns stack, the answer then comes right after the canvas)."""
        for part in (self.view_title, self.view, self.upload):
            part.render()

    @property
    def shown(self) -> list:
        """The view and the hint, which show_input fills."""
        return [self.view, self.hint]

    def listen(self, results: list, views: list, read_sketch: Callable, read_file: Callable, api_name: str,
               read_view: Callable) -> list:
        """The input's events. `read_sketch(value)` fills results + views live from the canvas (and clears
        them for None); the upload is the public endpoint `api_name`, `read_file(path)` -> results, and once
        it has accepted the file, `read_view(image28)` -> views for the page (`read_view(None)` once it has
        refused one); removing the file, or Clear, reads the canvas again, also when it comes before the
        upload's answer or while the file's views are on the server. `views` ends with `shown`.
        Returns the events that fill `views`, for a tab to follow with its own (`.then`)."""
        everything = [*results, *views]
        uploaded_file = self.upload.upload(read_file, [self.upload], results, api_name=api_name, concurrency_limit=8,
                                           js=upload_js(self.sketchpad_id, more_inputs=False))
        kept = tuple(gr.skip() for _ in results)

        def after_upload(accepted: bool) -> Callable:
            """The views once the upload's answer is in: the file's (None for a refused file, whose message is on
            the page), or, when the file has gone since (Clear or its x came before the answer), the canvas's
            answer and views, which also replace an answer that came in after the Clear."""
            def views_now(path: str | None, sketch: dict | None) -> tuple:
                if not path:
                    return read_sketch(sketch)
                return (*kept, *read_view(uploaded(path) if accepted else None))
            return views_now

        def unless_gone(path: str | None, sketch: dict | None) -> tuple:
            """Once an accepted file's views are in: nothing new, or, when the file has gone since, the canvas's
            answer and views. A Clear that comes while the views are on the server is answered first (it needs
            no queue), and their answer would then put them back beside an empty canvas."""
            return read_sketch(sketch) if not path else tuple(gr.skip() for _ in everything)

        settle = dict(inputs=[self.upload, self.sketchpad], outputs=everything, api_visibility="private",
                      js=upload_js(self.sketchpad_id, more_inputs=True))
        return [
            self.sketchpad.change(read_sketch, [self.sketchpad], everything, **PRIVATE, concurrency_limit=4),
            # Clear empties the upload too: else the page would answer nothing beside a listed file.
            self.clear.click(lambda: (*read_sketch(None), None), None, [*everything, self.upload],
                             js=clear_js(self.sketchpad_id), api_visibility="private", queue=False),
            uploaded_file.success(after_upload(True), **settle).then(unless_gone, **settle),
            uploaded_file.failure(after_upload(False), **settle),
            # Removing the file (its x) hands the answer back to the canvas: its drawing's, or none.
            self.upload.clear(read_sketch, [self.sketchpad], everything, **PRIVATE),
        ]


def digit_input(sketchpad_id: str, upload_label: str, view_side: int) -> DigitInput:
    """Build the digit input's parts, unrendered (a tab renders them with DigitInput.render_*); the view is
    `view_side` pixels square."""
    hint = gr.Markdown(DRAW_HINT, render=False)
    sketchpad = gr.Sketchpad(label="Draw a digit", type="numpy", image_mode="RGBA",
                             canvas_size=(CANVAS_SIZE, CANVAS_SIZE), layers=False, transforms=(), height=380,
                             brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
                             elem_id=sketchpad_id, elem_classes=["digit-pad"], render=False)
    clear = gr.Button("Clear", render=False)
    # A plain file: its path reaches the handler untouched, and read_image alone judges the content (gr.Image
    # would open it first and answer a file that is not a picture with gradio's generic error).
    # 150 px: at 120 the label's chip covered the upload icon on a phone.
    upload = gr.File(label=upload_label, type="filepath", height=150, elem_id=f"{sketchpad_id}-upload", render=False)
    view_title = gr.Markdown("**What the models read** (28 rows of 28 pixels, white on black, as in MNIST)",
                             render=False)
    view = gr.Image(show_label=False, height=view_side, width=view_side, interactive=False, buttons=[],
                    elem_classes=["pixel-view", "input-view"], render=False)
    return DigitInput(sketchpad, clear, upload, view_title, view, hint, sketchpad_id)


def sketch_to_mnist(value: dict | None) -> np.ndarray | None:
    """A Sketchpad value -> the model's (28, 28) input, or None for an empty canvas."""
    if not value:
        return None
    return to_mnist(editor_ink(value.get("background"), value.get("layers"), value.get("composite")))


def file_to_mnist(path: str | None, warn: bool = True) -> np.ndarray:
    """An image file -> the model's (28, 28) input; a refusal for anything that is not a digit picture.
    With `warn`, what the reader noted (which frame of an animation it read) goes to the user as a warning."""
    if not path:
        # From the page only when Clear (or the file's x) came right after an upload: gradio then sends the
        # upload's events after the file has gone. Nothing to tell the person; an API client gets the message.
        raise refusal("No image was given: send one image file.", on_page=False)
    try:
        pixels, note = read_image(path)
    except NotAnImageError as error:
        raise refusal(f"That file is not a usable image: {error}.") from None
    if note and warn:
        gr.Warning(note)  # a toast on the page, a log message in the client's job status
    image28 = to_mnist(ink_map(pixels))
    if image28 is None:
        raise refusal("No digit found: the image is blank, or its marks are too faint to read (under a tenth of "
                      "the contrast between black and white). Draw or upload a digit.")
    return image28


def show_input(image28: np.ndarray | None) -> tuple[np.ndarray | None, str]:
    """The enlarged 28x28 input for the view, and the hint when there is none."""
    return (None, DRAW_HINT) if image28 is None else (predict.enlarge(image28), "")


def uploaded(path: str) -> np.ndarray:
    """An upload that its public event has accepted, read again for the page's views (gr.State outputs would
    have carried it, but gradio's MCP server fails on tools with State outputs, "pop index out of range")."""
    return file_to_mnist(path, warn=False)


def next_token_plot(column: str, title: str) -> gr.BarPlot:
    """A bar chart of the next token's probabilities (one column of predict.next_token_table)."""
    return gr.BarPlot(x="token", y=column, title=title, height=300, sort="x", x_label_angle=-50, y_lim=[0, 1],
                      x_title="next token (␣ = space)", y_title="probability")


def belief_plot(title: str) -> gr.LinePlot:
    """A line per digit: P(digit) after each row read (a table of predict.reading_curves)."""
    return gr.LinePlot(x="row", y="probability", color="digit", title=title, y_lim=[0, 1], height=260,
                       x_title="row", y_title="P(digit)")
