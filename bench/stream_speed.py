"""/generate through gradio_client beside the model's own speed: programs should get a joke at model speed
(only the page paces the words for people).

    python -m bench.stream_speed [--words 200] [--runs 5]

Finds the first seed whose joke runs to the full `--words` words (T=2 and no top-k/top-p, so the end-of-joke
token seldom comes early), then, for that same joke, prints the median words/s of JokeLSTM.generate in
process (one torch thread, as the app runs), of Client.predict and of iterating Client.submit, and each
client's ratio to the model (the bar: at least 0.5).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: no network probes

import torch

from bench.common import APP, connect, start_app
from src.hub import load_model
from src.ui.generate_tab import MIN_WORDS

PROMPT = "Why did the chicken "
TEMPERATURE, TOP_K, TOP_P = 2.0, 0, 1.0


def generated_words(text: str) -> int:
    return len(text[len(PROMPT):].split())


def median_words_per_s(produce: Callable[[], str], runs: int) -> tuple[float, str]:
    """Median words/s of `runs` calls of `produce` (after one warm-up call), and the text it produced."""
    text = produce()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        assert produce() == text, "the same seed gave another joke"
        seconds.append(time.perf_counter() - start)
    return generated_words(text) / statistics.median(seconds), text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model("joke-lstm")

    def in_process(seed: int) -> str:
        return PROMPT + "".join(model.generate(PROMPT, temperature=TEMPERATURE, top_k=TOP_K, top_p=TOP_P,
                                               max_words=args.words, seed=seed, min_words=MIN_WORDS))

    seed = next(seed for seed in range(1000) if generated_words(in_process(seed)) == args.words)
    model_rate, text = median_words_per_s(lambda: in_process(seed), args.runs)
    request = (PROMPT, TEMPERATURE, TOP_K, TOP_P, args.words, seed)
    with tempfile.TemporaryDirectory() as work:
        server, _ = start_app(APP, Path(work) / "app.log")
        try:
            with connect(server.url) as client:
                predict_rate, predicted = median_words_per_s(lambda: client.predict(*request, api_name="/generate"),
                                                             args.runs)
                submit_rate, submitted = median_words_per_s(lambda: list(client.submit(*request,
                                                                                        api_name="/generate"))[-1],
                                                            args.runs)
        finally:
            server.stop()
    assert predicted == submitted == text, "the API wrote another joke than the model in process"
    print(f"{args.words} words (seed {seed}, T={TEMPERATURE:g}), median of {args.runs} runs:")
    print(f"  model in process        {model_rate:7.1f} words/s")
    for name, rate in (("Client.predict", predict_rate), ("Client.submit, iterated", submit_rate)):
        print(f"  {name:<23} {rate:7.1f} words/s   {rate / model_rate:.2f}x the model (bar 0.5)")


if __name__ == "__main__":
    main()
