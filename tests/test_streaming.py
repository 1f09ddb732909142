"""Shaping the joke's stream (src.streaming): whole words, paced for people, thinned for programs."""
from __future__ import annotations

from src.streaming import paced, thinned, word_by_word


def test_updates_come_at_word_ends():
    assert list(word_by_word("Hi", ["!", " a", "b", " c", "\n", "d"])) == ["Hi!", "Hi! ab", "Hi! ab c", "Hi! ab c\nd"]
    assert list(word_by_word("Hi ", ["yo", " !"])) == ["Hi yo", "Hi yo !"]
    assert list(word_by_word("Hi", [])) == ["Hi"]


def test_paced_keeps_every_item_in_order():
    assert list(paced(range(5), 0.001)) == [0, 1, 2, 3, 4]


def test_thinned_passes_the_first_few_then_ever_fewer_and_always_the_last():
    assert list(thinned(range(1, 4))) == [1, 2, 3]
    out = list(thinned(range(1, 201)))
    assert out[:5] == [1, 2, 3, 4, 5] and out[-1] == 200 and len(out) == 21
    assert all(b - a >= 0.25 * a for a, b in zip(out, out[1:-1])), "each adds a quarter of what was passed on"
    assert list(thinned([])) == []
