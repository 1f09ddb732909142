"""The Gradio app: `build_demo(models)` makes one gr.Blocks; handlers are plain functions over src.predict.

Only /generate, /classify and /compare are public API endpoints; the live sketch and chart events are
private to the page.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterator
from functools import partial

import gradio as gr
import numpy as np
import pandas as pd

from src import predict
from src.examples import load_gallery
from src.jokes import check_sampling
from src.preprocess import NotAnImageError, editor_ink, ink_map, read_image, to_mnist

MAX_PROMPT_CHARS = 2000
MAX_WORDS = 300
MIN_WORDS = 3  # a joke may not end before this many words, whatever the prompt
STREAM_INTERVAL_S = 0.03  # between streamed updates of a joke
DRAW_HINT = "✏️ **Draw a digit** (0-9) on the canvas, or upload a picture of one."
MODEL_TITLES = {"digit-lstm": "LSTM", "digit-bilstm": "Bi-LSTM"}
# gradio's Brush size is a radius: 10 draws 20 px strokes on the 300 px canvas, MNIST's proportions
# (a stroke ~12% of the digit's height) for a digit drawn over ~60% of the canvas.
BRUSH_RADIUS = 10

# gradio 6.31's Sketchpad starts with no tool selected, and its trash icon ("Clear canvas") deselects the
# brush again: pick the brush for the user on every sketchpad, at start and after every clear.
PICK_BRUSH_JS = """
() => {
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


def clear_js(sketchpad_id: str) -> str:
    """JS for a Clear button: clear the sketchpad with its own trash icon, which leaves it ready to draw.
    (Sending None to a Sketchpad from Python leaves it on a spinner in gradio 6.31: gradio issue #9978.)"""
    return f"() => document.querySelector(\"#{sketchpad_id} button[aria-label='Clear canvas']\")?.click()"


CSS = """
.pixel-view img { image-rendering: pixelated; }
#joke-output textarea { font-size: 1.15rem; line-height: 1.5; }
"""


def checked(component: type[gr.components.Component], fix: str) -> type[gr.components.Component]:
    """A subclass of a gradio input component whose own input checks answer with a clear gr.Error
    (naming the input and what to send) instead of an exception that reaches the client as
    "The upstream Gradio app has raised an exception"."""

    class Checked(component):
        def get_block_name(self) -> str:  # rendered by the frontend as the parent component
            return component.__name__.lower()

        def get_config(self, cls=None):  # the props gradio sends come from the parent's signature
            return super().get_config(cls or component)

        def preprocess(self, payload):
            try:
                return super().preprocess(payload)
            except gr.Error:
                raise
            except Exception as error:
                shown = repr(payload)[:60] if isinstance(payload, (str, int, float, type(None))) else "the file sent"
                raise gr.Error(f"Cannot use {shown} for “{self.label}” ({type(error).__name__}). {fix}") from None

    Checked.__name__ = Checked.__qualname__ = f"Checked{component.__name__}"
    return Checked


Slider = checked(gr.Slider, "Send a number in the slider's range.")
Number = checked(gr.Number, "Send a whole number, or None.")
ImageFile = checked(gr.Image, "It is not a usable image: send a PNG, JPEG, WebP, GIF or BMP picture of a digit.")


class Models:
    """The loaded models by name, and why any that failed to load did."""

    def __init__(self, models: dict, errors: dict[str, str] | None = None):
        self.models, self.errors = models, errors or {}

    def get(self, name: str):
        if name not in self.models:
            raise gr.Error(f"The {name} model is unavailable: {self.errors.get(name, 'not loaded')}")
        return self.models[name]

    def metrics(self, name: str) -> dict:
        model = self.models.get(name)
        return (getattr(model, "metrics", None) or {}) if model is not None else {}


# ---- text generation ---------------------------------------------------------------------------

MAX_SEED = 2**63 - 1


def pick_seed(seed: str | float | None) -> int:
    """The seed the user typed, or a fresh random one when the box is empty."""
    if seed is None or str(seed).strip() == "":
        return random.randrange(2**31)
    try:
        value = int(str(seed).strip())
    except ValueError:
        raise gr.Error(f"The seed must be a whole number (or empty for a random one), got {seed!r}.") from None
    if not 0 <= value <= MAX_SEED:
        raise gr.Error(f"The seed must be between 0 and {MAX_SEED}, got {value}.")
    return value


def generate(models: Models, prompt: str | None, temperature: float, top_k: float, top_p: float,
             max_words: float, seed: float | None) -> Iterator[str]:
    """Stream prompt + joke as it is sampled."""
    prompt = prompt or ""
    if len(prompt) > MAX_PROMPT_CHARS:
        raise gr.Error(f"The prompt is {len(prompt):,} characters long; the limit is {MAX_PROMPT_CHARS:,}.")
    if None in (temperature, top_k, top_p, max_words):
        raise gr.Error("temperature, top_k, top_p and max_words all need a value.")
    if not 1 <= max_words <= MAX_WORDS:
        raise gr.Error(f"max_words must be between 1 and {MAX_WORDS}; got {max_words:g} (refused, not clamped).")
    try:
        check_sampling(float(temperature), int(top_k), float(top_p), int(max_words))
    except ValueError as error:
        raise gr.Error(str(error)) from None
    seed = pick_seed(seed)
    model = models.get("joke-lstm")
    text = prompt
    pieces = model.generate(prompt, temperature=float(temperature), top_k=int(top_k), top_p=float(top_p),
                            max_words=int(max_words), seed=seed, min_words=min(MIN_WORDS, int(max_words)))
    last = 0.0
    for piece in pieces:  # a piece is a word or part of one
        text += piece
        # The model samples a word in about a millisecond; pacing the updates lets people (and the
        # browser, which draws at most one update a frame) see the joke arrive word by word.
        time.sleep(max(0.0, last + STREAM_INTERVAL_S - time.monotonic()))
        last = time.monotonic()
        yield text


def temperature_charts(models: Models, prompt: str | None, temperature: float, top_k: float,
                       top_p: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Next-token distribution before and after the sampling settings, for the chart."""
    prompt = (prompt or "")[-MAX_PROMPT_CHARS:]
    try:
        check_sampling(float(temperature), int(top_k), float(top_p), 1)
    except (TypeError, ValueError) as error:
        raise gr.Error(str(error)) from None
    table = predict.next_token_table(models.get("joke-lstm"), prompt, float(temperature), int(top_k), float(top_p))
    shown = f"…{prompt[-40:]}" if len(prompt) > 40 else prompt
    caption = (f"What the model expects right after “{shown}”: its own distribution (T = 1) and the one "
               f"sampling draws from (T = {float(temperature):g}, top-k {int(top_k) or 'off'}, "
               f"top-p {float(top_p):g}). Low T sharpens it, high T flattens it; T = 0 is greedy.")
    return table, table, caption


# ---- digits ------------------------------------------------------------------------------------

def sketch_to_mnist(value: dict | None) -> np.ndarray | None:
    """A Sketchpad value -> the model's (28, 28) input, or None for an empty canvas."""
    if not value:
        return None
    return to_mnist(editor_ink(value.get("background"), value.get("layers"), value.get("composite")))


def file_to_mnist(path: str | None) -> np.ndarray:
    """An image file -> the model's (28, 28) input; gr.Error for anything that is not a digit picture."""
    if not path:
        raise gr.Error("No image was given: send one image file.")
    try:
        pixels, note = read_image(path)
    except NotAnImageError as error:
        raise gr.Error(f"That file is not a usable image: {error}.") from None
    if note:
        gr.Warning(note)  # a toast on the page, a log message in the client's job status
    image28 = to_mnist(ink_map(pixels))
    if image28 is None:
        raise gr.Error("No digit found: the image is blank (one flat colour). Draw or upload a digit.")
    return image28


def classify_sketch(models: Models, value: dict | None):
    """Live prediction for the Sketch tab: (probabilities, enlarged input, message)."""
    image28 = sketch_to_mnist(value)
    if image28 is None:
        return None, None, DRAW_HINT
    probs, _ = predict.digit_probabilities(models.get("digit-bilstm"), image28)
    return probs, predict.enlarge(image28), ""


def classify(models: Models, image: str | None):
    """API /classify: Bi-LSTM probabilities for an image file (the 28x28 input goes to a page-only State)."""
    image28 = file_to_mnist(image)
    probs, _ = predict.digit_probabilities(models.get("digit-bilstm"), image28)
    return probs, image28


def show_input(image28: np.ndarray | None):
    """Enlarged 28x28 input and the hint when there is none."""
    return (None, DRAW_HINT) if image28 is None else (predict.enlarge(image28), "")


def compare_images(models: Models, image28: np.ndarray) -> tuple[dict, dict, dict]:
    """Both models on one input: their probabilities and measured facts for this request."""
    results, facts = {}, {}
    for name, title in MODEL_TITLES.items():
        probs, ms = predict.digit_probabilities(models.get(name), image28)
        results[name] = probs
        top = predict.top_digit(probs)
        facts[title] = {"prediction": top, "confidence": round(probs[top], 4), "latency_ms": round(ms, 2)}
    facts["agree"] = facts["LSTM"]["prediction"] == facts["Bi-LSTM"]["prediction"]
    return results["digit-lstm"], results["digit-bilstm"], facts


def compare(models: Models, image: str | None):
    """API /compare: LSTM and Bi-LSTM probabilities and facts for an image file."""
    image28 = file_to_mnist(image)
    return (*compare_images(models, image28), image28)


def reading_views(models: Models, image28: np.ndarray | None):
    """Row-by-row belief curves: LSTM, Bi-LSTM forward half, Bi-LSTM backward half, plus the input."""
    if image28 is None:
        return None, None, None, None, DRAW_HINT
    lstm = predict.reading_curves(models.get("digit-lstm"), image28)["forward"]
    bilstm = predict.reading_curves(models.get("digit-bilstm"), image28)
    return lstm, bilstm["forward"], bilstm["backward"], predict.enlarge(image28), ""


def compare_all(models: Models, image28: np.ndarray | None):
    """Everything the comparison tab shows: probabilities, facts and row-by-row views."""
    if image28 is None:
        return None, None, None, *reading_views(models, None)
    return (*compare_images(models, image28), *reading_views(models, image28))


def compare_sketch(models: Models, value: dict | None):
    """Live comparison for a drawing."""
    return compare_all(models, sketch_to_mnist(value))


def compare_example(models: Models, images: np.ndarray, event: gr.SelectData):
    """A click on the gallery: compare the two models on that MNIST test digit."""
    return compare_all(models, images[event.index])


def model_facts(models: Models) -> pd.DataFrame:
    """Static facts from each checkpoint's metrics.json."""
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
    """Per-epoch test accuracy of both digit models, long format for a line plot."""
    frames = []
    for name, title in MODEL_TITLES.items():
        curves = models.metrics(name).get("curves")
        if curves:
            frames.append(pd.DataFrame({"epoch": curves["epoch"], "test accuracy": curves["test_accuracy"],
                                        "model": title}))
    return pd.concat(frames) if frames else pd.DataFrame({"epoch": [], "test accuracy": [], "model": []})


# ---- layout ------------------------------------------------------------------------------------

def _sketchpad(elem_id: str) -> gr.Sketchpad:
    return gr.Sketchpad(label="Draw a digit", type="numpy", image_mode="RGBA", canvas_size=(300, 300),
                        brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
                        layers=False, transforms=(), height=380, elem_id=elem_id)


def _upload(label: str, height: int) -> gr.Image:
    # The path is handed over untouched (image_mode=None): no re-encoding, whatever the upload's size.
    return ImageFile(label=label, height=height, type="filepath", image_mode=None, sources=["upload", "clipboard"])


def _next_token_plot(column: str, title: str) -> gr.BarPlot:
    return gr.BarPlot(x="token", y=column, title=title, height=300, sort="x", x_label_angle=-50, y_lim=[0, 1],
                      x_title="next token (␣ = space)", y_title="probability")


def _belief_plot(title: str) -> gr.LinePlot:
    return gr.LinePlot(x="row", y="probability", color="digit", title=title, y_lim=[0, 1], height=260,
                       x_title="row", y_title="P(digit)")


def build_demo(models: Models) -> gr.Blocks:
    """The whole app."""
    private = dict(api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    joke = models.metrics("joke-lstm")
    with gr.Blocks(title="LSTM vs Bi-LSTM") as demo:
        gr.Markdown("# LSTM vs Bi-LSTM\nAn LSTM that writes jokes, and two row-reading classifiers (LSTM and "
                    "Bi-LSTM) that recognise the digit you draw.")
        with gr.Tab("Generate", id="generate"):
            with gr.Row():
                with gr.Column(scale=3):
                    prompt = gr.Textbox(label="Prompt", placeholder="Why did the chicken…", lines=2,
                                        max_length=MAX_PROMPT_CHARS)
                    with gr.Row():
                        temperature = Slider(0, 2, value=0.8, step=0.05, label="Temperature (0 = greedy)")
                        max_words = Slider(1, MAX_WORDS, value=40, step=1, label="Maximum words")
                    with gr.Row():
                        top_k = Slider(0, 100, value=0, step=1, label="Top-k (0 = off)")
                        top_p = Slider(0.01, 1, value=0.95, step=0.01, label="Top-p (1 = off)")
                    with gr.Row():
                        seed = gr.Textbox(label="Seed", placeholder="empty = random", max_lines=1)
                        seed_used = Number(label="Seed used", precision=0, interactive=False)
                    button = gr.Button("Generate", variant="primary")
                    gr.Examples([["Why did the chicken"], ["What do you call a"], ["Knock knock."],
                                 ["My xylophonist friend Zbigniew"]], inputs=[prompt])
                with gr.Column(scale=4):
                    output = gr.Textbox(label="Joke", lines=6, elem_id="joke-output", buttons=["copy"])
                    with gr.Row():
                        chart_model = _next_token_plot("model", "Next token: the model (T = 1)")
                        chart_sampled = _next_token_plot("sampled", "…and what sampling draws from")
                    chart_caption = gr.Markdown()
                    if "test_bpc" in joke:
                        gr.Markdown(f"Model: {joke['parameters']:,} parameters, "
                                    f"{joke['test_bpc']:.3f} bits per character on "
                                    f"{joke['test_jokes']} held-out jokes.")
            start = gr.on([button.click, prompt.submit], pick_seed, [seed], [seed_used], api_visibility="private",
                          queue=False)
            start.then(partial(generate, models), [prompt, temperature, top_k, top_p, max_words, seed_used],
                       [output], api_name="generate", concurrency_limit=4,
                       api_description="Stream prompt + joke. Inputs: prompt, temperature (0 = greedy), top_k "
                                       "(0 = off), top_p (1 = off), max_words, seed (None = random).")
            gr.on([prompt.change, temperature.change, top_k.change, top_p.change, demo.load],
                  partial(temperature_charts, models), [prompt, temperature, top_k, top_p],
                  [chart_model, chart_sampled, chart_caption], **private)

        with gr.Tab("Sketch", id="sketch"):
            with gr.Row():
                with gr.Column():
                    sketch = _sketchpad("sketch-pad")
                    clear = gr.Button("Clear")
                    upload = _upload("…or upload a picture of a digit", height=200)
                with gr.Column():
                    hint = gr.Markdown(DRAW_HINT)
                    label = gr.Label(num_top_classes=3, label="Bi-LSTM prediction")
                    gr.Markdown("**What the model sees** (28x28, white on black, as in MNIST)")
                    seen = gr.Image(show_label=False, height=224, width=224, interactive=False, buttons=[],
                                    elem_classes="pixel-view")
            upload_input = gr.State()
            sketch.change(partial(classify_sketch, models), [sketch], [label, seen, hint], **private,
                          concurrency_limit=4)
            clear.click(lambda: (None, None, DRAW_HINT), None, [label, seen, hint], js=clear_js("sketch-pad"),
                        api_visibility="private", queue=False)
            upload.upload(partial(classify, models), [upload], [label, upload_input], api_name="classify",
                          concurrency_limit=8,
                          api_description="Classify one image file with the Bi-LSTM: top classes and confidences."
                          ).then(show_input, [upload_input], [seen, hint], api_visibility="private")

        with gr.Tab("LSTM vs Bi-LSTM", id="compare"):
            with gr.Row():
                with gr.Column(scale=2):
                    sketch2 = _sketchpad("compare-pad")
                    clear2 = gr.Button("Clear")
                    upload2 = _upload("…or upload a picture", height=160)
                    gr.Markdown("**Input the models read** (28 rows of 28 pixels)")
                    seen2 = gr.Image(show_label=False, height=168, width=168, interactive=False, buttons=[],
                                     elem_classes="pixel-view")
                with gr.Column(scale=3):
                    hint2 = gr.Markdown(DRAW_HINT)
                    with gr.Row():
                        lstm_label = gr.Label(num_top_classes=3, label="LSTM (reads rows top to bottom)")
                        bilstm_label = gr.Label(num_top_classes=3, label="Bi-LSTM (reads both ways)")
                    facts = gr.JSON(label="This request: predictions, agreement, latency")
            with gr.Row():
                lstm_plot = _belief_plot("LSTM, rows 1..t")
                fwd_plot = _belief_plot("Bi-LSTM forward, rows 1..t")
                bwd_plot = _belief_plot("Bi-LSTM backward, rows t..28")
            gr.Markdown("Each plot shows P(digit) after the model has read part of the image. The LSTM reads "
                        "top-down, so row t is what it believes having seen rows 1..t. The Bi-LSTM's classifier is "
                        "linear in [forward state, backward state], so each half's share can be read on its own: "
                        "the forward half after rows 1..t, the backward half (which reads bottom-up; follow its "
                        "plot from right to left) after rows 28..t.")
            gallery = load_gallery()
            if gallery is not None:
                disagreement_gallery = gr.Gallery(
                    [(predict.enlarge(image, 4), f"{label}: LSTM {a}, Bi {b}")
                     for image, label, a, b in zip(*(gallery[k] for k in ("images", "label", "lstm", "bilstm")))],
                    label="MNIST test digits on which the two models disagree (true digit: predictions); click one "
                          "to compare", columns=6, height="auto", allow_preview=False)
            with gr.Row():
                gr.Dataframe(model_facts(models), label="Checkpoints (from metrics.json)", interactive=False)
                gr.LinePlot(training_curves(models), x="epoch", y="test accuracy", color="model", height=260,
                            title="MNIST test accuracy per epoch")
            compare_input = gr.State()
            views = [lstm_plot, fwd_plot, bwd_plot, seen2, hint2]
            sketch2.change(partial(compare_sketch, models), [sketch2], [lstm_label, bilstm_label, facts, *views],
                           **private, concurrency_limit=4)
            clear2.click(partial(compare_all, models, None), None, [lstm_label, bilstm_label, facts, *views],
                         js=clear_js("compare-pad"), api_visibility="private", queue=False)
            upload2.upload(partial(compare, models), [upload2], [lstm_label, bilstm_label, facts, compare_input],
                           api_name="compare", concurrency_limit=8,
                           api_description="Classify one image file with both models: probabilities, agreement "
                                           "and latency.").then(partial(reading_views, models), [compare_input],
                                                               views, api_visibility="private")
            if gallery is not None:
                disagreement_gallery.select(partial(compare_example, models, gallery["images"]), None,
                                [lstm_label, bilstm_label, facts, *views], api_visibility="private")
    return demo


def launch_options() -> dict:
    """Theme, CSS and JS, which gradio 6 takes in launch()."""
    return {"theme": gr.themes.Soft(), "css": CSS, "js": PICK_BRUSH_JS, "max_file_size": "25mb"}
