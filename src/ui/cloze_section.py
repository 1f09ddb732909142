"""The text half of the LSTM vs Bi-LSTM tab: a joke with one blank filled three ways (the LSTM from the
left, the LSTM rescoring whole jokes, the Bi-LSTM from both sides) and each Bi-LSTM half alone, and which
words the answers lean on; handlers, layout and events, with /fill_blank and /explain_blank."""
from __future__ import annotations

import random

import gradio as gr

from src.cloze import RESCORE_K, LeansOn, blanked, fill_blank, word_saliency
from src.examples import load_blank_jokes
from src.ui.api_docs import documented
from src.ui.models import Models, refusing
from src.ui.widgets import PRIVATE

EXAMPLE = "Why did the ___ cross the road?"
METHOD_TITLES = {
    "lstm_left": "LSTM, left only",
    "lstm_rescoring": f"LSTM, rescoring its top {RESCORE_K}",
    "bilstm": "Bi-LSTM, both sides",
    "bilstm_forward_half": "Bi-LSTM forward half (left side)",
    "bilstm_backward_half": "Bi-LSTM backward half (right side)",
}
NOTE = (
    "A blank stands for one word. The **LSTM** reads left to right, so on its own it can only guess the next "
    "word from the words before the blank. It can use the right side only by **rescoring**: put each of its "
    f"{RESCORE_K} likeliest words in the blank and rank them by the likelihood of the whole joke, reading the "
    f"right side {RESCORE_K} times. The "
    "**Bi-LSTM** reads the joke both ways at once and predicts the blank from the forward state before it and "
    "the backward state after it; its head is linear in the two, so each half's own guess is shown too.")


class BlankFiller:
    """The text comparison's handlers over the joke LSTM and the blank-filling Bi-LSTM."""

    def __init__(self, models: Models, jokes: list[str], seed: int | None = None):
        self.models, self.jokes, self.rng = models, jokes, random.Random(seed)

    def fill_blank(self, text: str) -> tuple[dict, dict, dict, dict, dict, dict]:
        """Fill the one blank (___) in a short joke three ways: the LSTM from the left only, the LSTM rescoring
        its top 50 words by the whole joke's likelihood, and the Bi-LSTM from both sides in one pass.

        Args:
            text: a joke with exactly one ___ standing for one missing word (up to 1,000 characters)
        Returns:
            the LSTM's top 5 words from the left side only, with probabilities
            the LSTM's top 5 after rescoring its 50 likeliest by whole-joke likelihood
            the Bi-LSTM's top 5 from both sides
            the Bi-LSTM's forward half alone (left side)
            the Bi-LSTM's backward half alone (right side)
            the milliseconds each method took (the Bi-LSTM's one pass gives both halves too)
        """
        lm, bi = self.models.get("joke-lstm"), self.models.get("joke-bilstm")
        with refusing():
            words, ms = fill_blank(lm, bi, text)
        return (*(dict(words[name]) for name in METHOD_TITLES), {f"{METHOD_TITLES[name]} (ms)": ms[name] for name in ms})

    @documented('per method ("lstm_left", "bilstm"): its top word, and the joke\'s pieces (words, punctuation, white '
                "space, the blank) each with the drop in that word's probability when the piece alone is left out "
                "(null for white space, the blank, and the right side, which the LSTM never reads)")
    def explain_blank(self, text: str) -> dict:
        """Which words each answer to a joke's blank leans on: every word and punctuation mark is left out in turn
        and the joke read again by the LSTM (left side only) and the Bi-LSTM (both sides).

        Args:
            text: a joke with exactly one ___ standing for one missing word (up to 1,000 characters)
        """
        return self._numbers(self._saliency(text))

    def leans_on(self, text: str) -> tuple[gr.HighlightedText, gr.HighlightedText, dict]:
        """The page's heat maps of explain_blank, the LSTM's and the Bi-LSTM's: each word and punctuation mark
        coloured by how much leaving it out lowers the method's top word's probability, red for a drop and blue
        for a rise, relative to the piece that moves it most; and explain_blank's numbers."""
        found = self._saliency(text)
        return (heat(METHOD_TITLES["lstm_left"], found["lstm_left"]), heat(METHOD_TITLES["bilstm"], found["bilstm"]),
                self._numbers(found))

    def _saliency(self, text: str) -> dict[str, LeansOn]:
        with refusing():
            return word_saliency(self.models.get("joke-lstm"), self.models.get("joke-bilstm"), text)

    @staticmethod
    def _numbers(found: dict[str, LeansOn]) -> dict:
        return {name: {"word": leans.word, "pieces": [list(piece) for piece in leans.pieces]}
                for name, leans in found.items()}

    def random_blank(self) -> tuple:
        """A random held-out joke with one word blanked, all the methods' answers, and which got the word."""
        lm = self.models.get("joke-lstm")
        found = None
        while found is None:
            found = blanked(self.rng.choice(self.jokes), lm.tokenizer, self.rng)
        text, word = found
        results = self.fill_blank(text)
        verdicts = []
        for name in ("lstm_left", "lstm_rescoring", "bilstm"):
            ranking = list(results[list(METHOD_TITLES).index(name)])
            place = f"✓ its #{ranking.index(word) + 1}" if word in ranking else "✗ not in its top 5"
            verdicts.append(f"{METHOD_TITLES[name]}: {place}")
        return (text, *results, f"The missing word was **{word}**. " + " · ".join(verdicts))


def heat(title: str, leans: LeansOn) -> gr.HighlightedText:
    """A method's LeansOn as a heat map over the joke, scaled to its strongest piece (unscored pieces: 0)."""
    drops = [abs(drop) for _, drop in leans.pieces if drop is not None]
    strongest = max(drops, default=0.0)
    scale = strongest or 1.0
    shades = [(piece, 0.0 if drop is None else round(drop / scale, 3)) for piece, drop in leans.pieces]
    if not drops:  # a blank at the start, for the LSTM: it has read nothing but the start of a joke
        return gr.HighlightedText(shades, label=f"{title}: its top word “{leans.word}” leans on no word "
                                                "(it reads none)")
    label = (f"{title}: what its top word “{leans.word}” leans on (the strongest piece moves its probability by "
             f"{strongest:.2f})")
    return gr.HighlightedText(shades, label=label)


def cloze_section(models: Models) -> None:
    """The text comparison, as a sub-tab of the current layout, with /fill_blank."""
    filler = BlankFiller(models, load_blank_jokes())
    bilstm = models.metrics("joke-bilstm")
    with gr.Tab("Text: fill in the blank", id="compare-text"):
        gr.Markdown(NOTE)
        with gr.Row():
            # One line that grows to four: Enter fills the blank (in a multi-line box it would add a line). No
            # max_length: the box would cut a long paste, blank and all, and answer "no blank"; the check says why.
            text = gr.Textbox(value=EXAMPLE, label="A joke with one blank (___ for one word)", lines=1, max_lines=4,
                              scale=4, elem_id="blank-text")
            with gr.Column(scale=1, min_width=160):
                fill = gr.Button("Fill the blank", variant="primary")
                pick = gr.Button("Random test joke", visible=bool(filler.jokes))
        verdict = gr.Markdown(elem_id="blank-verdict")
        with gr.Row():
            main = [gr.Label(num_top_classes=5, label=METHOD_TITLES[name], elem_id=f"blank-{name}")
                    for name in ("lstm_left", "lstm_rescoring", "bilstm")]
        with gr.Row():
            halves = [gr.Label(num_top_classes=5, label=METHOD_TITLES[name], elem_id=f"blank-{name}")
                      for name in ("bilstm_forward_half", "bilstm_backward_half")]
            timing = gr.JSON(label="This request: time per method")
        gr.Markdown("**Which words each answer leans on.** Each word and punctuation mark is left out in turn and "
                    "the joke read again: red where leaving it out lowers the probability of the method's top word, "
                    "blue where it raises it, in shades relative to the piece that moves it most. The LSTM never "
                    "reads the right side, so nothing there can move its answer.")
        with gr.Row():
            leaning = [gr.HighlightedText(label=f"{METHOD_TITLES[name]}: what its top word leans on", show_legend=False,
                                          combine_adjacent=False, elem_id=f"leans-{name}")
                       for name in ("lstm_left", "bilstm")]
        with gr.Accordion("As numbers (what /explain_blank returns for this joke)", open=False):
            leaning.append(gr.JSON(show_label=False, elem_id="leans-numbers"))
        gr.api(filler.explain_blank, api_name="explain_blank", concurrency_limit=2, concurrency_id="leaning")
        if "test_top1" in bilstm:
            gr.Markdown(f"Bi-LSTM checkpoint: {bilstm['parameters']:,} parameters; top-1 {bilstm['test_top1']:.1%}, "
                        f"top-5 {bilstm['test_top5']:.1%} on {bilstm['test_blanks']:,} one-word blanks of the held-out "
                        "jokes (README has all three methods on the same blanks).")
    results = [*main, *halves, timing]
    filled = gr.on([fill.click, text.submit], filler.fill_blank, [text], results, api_name="fill_blank",
                   concurrency_limit=4)
    # The heat maps follow each answer; a 1,000-character joke takes a few seconds, so two at a time.
    heat_maps = dict(fn=filler.leans_on, inputs=[text], outputs=leaning, **PRIVATE, concurrency_limit=2,
                     concurrency_id="leaning")
    filled.success(**heat_maps)
    # A blank filled by hand is not the random joke's any more: its verdict goes.
    gr.on([fill.click, text.submit], lambda: "", None, verdict, api_visibility="private", queue=False)
    pick.click(filler.random_blank, None, [text, *results, verdict], api_visibility="private").success(**heat_maps)
