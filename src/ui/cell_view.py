"""The Generate tab's cell viewer: one hidden unit of the joke LM as a heat map over the joke, token by token,
and the cells that best track named features of the text (ranked on the validation jokes by src.cells);
handlers, layout and events."""
from __future__ import annotations

import gradio as gr

from src.cells import load_cells, readable_activations
from src.hub import checkpoints_dir
from src.ui.models import Models, refusal
from src.ui.widgets import PRIVATE

STRONG = 0.5  # |r| from which a cell is said to track a feature


class CellViewer:
    """The handler: a cell's activation over a text."""

    def __init__(self, models: Models, ranked: dict[str, list[tuple[int, float]]]):
        self.models, self.ranked = models, ranked

    def choices(self) -> list[tuple[str, int]]:
        """The ranked cells as dropdown choices, strongest first, each cell once with every feature it was
        ranked for (a dropdown tells choices apart by value: a cell listed twice could not be picked twice)."""
        features: dict[int, list[tuple[float, str]]] = {}
        for name, found in self.ranked.items():
            for unit, r in found:
                features.setdefault(unit, []).append((r, name))
        for found in features.values():
            found.sort(key=lambda feature: -abs(feature[0]))
        cells = sorted(features.items(), key=lambda item: -abs(item[1][0][0]))
        return [(f"cell {unit}: " + "; ".join(f"{name} (r = {r:+.2f})" for r, name in found), unit)
                for unit, found in cells]

    def summary(self) -> str:
        """Which features some cell tracks (|r| >= STRONG) and which none does."""
        tracked = [name for name, found in self.ranked.items() if found and abs(found[0][1]) >= STRONG]
        untracked = [name for name in self.ranked if name not in tracked]
        return (f"Tracked by a cell with |r| ≥ {STRONG} on the validation jokes: {', '.join(tracked) or 'none'}. "
                f"No cell tracks: {', '.join(untracked) or 'none'} (best |r| below {STRONG}).")

    def show(self, text: str | None, unit: float | None) -> list[tuple[str, float]] | None:
        """The text's tokens, each with the cell's activation after reading it (-1..1)."""
        if not text:
            return None
        model = self.models.get("joke-lstm")
        if unit is None or not 0 <= unit < model.lstm.hidden_size or unit != int(unit):
            raise refusal(f"Pick a cell: a whole number from 0 to {model.lstm.hidden_size - 1}.")
        tokens, h = readable_activations(model, text)
        return [(token, round(float(value), 3)) for token, value in zip(tokens, h[:, int(unit)])]


def cell_view(models: Models, joke: gr.Textbox) -> None:
    """Build the viewer in the current layout: it reads a text box of its own, which follows the tab's joke
    box as the joke is written and takes any text typed or pasted into it."""
    viewer = CellViewer(models, load_cells(checkpoints_dir()))
    choices = viewer.choices()
    with gr.Row():
        ranked = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Cells that track a feature",
                             scale=3, elem_id="cell-ranked")
        unit = gr.Number(value=choices[0][1] if choices else 0, precision=0, label="…or any cell", scale=1,
                         elem_id="cell-unit")
    if viewer.ranked:
        gr.Markdown(viewer.summary())
    text = gr.Textbox(label="The text it reads: the joke, or type your own", lines=2, elem_id="cell-text")
    heat = gr.HighlightedText(label="The cell's activation after each token (red +1, blue -1)", show_legend=False,
                              combine_adjacent=False, elem_id="cell-heat")
    ranked.input(lambda chosen: chosen, [ranked], [unit], **PRIVATE)
    joke.change(lambda written: written, [joke], [text], **PRIVATE)
    gr.on([unit.change, text.change], viewer.show, [text, unit], [heat], **PRIVATE)
