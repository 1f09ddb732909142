"""What the app accepts for a joke: each generation setting's range in one table, and the one check of a
request against it (the sliders take their ranges from the same table).

Values arrive as JSON from any client, so the check expects anything: text, None, NaN, booleans.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

MAX_PROMPT_CHARS = 2000


@dataclass(frozen=True)
class Limit:
    """The values one setting takes: minimum..maximum (both allowed), whole numbers only when `whole`."""

    minimum: float
    maximum: float
    step: float  # the slider's step; only `whole` is enforced
    whole: bool = False


LIMITS = {
    "temperature": Limit(0, 2, 0.05),
    "top_k": Limit(0, 100, 1, whole=True),
    "top_p": Limit(0.01, 1, 0.01),
    "max_words": Limit(1, 300, 1, whole=True),
    "seed": Limit(0, 2**63 - 1, 1, whole=True),
}


def checked(name: str, value: object) -> float | int:
    """`value` as the number setting `name` takes (an int for whole-number settings); ValueError saying
    what is allowed otherwise. Out-of-range values are refused, never clamped."""
    limit = LIMITS[name]
    kind = "a whole number" if limit.whole else "a number"
    allowed = f"{kind} from {_shown(limit.minimum)} to {_shown(limit.maximum)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be {allowed}; got {value!r}.")
    if value < limit.minimum:
        raise ValueError(f"{name} {_shown(value)} is below its minimum ({allowed}).")
    if value > limit.maximum:
        raise ValueError(f"{name} {_shown(value)} is above its maximum ({allowed}; refused, not clamped).")
    if limit.whole and value != int(value):
        raise ValueError(f"{name} must be {allowed}; got {_shown(value)}.")
    return int(value) if limit.whole else float(value)


def _shown(number: float) -> str:
    """A number as people read it: whole numbers exactly (a seed has 19 digits), others short."""
    return str(number) if isinstance(number, int) else f"{number:g}"


def checked_prompt(prompt: object) -> str:
    """The prompt as text ("" for None); ValueError when it is not text or too long."""
    if prompt is None:
        return ""
    if not isinstance(prompt, str):
        raise ValueError(f"The prompt must be text; got {type(prompt).__name__} {prompt!r:.40}.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"The prompt is {len(prompt):,} characters long; the limit is {MAX_PROMPT_CHARS:,}.")
    return prompt


def pick_seed(seed: str | float | None) -> int:
    """The seed asked for (a number, or digits typed in a box), or a fresh random one when there is none."""
    if seed is None or (isinstance(seed, str) and seed.strip() == ""):
        return random.randrange(2**31)
    if isinstance(seed, str):
        try:
            seed = int(seed.strip())
        except ValueError:
            raise ValueError(f"The seed must be a whole number (or empty for a random one); got {seed!r}.") from None
    return checked("seed", seed)
