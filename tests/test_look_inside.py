"""Look inside a joke: the tokens /generate_tokens reports are the ones /generate writes, with exact
probabilities; a branch re-reads none of the tokens before it; the temperature lanes write what /generate
writes at each temperature; the cells' features and correlations."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import torch

from src.cells import FEATURES, activations, cell_correlations, readable_activations
from src.sampling import Written, filtered_probs
from src.predict import rank_bucket, record_text, token_label, token_records
from src.ui import Models
from src.ui.generate_tab import MIN_WORDS, JokeWriter
from src.ui.cell_view import CellViewer
from src.ui.temperature_lanes import TemperatureLanes, parse_temperatures
from src.ui.token_view import TokenView, percent


@pytest.fixture(scope="module")
def writer(joke_model) -> JokeWriter:
    return JokeWriter(Models({"joke-lstm": joke_model}))


@pytest.mark.parametrize("settings", [("Knock knock.", 0.8, 0, 1.0, 40), ("", 1.2, 20, 0.9, 25),
                                      ("Why did the", 0.0, 0, 1.0, 15), ("🤖 Qwzx", 0.5, 0, 0.5, 30)])
def test_tokens_are_generates_text_for_the_same_seed_with_exact_probabilities(writer, joke_model, settings):
    prompt, temperature, top_k, top_p, max_words = settings
    for seed in range(5):
        found = writer.generate_tokens(*settings, seed)
        assert found["seed"] == seed
        assert found["text"] == list(writer.generate(*settings, seed))[-1]
        # Each probability again, from one reading of the whole joke (cache included), under the same filtering and
        # the same blocked tokens (the end token while fewer than MIN_WORDS words are out, as the app asks, and
        # symbol runs).
        start = len(joke_model.encode_joke(prompt)) - 1
        ids = joke_model.encode_joke(prompt) + [t["id"] for t in found["tokens"]]
        with torch.no_grad():
            logits = joke_model.read(torch.tensor([ids]))[0][0, start:]
        written = Written.prompt(prompt)
        for position, token in enumerate(found["tokens"]):
            step_logits = logits[position].clone()
            step_logits[joke_model.blocked(written, min(MIN_WORDS, max_words))] = -float("inf")
            probs = filtered_probs(step_logits, temperature, top_k, top_p)
            assert token["probability"] == pytest.approx(float(probs[token["id"]]), abs=1e-5), (seed, position)
            model = step_logits.softmax(-1)
            assert token["rank"] == int((model > model[token["id"]]).sum()) + 1
            assert [a["id"] for a in token["alternatives"]] == model.topk(5).indices.tolist()
            written = written.after(joke_model.tokenizer.token_bytes(token["id"]))


def test_every_token_has_a_name_of_its_own_in_the_chart_and_the_alternatives(joke_model):
    # The vocabulary holds every single byte; the 128 that are parts of longer characters used to read "\ufffd".
    tokens = range(len(joke_model.tokenizer.tokens))
    labels = [token_label(joke_model, t) for t in tokens]
    for names in (labels, [record_text(joke_model, t) for t in tokens]):
        assert len(set(names)) == len(names) and not any("\ufffd" in n for n in names)
    assert all(label.isprintable() for label in labels)  # the chart draws no control byte as nothing
    assert token_label(joke_model, joke_model.tokenizer.encode("é")[0]) == "\\xc3"
    assert token_label(joke_model, joke_model.tokenizer.encode("\x01")[0]) == "\\x01"


def test_a_picked_token_and_its_alternatives_are_named_as_the_chart_names_them(writer, joke_model):
    view = TokenView(Models({"joke-lstm": joke_model}))
    versions = list(writer.write("Knock knock.", 0.8, 0, 1.0, 20, "11"))[-1][3]
    byte = joke_model.tokenizer.encode("é")[0]  # b"\xc3", half of a character
    versions = view.branch(versions, 2, byte)[2]
    choices, index, info = view.pick(versions, gr.SelectData(None, {"index": 3, "value": None}))  # the prompt is 0
    assert index == 2 and info.startswith("Token 3, `\\xc3`: drawn with probability")
    named = {token: label for label, token in choices["choices"]}
    assert byte not in named and named  # the model's top 5 there, less the token drawn
    assert all(label.startswith(token_label(joke_model, t) + " ") for t, label in named.items())
    assert any("␣" in label for label in named.values())  # words carry their space, shown as in the chart


def test_a_branch_costs_no_steps_on_the_tokens_before_it(writer, joke_model, monkeypatch):
    view = TokenView(Models({"joke-lstm": joke_model}))
    versions = list(writer.write("Knock knock.", 0.8, 0, 1.0, 60, "11"))[-1][3]  # the page's Generate
    first = versions[0].steps
    assert len(first) > 8
    p = len(first) - 3
    alternative = next(a["id"] for a in token_records(joke_model, [first[p]])[0]["alternatives"]
                       if a["id"] != first[p].token)
    stepped = []
    real_step = joke_model.step
    monkeypatch.setattr(joke_model, "step", lambda token, state: (stepped.append(token), real_step(token, state))[1])
    monkeypatch.setattr(joke_model, "forward", lambda *args: pytest.fail("a branch must not re-read the prompt"))

    branched = view.branch(versions, p, alternative)[2][-1]

    assert branched.steps[:p] == first[:p] and branched.steps[p].token == alternative
    # one LSTM step per token written from the branch point on, none for the p tokens before it
    assert stepped == [step.token for step in branched.steps[p:]]
    monkeypatch.undo()
    back = view.back(view.branch(versions, p, alternative)[2])
    assert back[1] == versions[0].text and back[2] == versions


def test_rank_buckets():
    assert [rank_bucket(r) for r in (1, 2, 10, 11, 100, 101, 5000)] == [
        "top 1", "top 10", "top 10", "top 100", "top 100", "beyond 100", "beyond 100"]


# ---- temperatures side by side ------------------------------------------------------------------

def test_lanes_write_what_generate_writes_at_each_temperature(writer, joke_model):
    lanes = TemperatureLanes(Models({"joke-lstm": joke_model}), writer.checked)
    updates = list(lanes.write("Knock knock.", "0, 0.7, 1.3", 0, 1.0, 25, "42"))
    assert len(updates) > 3, "the lanes stream"
    *shown, seed_used = updates[-1]
    assert seed_used == "42" and shown[3]["visible"] is False
    for lane, temperature in zip(shown, (0.0, 0.7, 1.3)):
        assert lane["value"] == list(writer.generate("Knock knock.", temperature, 0, 1.0, 25, 42))[-1]
        mean = float(lane["label"].rsplit(" ", 1)[1])
        assert lane["label"].startswith(f"T = {temperature:g}:") and mean < 0
    greedy, hot = (float(lane["label"].rsplit(" ", 1)[1]) for lane in (shown[0], shown[2]))
    assert greedy > hot, "the greedy lane is the likelier text"


@pytest.mark.parametrize("text, message", [("", "1 to 4"), ("0, 1, 2, 1, 0", "1 to 4"), ("hot", "numbers"),
                                           ("0.5, 3", "above its maximum")])
def test_bad_temperatures_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_temperatures(text)


# ---- cells --------------------------------------------------------------------------------------

def test_features_mark_the_right_tokens():
    tokens = ["He", " said", ' "', "hi", '"', " (", "no", ")", "?", " Yes"]
    assert FEATURES["inside quotes"](tokens).tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert FEATURES["inside parentheses"](tokens).tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert FEATURES["after the question mark (the punchline)"](tokens).tolist() == [0] * 9 + [1]
    assert FEATURES["start of a word"](tokens).tolist() == [1, 1, 1, 0, 0, 1, 0, 0, 0, 1]  # after white space


def test_the_cells_most_correlated_with_a_feature_are_ranked_first(joke_model):
    jokes = ['He said "hi there" and left. Why? "Because" he could.', 'A "quote" here?', "No quotes at all."]
    ranked = cell_correlations(joke_model, jokes)
    assert set(ranked) == set(FEATURES) and all(len(cells) <= 5 for cells in ranked.values())
    # every cell's correlation with the feature, recomputed here with numpy: the five strongest, in order
    tokens, h = zip(*(activations(joke_model, joke) for joke in jokes))
    h = np.concatenate(h)
    feature = np.concatenate([FEATURES["inside quotes"](t) for t in tokens])
    r = np.array([np.corrcoef(h[:, unit], feature)[0, 1] for unit in range(h.shape[1])])
    strongest = np.argsort(-np.abs(r))[:5]
    assert [unit for unit, _ in ranked["inside quotes"]] == strongest.tolist()
    assert [value for _, value in ranked["inside quotes"]] == pytest.approx(r[strongest], abs=1e-3)


def test_the_cells_are_shown_over_whole_characters_not_bytes(joke_model):
    text = "Ha 😂 語!"
    ids = joke_model.tokenizer.encode(text)
    shown, h = readable_activations(joke_model, text)
    assert "".join(shown) == text and len(shown) < len(ids)  # the emoji and 語 are several byte tokens each
    # each character carries the state after its last byte
    _, raw = activations(joke_model, text)
    token_ends = np.cumsum([len(joke_model.tokenizer.token_bytes(t)) for t in ids]).tolist()
    rows = [token_ends.index(end) for end in np.cumsum([len(piece.encode()) for piece in shown])]
    assert np.array_equal(h, raw[rows])
    shown, _ = readable_activations(joke_model, "a\ud800b")  # not UTF-8 at all: replaced, not dropped
    assert shown[0] == "a" and shown[-1].endswith("b") and "�" in "".join(shown)


def test_the_cell_viewer_shows_a_cell_over_the_text(joke_model):
    viewer = CellViewer(Models({"joke-lstm": joke_model}), {"inside quotes": [(3, 0.7)], "x": [(5, -0.2)]})
    assert viewer.choices()[0] == ("cell 3: inside quotes (r = +0.70)", 3)
    # a cell ranked for two features is one choice naming both (the dropdown tells choices apart by value)
    twice = CellViewer(Models({"joke-lstm": joke_model}), {"a": [(3, 0.7), (5, 0.2)], "b": [(5, -0.6)]})
    assert twice.choices() == [("cell 3: a (r = +0.70)", 3), ("cell 5: b (r = -0.60); a (r = +0.20)", 5)]
    assert "No cell tracks: x" in viewer.summary()
    shown = viewer.show("Knock knock.", 3)
    assert "".join(token for token, _ in shown) == "Knock knock." and all(-1 <= v <= 1 for _, v in shown)
    assert viewer.show("", 3) is None
    with pytest.raises(gr.Error):
        viewer.show("Knock knock.", 99_999)


def test_a_tiny_probability_reads_as_under_a_tenth_of_a_percent_not_zero():
    assert (percent(0.25), percent(0.0005), percent(0.0004), percent(0.0)) == ("25.0%", "0.1%", "<0.1%", "<0.1%")
