"""The public API through gradio_client against the real app on loopback, bad input included."""
from __future__ import annotations

import re

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from src import data
from src.strokes import canvas_png
from tests.app_server import ROOT

EXAMPLE_DIGIT = ROOT / "examples" / "digit.png"


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def mnist_test():
    return data.mnist_tensors(train=False)


def canvas_export(digit: np.ndarray, tmp_path, name: str, size: int, at: tuple[int, int],
                  transparent: bool) -> str:
    """An MNIST digit redrawn as a canvas export (black ink, 400x400), saved as a PNG file."""
    path = tmp_path / f"{name}.png"
    path.write_bytes(canvas_png(digit, size, at, transparent).getvalue())
    return str(path)


def test_api_lists_only_the_public_endpoints(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
        "/generate", "/generate_tokens", "/classify", "/compare", "/fill_blank", "/explain_digit", "/explain_blank"}


def test_every_return_value_has_a_name(client):
    """An unlabelled output reaches API clients as `value_<component id>`, which says nothing."""
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    names = {f"{endpoint}: {r['label']}" for endpoint, info in endpoints.items() for r in info["returns"]}
    assert not {name for name in names if re.search(r": value_\d+$", name)}, names


def test_the_readme_snippet_image_is_a_seven_for_both_models(client):
    """README's client snippet classifies examples/digit.png (an MNIST test 7 redrawn with the app's brush)."""
    assert client.predict(handle_file(str(EXAMPLE_DIGIT)), api_name="/classify")["label"] == "7"
    lstm, bilstm, facts = client.predict(handle_file(str(EXAMPLE_DIGIT)), api_name="/compare")
    assert lstm["label"] == bilstm["label"] == "7" and facts["agree"] is True


@pytest.mark.data
def test_classify_redrawn_mnist_digits(client, mnist_test, tmp_path):
    images, labels = mnist_test
    rng = np.random.default_rng(0)
    correct = 0
    for i in range(40):
        size = int(rng.integers(120, 380))
        at = (int(rng.integers(0, 401 - size)), int(rng.integers(0, 401 - size)))
        path = canvas_export(images[i].numpy(), tmp_path, f"d{i}", size, at, transparent=bool(i % 2))
        result = client.predict(handle_file(path), api_name="/classify")
        assert {c["label"] for c in result["confidences"]} <= {str(d) for d in range(10)}
        correct += result["label"] == str(int(labels[i]))
    assert correct >= 38


@pytest.mark.data
def test_compare_returns_both_models(client, mnist_test, tmp_path):
    images, labels = mnist_test
    path = canvas_export(images[0].numpy(), tmp_path, "seven", 300, (50, 50), transparent=False)
    lstm, bilstm, facts = client.predict(handle_file(path), api_name="/compare")
    assert lstm["label"] == bilstm["label"] == str(int(labels[0]))
    assert facts["agree"] is True
    assert facts["LSTM"]["latency_ms"] > 0 and facts["Bi-LSTM"]["latency_ms"] > 0


def test_generate_is_repeatable_with_a_seed_and_streams(client):
    args = ("Why did the chicken", 0.9, 0, 1.0, 30, 1234)
    first = client.predict(*args, api_name="/generate")
    assert first.startswith("Why did the chicken") and len(first) > len(args[0]) + 3
    assert client.predict(*args, api_name="/generate") == first
    job = client.submit(*args, api_name="/generate")
    outputs = list(job)
    assert len(outputs) > 2 and outputs[-1] == first
    assert all(b.startswith(a) for a, b in zip(outputs, outputs[1:])), "each update extends the last"


@pytest.mark.parametrize("prompt", ["", "Qwzxv blorptang snerf", "🤖¿Ünïcödé?\n\t", "Knock knock.",
                                    "Why did the chicken "])
def test_any_prompt_produces_a_joke(client, prompt):
    text = client.predict(prompt, 0.8, 0, 0.95, 40, 7, api_name="/generate")
    assert text.startswith(prompt) and len(text[len(prompt):].split()) >= 2
    assert "  " not in text[max(len(prompt) - 1, 0):], "a typed space is the next word's: never two in a row"


def test_top_k_and_top_p_off_and_greedy(client):
    greedy = client.predict("Why", 0, 0, 1.0, 12, 1, api_name="/generate")
    assert greedy == client.predict("Why", 0, 0, 1.0, 12, 2, api_name="/generate")
    # A temperature too small for float32 is greedy too (it was an error: NaN probabilities).
    assert greedy == client.predict("Why", 7.027626294649482e-220, 0, 0.26, 12, 3, api_name="/generate")
    # At T = 1 with top-k 0 and top-p 1.0 (both off) each token is drawn from the model's own distribution...
    tokens = client.predict("Why", 1.0, 0, 1.0, 12, 3, api_name="/generate_tokens")["tokens"]
    assert all(t["probability"] == pytest.approx(t["model_probability"], rel=1e-5) for t in tokens)
    assert any(t["model_probability"] < 0.9 for t in tokens)
    # ...and top-k 1 leaves only the likeliest token, whatever the seed.
    tokens = client.predict("Why", 1.0, 1, 1.0, 12, 3, api_name="/generate_tokens")["tokens"]
    assert all(t["probability"] == pytest.approx(1.0) and t["rank"] == 1 for t in tokens)


@pytest.mark.parametrize("args, message", [
    (("x", -0.5, 0, 1.0, 10, 1), "minimum"),
    (("x", 0.8, 0, 0.0, 10, 1), "minimum"),
    (("x", 0.8, 0, 1.5, 10, 1), "maximum"),
    (("x", 0.8, -3, 1.0, 10, 1), "minimum"),
    (("x", 0.8, 0, 1.0, 10**6, 1), "maximum"),
    (("x", 0.8, 0, 1.0, 0, 1), "minimum"),
    (("x", 0.8, 0, 1.0, 301, 1), "maximum"),
    (("x", 0.8, 0, 1.0, 2.5, 1), "whole number"),
    (("x", 0.8, 2.5, 1.0, 10, 1), "whole number"),
    (("x", "hot", 0, 1.0, 10, 1), "temperature must be a number"),
    (("x", None, 0, 1.0, 10, 1), "temperature must be a number"),
    (("x", 0.8, 0, 1.0, 10, -1), "minimum"),
    (("x", 0.8, 0, 1.0, 10, 2**70), "maximum"),
    (("x", 0.8, 0, 1.0, 10, "abc"), "whole number"),
    ((42, 0.8, 0, 1.0, 10, 1), "must be text"),
    (("x" * 20_000, 0.8, 0, 1.0, 10, 1), "limit is 2,000"),
])
def test_bad_generation_settings_get_a_message(client, app_server, args, message):
    logged = len(app_server.log())
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/generate")
    assert client.predict("ok", 0, 0, 1.0, 3, 1, api_name="/generate").startswith("ok")
    # An expected refusal: one log line with the message, no traceback.
    log = app_server.log()[logged:]
    assert "Traceback" not in log and len([line for line in log.splitlines() if "refused:" in line]) == 1, log


def test_launch_log_has_no_warnings(app_server):
    warnings = [line for line in app_server.log().splitlines() if re.search(r"warn", line, re.I)]
    assert not warnings, "\n".join(warnings)


@pytest.mark.data
def test_bad_images_get_a_message_and_the_server_keeps_serving(client, app_server, tmp_path, mnist_test):
    logged = len(app_server.log())
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not an image")
    white = tmp_path / "white.png"
    Image.new("RGB", (400, 400), "white").save(white)
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (400, 400), (0, 0, 0, 0)).save(clear)
    huge = tmp_path / "huge.png"
    Image.new("L", (12_000, 12_000), 255).save(huge)
    cases = {not_image: "not a usable image", white: "blank", clear: "blank", huge: "too large"}
    for path, message in cases.items():
        for endpoint in ("/classify", "/compare"):
            with pytest.raises(AppError, match=message):
                client.predict(handle_file(str(path)), api_name=endpoint)
    images, labels = mnist_test
    good = canvas_export(images[1].numpy(), tmp_path, "two", 300, (40, 40), transparent=True)
    assert client.predict(handle_file(good), api_name="/classify")["label"] == str(int(labels[1]))
    assert "Traceback" not in app_server.log()[logged:]


@pytest.mark.parametrize("endpoint", ["/classify", "/compare", "/explain_digit"])
def test_no_image_gets_a_message(client, endpoint):
    """The page keeps this refusal to itself (gradio can send an upload's event without its file when Clear
    comes right after the upload), but a client still gets it."""
    with pytest.raises(AppError, match="No image was given"):
        client.predict(None, api_name=endpoint)


def test_fill_blank_answers_three_ways_and_the_halves(client):
    *labels, timing = client.predict("Why did the ___ cross the road?", api_name="/fill_blank")
    assert len(labels) == 5
    for label in labels:
        confidences = [c["confidence"] for c in label["confidences"]]
        assert len(confidences) == 5 and confidences == sorted(confidences, reverse=True)
        assert label["label"] == label["confidences"][0]["label"] and label["label"].isalpha()
    lstm_left, rescoring, bilstm = (label["label"] for label in labels[:3])
    assert rescoring == bilstm == "chicken", "both methods that see the right side know this one"
    assert set(timing) == {"LSTM, left only (ms)", "LSTM, rescoring its top 50 (ms)", "Bi-LSTM, both sides (ms)"}


def test_explain_blank_says_which_words_each_answer_leans_on(client):
    text = "Why did the ___ cross the road?"
    found = client.predict(text, api_name="/explain_blank")
    tops = client.predict(text, api_name="/fill_blank")
    for name, label in (("lstm_left", tops[0]), ("bilstm", tops[2])):
        assert found[name]["word"] == label["label"]
        assert "".join(piece for piece, _ in found[name]["pieces"]) == text
    pieces = [piece for piece, _ in found["lstm_left"]["pieces"]]
    right = pieces.index("___") + 1
    assert all(drop is None for _, drop in found["lstm_left"]["pieces"][right:])  # the LSTM never reads them
    bilstm = dict(zip(pieces, (drop for _, drop in found["bilstm"]["pieces"])))
    assert bilstm[" cross"] > 0.3, "the word after the blank holds the Bi-LSTM's chicken up"


@pytest.mark.parametrize("endpoint", ["/fill_blank", "/explain_blank"])
@pytest.mark.parametrize("text, message", [
    ("Why did the chicken cross the road?", "There is no blank"),
    ("Why did the ___ cross the ___?", "There are 2 blanks"),
    ("", "Write a joke with one blank"),
    (None, "Write a joke with one blank"),
    ("Why did the chick___ cross?", "whole word"),
    ("A ___ " + "long " * 300, "limit is 1,000"),
])
def test_bad_blanks_get_a_message_and_the_server_keeps_serving(client, app_server, endpoint, text, message):
    logged = len(app_server.log())
    with pytest.raises(AppError, match=message):
        client.predict(text, api_name=endpoint)
    assert client.predict("Knock ___. Who's there?", api_name="/fill_blank")[2]["label"]
    log = app_server.log()[logged:]
    assert "Traceback" not in log and len([line for line in log.splitlines() if "refused:" in line]) == 1, log


def test_explain_digit_reads_the_readme_image_row_by_row(client):
    found = client.predict(handle_file(str(EXAMPLE_DIGIT)), api_name="/explain_digit")
    readers = found["readers"]
    assert set(readers) == {"LSTM", "Bi-LSTM forward half", "Bi-LSTM backward half"}
    for reader in readers.values():
        beliefs = np.array(reader["beliefs"])
        assert beliefs.shape == (28, 10) and np.allclose(beliefs.sum(1), 1, atol=1e-3)
        assert 1 <= reader["decision_row"] <= 28
    assert np.argmax(readers["LSTM"]["beliefs"][-1]) == 7, "the LSTM's last belief is its answer"
    for saliency in found["row_saliency"].values():
        assert saliency["predicted"] == 7 and len(saliency["drop"]) == len(saliency["predicted_without_band"]) == 28


def test_generate_tokens_is_generates_joke_token_by_token(client):
    args = ("Knock knock.", 0.8, 0, 1.0, 30, 77)
    found = client.predict(*args, api_name="/generate_tokens")
    assert found["text"] == client.predict(*args, api_name="/generate") and found["seed"] == 77
    token = found["tokens"][0]
    assert set(token) == {"token", "id", "probability", "model_probability", "rank", "alternatives"}
    assert len(token["alternatives"]) == 5 and token["rank"] >= 1
    with pytest.raises(AppError, match="maximum"):
        client.predict("x", 0.8, 0, 1.0, 301, 1, api_name="/generate_tokens")
