"""The Sketch tab: the Bi-LSTM reads a drawn or uploaded digit; its handlers, layout and events."""
from __future__ import annotations

import gradio as gr
import numpy as np

from src import predict
from src.ui.explain_section import DigitExplainer, explain_section
from src.ui.models import Models
from src.ui.widgets import PRIVATE, digit_input, file_to_mnist, show_input, sketch_to_mnist


class DigitReader:
    """The Sketch tab's handlers over the Bi-LSTM."""

    def __init__(self, models: Models):
        self.models = models
        self.rows_section: DigitExplainer | None = None  # the row-by-row section, once built

    def read_sketch(self, value: dict | None) -> tuple:
        """Live prediction for the canvas: probabilities, then the views (read_view's)."""
        image28 = sketch_to_mnist(value)
        probs = None if image28 is None else predict.digit_probabilities(self.models.get("digit-bilstm"), image28)[0]
        return probs, *self.read_view(image28)

    @staticmethod
    def read_view(image28: np.ndarray | None) -> tuple:
        """The enlarged input and hint, and the input for the row-by-row section."""
        return *show_input(image28), image28

    def rows_if_open(self, image28: np.ndarray | None, is_open: bool) -> tuple:
        """The row-by-row section for a new input, only while its accordion is open (it costs two saliency
        passes; a stroke with the section closed should cost the prediction alone)."""
        if not is_open:
            return tuple(gr.skip() for _ in self.rows_section.panels)
        return self.rows_section.fill(image28)

    def classify(self, image: str) -> dict[str, float]:
        """Read the handwritten digit (0-9) in a picture with the Bi-LSTM.

        Args:
            image: a picture of one digit, dark on light or light on dark (PNG, JPEG, WebP, GIF, BMP; up to 40 MP)
        Returns:
            the likeliest digit and the confidence of the top classes
        """
        return predict.digit_probabilities(self.models.get("digit-bilstm"), file_to_mnist(image))[0]


def sketch_tab(models: Models) -> None:
    """The Sketch tab, with /classify."""
    reader = DigitReader(models)
    with gr.Tab("Sketch", id="sketch"):
        digit = digit_input("sketch-pad", "…or upload a picture of a digit", view_side=224)
        # The answer sits right of the canvas, and right under it on a phone, where columns stack.
        with gr.Row():
            with gr.Column():
                digit.render_canvas()
            with gr.Column():
                digit.render_hint()
                label = gr.Label(num_top_classes=3, label="Bi-LSTM prediction")
                digit.render_view_and_upload()
        rows_open = gr.State(False)
        with gr.Accordion("Row by row: how the LSTM and the Bi-LSTM read it", open=False) as rows_box:
            reader.rows_section = section = explain_section(models, "sketch")
    for event in digit.listen([label], [*digit.shown, section.image], reader.read_sketch, reader.classify,
                              "classify", reader.read_view):
        event.then(reader.rows_if_open, [section.image, rows_open], section.panels, **PRIVATE)
    rows_box.expand(lambda image28: (True, *section.fill(image28)), [section.image],
                    [rows_open, *section.panels], **PRIVATE)
    rows_box.collapse(lambda: False, None, rows_open, **PRIVATE)
