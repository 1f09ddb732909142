"""The baseline for the benchmark: a bare gradio app with the same /classify signature and no model.

    python bench/bare_app.py --port 7861

It imports torch (as the real app does) but answers every image with a fixed label, so its cold start and
latency are what gradio and the upload path cost on their own.
"""
from __future__ import annotations

import argparse

import gradio as gr
import torch  # noqa: F401  (imported for a like-for-like start-up cost)

FIXED = {str(digit): 0.1 for digit in range(10)}


def classify(image: str | None) -> dict[str, float]:
    return FIXED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7861)
    args = parser.parse_args()
    with gr.Blocks() as demo:
        image = gr.Image(type="filepath")
        label = gr.Label()
        image.upload(classify, [image], [label], api_name="classify", concurrency_limit=8)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name="127.0.0.1", server_port=args.port)


if __name__ == "__main__":
    main()
