"""The shipped checkpoints: complete folders whose recorded metrics hold when re-measured here."""
from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from src import data
from src.hub import MODELS, bundled_folder, checkpoints_dir
from src.cells import cell_correlations, load_cells
from src.checkpoint import read_metrics
from src.cloze import cloze_accuracy, fill_bidirectional, joke_blanks
from src.evaluate import bits_per_char, blank_bits_per_char, digit_accuracy
from src.examples import MAX_EXAMPLE_CHARS, load_blank_jokes
from src.recipes import RECIPES, as_record
from src.sampling import MAX_WORD_CHARS
from tests.checkpoint_fixtures import load_bundled


@pytest.mark.parametrize("name", MODELS)
def test_folder_is_complete_and_small(name):
    folder = bundled_folder(name)
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "metrics.json", "README.md"} <= set(files)
    assert sum(files.values()) <= 20 * 2**20
    card = (folder / "README.md").read_text()
    assert "python -m src.train" in card and "## Measured results" in card


@pytest.mark.parametrize("name", MODELS)
def test_folder_was_trained_by_its_named_recipe(name):
    """README's retraining commands (`python -m src.train NAME`) reproduce the shipped folders: each one's
    recorded recipe is its named recipe's, but for settings added since, which keep their old behaviour."""
    recorded, recipe = read_metrics(bundled_folder(name))["recipe"], RECIPES[name]
    for spec in dataclasses.fields(recipe):
        expected = as_record(recipe)[spec.name]
        if (name, spec.name) == ("joke-bilstm", "init"):
            # trained when its starting LM (recipe joke-lstm-512, trained into runs/ now) was the shipped joke-lstm
            assert (recorded["init"], expected) == ("checkpoints/joke-lstm", "runs/joke-lstm-512")
            assert read_metrics(bundled_folder(name))["init"]["command"].startswith("python -m src.train joke-lstm ")
            assert as_record(RECIPES["joke-lstm-512"])["hidden_size"] == recorded["hidden_size"] == 512
            continue
        assert recorded.get(spec.name, spec.default) == expected, (name, spec.name)


@pytest.mark.data
def test_digit_models_are_accurate_and_match_their_metrics(digit_models):
    images, labels = data.mnist_tensors(train=False)
    for name, model in digit_models.items():
        assert not model.training
        assert model.bidirectional == (name == "digit-bilstm")
        accuracy = digit_accuracy(model, images, labels)
        assert accuracy == pytest.approx(model.metrics["test_accuracy"], abs=2e-4)
        assert accuracy >= 0.99
        assert model.metrics["parameters"] == sum(p.numel() for p in model.parameters())


@pytest.mark.data
def test_joke_model_matches_its_metrics_and_did_not_memorise_the_test_split(joke_model):
    test = data.clean_jokes("test")
    assert len(test) == 162
    assert bits_per_char(joke_model, test) == pytest.approx(joke_model.metrics["test_bpc"], abs=1e-3)
    worst_leak = min(joke_model.nll(j) / math.log(2) / len(j) for j in test)
    assert worst_leak > 0.5


def test_joke_model_writes_clean_text(joke_model):
    jokes = ["".join(joke_model.generate("", seed=s, max_words=60)) for s in range(20)]
    assert all(data.is_clean(j) for j in jokes)
    assert sum(len(j.split()) >= 5 for j in jokes) >= 15


@pytest.mark.data
def test_digit_split_is_the_standard_one():
    _, labels = data.mnist_tensors(train=False)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4] and len(labels) == 10_000
    assert torch.bincount(labels).min() > 850


def test_the_readme_example_writes_no_scraped_junk(joke_model):
    """README's `Knock knock.` example (T 0.8, top-p 1.0) over 200 seeds: no link, no subreddit, no symbol five
    times in a row, and no word near MAX_WORD_CHARS (so that bound never had to cut one)."""
    symbol_run = re.compile(r"([^\w\s])\1{4,}")
    for seed in range(200):
        text = "".join(joke_model.generate("Knock knock.", temperature=0.8, top_p=1.0, max_words=40, seed=seed))
        assert not data.JUNK_RULES["link"].search(text) and "/r/" not in text, (seed, text)
        assert not symbol_run.search(text), (seed, text)
        assert max(map(len, text.split()), default=0) < MAX_WORD_CHARS, (seed, text)


@pytest.mark.data
def test_the_blank_filler_matches_its_metrics_and_shares_the_lms_split(joke_model):
    bilstm = load_bundled("joke-bilstm")
    assert bilstm.tokenizer.tokens == joke_model.tokenizer.tokens
    test = data.clean_jokes("test")
    blanks = [b for joke in test for b in joke_blanks(joke, bilstm.tokenizer)]
    assert len(blanks) == bilstm.metrics["test_blanks"]
    top1, top5 = cloze_accuracy(lambda blank: [t for t, _ in fill_bidirectional(bilstm, blank)["both"]], blanks)
    assert top1 == pytest.approx(bilstm.metrics["test_top1"], abs=1e-4)
    assert top5 == pytest.approx(bilstm.metrics["test_top5"], abs=1e-4)
    assert blank_bits_per_char(bilstm, test) == pytest.approx(bilstm.metrics["test_bpc"], abs=1e-3)
    assert bilstm.metrics["init"]["folder"] == "checkpoints/joke-lstm"


@pytest.mark.data
def test_the_shipped_cell_ranking_is_joke_lstms_on_the_validation_jokes(joke_model):
    shipped = load_cells(checkpoints_dir())
    again = cell_correlations(joke_model, data.clean_jokes("val"))
    assert set(shipped) == set(again)
    for feature, cells in shipped.items():  # the same top cell, and the same correlations to 0.01
        assert cells[0][0] == again[feature][0][0] and cells[0][1] == pytest.approx(again[feature][0][1], abs=0.01)
    strong = {unit for cells in shipped.values() for unit, r in cells if abs(r) >= 0.5}
    assert len(strong) >= 3, shipped


def test_the_random_test_jokes_the_app_shows_are_clean_and_short():
    """The text comparison's "Random test joke" shows these unprompted: none may hold a word stem the
    pretraining filter blocks (cleanjokes' test split has a few), nor scraped junk."""
    jokes = load_blank_jokes()
    assert len(jokes) >= 100
    assert not [joke for joke in jokes if not data.is_clean(joke)]
    assert not [joke for joke in jokes if data.junk_rule(joke) or len(joke) > MAX_EXAMPLE_CHARS]
