"""Public endpoints' docstrings, which gradio reads for the API page and the MCP tools' descriptions."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def documented(*returns: str, args: str = "") -> Callable[[F], F]:
    """Ends an endpoint's docstring with `args` (an "Args:" section that several endpoints share) and a
    "Returns:" section of one line per returned value. gradio reads that section line by line (an MCP tool's
    description joins the lines with ", "), so a value described over two source lines would read as two."""
    def document(fn: F) -> F:
        shared = f"\n\n{args}" if args else ""
        fn.__doc__ = f"{inspect.cleandoc(fn.__doc__)}{shared}\nReturns:\n" + "\n".join(f"    {r}" for r in returns)
        return fn
    return document
