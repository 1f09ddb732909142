"""The Sketch tab: the Bi-LSTM reads a drawn or uploaded digit; its handlers, layout and events."""
from __future__ import annotations

import gradio as gr
import numpy as np

from src import predict
from src.ui.models import Models
from src.ui.widgets import PRIVATE, clear_js, digit_input, file_to_mnist, show_input, sketch_to_mnist, uploaded


class DigitReader:
    """The Sketch tab's handlers over the Bi-LSTM."""

    def __init__(self, models: Models):
        self.models = models

    def read_sketch(self, value: dict | None) -> tuple[dict[str, float] | None, np.ndarray | None, str]:
        """Live prediction for the canvas: (probabilities, enlarged input, hint)."""
        image28 = sketch_to_mnist(value)
        probs = None if image28 is None else predict.digit_probabilities(self.models.get("digit-bilstm"), image28)[0]
        return probs, *show_input(image28)

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
        with gr.Row():
            with gr.Column():
                digit = digit_input("sketch-pad", "…or upload a picture of a digit", view_side=224)
            with gr.Column():
                label = gr.Label(num_top_classes=3, label="Bi-LSTM prediction")
    digit.sketchpad.change(reader.read_sketch, [digit.sketchpad], [label, *digit.shown], **PRIVATE,
                           concurrency_limit=4)
    digit.clear.click(lambda: (None, *show_input(None)), None, [label, *digit.shown],
                      js=clear_js(digit.sketchpad_id), api_visibility="private", queue=False)
    digit.upload.upload(reader.classify, [digit.upload], [label], api_name="classify", concurrency_limit=8
                        ).success(lambda path: show_input(uploaded(path)), [digit.upload], digit.shown,
                                  api_visibility="private")
