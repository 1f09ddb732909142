"""What looking inside costs: branching a long joke near its end against writing it anew, and /explain_digit
(both models' row-by-row beliefs and the saliency of all 28 rows) against /compare, on the app on loopback;
and what row saliency shows on drawn digits, one row blanked at a time against a band of rows.

    python -m bench.look_inside [--tokens 200] [--requests 30] [--digits 200]

Branching: a text of about --tokens tokens is written (JokeLSTM.sample, one torch thread as in the app); a
branch 10 tokens before its end forces the model's second choice there and writes on to the same word limit.
Latency: the app on loopback (HF_HUB_OFFLINE=1, checkpoints/), --requests sequential requests of each
endpoint with one MNIST-style digit picture, median and 90th percentile.
Saliency: --digits MNIST test digits drawn again with a round pen and read back through the app's
preprocessing (src.data.drawn_digits, seed 0); per digit and model, the largest drop in the predicted digit's
probability over the 28 rows, with each row blanked alone and with its band (src.explain.BAND rows).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from gradio_client import handle_file

from bench.common import APP, compare, connect, digit_files, start_app
from src import data, explain
from src.digits import DigitRNN
from src.hub import bundled_folder, load_folder
from src.jokes import JokeLSTM

SEED = 1234


def branching(tokens: int, repeats: int = 5) -> dict:
    """Seconds to write ~`tokens` tokens anew and to branch 10 tokens before the end (medians)."""
    torch.set_num_threads(1)
    model = load_folder(JokeLSTM, bundled_folder("joke-lstm"))
    settings = dict(temperature=0.8, top_p=1.0, max_words=tokens, seed=SEED, stop_at_end=False)
    anew, branched, lengths = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        steps = []
        for step in model.sample("Knock knock.", **settings):
            steps.append(step)
            if len(steps) == tokens:
                break
        anew.append(time.perf_counter() - start)
        at = len(steps) - 10
        second = int(steps[at].log_probs.topk(2).indices[1])
        words_limit = steps[-1].written.words + 1  # the word count where the first text stopped
        start = time.perf_counter()
        tail = list(model.sample("Knock knock.", **{**settings, "max_words": words_limit}, branch=(steps[at], second)))
        branched.append(time.perf_counter() - start)
        lengths.append((len(steps), at + len(tail)))
    return {"anew_s": statistics.median(anew), "branch_s": statistics.median(branched), "lengths": lengths[0]}


def latencies(requests: int) -> dict:
    """Median and p90 milliseconds of /compare and /explain_digit on one digit picture."""
    with tempfile.TemporaryDirectory() as work:
        image = digit_files(Path(work), 1)[0]
        server, _ = start_app(APP, Path(work) / "app.log", probe_image=image)
        try:
            with connect(server.url) as client:
                timings = {"compare": [], "explain_digit": []}
                for _ in range(requests):
                    for name in timings:
                        start = time.perf_counter()
                        if name == "compare":
                            compare(client, image)
                        else:
                            client.predict(handle_file(str(image)), api_name="/explain_digit")
                        timings[name].append((time.perf_counter() - start) * 1000)
        finally:
            server.stop()
    return {name: (statistics.median(t), statistics.quantiles(t, n=10)[-1]) for name, t in timings.items()}


def saliency_contrast(digits: int) -> dict[str, dict[int, tuple[float, float]]]:
    """Per model and band width (1 row, explain.BAND rows): the median and 90th percentile, over drawn test
    digits, of the largest drop in the predicted digit's probability when a band of rows is blanked."""
    images = data.drawn_digits(data.mnist_tensors(train=False)[0][:digits], seed=0).numpy()
    found = {}
    for name in ("digit-lstm", "digit-bilstm"):
        model = load_folder(DigitRNN, bundled_folder(name))
        found[name] = {}
        for width in (1, explain.BAND):
            largest = [explain.row_saliency(model, image, width)["drop"].max() for image in images]
            found[name][width] = (statistics.median(largest), statistics.quantiles(largest, n=10)[-1])
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--digits", type=int, default=200)
    args = parser.parse_args(argv)
    for name, widths in saliency_contrast(args.digits).items():
        found = "; ".join(f"{width} row{'s' if width > 1 else ''} blanked: median {p50:.3f}, p90 {p90:.3f}"
                          for width, (p50, p90) in widths.items())
        print(f"{name}, largest drop in P(predicted digit) over the rows of {args.digits} drawn test digits: {found}")
    b = branching(args.tokens)
    print(f"branching: a {b['lengths'][0]}-token text written anew in {1000 * b['anew_s']:.1f} ms; a branch at token "
          f"{b['lengths'][0] - 10} (text of {b['lengths'][1]} tokens) in {1000 * b['branch_s']:.1f} ms: "
          f"{b['anew_s'] / b['branch_s']:.1f}x faster")
    lat = latencies(args.requests)
    for name, (p50, p90) in lat.items():
        print(f"/{name}: p50 {p50:.0f} ms, p90 {p90:.0f} ms ({args.requests} requests)")
    print(f"/explain_digit ÷ /compare (p50): {lat['explain_digit'][0] / lat['compare'][0]:.2f}")


if __name__ == "__main__":
    main()
