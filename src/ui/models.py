"""The loaded models as the handlers reach them, and how a handler refuses a request."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr

log = logging.getLogger(__name__)


def refusal(message: str, on_page: bool = True) -> gr.Error:
    """A gr.Error for a request the app refuses: the message reaches the page (unless not `on_page`) or the
    client, and the server logs it as one line instead of gradio's traceback (an expected answer, not a fault)."""
    log.info("refused: %s", message)
    return gr.Error(message, print_exception=False, visible=on_page)


@contextmanager
def refusing() -> Iterator[None]:
    """Inside it, a ValueError (how the checks of src.limits and src.preprocess reject input) is a refusal."""
    try:
        yield
    except gr.Error:
        raise  # already a refusal (gr.Error is a ValueError too, whose str() would quote the message)
    except ValueError as error:
        raise refusal(str(error)) from None


class Models:
    """The loaded models by name, and why any that failed to load did."""

    def __init__(self, models: dict, errors: dict[str, str] | None = None):
        self.models, self.errors = models, errors or {}

    def get(self, name: str):
        """The model `name`; a refusal naming the reason when it did not load."""
        if name not in self.models:
            raise refusal(f"The {name} model is unavailable: {self.errors.get(name, 'not loaded')}")
        return self.models[name]

    def metrics(self, name: str) -> dict:
        """The model's metrics.json ({} when the model or its metrics are missing)."""
        model = self.models.get(name)
        return (getattr(model, "metrics", None) or {}) if model is not None else {}
