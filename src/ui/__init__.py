"""The Gradio app: `build_demo(models)` makes one gr.Blocks of three tabs, each in its own module with its
handlers (plain methods over src.predict, src.cloze and src.explain that tests call in-process), layout and
events; a tab's larger sections (the token view, temperature lanes, cell viewer, row-by-row section and the
text comparison) are modules of their own that the tab builds in its layout.

Only /generate, /generate_tokens, /classify, /compare, /explain_digit, /fill_blank and /explain_blank are public API
endpoints (and MCP tools); the live sketch, chart, branching, lanes, cells and paced page events are private
to the page.
"""
from src.ui.app import build_demo, launch_options
from src.ui.models import Models

__all__ = ["Models", "build_demo", "launch_options"]
