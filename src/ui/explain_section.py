"""Row by row, on the LSTM vs Bi-LSTM tab's digit: a scrubber over the rows each reader has read (with its
belief and its decision row) and each row's saliency for both models (the row blanked with its neighbours),
with rows to erase; handlers and layout. The digit tab feeds it each new input (`DigitExplainer.outputs`,
filled by `show`)."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd

from src import explain, predict
from src.ui.api_docs import documented
from src.ui.models import Models
from src.ui.widgets import PRIVATE, file_to_mnist

READERS = ("LSTM", "Bi-LSTM forward half", "Bi-LSTM backward half")
MODEL_TITLES = {"digit-lstm": "LSTM", "digit-bilstm": "Bi-LSTM"}
ALL_ROWS, ERASED_ROW = 28, 14  # where the sliders stand with no digit


class RowExplainer:
    """The handlers: the scrubber at t rows, the saliency lines, and a row erased."""

    def __init__(self, models: Models):
        self.models = models

    def beliefs(self, image28: np.ndarray) -> dict[str, np.ndarray]:
        """Per reader, its probabilities of the ten digits after each row it has read."""
        return explain.reading_order_beliefs(self.models.get("digit-lstm"), self.models.get("digit-bilstm"), image28)

    def row_saliency(self, image28: np.ndarray) -> dict[str, dict]:
        """Per model (by its title), explain.row_saliency."""
        return {title: explain.row_saliency(self.models.get(name), image28) for name, title in MODEL_TITLES.items()}

    def scrub(self, image28: np.ndarray | None, rows: int, beliefs: dict[str, np.ndarray] | None = None) -> tuple:
        """Per reader, the image as read after `rows` rows and the belief then; and the decision rows.
        `beliefs`: self.beliefs(image28), when the caller has them already."""
        if image28 is None:
            return (None,) * (2 * len(READERS)) + ("",)
        beliefs = self.beliefs(image28) if beliefs is None else beliefs
        shown = []
        for reader in READERS:
            seen = explain.rows_read(image28, rows, bottom_up=reader.endswith("backward half"))
            belief = dict(zip(predict.DIGITS, beliefs[reader][rows - 1].tolist())) if rows else None
            shown += [predict.enlarge(seen, 4), belief]
        decided = {reader: explain.decision_row(beliefs[reader]) for reader in READERS}
        decisions = " · ".join(f"{reader}: after **{n}** row{'' if n == 1 else 's'}" for reader, n in decided.items())
        return (*shown, f"Decision row (its top digit never changes after it): {decisions}")

    def saliency(self, image28: np.ndarray | None, found: dict[str, dict] | None = None) -> pd.DataFrame:
        """Per row and model, the drop in the predicted digit's probability when that row's band is blanked.
        `found`: self.row_saliency(image28), when the caller has it already."""
        if image28 is not None and found is None:
            found = self.row_saliency(image28)
        return pd.concat([pd.DataFrame({"row": np.arange(1, 29), "model": title,
                                        "drop": np.zeros(28) if found is None else found[title]["drop"].round(4)})
                          for title in MODEL_TITLES.values()])

    @documented("per reader (LSTM, Bi-LSTM forward half top-down, backward half bottom-up), the probabilities of the "
                "ten digits after each row it has read (28 x 10, in its reading order) and its decision row (rows read "
                "when its top digit became final); per model, the predicted digit and, per row r of 1..28, the drop in "
                "that digit's probability and the digit predicted when rows r-1..r+1 are blanked (two rows at the "
                "edges)")
    def explain_digit(self, image: str) -> dict:
        """Show how the LSTM and the Bi-LSTM read a digit picture row by row.

        Args:
            image: a picture of one digit, dark on light or light on dark (PNG, JPEG, WebP, GIF, BMP; up to 40 MP)
        """
        return self.numbers(file_to_mnist(image))

    def numbers(self, image28: np.ndarray | None, beliefs: dict[str, np.ndarray] | None = None,
                found: dict[str, dict] | None = None) -> dict | None:
        """What explain_digit returns, for a 28x28 input (None for none); `beliefs` and `found` as for scrub
        and saliency."""
        if image28 is None:
            return None
        beliefs = self.beliefs(image28) if beliefs is None else beliefs
        found = self.row_saliency(image28) if found is None else found
        readers = {reader: {"decision_row": explain.decision_row(b), "beliefs": b.round(5).tolist()}
                   for reader, b in beliefs.items()}
        saliency = {title: {"predicted": f["predicted"], "drop": f["drop"].round(5).tolist(),
                            "predicted_without_band": f["predicted_without_band"].tolist()}
                    for title, f in found.items()}
        return {"readers": readers, "row_saliency": saliency}

    def erase(self, image28: np.ndarray | None, row: int, why: str = "",
              found: dict[str, dict] | None = None) -> tuple[np.ndarray | None, str]:
        """The image without `row`'s band of rows, and whether either model's answer flips (the saliency's answers
        with each band blanked, so the sentence and the plot agree); `why` says why there, `found` as for saliency."""
        if image28 is None:
            return None, ""
        found = self.row_saliency(image28) if found is None else found
        said = []
        for title, f in found.items():
            before, after = f["predicted"], int(f["predicted_without_band"][row - 1])
            said.append(f"{title}: {before} → {after} " + ("(**flips**)" if after != before else "(keeps it)"))
        erased = explain.without_band(image28, row)
        return predict.enlarge(erased, 4), f"Without {explain.band_name(row)}{why}: " + " · ".join(said)

    def first_erased(self, image28: np.ndarray | None, found: dict[str, dict] | None = None) -> tuple:
        """The row a new digit's eraser starts at, and `erase` there: the row whose band's loss costs the Bi-LSTM's
        answer the most (a drawing often has none that matters, and then the flat lines are explained by
        "keeps it" here), or the middle row with no digit. `found` as for saliency."""
        if image28 is None:
            return ERASED_ROW, *self.erase(None, ERASED_ROW)
        found = self.row_saliency(image28) if found is None else found
        row = int(np.argmax(found["Bi-LSTM"]["drop"])) + 1
        return row, *self.erase(image28, row, why=", the rows the Bi-LSTM misses most", found=found)


@dataclass
class DigitExplainer:
    """The section's components; `outputs` are what `show(image28)` fills for a new digit."""

    handlers: RowExplainer
    image: gr.State
    rows: gr.Slider
    views: list
    as_json: gr.JSON
    decisions: gr.Markdown
    lines: gr.LinePlot
    erase_row: gr.Slider
    erased: gr.Image
    erased_said: gr.Markdown

    @property
    def panels(self) -> list:
        """What `fill` fills: everything the section shows."""
        return [self.rows, *self.views, self.decisions, self.lines, self.erase_row, self.erased, self.erased_said,
                self.as_json]

    @property
    def outputs(self) -> list:
        """What `show` fills: the section's input, then its panels."""
        return [self.image, *self.panels]

    def fill(self, image28: np.ndarray | None) -> tuple:
        """The panels for an input: all rows read, the saliency lines, erased the row whose loss costs the Bi-LSTM's
        answer the most (both sliders at those rows), and the same as numbers (the beliefs and the saliency
        computed once for all of them)."""
        handlers = self.handlers
        beliefs = found = None
        if image28 is not None:
            beliefs, found = handlers.beliefs(image28), handlers.row_saliency(image28)
        return (ALL_ROWS, *handlers.scrub(image28, ALL_ROWS, beliefs), handlers.saliency(image28, found),
                *handlers.first_erased(image28, found), handlers.numbers(image28, beliefs, found))

    def show(self, image28: np.ndarray | None) -> tuple:
        """A new input for the section, and its panels."""
        return image28, *self.fill(image28)


def explain_section(models: Models, prefix: str) -> DigitExplainer:
    """Build the section in the current layout and wire its own controls; `prefix` keeps its elements'
    ids apart from another copy's (the Sketch and the LSTM vs Bi-LSTM tabs each have one)."""
    explainer = RowExplainer(models)
    image = gr.State(None)
    gr.Markdown("### Row by row\nSlide to see what each reader has read after t rows (the LSTM and the Bi-LSTM's "
                "forward half top-down, its backward half bottom-up) and what it believes then.")
    rows = gr.Slider(0, 28, value=ALL_ROWS, step=1, label="Rows read (t)", elem_id=f"{prefix}-rows-read")
    views = []
    with gr.Row():
        for reader in READERS:
            with gr.Column(min_width=160):
                # No label chip on the picture: it would cover the top rows, the ones read first.
                views.append(gr.Image(label=reader, show_label=False, height=112, width=112, interactive=False,
                                      buttons=[], elem_classes="pixel-view"))
                views.append(gr.Label(num_top_classes=3, label=f"{reader} after t rows"))
    decisions = gr.Markdown(elem_id=f"{prefix}-decision-rows")
    with gr.Row():
        # A short title: a long one squeezed the plot to a sliver on a phone. One line per model: bars stack
        # the two models' drops. The y axis stays at -1..1, so a row that hardly matters looks flat.
        lines = gr.LinePlot(explainer.saliency(None), x="row", y="drop", color="model", title="Row saliency",
                            height=260, x_lim=[1, 28], y_lim=[-1, 1], x_title="row blanked, ±1 (1 = top)",
                            y_title="drop in P(predicted digit)", elem_id=f"{prefix}-row-saliency")
        with gr.Column(min_width=200):
            erase_row = gr.Slider(1, 28, value=ERASED_ROW, step=1, label="Erase rows around row",
                                  elem_id=f"{prefix}-erase-row")
            erased = gr.Image(show_label=False, height=112, width=112, interactive=False, buttons=[],
                              elem_classes="pixel-view")
            erased_said = gr.Markdown(elem_id=f"{prefix}-erased-said")
    with gr.Accordion("Row by row as numbers (what /explain_digit returns for this digit)", open=False):
        as_json = gr.JSON(show_label=False)
    # .input: the user's moves only (a new digit sets the sliders itself, with everything else)
    rows.input(explainer.scrub, [image, rows], [*views, decisions], **PRIVATE)
    erase_row.input(explainer.erase, [image, erase_row], [erased, erased_said], **PRIVATE)
    return DigitExplainer(explainer, image, rows, views, as_json, decisions, lines, erase_row, erased, erased_said)
