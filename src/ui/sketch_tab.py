"""The Sketch tab: the Bi-LSTM reads a drawn or uploaded digit; its handlers, layout and events."""
from __future__ import annotations

import gradio as gr
import numpy as np

from src import predict
from src.ui.models import Models
from src.ui.widgets import digit_input, file_to_mnist, show_input, sketch_to_mnist


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
    digit.listen([label], digit.shown, reader.read_sketch, reader.classify, "classify", show_input)
