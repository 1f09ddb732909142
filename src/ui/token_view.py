"""The Generate tab's look inside a joke: its tokens coloured by how likely the model found each (GLTR's rank
buckets), a chosen token's probability and the model's top alternatives there, and branching: write on from
one of those alternatives with the same settings. Each token keeps the LSTM state it was drawn from, so a
branch costs only its new tokens; a branch can be branched again, and Back returns to the version before.
Handlers and layout; the tab shows the joke its Generate button wrote as the first version."""
from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from src import predict
from src.sampling import Sampled, decoded
from src.ui.models import Models
from src.ui.widgets import PRIVATE

COLORS = {"top 1": "#86efac", "top 10": "#fde68a", "top 100": "#fdba74", "beyond 100": "#fca5a5"}
HINT = ("Each token is coloured by its rank in the model's own distribution (T = 1) when it was drawn. Click one "
        "to see its probability and the model's top 5 there; pick one and Branch to write on from it.")


def percent(p: float) -> str:
    """A probability as a percentage, "<0.1%" rather than a misleading "0.0%" for a small one."""
    return f"{p:.1%}" if p >= 0.0005 else "<0.1%"


@dataclass
class Version:
    """One version of a joke: its prompt, the tokens written, and the settings that wrote them."""

    prompt: str
    steps: list[Sampled]
    settings: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.prompt + "".join(decoded(iter(self.steps)))


class TokenView:
    """The handlers: show a version's tokens, a picked token's alternatives, branch, and go back."""

    def __init__(self, models: Models):
        self.models = models

    def highlighted(self, version: Version) -> list[tuple[str, str | None]]:
        """The prompt (uncoloured), then each token with its rank bucket."""
        return [(version.prompt, None), *predict.ranked_tokens(self.models.get("joke-lstm"), version.steps)]

    def show(self, versions: list[Version]) -> tuple:
        """The latest version: tokens, text, the versions, no token picked, Back enabled if there is one."""
        version = versions[-1]
        return (self.highlighted(version), version.text, versions, gr.update(choices=[], value=None), None,
                "", gr.update(interactive=len(versions) > 1))

    def pick(self, versions: list[Version], event: gr.SelectData) -> tuple:
        """A click on a token: its probabilities and rank, and the model's top 5 there as choices."""
        index = event.index - 1  # the prompt comes first
        if not versions or not 0 <= index < len(versions[-1].steps):
            return gr.update(choices=[], value=None), None, "Click one of the joke's tokens (not the prompt)."
        model = self.models.get("joke-lstm")
        record = predict.token_records(model, [versions[-1].steps[index]])[0]
        # Named as the next-token chart names them: white space made visible, a lone byte by its escape.
        choices = [(f"{predict.token_label(model, a['id'])} {percent(a['probability'])}", a["id"])
                   for a in record["alternatives"] if a["id"] != record["id"]]
        info = (f"Token {index + 1}, `{predict.token_label(model, record['id'])}`: drawn with probability "
                f"{percent(record['probability'])} "
                f"(the model's own: {percent(record['model_probability'])}, rank {record['rank']}).")
        return gr.update(choices=choices, value=choices[0][1] if choices else None), index, info

    def branch(self, versions: list[Version], index: int | None, token: int | None) -> tuple:
        """A new version: the tokens before `index` kept, `token` in its place, then sampled on."""
        if not versions or index is None or token is None:
            # A hint, not a refusal: an error would cover the joke and the tokens with gradio's error badges.
            gr.Warning("Click a token of the joke and pick an alternative first.")
            return (gr.skip(),) * 7
        old = versions[-1]
        model = self.models.get("joke-lstm")
        steps = old.steps[:index] + list(model.sample(old.prompt, **old.settings,
                                                      branch=(old.steps[index], int(token))))
        return self.show([*versions, Version(old.prompt, steps, old.settings)])

    def back(self, versions: list[Version]) -> tuple:
        """The version before the last branch."""
        return self.show(versions[:-1] if len(versions) > 1 else versions)


def token_view(models: Models, joke: gr.Textbox) -> tuple[TokenView, list]:
    """Build the view in the current layout and wire its controls; returns the handlers and the outputs
    their `show` fills (the coloured tokens first, the tab's `joke` text box second), for the tab to fill
    after each joke."""
    view = TokenView(models)
    tokens = gr.HighlightedText(label="The joke's tokens, by the model's rank", color_map=COLORS, show_legend=True,
                                combine_adjacent=False, elem_id="joke-tokens")
    gr.Markdown(HINT)
    info = gr.Markdown(elem_id="token-info")
    with gr.Row():
        alternatives = gr.Radio([], label="The model's top 5 there", scale=3, elem_id="token-alternatives")
        with gr.Column(scale=1, min_width=140):
            branch = gr.Button("Branch from it", elem_id="branch")
            back = gr.Button("Back", interactive=False, elem_id="branch-back")
    versions, picked = gr.State([]), gr.State(None)
    outputs = [tokens, joke, versions, alternatives, picked, info, back]
    tokens.select(view.pick, [versions], [alternatives, picked, info], **PRIVATE)
    branch.click(view.branch, [versions, picked, alternatives], outputs, api_visibility="private")
    back.click(view.back, [versions], outputs, api_visibility="private")
    return view, outputs
