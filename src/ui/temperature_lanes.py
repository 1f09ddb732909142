"""Temperatures side by side on the Generate tab: the same prompt and seed written at several temperatures,
streaming in parallel lanes, each with its mean log-probability per token under the model (T = 1), as the
Keras char-LSTM example prints several temperatures; handlers, layout and events."""
from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from src.sampling import decoded
from src.limits import checked
from src.ui.models import Models, refusing

LANES = 4
DEFAULT_TEMPERATURES = "0, 0.5, 1.0, 1.5"


def parse_temperatures(text: str) -> list[float]:
    """'0, 0.5, 1' -> [0.0, 0.5, 1.0]: one to LANES temperatures, each in the temperature slider's range."""
    parts = [part for part in (text or "").replace(";", ",").split(",") if part.strip()]
    if not 1 <= len(parts) <= LANES:
        raise ValueError(f"Give 1 to {LANES} temperatures separated by commas, e.g. {DEFAULT_TEMPERATURES}.")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"Temperatures must be numbers separated by commas; got {text!r}.") from None
    return [checked("temperature", value) for value in values]


class TemperatureLanes:
    """The handler: one joke per temperature, written token by token in turn, so the lanes grow together."""

    def __init__(self, models: Models, checked_settings):
        self.models, self.checked = models, checked_settings

    def write(self, prompt: str, temperatures: str, top_k: int, top_p: float, max_words: int,
              seed: str) -> Iterator[tuple]:
        """Per lane its text so far and label (temperature, mean log-probability per token); unused lanes hidden."""
        with refusing():
            values = parse_temperatures(temperatures)
        prompt, settings, seed = self.checked(prompt, values[0], top_k, top_p, max_words, seed)
        model = self.models.get("joke-lstm")
        runs = [model.sample(prompt, **{**settings, "temperature": t}, seed=seed) for t in values]
        steps: list[list] = [[] for _ in values]
        logps: list[list[float]] = [[] for _ in values]  # each token's log-probability, computed once
        live = set(range(len(values)))
        while live:
            for lane in sorted(live):
                step = next(runs[lane], None)
                if step is None:
                    live.discard(lane)
                else:
                    steps[lane].append(step)
                    logps[lane].append(float(step.log_probs.log_softmax(-1)[step.token]))
            yield self._shown(prompt, values, steps, logps, seed)

    @staticmethod
    def _shown(prompt: str, values: list[float], steps: list[list], logps: list[list[float]], seed: int) -> tuple:
        lanes = []
        for lane in range(LANES):
            if lane >= len(values):
                lanes.append(gr.update(visible=False, value=""))
                continue
            logp = logps[lane]
            mean = f"{sum(logp) / len(logp):.2f}" if logp else "-"
            lanes.append(gr.update(visible=True, value=prompt + "".join(decoded(iter(steps[lane]))),
                                   label=f"T = {values[lane]:g}: mean log-probability per token {mean}"))
        return (*lanes, str(seed))


def temperature_lanes(models: Models, checked_settings, prompt: gr.Textbox, top_k: gr.Slider, top_p: gr.Slider,
                      max_words: gr.Slider, seed: gr.Textbox) -> None:
    """Build the lanes in the current layout; they share the tab's prompt, top-k, top-p, length and seed."""
    handler = TemperatureLanes(models, checked_settings)
    with gr.Row():
        temperatures = gr.Textbox(DEFAULT_TEMPERATURES, label=f"Temperatures (1 to {LANES}, comma-separated)",
                                  max_lines=1, scale=3, elem_id="lane-temperatures")
        seed_used = gr.Textbox(label="Seed used by every lane", max_lines=1, interactive=False, scale=1)
        run = gr.Button("Write at each temperature", scale=1, elem_id="lanes-run")
    with gr.Row():
        lanes = [gr.Textbox(label=f"lane {i + 1}", lines=5, interactive=False, elem_id=f"lane-{i}")
                 for i in range(LANES)]
    run.click(handler.write, [prompt, temperatures, top_k, top_p, max_words, seed], [*lanes, seed_used],
              api_visibility="private", concurrency_limit=4, concurrency_id="joke")
