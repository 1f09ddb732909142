"""The Generate tab: the joke writer's handlers, its layout and its events.

/generate is an API-only endpoint that streams at the model's speed, in ever larger steps of whole words; the
page's Generate button shows every word, paced, so people see the words arrive one by one.
"""
from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import pandas as pd

from src import predict
from src.limits import LIMITS, MAX_PROMPT_CHARS, checked, checked_prompt, pick_seed
from src.sampling import Sampled, decoded
from src.streaming import paced, thinned, word_by_word
from src.ui.api_docs import documented
from src.ui.models import Models, refusing
from src.ui.cell_view import cell_view
from src.ui.temperature_lanes import temperature_lanes
from src.ui.token_view import Version, token_view
from src.ui.widgets import PRIVATE, next_token_plot

MIN_WORDS = 3  # a joke may not end before this many words, whatever the prompt
STREAM_INTERVAL_S = 0.03  # between the page's updates of a joke
EXAMPLES = ["Why did the chicken", "What do you call a", "Knock knock.", "My xylophonist friend Zbigniew"]
SETTINGS_ARGS = """Args:
    prompt: the joke's opening words (text, up to 2,000 characters; may be empty)
    temperature: 0 to 2; 0 always takes the likeliest token, higher is more surprising
    top_k: whole number 0 to 100; sample from the k likeliest tokens only (0 = off)
    top_p: 0.01 to 1; sample from the likeliest tokens that make up this probability (1 = off)
    max_words: whole number 1 to 300; the joke stops at its end or at this many words
    seed: whole number 0 to 2**63-1; the same seed and settings give the same joke (None = random)"""


class JokeWriter:
    """The Generate tab's handlers over the joke model."""

    def __init__(self, models: Models):
        self.models = models

    @staticmethod
    def checked(prompt: object, temperature: object, top_k: object, top_p: object, max_words: object,
                seed: object) -> tuple[str, dict, int]:
        """A request checked against src.limits: the prompt, the sampling settings (min_words included) and the
        seed (a random one when none is given); a refusal names the first value out of its limits."""
        with refusing():
            prompt = checked_prompt(prompt)
            settings = {name: checked(name, value) for name, value in
                        (("temperature", temperature), ("top_k", top_k), ("top_p", top_p), ("max_words", max_words))}
            seed = pick_seed(seed)
        return prompt, {**settings, "min_words": min(MIN_WORDS, settings["max_words"])}, seed

    def words(self, prompt: object, temperature: object, top_k: object, top_p: object, max_words: object,
              seed: object) -> Iterator[str]:
        """The joke for a checked request, one update per word (the prompt plus the words so far)."""
        prompt, settings, seed = self.checked(prompt, temperature, top_k, top_p, max_words, seed)
        yield from word_by_word(prompt, self.models.get("joke-lstm").generate(prompt, **settings, seed=seed))

    @documented("text (the prompt and the joke), seed (the one used) and tokens: per token its text, id, probability "
                "in the distribution it was drawn from (after temperature, top-k, top-p), model_probability (T = 1), "
                "rank (1 = the model's first choice) and alternatives (the model's top 5 with probabilities)",
                args=SETTINGS_ARGS)
    def generate_tokens(self, prompt: str = "", temperature: float = 0.8, top_k: int = 0, top_p: float = 0.95,
                        max_words: int = 40, seed: int | None = None) -> dict:
        """Write a joke as /generate does (the same text for the same settings and seed) and return its tokens,
        each with its probability, the model's rank for it and the model's top 5 alternatives there."""
        prompt, settings, seed = self.checked(prompt, temperature, top_k, top_p, max_words, seed)
        model = self.models.get("joke-lstm")
        steps = list(model.sample(prompt, **settings, seed=seed))
        return {"text": prompt + "".join(decoded(iter(steps))), "seed": seed,
                "tokens": predict.token_records(model, steps)}

    @documented("the prompt followed by the joke", args=SETTINGS_ARGS)
    def generate(self, prompt: str = "", temperature: float = 0.8, top_k: int = 0, top_p: float = 0.95,
                 max_words: int = 40, seed: int | None = None) -> Iterator[str]:
        """Write a short joke that starts with the prompt, streamed: each update is the prompt plus the joke so
        far, ending at a whole word."""
        # Programs want the whole joke soon: fewer updates, each sent at once, cost them less than one per word.
        yield from thinned(self.words(prompt, temperature, top_k, top_p, max_words, seed))

    def write(self, prompt: str, temperature: float, top_k: int, top_p: float, max_words: int,
              seed: str) -> Iterator[tuple]:
        """The page's Generate: the joke paced for reading with the seed it used (the box's, or a random one) and
        its tokens coloured as they come; last, the tokens it sampled as the token view's first version
        (sampled once and kept, not drawn again)."""
        prompt, settings, seed_used = self.checked(prompt, temperature, top_k, top_p, max_words, seed)
        model = self.models.get("joke-lstm")
        steps: list[Sampled] = []

        def kept() -> Iterator[Sampled]:
            for step in model.sample(prompt, **settings, seed=seed_used):
                steps.append(step)
                yield step

        coloured = [(prompt, None)]
        # The model samples a word in a few milliseconds; pacing lets people (and the browser, which draws at
        # most one update a frame) see the joke arrive word by word.
        for text in paced(word_by_word(prompt, decoded(kept())), STREAM_INTERVAL_S):
            # The text holds every step but the last one taken, which starts the next word.
            coloured = [*coloured, *predict.ranked_tokens(model, steps[len(coloured) - 1:-1])]
            yield text, str(seed_used), coloured, gr.skip()
        # The token view's show() colours the whole joke from this version (the last token included).
        yield gr.skip(), gr.skip(), gr.skip(), [Version(prompt, steps, {**settings, "seed": seed_used})]

    def charts(self, prompt: str | None, temperature: float, top_k: int,
               top_p: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        """The next-token distribution before and after the sampling settings, for the two charts and a caption."""
        prompt = (prompt or "")[-MAX_PROMPT_CHARS:]
        with refusing():
            temperature, top_k, top_p = (checked(name, value) for name, value in
                                         (("temperature", temperature), ("top_k", top_k), ("top_p", top_p)))
        table = predict.next_token_table(self.models.get("joke-lstm"), prompt, temperature, top_k, top_p)
        shown = f"…{prompt[-40:]}" if len(prompt) > 40 else prompt
        caption = (f"What the model expects right after “{shown}”: its own distribution (T = 1) and the one "
                   f"sampling draws from (T = {temperature:g}, top-k {top_k or 'off'}, top-p {top_p:g}). "
                   "Low T sharpens it, high T flattens it; T = 0 is greedy.")
        return table, table, caption


def _slider(name: str, value: float, label: str) -> gr.Slider:
    limit = LIMITS[name]
    return gr.Slider(limit.minimum, limit.maximum, value=value, step=limit.step, label=label)


def generate_tab(models: Models) -> None:
    """The Generate tab, with /generate (API only) and the page's paced Generate."""
    writer = JokeWriter(models)
    joke = models.metrics("joke-lstm")
    with gr.Tab("Generate", id="generate"):
        with gr.Row():
            with gr.Column(scale=3):
                # One line, so that Enter writes the joke (in a taller box it starts a new line); it grows
                # with a long prompt, and Shift+Enter still starts a new line.
                prompt = gr.Textbox(label="Prompt", placeholder="Why did the chicken…", lines=1, max_lines=4,
                                    max_length=MAX_PROMPT_CHARS)
                with gr.Row():
                    temperature = _slider("temperature", 0.8, "Temperature (0 = greedy)")
                    max_words = _slider("max_words", 40, "Maximum words")
                with gr.Row():
                    top_k = _slider("top_k", 0, "Top-k (0 = off)")
                    top_p = _slider("top_p", 0.95, "Top-p (1 = off)")
                with gr.Row():
                    seed = gr.Textbox(label="Seed", placeholder="empty = random", max_lines=1)
                    # Text, not a number: a browser's numbers hold 15-16 digits and a seed may have 19.
                    seed_used = gr.Textbox(label="Seed used", max_lines=1, interactive=False)
                button = gr.Button("Generate", variant="primary")
                gr.Examples([[example] for example in EXAMPLES], inputs=[prompt])
            with gr.Column(scale=4):
                # Read-only: the token view below shows how the model wrote exactly this text (the LSTM cells
                # have a box of their own for any text).
                output = gr.Textbox(label="Joke", lines=6, elem_id="joke-output", buttons=["copy"], interactive=False)
                with gr.Accordion("Look inside this joke: its tokens, and branches", open=True):
                    tokens, token_outputs = token_view(models, output)
                with gr.Row():
                    chart_model = next_token_plot("model", "Next token: the model (T = 1)")
                    chart_sampled = next_token_plot("sampled", "…and what sampling draws from")
                chart_caption = gr.Markdown()
                if "test_bpc" in joke:
                    gr.Markdown(f"Model: {joke['parameters']:,} parameters, {joke['test_bpc']:.3f} bits per "
                                f"character on {joke['test_jokes']} held-out jokes.")
        with gr.Accordion("Temperatures side by side", open=False, elem_id="lanes"):
            temperature_lanes(models, writer.checked, prompt, top_k, top_p, max_words, seed)
        with gr.Accordion("LSTM cells over the joke", open=False, elem_id="cells"):
            cell_view(models, output)
        # gr.api adds placeholder components to the layout: inside the tab they leave the tabs in one row.
        # The API's and the page's jokes share one set of 4 slots (concurrency_id): one model does the work.
        gr.api(writer.generate, api_name="generate", concurrency_limit=4, concurrency_id="joke")
        gr.api(writer.generate_tokens, api_name="generate_tokens", concurrency_limit=4, concurrency_id="joke")
    written = gr.State([])  # the joke Generate wrote, as the token view's first version
    coloured = token_outputs[0]  # the view's coloured tokens, which the write fills as the joke streams
    gr.on([button.click, prompt.submit], writer.write, [prompt, temperature, top_k, top_p, max_words, seed],
          [output, seed_used, coloured, written], api_visibility="private", concurrency_limit=4,
          concurrency_id="joke").success(tokens.show, [written], token_outputs, api_visibility="private")
    # No triggers: on a change of any input, and on page load.
    gr.on(None, writer.charts, [prompt, temperature, top_k, top_p], [chart_model, chart_sampled, chart_caption],
          **PRIVATE)
