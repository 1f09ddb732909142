"""The Gradio app: `build_demo(models)` makes one gr.Blocks of three tabs, each in its own module with its
handlers (plain methods over src.predict that tests call in-process), layout and events.

Only /generate, /classify, /compare and /fill_blank are public API endpoints (and MCP tools); the live sketch, chart
and paced page events are private to the page.
"""
from src.ui.app import build_demo, launch_options
from src.ui.models import Models

__all__ = ["Models", "build_demo", "launch_options"]
