"""Shaping the joke's stream (src.streaming): whole words, paced for people, thinned for programs."""
from __future__ import annotations

import pytest

from src import streaming
from src.streaming import paced, thinned, word_by_word


def test_updates_come_at_word_ends():
    assert list(word_by_word("Hi", ["!", " a", "b", " c", "\n", "d"])) == ["Hi!", "Hi! ab", "Hi! ab c", "Hi! ab c\nd"]
    assert list(word_by_word("Hi ", ["yo", " !"])) == ["Hi yo", "Hi yo !"]
    assert list(word_by_word("Hi", [])) == ["Hi"]


def test_paced_keeps_every_item_in_order():
    assert list(paced(range(5), 0.001)) == [0, 1, 2, 3, 4]


def test_paced_waits_only_what_the_interval_still_needs(monkeypatch):
    class Clock:  # a clock that moves only when slept on or when the producer works
        now = 100.0

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            assert seconds >= 0
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(streaming, "time", clock)

    def produced(costs: list[float]):
        for i, cost in enumerate(costs):
            clock.now += cost  # the work of making item i
            yield i

    times = [clock.now for _ in paced(produced([0.25, 0.25, 1.5, 0.25]), interval=1.0)]
    # the first at once; then one second apart, unless making an item took longer than that
    assert times == pytest.approx([100.25, 101.25, 102.75, 103.75])


def test_thinned_passes_the_first_few_then_ever_fewer_and_always_the_last():
    assert list(thinned(range(1, 4))) == [1, 2, 3]
    out = list(thinned(range(1, 201)))
    assert out[:5] == [1, 2, 3, 4, 5] and out[-1] == 200 and len(out) == 21
    assert all(b - a >= 0.25 * a for a, b in zip(out, out[1:-1])), "each adds a quarter of what was passed on"
    assert list(thinned([])) == []
