"""The LSTM vs Bi-LSTM tab: both digit models on one input, what each believes row by row, the digits they
disagree on, and their checkpoints' facts; handlers, layout and events. The text half (a blank filled from
one side and from both) is src.ui.cloze_section, rendered as the tab's second sub-tab."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from src import predict
from src.examples import load_gallery
from src.ui.cloze_section import cloze_section
from src.ui.explain_section import DigitExplainer, explain_section
from src.ui.models import Models
from src.ui.widgets import belief_plot, digit_input, file_to_mnist, show_input, sketch_to_mnist

MODEL_TITLES = {"digit-lstm": "LSTM", "digit-bilstm": "Bi-LSTM"}
READING_NOTE = (
    "Each plot shows P(digit) after the model has read part of the image. The LSTM reads top-down, so row t is "
    "what it believes having seen rows 1..t. The Bi-LSTM's classifier is linear in [forward state, backward "
    "state], so each half's share can be read on its own: the forward half after rows 1..t, the backward half "
    "(which reads bottom-up; follow its plot from right to left) after rows 28..t.")


class Comparison:
    """The comparison tab's handlers over both digit models (and the disagreement gallery's digits)."""

    def __init__(self, models: Models, examples: np.ndarray | None = None):
        self.models, self.examples = models, examples
        self.rows_section: DigitExplainer | None = None  # the row-by-row section, once built

    def both(self, image28: np.ndarray) -> tuple[dict[str, float], dict[str, float], dict]:
        """Both models on one input: their probabilities, and facts measured on this request."""
        results, facts = {}, {}
        for name, title in MODEL_TITLES.items():
            probs, ms = predict.digit_probabilities(self.models.get(name), image28)
            results[name] = probs
            top = predict.top_digit(probs)
            facts[title] = {"prediction": top, "confidence": round(probs[top], 4), "latency_ms": round(ms, 2)}
        facts["agree"] = facts["LSTM"]["prediction"] == facts["Bi-LSTM"]["prediction"]
        return results["digit-lstm"], results["digit-bilstm"], facts

    def compare(self, image: str) -> tuple[dict[str, float], dict[str, float], dict]:
        """Read the handwritten digit (0-9) in a picture with both the LSTM and the Bi-LSTM.

        Args:
            image: a picture of one digit, dark on light or light on dark (PNG, JPEG, WebP, GIF, BMP; up to 40 MP)
        Returns:
            the LSTM's top classes with their confidences, and the Bi-LSTM's
            facts: each model's prediction, confidence and latency in ms, and whether the two agree
        """
        return self.both(file_to_mnist(image))

    def reading(self, image28: np.ndarray | None) -> tuple:
        """Row-by-row belief curves (LSTM, Bi-LSTM forward half, Bi-LSTM backward half), the view and the hint."""
        rows = () if self.rows_section is None else self.rows_section.show(image28)
        if image28 is None:
            return None, None, None, *show_input(None), *rows
        lstm = predict.reading_curves(self.models.get("digit-lstm"), image28)["forward"]
        bilstm = predict.reading_curves(self.models.get("digit-bilstm"), image28)
        return lstm, bilstm["forward"], bilstm["backward"], *show_input(image28), *rows

    def everything(self, image28: np.ndarray | None) -> tuple:
        """All the tab shows for one input (or for none): probabilities, facts, curves, view and hint."""
        shown = (None, None, None) if image28 is None else self.both(image28)
        return (*shown, *self.reading(image28))

    def read_sketch(self, value: dict | None) -> tuple:
        """Live comparison for the canvas."""
        return self.everything(sketch_to_mnist(value))

    def pick_example(self, event: gr.SelectData) -> tuple:
        """A click on the gallery: both models on that MNIST test digit."""
        return self.everything(self.examples[event.index])


def model_facts(models: Models) -> pd.DataFrame:
    """A row per digit model from its metrics.json: accuracy, parameters, training time, epochs ("?" if unknown)."""
    rows = []
    for name, title in MODEL_TITLES.items():
        m = models.metrics(name)
        rows.append({
            "model": title,
            "MNIST test accuracy": f"{m['test_accuracy']:.2%}" if "test_accuracy" in m else "?",
            "parameters": f"{m['parameters']:,}" if "parameters" in m else "?",
            "training time": f"{m.get('total_train_seconds', m.get('train_seconds', 0)) / 60:.1f} min"
                             if "train_seconds" in m else "?",
            "epochs": len(m.get("curves", {}).get("epoch", [])) or "?",
        })
    return pd.DataFrame(rows)


def training_curves(models: Models) -> pd.DataFrame:
    """Per-epoch test accuracy of both digit models, long format for a line plot (empty without curves)."""
    frames = [pd.DataFrame({"epoch": curves["epoch"], "test accuracy": curves["test_accuracy"], "model": title})
              for name, title in MODEL_TITLES.items() if (curves := models.metrics(name).get("curves"))]
    return pd.concat(frames) if frames else pd.DataFrame({"epoch": [], "test accuracy": [], "model": []})


def gallery_items(gallery: dict[str, np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """The disagreement gallery's pictures with their captions (true digit: each model's prediction)."""
    return [(predict.enlarge(image, 4), f"{label}: LSTM {a}, Bi {b}")
            for image, label, a, b in zip(*(gallery[k] for k in ("images", "label", "lstm", "bilstm")))]


def compare_tab(models: Models) -> None:
    """The LSTM vs Bi-LSTM tab: digits (with /compare) and text (with /fill_blank) as sub-tabs."""
    gallery = load_gallery()
    comparison = Comparison(models, None if gallery is None else gallery["images"])
    with gr.Tab("LSTM vs Bi-LSTM", id="compare"), gr.Tabs():
        with gr.Tab("Digits", id="compare-digits"):
            with gr.Row():
                with gr.Column(scale=2):
                    digit = digit_input("compare-pad", "…or upload a picture", view_side=168)
                    digit.render_canvas()
                with gr.Column(scale=3):  # as on the Sketch tab: the answers right under the canvas on a phone
                    digit.render_hint()
                    with gr.Row():
                        lstm_label = gr.Label(num_top_classes=3, label="LSTM (reads rows top to bottom)")
                        bilstm_label = gr.Label(num_top_classes=3, label="Bi-LSTM (reads both ways)")
                    digit.render_view_and_upload()
                    facts = gr.JSON(label="This request: predictions, agreement, latency")
            with gr.Row():
                plots = [belief_plot(title) for title in
                         ("LSTM, rows 1..t", "Bi-LSTM forward, rows 1..t", "Bi-LSTM backward, rows t..28")]
            gr.Markdown(READING_NOTE)
            comparison.rows_section = explain_section(models, "compare")
            if gallery is not None:
                # The explanation above, not as the gallery's label: a long label chip covered the first row.
                gr.Markdown("**Where the two models disagree**: MNIST test digits that one of them gets wrong "
                            "(caption: the true digit, then each model's answer). Click one to compare.")
                examples = gr.Gallery(gallery_items(gallery), columns=6, height="auto", allow_preview=False,
                                      show_label=False, elem_id="disagreements")
            with gr.Row():
                gr.Dataframe(model_facts(models), label="Checkpoints (from metrics.json)", interactive=False)
                gr.LinePlot(training_curves(models), x="epoch", y="test accuracy", color="model", height=260,
                            title="MNIST test accuracy per epoch")
            # /explain_digit's own unshown file and JSON: the page shows the same numbers for whatever digit is
            # on it (rows.as_json, filled with the views), so a page upload neither computes them twice nor
            # marks the page's numbers with an error when Clear comes before the endpoint's answer.
            # The label names the endpoint's return value for API clients (unlabelled, gradio calls it value_<id>).
            explain_file = gr.File(label="image", type="filepath", visible=False)
            explained = gr.JSON(label="row by row", visible=False)
        cloze_section(models)
    results = [lstm_label, bilstm_label, facts]
    rows = comparison.rows_section
    views = [*plots, *digit.shown, *rows.outputs]
    digit.listen(results, views, comparison.read_sketch, comparison.compare, "compare", comparison.reading)
    explain_file.upload(rows.handlers.explain_digit, [explain_file], [explained], api_name="explain_digit",
                        concurrency_limit=8)
    if gallery is not None:
        examples.select(comparison.pick_example, None, [*results, *views], api_visibility="private")
