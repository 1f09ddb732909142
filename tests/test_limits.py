"""What the app accepts for a joke (src.limits): seeds and the generation settings' ranges."""
from __future__ import annotations

import pytest

from src import limits
from src.limits import checked, checked_prompt, pick_seed


@pytest.mark.parametrize("typed, expected", [("42", 42), (" 7 ", 7), (12, 12), (3.0, 3), ("0", 0),
                                             (str(2**63 - 1), 2**63 - 1)])
def test_pick_seed_takes_the_seed_asked_for(typed, expected):
    assert pick_seed(typed) == expected


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_pick_seed_draws_a_fresh_seed_when_none_is_given(empty):
    seeds = {pick_seed(empty) for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= seed < 2**31 for seed in seeds)


@pytest.mark.parametrize("typed, message", [("abc", "whole number"), ("1.5", "whole number"), (1.5, "whole number"),
                                            ("-1", "minimum"), (str(2**63), "maximum"), (True, "whole number")])
def test_pick_seed_refuses_what_is_not_a_seed(typed, message):
    with pytest.raises(ValueError, match=message):
        pick_seed(typed)


@pytest.mark.parametrize("name, value, message", [
    ("max_words", 0, "minimum"), ("max_words", 301, "maximum"), ("max_words", 2.5, "whole number"),
    ("top_k", 2.5, "whole number"), ("top_p", 0.0, "minimum"), ("temperature", 2.01, "maximum"),
    ("temperature", float("nan"), "a number"), ("temperature", float("inf"), "a number"),
    ("temperature", "hot", "a number"), ("temperature", None, "a number"), ("top_k", True, "whole number"),
])
def test_settings_outside_their_limits_are_refused(name, value, message):
    with pytest.raises(ValueError, match=f"{name}.*{message}"):
        checked(name, value)


def test_settings_inside_their_limits_pass_as_their_type():
    assert checked("max_words", 300.0) == 300 and isinstance(checked("max_words", 300.0), int)
    assert checked("temperature", 0) == 0.0 and isinstance(checked("temperature", 0), float)
    for name, limit in limits.LIMITS.items():
        assert checked(name, limit.minimum) == limit.minimum and checked(name, limit.maximum) == limit.maximum


def test_the_prompt_is_text_up_to_its_limit():
    assert checked_prompt(None) == "" and checked_prompt("x" * 2000) == "x" * 2000
    with pytest.raises(ValueError, match="limit is 2,000"):
        checked_prompt("x" * 2001)
    with pytest.raises(ValueError, match="must be text"):
        checked_prompt(42)
