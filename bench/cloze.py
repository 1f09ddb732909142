"""Filling one-word blanks in the held-out jokes: the LSTM from the left, the LSTM rescoring, the Bi-LSTM.

    python -m bench.cloze [--k 50] [--limit N] [--checkpoints DIR] [--out bench/cloze_results.md]

Every word of the 162 test jokes (cleanjokes ID % 10 == 0, never trained on) that is one word token of the
vocabulary is blanked in turn (src.cloze.joke_blanks) and filled by each method, one request at a time on
one thread (as the app serves a request): top-1 and top-5 accuracy among the word tokens, and the mean
milliseconds per blank. The Bi-LSTM's halves come from its same pass. Then accuracy by how far into the
joke the blank is, how honest each method's shown probabilities are (its top word's probability against
how often that word is right), and what the page's heat maps (src.cloze.word_saliency) cost and show: how much
of the Bi-LSTM's answer rests on the words after the blank. Prints the tables and writes them to --out.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from src import data
from src.blanks import JokeBiLSTM
from src.cloze import RESCORE_K, blank_at, fill_every_way, joke_blanks, word_saliency, word_slots
from src.evaluate import calibration
from src.hub import MODELS, bundled_folder, load_folder
from src.jokes import JokeLSTM
from src.tokenizer import pieces

ROOT = Path(__file__).resolve().parent.parent
METHODS = {"lstm_left": "LSTM, left only", "lstm_rescoring": "LSTM, rescoring top-{k}", "bilstm": "Bi-LSTM (one pass)",
           "bilstm_forward_half": "Bi-LSTM forward half alone", "bilstm_backward_half": "Bi-LSTM backward half alone"}
PLACES = 5  # position buckets: fifths of the joke
SHOWN = 5  # buckets of the top word's shown probability: 0-20%, ..., 80-100%


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=RESCORE_K, help="candidates the LSTM rescores")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test jokes")
    parser.add_argument("--checkpoints", type=Path, default=None, help="folder with joke-lstm and joke-bilstm")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "cloze_results.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    lm, bi = (load_folder(MODELS[n].cls, (args.checkpoints / n) if args.checkpoints else bundled_folder(n)).eval()
              for n in ("joke-lstm", "joke-bilstm"))
    if lm.tokenizer.tokens != bi.tokenizer.tokens:
        raise SystemExit("joke-lstm and joke-bilstm must share one tokenizer")
    jokes = data.clean_jokes("test")[:args.limit]
    blanks = []  # (blank, answer, place bucket)
    for joke in jokes:
        found = joke_blanks(joke, lm.tokenizer)
        n_tokens = len(lm.tokenizer.encode(joke))
        blanks += [(b, answer, min(PLACES - 1, len(b.left) * PLACES // n_tokens)) for b, answer in found]
    print(f"{len(jokes)} test jokes, {len(blanks)} blanks (every word that is one word token)")

    hits = {m: {"top1": [], "top5": [], "shown": []} for m in METHODS}
    seconds = {m: 0.0 for m in ("lstm_left", "lstm_rescoring", "bilstm")}
    for blank, answer, _ in blanks:
        answers, ms = fill_every_way(lm, bi, blank, blank, k=args.k)
        for name, took in ms.items():
            seconds[name] += took / 1000
        for name, ranking in answers.items():
            ids = [t for t, _ in ranking]
            hits[name]["top1"].append(ids[0] == answer)
            hits[name]["top5"].append(answer in ids)
            hits[name]["shown"].append(ranking[0][1])

    def pct(values: list[bool]) -> str:
        return f"{100 * sum(values) / len(values):.1f}%" if values else "-"

    lines = [f"{len(jokes)} held-out jokes, {len(blanks):,} one-word blanks; `python -m bench.cloze` "
             f"(k = {args.k}, one thread)", "",
             "| method | top-1 | top-5 | ms per blank |", "|---|---|---|---|"]
    for name, title in METHODS.items():
        ms = f"{1000 * seconds[name] / len(blanks):.1f}" if name in seconds else "(in the Bi-LSTM's pass)"
        lines.append(f"| {title.format(k=args.k)} | {pct(hits[name]['top1'])} | {pct(hits[name]['top5'])} | {ms} |")
    top1 = {name: sum(h["top1"]) / len(blanks) for name, h in hits.items()}
    ms = {name: 1000 * s / len(blanks) for name, s in seconds.items()}
    lines += ["", f"Bi-LSTM top-1 = {top1['bilstm'] / top1['lstm_left']:.2f}x the LSTM's left-only top-1 and "
                  f"{top1['bilstm'] / top1['lstm_rescoring']:.2f}x rescoring's; time per blank = "
                  f"1/{ms['lstm_rescoring'] / ms['bilstm']:.1f} of rescoring's.", ""]
    lines += ["Top-1 by where the blank is (share of the joke's tokens before it):", "",
              "| method | " + " | ".join(f"{100 * i // PLACES}-{100 * (i + 1) // PLACES}%" for i in range(PLACES)) + " |",
              "|---|" + "---|" * PLACES,
              "| blanks | " + " | ".join(str(sum(p == i for *_, p in blanks)) for i in range(PLACES)) + " |"]
    for name, title in METHODS.items():
        cells = [pct([hit for hit, (*_, p) in zip(hits[name]["top1"], blanks) if p == i]) for i in range(PLACES)]
        lines.append(f"| {title.format(k=args.k)} | " + " | ".join(cells) + " |")
    lines += ["", calibration_tables(hits, args.k), "", leaning(lm, bi, jokes)]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text + "\n")
    print(f"-> {args.out}")


def calibration_tables(hits: dict[str, dict[str, list]], k: int) -> str:
    """Markdown: per method, the mean shown probability of its top word, how often that word is right and the
    calibration error; then how often it is right by how high the shown probability was."""
    lines = ["How honest the shown probabilities are: each method's top word, the probability the app shows for it "
             "and how often it is the blanked word (calibration error: src.evaluate.calibration, 10 bins):", "",
             "| method | mean shown probability | top word right | calibration error |", "|---|---|---|---|"]
    for name, title in METHODS.items():
        shown, right, error = calibration(hits[name]["shown"], hits[name]["top1"])
        lines.append(f"| {title.format(k=k)} | {shown:.1%} | {right:.1%} | {error:.3f} |")
    edges = [f"{100 * i // SHOWN}-{100 * (i + 1) // SHOWN}%" for i in range(SHOWN)]
    lines += ["", "Top word right, by its shown probability (blanks in brackets):", "",
              "| method | " + " | ".join(edges) + " |", "|---|" + "---|" * SHOWN]
    for name, title in METHODS.items():
        bucket = [min(SHOWN - 1, int(p * SHOWN)) for p in hits[name]["shown"]]
        cells = []
        for i in range(SHOWN):
            inside = [hit for hit, b in zip(hits[name]["top1"], bucket) if b == i]
            cells.append(f"{100 * sum(inside) / len(inside):.0f}% ({len(inside)})" if inside else "-")
        lines.append(f"| {title.format(k=k)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def leaning(lm: JokeLSTM, bi: JokeBiLSTM, jokes: list[str]) -> str:
    """Markdown: word_saliency on every blank of `jokes` (as the page computes it after each answer): its time,
    and where the Bi-LSTM's answer leans (the words after the blank against those before it)."""
    seconds, right_share, strongest_right, refused = [], [], [], 0
    for joke in jokes:
        parts = pieces(joke)
        for i, _ in word_slots(parts, lm.tokenizer):
            text, _ = blank_at(parts, i)
            start = time.perf_counter()
            try:
                shown = word_saliency(lm, bi, text)["bilstm"].pieces
            except ValueError:  # a word glued to the next piece ("caf" + "é", "abc" + "123"): no blank on the page
                refused += 1
                continue
            seconds.append(time.perf_counter() - start)
            gap = [piece for piece, _ in shown].index("___")
            moved = [(abs(drop), at > gap) for at, (_, drop) in enumerate(shown) if drop is not None]
            total = sum(size for size, _ in moved)
            if total:
                right_share.append(sum(size for size, after in moved if after) / total)
                strongest_right.append(max(moved)[1])
    ms = sorted(1000 * s for s in seconds)
    return "\n".join([
        f"Which words the answers lean on (the page's heat maps, src.cloze.word_saliency: the joke read again "
        f"without each word and punctuation mark, for the LSTM from the left and for the Bi-LSTM), on "
        f"{len(ms):,} of these blanks ({refused} left out: a word glued to the next piece, which the page "
        f"refuses to blank), one thread: {statistics.median(ms):.0f} ms per blank (median), 90th percentile "
        f"{ms[int(0.9 * (len(ms) - 1))]:.0f} ms, longest {ms[-1]:.0f} ms. The Bi-LSTM's answer moves most when a word "
        f"after the blank is left out in {sum(strongest_right) / len(strongest_right):.1%} of the "
        f"{len(strongest_right):,} blanks where any word moves it, and the words after the blank hold "
        f"{statistics.mean(right_share):.1%} of the total move on average (the LSTM's: none, it never reads them)."])


if __name__ == "__main__":
    main()
