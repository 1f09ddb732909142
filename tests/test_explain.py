"""Row by row: decision rows, what a reader has read, row saliency in one batch, and the page's handlers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from src import explain
from src.digits import DigitRNN
from src.ui import Models
from src.ui.explain_section import READERS, RowExplainer
from tests.conftest import tiny_model


@pytest.fixture(scope="module")
def digits() -> tuple[DigitRNN, DigitRNN]:
    return tiny_model("digit-lstm").eval(), tiny_model("digit-bilstm").eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((28, 28)) > 0.7).astype(np.float32)


def test_decision_row_is_where_the_top_class_becomes_final():
    def beliefs(tops: list[int]) -> np.ndarray:
        return np.eye(10)[tops]
    assert explain.decision_row(beliefs([3] * 28)) == 1
    assert explain.decision_row(beliefs([1] * 10 + [7] * 18)) == 11
    assert explain.decision_row(beliefs([7] * 5 + [1] * 5 + [7] * 18)) == 11, "a change of mind resets it"
    assert explain.decision_row(beliefs([7] * 27 + [2])) == 28


def test_readers_read_in_their_own_order(digits, image):
    lstm, bilstm = digits
    beliefs = explain.reading_order_beliefs(lstm, bilstm, image)
    assert list(beliefs) == list(READERS) and all(b.shape == (28, 10) for b in beliefs.values())
    x = torch.from_numpy(image)[None]
    with torch.no_grad():
        assert np.allclose(beliefs["LSTM"][-1], lstm(x).softmax(-1)[0].numpy(), atol=1e-6)
        # the backward half's belief after one row read is from the bottom row alone
        only_bottom = torch.zeros_like(x)
        only_bottom[0, 27] = x[0, 27]
        assert np.allclose(beliefs["Bi-LSTM backward half"][0],
                           bilstm.row_by_row(only_bottom)["backward"][0, 27].numpy(), atol=1e-6)
    top = explain.rows_read(image, 3)
    bottom = explain.rows_read(image, 3, bottom_up=True)
    assert np.array_equal(top[:3], image[:3]) and not top[3:].any()
    assert np.array_equal(bottom[25:], image[25:]) and not bottom[:25].any()
    assert not explain.rows_read(image, 0).any()


def test_a_rows_band_is_it_and_its_neighbours_within_the_image():
    assert list(explain.band(14)) == [13, 14, 15] and explain.band_name(14) == "rows 13-15"
    assert list(explain.band(1)) == [1, 2] and list(explain.band(28)) == [27, 28]
    erased = explain.without_band(np.ones((28, 28), dtype=np.float32), 14)
    assert (erased.sum(1) == 0).nonzero()[0].tolist() == [12, 13, 14]


def test_row_saliency_in_one_batch_equals_blanking_each_band_alone(digits, image):
    for model in digits:
        found = explain.row_saliency(model, image)
        with torch.no_grad():
            full = model(torch.from_numpy(image)[None]).softmax(-1)[0]
            assert found["predicted"] == int(full.argmax())
            for row in (1, 14, 28):
                alone = model(torch.from_numpy(explain.without_band(image, row))[None]).softmax(-1)[0]
                top = found["predicted"]
                assert found["drop"][row - 1] == pytest.approx(float(full[top] - alone[top]), abs=1e-6)
                assert found["predicted_without_band"][row - 1] == int(alone.argmax())


def test_a_decision_after_one_row_reads_one_row(digits, image):
    """A reader whose top digit never changes decided after 1 row, not '1 rows'."""
    handlers = RowExplainer(Models({"digit-lstm": digits[0], "digit-bilstm": digits[1]}))
    steady, changing = np.tile(np.eye(10)[3], (28, 1)), np.tile(np.eye(10)[3], (28, 1))
    changing[:5] = np.eye(10)[8]
    beliefs = {reader: steady if i == 0 else changing for i, reader in enumerate(READERS)}
    said = handlers.scrub(image, 5, beliefs)[-1]
    assert f"{READERS[0]}: after **1** row ·" in said and f"{READERS[1]}: after **6** rows" in said, said


def test_the_handlers_show_nothing_without_a_digit_and_everything_with_one(digits, image):
    handlers = RowExplainer(Models({"digit-lstm": digits[0], "digit-bilstm": digits[1]}))
    assert handlers.scrub(None, 5)[-1] == "" and handlers.erase(None, 3) == (None, "")
    assert (handlers.saliency(None)["drop"] == 0).all()
    shown = handlers.scrub(image, 5)
    assert len(shown) == 2 * len(READERS) + 1 and "Decision row" in shown[-1]
    assert all(len(belief) == 10 for belief in shown[1:-1:2])
    assert handlers.scrub(image, 0)[1] is None, "no belief before any row is read"
    erased, said = handlers.erase(image, 7)
    assert erased.shape == (112, 112) and said.startswith("Without rows 6-8:")
    shown = handlers.saliency(image)
    assert len(shown) == 56
    for model, title in zip(digits, ("LSTM", "Bi-LSTM")):
        drops = shown[shown["model"] == title]["drop"].to_numpy()
        assert np.array_equal(drops, explain.row_saliency(model, image)["drop"].round(4)) and drops.any()


def test_the_eraser_starts_at_the_row_that_costs_the_bilstm_most(digits, image):
    handlers = RowExplainer(Models({"digit-lstm": digits[0], "digit-bilstm": digits[1]}))
    assert handlers.first_erased(None) == (14, None, "")
    drops = explain.row_saliency(digits[1], image)["drop"]
    row, erased, said = handlers.first_erased(image)
    assert drops[row - 1] == drops.max() and drops.max() > np.sort(drops)[-2], "one row stands out here"
    assert said.startswith(f"Without {explain.band_name(row)}, the rows the Bi-LSTM misses most:")
    assert np.array_equal(erased, handlers.erase(image, row)[0])
