"""The benchmark table: cold start, /classify under load, generation speed and the models' quality.

    python -m bench.run            # full measurement, about 5-8 minutes on 2 cores
    python -m bench.run --quick    # smoke run with tiny settings (about a minute: two app start-ups)

Prints a markdown table and writes it to bench/results.md, with the raw numbers in bench/results.json.
Measures the checkpoints in checkpoints/ (or in $LSTM_DEMO_CHECKPOINTS when set); servers run offline
(HF_HUB_OFFLINE=1). Rows:

- cold start: launching `python app.py` until gradio_client gets its first /classify answer, median of
  several starts, beside bench/bare_app.py (torch + gradio, a fixed answer, no model) measured the same way;
  once with HF_HUB_OFFLINE=1 and once asking the Hub (unreachable here, so the app falls back to
  checkpoints/ after its pre-flight request).
- /classify latency p50/p99 and throughput with 1, 8 and 32 concurrent clients (a thread and a Client
  each, a byte-distinct copy of one MNIST test digit each), beside the bare app under the same load.
- generation, in process: time to the first complete word and words/s for 5- and 50-word prompts with
  the carried LSTM state (JokeLSTM.generate), beside re-feeding a prompt-length window from a zero state
  at every step (bench/refeed.py), and the time for 400 words over the time for 100 words.
- branching (bench.look_inside): a branch 10 tokens before the end of a 200-token text against writing
  the text anew.
- models: MNIST test accuracy of both digit models, bits per character on the 162 held-out jokes,
  parameter counts, checkpoint folder sizes, and the app server's resident memory after the load test.

In-process work uses one torch thread, as app.py does.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: no network probes

import gradio
import torch

from bench.common import (APP, BARE_APP, LoadResult, Server, classify, digit_files, run_load, server_env,
                          start_app)
from bench.look_inside import branching
from bench.refeed import refeed_generate
from src.data import clean_jokes, mnist_tensors
from src.evaluate import bits_per_char, count_parameters, digit_accuracy
from src.hub import bundled_folder, load_model

MAX_BYTES_PER_WORD = 64

HERE = Path(__file__).resolve().parent
SEED = 1234
TEMPERATURE = 0.8
PROMPT_5 = "Why did the chicken cross "
PROMPT_50 = ("A man walks into a library and asks the librarian for a book about paranoia. She leans over "
             "the desk and whispers that it is right behind him. He spins around and sees only a shelf "
             "of cookbooks, and borrows one anyway. At home he burns the soup and calls ")
assert len(PROMPT_5.split()) == 5 and len(PROMPT_50.split()) == 50


@dataclass(frozen=True)
class Settings:
    cold_starts: int  # starts of each server for the cold-start median
    load: dict[int, int]  # concurrent clients -> /classify requests per client
    words: int  # words generated per prompt with the carried state
    refeed_words: int  # words generated per prompt by re-feeding (slow, so fewer; a rate is compared)
    ratio_words: tuple[int, int]  # the two lengths whose times are compared
    mnist_images: int | None  # None = the whole test set
    test_jokes: int | None  # None = all 162
    branch_tokens: int  # the text a branch is cut from


FULL = Settings(3, {1: 40, 8: 12, 32: 6}, 200, 40, (100, 400), None, None, 200)
QUICK = Settings(1, {1: 3, 8: 1, 32: 1}, 20, 5, (10, 40), 1000, 10, 30)


def machine() -> dict:
    """Where the numbers were measured."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024**2, 1),
            "python": platform.python_version(), "torch": torch.__version__, "gradio": gradio.__version__,
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "checkpoints": str(bundled_folder("").resolve())}


# ---- servers -----------------------------------------------------------------------------------

def load_summary(result: LoadResult) -> dict:
    stats = result.by_endpoint.get("classify")
    failures = [f for s in result.by_endpoint.values() for f in s.failures]
    return {"requests": result.ok, "failures": len(failures), "first_failure": failures[0] if failures else None,
            "p50_ms": stats.percentile(50) * 1000 if stats else math.nan,
            "p99_ms": stats.percentile(99) * 1000 if stats else math.nan,
            "req_per_s": result.throughput, "seconds": result.seconds}


def measure_servers(settings: Settings, work: Path) -> dict:
    """Cold starts of app.py (offline and asking the Hub) and the bare app, alternating, then /classify load
    on the last offline app and the last bare app."""
    images = digit_files(work / "images", max(settings.load) + 1)
    probe = images[-1]

    def plan(i: int, k: int):
        return "classify", lambda client: classify(client, images[i])

    results: dict[str, dict] = {}
    servers: dict[str, Server] = {}
    try:
        for start in range(settings.cold_starts):
            for name, script, env in (("app", APP, None), ("app_hub", APP, server_env({"HF_HUB_OFFLINE": None})),
                                      ("bare", BARE_APP, None)):
                server, seconds = start_app(script, work / f"{name}-{start}.log", env=env, probe_image=probe)
                results.setdefault(name, {"cold_start_s": []})["cold_start_s"].append(seconds)
                print(f"  cold start {name} #{start + 1}: {seconds:.1f} s", flush=True)
                if start == settings.cold_starts - 1 and name != "app_hub":
                    servers[name] = server  # kept for the load test
                else:
                    server.stop()
        for name, server in servers.items():
            results[name]["load"] = {}
            for clients, requests in settings.load.items():
                result = run_load(server.url, clients, plan, requests=requests, warmup=plan)
                results[name]["load"][clients] = summary = load_summary(result)
                print(f"  {name} /classify x{clients}: p50 {summary['p50_ms']:.0f} ms, "
                      f"{summary['req_per_s']:.1f} req/s, {summary['failures']} failed", flush=True)
            results[name]["rss_mb"] = server.rss_mb()
    finally:
        for server in servers.values():
            server.stop()
    return results


# ---- generation --------------------------------------------------------------------------------

def time_words(pieces: Iterator[str], max_words: int) -> dict:
    """Consume a text stream until `max_words` words (or the byte budget generate uses): time to the first
    complete word, words and words/s. Prompts end with a space, so every word counted is a new one."""
    start = time.perf_counter()
    words, in_word, size, first, full = 0, False, 0, None, False
    for piece in pieces:
        for char in piece:
            if char.isspace():
                if in_word and first is None:
                    first = time.perf_counter() - start
                in_word = False
            elif not in_word:
                full = words == max_words  # the next word would be one too many
                if full:
                    break
                words, in_word = words + 1, True
        size += len(piece.encode())
        if full or size >= max_words * MAX_BYTES_PER_WORD:  # a runaway word never ends the loop
            break
    seconds = time.perf_counter() - start
    return {"first_word_s": first if first is not None else seconds, "words": words, "seconds": seconds,
            "words_per_s": words / seconds}


def measure_generation(settings: Settings) -> dict:
    model = load_model("joke-lstm")

    def carried(prompt: str, words: int) -> dict:
        pieces = model.generate(prompt, temperature=TEMPERATURE, max_words=words, seed=SEED, stop_at_end=False)
        return time_words(pieces, words)

    def refeed(prompt: str) -> dict:
        return time_words(refeed_generate(model, prompt, temperature=TEMPERATURE, seed=SEED), settings.refeed_words)

    carried(PROMPT_5, 5)  # warm-up
    out = {"carried": {5: carried(PROMPT_5, settings.words), 50: carried(PROMPT_50, settings.words)},
           "refeed": {5: refeed(PROMPT_5), 50: refeed(PROMPT_50)}}
    short, long = settings.ratio_words
    out["length"] = {short: carried(PROMPT_5, short), long: carried(PROMPT_5, long)}
    out["ratios"] = {
        "carried_50_over_5_words_per_s": out["carried"][50]["words_per_s"] / out["carried"][5]["words_per_s"],
        "refeed_50_over_5_words_per_s": out["refeed"][50]["words_per_s"] / out["refeed"][5]["words_per_s"],
        "carried_over_refeed_50": out["carried"][50]["words_per_s"] / out["refeed"][50]["words_per_s"],
        "time_long_over_short": out["length"][long]["seconds"] / out["length"][short]["seconds"],
    }
    out["branching"] = branching(settings.branch_tokens)
    return out


# ---- models ------------------------------------------------------------------------------------

def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


@torch.no_grad()
def measure_models(settings: Settings) -> dict:
    models = {name: load_model(name) for name in ("digit-lstm", "digit-bilstm", "joke-lstm")}
    images, labels = mnist_tensors(train=False)
    images, labels = images[:settings.mnist_images], labels[:settings.mnist_images]
    out = {name: {"test_accuracy": digit_accuracy(models[name], images, labels), "test_images": len(labels)}
           for name in ("digit-lstm", "digit-bilstm")}
    jokes = clean_jokes("test")[:settings.test_jokes]
    out["joke-lstm"] = {"test_bpc": bits_per_char(models["joke-lstm"], jokes), "test_jokes": len(jokes),
                        "test_chars": sum(len(joke) for joke in jokes)}
    for name, model in models.items():
        out[name]["parameters"] = count_parameters(model)
        out[name]["checkpoint_mb"] = folder_mb(bundled_folder(name))
    return out


# ---- table -------------------------------------------------------------------------------------

def table(results: dict) -> str:
    """The markdown table (with a line saying where it was measured)."""
    m, s, g, models = results["machine"], results["servers"], results["generation"], results["models"]
    app, bare = s["app"], s["bare"]
    rows = [("measurement", "this app", "beside it", "note")]
    cold_bare = statistics.median(bare["cold_start_s"])
    for name, how in (("app", "HF_HUB_OFFLINE=1"), ("app_hub", "Hub asked, unreachable")):
        cold = statistics.median(s[name]["cold_start_s"])
        rows.append((f"cold start ({how}): launch → first /classify answer", f"{cold:.1f} s",
                     f"{cold_bare:.1f} s bare gradio app",
                     f"median of {len(s[name]['cold_start_s'])}; ratio {cold / cold_bare:.2f}"))

    def load_cell(x: dict) -> str:
        return f"{x['p50_ms']:.0f} / {x['p99_ms']:.0f} ms, {x['req_per_s']:.1f} req/s"

    for clients in app["load"]:
        a, b = app["load"][clients], bare["load"][clients]
        failed = a["failures"] + b["failures"]
        rows.append((f"/classify, {clients} client{'s' * (clients > 1)}: p50 / p99, throughput", load_cell(a),
                     load_cell(b) + " bare", f"{a['requests']} requests" + (f", {failed} FAILED" if failed else "")))

    def gen_cell(x: dict) -> str:
        return f"{x['first_word_s'] * 1000:.0f} ms to 1st word, {x['words_per_s']:.1f} words/s"

    carried, refeed, ratios = g["carried"], g["refeed"], g["ratios"]
    for n in (5, 50):
        rows.append((f"generation, {n}-word prompt", gen_cell(carried[n]), gen_cell(refeed[n]) + " re-feed",
                     f"{carried[n]['words']} / {refeed[n]['words']} words, T={TEMPERATURE}, seed {SEED}"))
    rows.append(("words/s, 50-word ÷ 5-word prompt", f"{ratios['carried_50_over_5_words_per_s']:.2f}",
                 f"{ratios['refeed_50_over_5_words_per_s']:.2f} re-feed", "1.00: prompt length costs nothing"))
    rows.append(("words/s, carried state ÷ re-feed (50-word prompt)", f"{ratios['carried_over_refeed_50']:.1f}×",
                 "", ""))
    short, long = g["length"]
    rows.append((f"time for {long} ÷ {short} words (carried state)", f"{ratios['time_long_over_short']:.2f}",
                 f"{int(long) / int(short):.2f} if linear", ""))
    b = g["branching"]
    rows.append((f"a branch 10 tokens before the end of a {b['lengths'][0]}-token text",
                 f"{b['branch_s'] * 1000:.1f} ms", f"{b['anew_s'] * 1000:.1f} ms written anew",
                 f"{b['anew_s'] / b['branch_s']:.1f}× faster (bench.look_inside)"))
    for name in ("digit-lstm", "digit-bilstm"):
        x = models[name]
        rows.append((f"{name} MNIST test accuracy", f"{x['test_accuracy']:.2%}", "", f"{x['test_images']:,} images"))
    j = models["joke-lstm"]
    rows.append(("joke-lstm bits per character", f"{j['test_bpc']:.3f}", "",
                 f"{j['test_jokes']} held-out jokes, {j['test_chars']:,} chars"))
    for name, x in models.items():
        rows.append((f"{name} parameters / checkpoint folder", f"{x['parameters']:,} / {x['checkpoint_mb']:.1f} MB",
                     "", ""))
    rows.append(("server RSS after the load test", f"{app['rss_mb']:.0f} MB", f"{bare['rss_mb']:.0f} MB bare", ""))
    rows.insert(1, ("---",) * 4)
    header = (f"Measured {m['date']}{' (--quick smoke run: small samples)' if results['quick'] else ''} on "
              f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; Python {m['python']}, torch {m['torch']}, "
              f"gradio {m['gradio']}; checkpoints {m['checkpoints']}.")
    return header + "\n\n" + "\n".join(f"| {' | '.join(row)} |" for row in rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark table; see the module docstring.")
    parser.add_argument("--quick", action="store_true", help="tiny settings for a smoke run")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    torch.set_num_threads(1)
    results = {"machine": machine(), "quick": args.quick, "settings": asdict(settings)}
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        print("servers…", flush=True)
        results["servers"] = measure_servers(settings, Path(work))
    print("generation…", flush=True)
    results["generation"] = measure_generation(settings)
    print("models…", flush=True)
    results["models"] = measure_models(settings)
    markdown = table(results)
    (HERE / "results.md").write_text(markdown)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n" + markdown)


if __name__ == "__main__":
    main()
