"""Shaping a stream of growing text: whole words, paced for people, thinned for programs."""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def word_by_word(prompt: str, pieces: Iterable[str]) -> Iterator[str]:
    """The prompt plus the pieces so far, each time a word is complete (a piece that starts with white space
    starts a new word): whole words, and fewer updates than one per piece (a word is 1.5 pieces on average)."""
    text = shown = prompt  # the bare prompt is no update
    for piece in pieces:
        if piece[:1].isspace() and text != shown:
            shown = text
            yield text
        text += piece
    if text != shown or shown == prompt:  # the last word, or the prompt alone when nothing was written
        yield text


def paced(items: Iterable[T], interval: float) -> Iterator[T]:
    """`items`, at most one per `interval` seconds."""
    last = 0.0
    for item in items:
        time.sleep(max(0.0, last + interval - time.monotonic()))
        last = time.monotonic()
        yield item


def thinned(updates: Iterable[T], share: float = 0.25) -> Iterator[T]:
    """Some of a stream's updates, for programs: each that adds at least `share` of the updates passed on so
    far (all of the first few, then ever fewer), and always the last. 200 updates become 21, each passed on as
    soon as it comes: a client handles 21 messages instead of 200."""
    passed, held = 0, None
    for count, update in enumerate(updates, 1):
        held = update
        if count - passed >= share * passed:
            passed, held = count, None
            yield update
    if held is not None:
        yield held
