"""The app's handlers in process, on tiny untrained models: refusals, jokes and seeds, the comparison's facts,
and the gradio wiring that once broke (hidden signatures, generated stubs)."""
from __future__ import annotations

import logging
import typing
import warnings
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio.utils import get_function_description
from PIL import Image, ImageDraw

from src import predict
from src.preprocess import ink_map, stroke_width, to_mnist
from src.ui import Models, build_demo
from src.ui.cloze_section import METHOD_TITLES, BlankFiller
from src.ui.compare_tab import Comparison, model_facts, training_curves
from src.ui.generate_tab import JokeWriter
from src.ui.sketch_tab import DigitReader
from src.ui.token_view import TokenView
from src.ui.widgets import DRAW_HINT
from tests.conftest import tiny_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def models() -> Models:
    """Tiny untrained models in eval mode, as loading gives them."""
    return Models({name: tiny_model(name).eval() for name in ("joke-lstm", "joke-bilstm", "digit-lstm", "digit-bilstm")})


def digit_png(path: Path) -> str:
    """A dark 7 on white, saved as PNG; returns the path."""
    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(50, 40), (150, 40), (80, 170)], fill=0, width=18)
    image.save(path)
    return str(path)


# ---- jokes -------------------------------------------------------------------------------------

def test_generate_streams_a_repeatable_joke(models):
    writer = JokeWriter(models)
    updates = list(writer.generate("Why", 0.9, 0, 1.0, 6, 1234))
    assert updates[-1].startswith("Why") and len(updates) > 1
    assert all(b.startswith(a) for a, b in zip(updates, updates[1:]))
    assert list(writer.generate("Why", 0.9, 0, 1.0, 6, 1234)) == updates


@pytest.mark.parametrize("args, message", [
    (("x", 0.8, 0, 1.0, 2.5, 1), "whole number"), (("x", -1, 0, 1.0, 5, 1), "minimum"),
    ((None, 0.8, 0, 0.0, 5, 1), "top_p"), ((42, 0.8, 0, 1.0, 5, 1), "must be text"),
    (("x" * 2001, 0.8, 0, 1.0, 5, 1), "limit is 2,000"), (("x", 0.8, 0, 1.0, 5, "s"), "seed"),
])
def test_generate_refuses_bad_settings_with_a_message(models, args, message):
    with pytest.raises(gr.Error, match=message):
        next(JokeWriter(models).generate(*args))


def test_the_page_gets_every_word_of_the_same_joke_with_the_seed_it_used(models):
    writer = JokeWriter(models)
    *shown, (_, _, _, versions) = writer.write("Knock", 0.9, 0, 1.0, 12, " 99 ")
    coloured = TokenView(models).show(versions)[0]  # the token view once the joke is written
    assert [text for text, *_ in shown] == list(writer.words("Knock", 0.9, 0, 1.0, 12, 99))
    assert shown[-1][0] == list(writer.generate("Knock", 0.9, 0, 1.0, 12, 99))[-1]
    assert {seed for _, seed, *_ in shown} == {"99"}
    # ...the token view gets the tokens of that same joke, as they were sampled, and shows them coloured as
    # they come: each update's are the prompt and a growing prefix of the joke's tokens
    assert versions[0].text == shown[-1][0] and versions[0].settings["seed"] == 99
    assert coloured == [("Knock", None), *predict.ranked_tokens(models.get("joke-lstm"), versions[0].steps)]
    sizes = [len(live) for _, _, live, _ in shown]
    assert all(live == coloured[:len(live)] for _, _, live, _ in shown)
    assert sizes == sorted(sizes) and 1 < sizes[0] < sizes[-1] < len(coloured)
    random_seeds = {next(writer.write("Knock", 0.9, 0, 1.0, 5, ""))[1] for _ in range(3)}
    assert len(random_seeds) > 1 and all(seed.isdigit() for seed in random_seeds)


def test_charts_show_both_distributions(models):
    model_table, sampled_table, caption = JokeWriter(models).charts("Why", 0.5, 3, 0.9)
    assert list(model_table.columns) == ["token", "model", "sampled"] and model_table is sampled_table
    assert "T = 0.5" in caption and "top-k 3" in caption
    # the model's own probabilities, likeliest first; sampling keeps its top 3 (this untrained model's are
    # nearly even, so top-p 0.9 cuts none of them), sharpened by T = 0.5: ratios squared
    model, sampled = model_table["model"].to_numpy(), model_table["sampled"].to_numpy()
    assert (np.diff(model) <= 0).all() and len(model) == 12
    assert np.flatnonzero(sampled).tolist() == [0, 1, 2] and sampled.sum() == pytest.approx(1, abs=1e-5)
    assert sampled[0] / sampled[2] == pytest.approx((model[0] / model[2]) ** 2, rel=1e-3)


# ---- digits ------------------------------------------------------------------------------------

def test_classify_a_file_and_refuse_what_is_not_a_picture(models, tmp_path):
    probs = DigitReader(models).classify(digit_png(tmp_path / "seven.png"))
    assert sorted(probs) == [str(d) for d in range(10)] and sum(probs.values()) == pytest.approx(1)
    lstm, bilstm, facts = Comparison(models).compare(digit_png(tmp_path / "seven.png"))
    assert bilstm == probs and facts["agree"] == (max(lstm, key=lstm.get) == max(bilstm, key=bilstm.get))
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(gr.Error, match="not a usable image"):
        DigitReader(models).classify(str(tmp_path / "notes.png"))


def test_an_empty_canvas_shows_the_hint(models):
    assert DigitReader(models).read_sketch(None) == (None, None, DRAW_HINT, None)
    assert Comparison(models).read_sketch(None) == (None, None, None, None, None, None, None, DRAW_HINT)


def test_the_view_is_exactly_what_the_model_read_after_stroke_normalisation(models):
    """A fat-pen drawing is thinned before the model reads it; the 28x28 view shows that thinned input, and the
    probabilities are the model's on exactly those pixels."""
    canvas = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(90, 60), (210, 60), (120, 250)], fill=(0, 0, 0, 255), width=50)
    value = {"background": None, "layers": [np.asarray(canvas)], "composite": np.asarray(canvas)}
    probs, view, hint, image28 = DigitReader(models).read_sketch(value)
    seen = view[::8, ::8].astype(np.float32) / 255  # the view is the 28x28 input, each pixel drawn 8x8
    assert view.shape == (224, 224) and hint == ""
    expected = to_mnist(ink_map(np.asarray(canvas)))
    assert np.abs(seen - expected).max() <= 1 / 255  # the normalised input, not the raw fat strokes
    assert stroke_width(expected > 0.5) < stroke_width(np.asarray(canvas)[..., 3] > 0) * 20 / 250
    assert probs == predict.digit_probabilities(models.get("digit-bilstm"), expected)[0]
    assert np.array_equal(image28, expected)  # and the row-by-row section reads the same input


def test_a_gallery_click_compares_both_models_on_that_digit(models):
    examples = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    event = gr.SelectData(None, {"index": 2, "value": None})
    lstm, bilstm, facts, lstm_curve, forward, backward, view, hint = Comparison(models, examples).pick_example(event)
    assert facts["LSTM"]["prediction"] == max(lstm, key=lstm.get)
    assert facts["Bi-LSTM"]["prediction"] == max(bilstm, key=bilstm.get)
    assert facts["agree"] == (facts["LSTM"]["prediction"] == facts["Bi-LSTM"]["prediction"])
    assert len(lstm_curve) == len(forward) == len(backward) == 280 and view.shape == (224, 224) and hint == ""


def test_checkpoint_facts_from_metrics_and_question_marks_without(models):
    lstm, bilstm = tiny_model("digit-lstm"), tiny_model("digit-bilstm")
    lstm.metrics = {"test_accuracy": 0.9948, "parameters": 82186, "train_seconds": 300, "total_train_seconds": 444,
                    "curves": {"epoch": [1, 2], "test_accuracy": [0.98, 0.99]}}
    bilstm.metrics = None  # a checkpoint folder without metrics.json
    both = Models({"digit-lstm": lstm, "digit-bilstm": bilstm})
    facts = model_facts(both).set_index("model")
    assert facts.loc["LSTM"].tolist() == ["99.48%", "82,186", "7.4 min", 2]
    assert facts.loc["Bi-LSTM"].tolist() == ["?", "?", "?", "?"]
    assert training_curves(both)["model"].tolist() == ["LSTM", "LSTM"]
    nothing = Models({}, {"digit-lstm": "missing file", "digit-bilstm": "missing file"})
    assert model_facts(nothing)["parameters"].tolist() == ["?", "?"] and training_curves(nothing).empty


def test_a_model_that_did_not_load_is_refused_with_its_reason(models, tmp_path):
    broken = Models({}, {"digit-bilstm": "model.safetensors is truncated"})
    with pytest.raises(gr.Error, match="digit-bilstm model is unavailable: model.safetensors is truncated"):
        DigitReader(broken).classify(digit_png(tmp_path / "seven.png"))
    no_blanks = Models({"joke-lstm": models.get("joke-lstm")}, {"joke-bilstm": "missing checkpoint file"})
    for handler in (BlankFiller(no_blanks, []).fill_blank, BlankFiller(no_blanks, []).explain_blank):
        with pytest.raises(gr.Error) as refused:  # the message as said, even from inside a refusing() block
            handler("Why did the ___ cross the road?")
        assert refused.value.message == "The joke-bilstm model is unavailable: missing checkpoint file"


def test_a_refusal_is_logged_as_one_line(models, caplog):
    with caplog.at_level(logging.INFO, logger="src.ui"), pytest.raises(gr.Error):
        next(JokeWriter(models).generate("x", 0.8, 0, 1.0, 0, 1))
    assert [record.getMessage() for record in caplog.records] == [
        "refused: max_words 0 is below its minimum (a whole number from 1 to 300)."]


# ---- wiring ------------------------------------------------------------------------------------

def test_handlers_show_gradio_their_signatures(models):
    """gradio fills gr.SelectData from the type hint: a bound method keeps it (functools.partial hid it)."""
    assert typing.get_type_hints(Comparison(models).pick_example)["event"] is gr.SelectData
    assert list(typing.get_type_hints(JokeWriter(models).generate)) == [
        "prompt", "temperature", "top_k", "top_p", "max_words", "seed", "return"]


def test_building_the_app_warns_of_nothing_and_writes_no_stub(models):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        demo = build_demo(models)
    # gradio warns with UserWarning (a handler whose signature does not match its inputs, for one).
    assert not [str(w.message)[:200] for w in caught if issubclass(w.category, UserWarning)]
    tabs = [block for block in demo.blocks.values() if isinstance(block, gr.Tabs)]
    assert sorted([tab.label for tab in tabs_.children] for tabs_ in tabs) == [
        ["Digits", "Text: fill in the blank"], ["Generate", "Sketch", "LSTM vs Bi-LSTM"]]
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert public == {"generate", "generate_tokens", "classify", "compare", "fill_blank", "explain_digit", "explain_blank"}
    assert not list((ROOT / "src").rglob("*.pyi")), "a gradio component subclass wrote a stub into src/"


def test_each_public_endpoint_describes_its_arguments_and_each_returned_value_on_one_line(models):
    """gradio reads a handler's docstring for the API page and the MCP tools: every argument described, and the
    Returns section line by line (a tool's description joins the lines with ", "), so a value described over
    two lines would read as two values with a comma in mid-sentence."""
    demo = build_demo(models)
    for fn in demo.fns.values():
        if fn.api_visibility == "public":
            description, arguments, returns = get_function_description(fn.fn)
            assert description and all(arguments.values()), (fn.api_name, arguments)
            assert 1 <= len(returns) <= len(fn.outputs), (fn.api_name, returns)


# ---- filling a blank ----------------------------------------------------------------------------

def test_fill_blank_gives_five_rankings_and_the_times(models):
    *labels, timing = BlankFiller(models, []).fill_blank("Why did the ___ cross the road?")
    assert len(labels) == len(METHOD_TITLES) == 5
    assert all(len(label) == 5 and all(0 <= p <= 1 for p in label.values()) for label in labels)
    assert len(timing) == 3


@pytest.mark.parametrize("text, message", [("", "Write a joke with one blank"), (None, "Write a joke with one blank"),
                                           ("no blank", "There is no blank"), ("two ___ ___", "There are 2 blanks"),
                                           ("x" * 1001 + " ___", "the limit is 1,000"),
                                           ("the ___s", "must stand for a whole word")])
def test_fill_blank_refuses_bad_text_with_a_message(models, text, message):
    filler = BlankFiller(models, [])
    for handler in (filler.fill_blank, filler.leans_on, filler.explain_blank):
        with pytest.raises(gr.Error, match=message):
            handler(text)


def test_the_heat_maps_colour_the_joke_by_what_each_top_word_leans_on(models):
    text = "Why did the ___ cross the road?"
    lstm, bilstm, numbers = BlankFiller(models, []).leans_on(text)
    assert numbers == BlankFiller(models, []).explain_blank(text)  # the page's numbers are the API's
    top = BlankFiller(models, []).fill_blank(text)[2]
    for heat, title in ((lstm, METHOD_TITLES["lstm_left"]), (bilstm, METHOD_TITLES["bilstm"])):
        assert "".join(item["token"] for item in heat.value) == text
        # shades relative to the piece that moves the top word most
        assert max(abs(item["class_or_confidence"]) for item in heat.value) == 1.0
        assert heat.label.startswith(title)
    assert f"“{max(top, key=top.get)}”" in bilstm.label  # the word the Bi-LSTM's ranking shows first
    after_blank = [item["token"] for item in lstm.value].index("___") + 1
    assert all(item["class_or_confidence"] == 0.0 for item in lstm.value[after_blank:])  # it never reads them
    assert any(item["class_or_confidence"] for item in bilstm.value[after_blank:])
    lstm, bilstm, _ = BlankFiller(models, []).leans_on("___ knock. Who's there?")
    assert lstm.label.endswith("leans on no word (it reads none)") and "strongest piece" in bilstm.label


def test_a_random_test_joke_is_blanked_and_judged(models):
    jokes = ["Why did the chicken cross the road?"]
    text, *results, verdict = BlankFiller(models, jokes, seed=0).random_blank()
    assert text.count("___") == 1 and len(results) == 6
    word = verdict.split("**")[1]
    assert text.replace("___", word) == jokes[0]
    assert verdict.count("✓") + verdict.count("✗") == 3
