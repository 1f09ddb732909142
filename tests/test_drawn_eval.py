"""bench.drawn_eval's options (a steady pen, any checkpoint folders by name, an earlier commit's pipeline) and
bench.drawn_ceiling's convolutional reference."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import torch

from bench.drawn_ceiling import ConvReader, train_reference
from bench.drawn_ceiling import main as drawn_ceiling
from bench.drawn_eval import ROOT, app_preprocess, evaluate, from_git, random_pen, table
from src.digits import DigitRNN
from src.hub import bundled_folder, load_folder
from src.strokes import Pen, draw
from tests.conftest import tiny_model

ISSUE_TIME = "edb77fe"  # the commit whose models issue 10 measured


def test_a_steady_pen_draws_at_the_same_size_and_place_without_slant_tilt_or_wobble():
    for seed in range(5):
        wobbly = random_pen(np.random.default_rng(seed), 22, (0.45, 0.70), transparent=False)
        steady = random_pen(np.random.default_rng(seed), 22, (0.45, 0.70), transparent=False, steady=True)
        assert (steady.size, steady.centre) == (wobbly.size, wobbly.centre)
        assert steady.slant == steady.rotate == steady.jitter == 0
        assert wobbly.slant != 0 and wobbly.jitter != 0


@pytest.mark.data
def test_the_table_has_a_column_per_named_model():
    models = {"first": tiny_model("digit-lstm", seed=1), "second": tiny_model("digit-bilstm", seed=2)}
    rows, results = evaluate(models, n=10, seed=0, widths=(22,), sizes=((0.45, 0.70),), photos=False)
    text = table(rows, results, 10, sizes=((0.45, 0.70),))
    assert text.splitlines()[0] == "| pen width | first 45%-70% | second 45%-70% |"
    assert text.splitlines()[2].startswith("| 22 px | ")
    assert re.fullmatch(r"\d+\.\d%", text.splitlines()[2].split(" | ")[1])
    # a table of thousands of drawings per cell gives a second decimal
    many = table(rows, results, 5000, sizes=((0.45, 0.70),))
    assert re.fullmatch(r"\d+\.\d\d%", many.splitlines()[2].split(" | ")[1])


def _has_commit(rev: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_commit(ISSUE_TIME), reason=f"needs a clone holding commit {ISSUE_TIME}")
def test_an_earlier_commit_is_measured_with_its_own_checkpoints_and_preprocessing():
    models, preprocess = from_git(ISSUE_TIME)
    assert list(models) == [f"digit-bilstm@{ISSUE_TIME}", f"digit-lstm@{ISSUE_TIME}"]
    then, now = models[f"digit-bilstm@{ISSUE_TIME}"], load_folder(DigitRNN, bundled_folder("digit-bilstm"))
    assert then.lstm.bidirectional and not torch.equal(then.lstm.weight_hh_l0, now.lstm.weight_hh_l0)
    # An L drawn with a 44 px pen: that commit fitted the ink as drawn, today's preprocessing first thins the
    # strokes to MNIST's width, so the old 28x28 input holds much more ink.
    drawing = draw([np.array([[0.0, 0.0], [0.0, 100.0], [60.0, 100.0]])], Pen(width=44, size=0.6))
    assert preprocess(drawing).sum() > 1.5 * app_preprocess(drawing).sum()


@pytest.mark.data
def test_the_convolutional_reference_learns_by_the_digit_recipe_and_joins_the_table(capsys):
    reader, accuracy = train_reference(epochs=3, limit=1000, progress=False)
    assert isinstance(reader, ConvReader) and not reader.training
    assert accuracy > 0.5  # 1,000 digits, 3 epochs (24 steps): far from chance (0.1), so it did learn

    drawn_ceiling(["--limit", "200", "--epochs", "1", "--n", "10"])
    out = capsys.readouterr().out
    lines = out[out.index("| pen width"):].splitlines()  # after the training's progress lines
    assert lines[0] == "| pen width | conv 45%-70% | bilstm 45%-70% | lstm 45%-70% |"
    assert [line.split(" | ")[0] for line in lines[2:4]] == ["| 12 px", "| 22 px"]
    assert lines[-1].startswith("The convolutional reader on MNIST test as stored, after training: ")
