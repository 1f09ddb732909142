"""Run the LSTM vs Bi-LSTM demo: `python app.py [--host 0.0.0.0] [--port 7860] [--share] [--mcp]`.

On a Hugging Face Space the same file runs unchanged (gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
environment variables are honoured when no flag is given, and GRADIO_MCP_SERVER=True turns the MCP server on
as --mcp does).
"""
from __future__ import annotations

import argparse
import logging
import os

import numpy as np
import torch

from src.cloze import fill_blank
from src.hub import MODELS, load_model
from src.predict import digit_probabilities
from src.ui import Models, build_demo, launch_options
from src.ui.cloze_section import EXAMPLE

log = logging.getLogger("app")


def load_models() -> Models:
    """Load every model once; a model that fails is reported and its tab answers with the reason."""
    models, errors = {}, {}
    for name in MODELS:
        try:
            models[name] = load_model(name)
        except Exception as error:  # the app still serves the other models
            errors[name] = str(error)
            log.error("%s could not be loaded: %s", name, error)
    return Models(models, errors)


def warm_up(models: Models) -> None:
    """Run each loaded model once before serving. PyTorch sets a layer up on its first call (a fresh server's
    first blank took 14 ms from the left, 8 ms after this warm-up), and the latencies the page measures on each
    request would show that set-up to the first visitor as if it were the model's speed."""
    for name in ("digit-lstm", "digit-bilstm"):
        if name in models.models:
            digit_probabilities(models.models[name], np.zeros((28, 28), np.float32))
    if {"joke-lstm", "joke-bilstm"} <= models.models.keys():
        fill_blank(models.models["joke-lstm"], models.models["joke-bilstm"], EXAMPLE)


def main() -> None:
    parser = argparse.ArgumentParser(description="LSTM vs Bi-LSTM demo")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--mcp", action="store_true",
                        help="also serve the public endpoints as MCP tools at /gradio_api/mcp/ (needs gradio[mcp])")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # One request is one small forward pass: a thread each keeps concurrent requests from contending.
    torch.set_num_threads(1)
    models = load_models()
    warm_up(models)
    demo = build_demo(models)
    demo.queue(default_concurrency_limit=4)
    # None leaves the choice to gradio, which reads GRADIO_MCP_SERVER.
    demo.launch(server_name=args.host, server_port=args.port, share=args.share or None,
                mcp_server=args.mcp or None, **launch_options())


if __name__ == "__main__":
    main()
