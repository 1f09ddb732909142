"""The whole app: the tabs assembled into one gr.Blocks, and the launch options that go with it."""
from __future__ import annotations

import gradio as gr

from src.ui.compare_tab import compare_tab
from src.ui.generate_tab import generate_tab
from src.ui.models import Models
from src.ui.sketch_tab import sketch_tab
from src.ui.widgets import CSS, PAGE_JS

INTRO = ("# LSTM vs Bi-LSTM\nAn LSTM that writes jokes, two row-reading classifiers (LSTM and Bi-LSTM) that "
         "recognise the digit you draw, and a Bi-LSTM that fills a blank in a joke from both sides.")


def build_demo(models: Models) -> gr.Blocks:
    """The app over the loaded models: Generate, Sketch, and LSTM vs Bi-LSTM."""
    with gr.Blocks(title="LSTM vs Bi-LSTM") as demo:
        gr.Markdown(INTRO)
        generate_tab(models)
        sketch_tab(models)
        compare_tab(models)
    return demo


def launch_options() -> dict:
    """Theme, CSS and JS (which gradio 6 takes in launch()) and the upload limit."""
    return {"theme": gr.themes.Soft(), "css": CSS, "js": PAGE_JS, "max_file_size": "25mb"}
