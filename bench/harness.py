"""Load and fault harness for the app's public API (not part of the test suite; it takes minutes).

    python -m bench.harness                                   # everything: 64 clients for 60 s, then the rest
    python -m bench.harness --clients 8 --seconds 10 --examples 10     # a short run
    python -m bench.harness --parts inputs faults             # skip the load run

Parts:
- load: `--clients` threads (a gradio_client.Client each) mix the seven public endpoints (/classify, /compare,
  /explain_digit, /generate and /generate_tokens of 5 words, /fill_blank, /explain_blank) for `--seconds`; every
  failure counts.
- inputs: bad input through the API. Fixed cases (blank canvas, files that are not images, a truncated
  PNG, huge and decompression-bomb PNGs, a 20,000-character prompt, out-of-range sampling settings, NaN
  sent as raw JSON, texts that /fill_blank and /explain_blank refuse) and hypothesis-generated ones (random
  prompts and settings, random small images).
  Each request must succeed or fail with an AppError a person can read (not gradio's generic "The
  upstream Gradio app has raised an exception"), and the server must answer a normal /classify after it.
- faults, each in its own app process: a truncated model.safetensors (digit-bilstm), a missing one
  (joke-lstm, then joke-bilstm), and an unreachable Hub (HF_ENDPOINT at a loopback port that accepts and never answers,
  with an empty HF cache and no HF_HUB_OFFLINE). The app must start, log the broken file by name, answer
  the affected endpoints with "The <model> model is unavailable: ..." and keep the others working; with
  no Hub it must start within `--hub-slack` seconds of an offline start and serve the bundled copies.

Ends with a PASS/FAIL table; the exit code is 1 when anything failed. Checkpoints come from checkpoints/
(or $LSTM_DEMO_CHECKPOINTS when set).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from PIL import Image

from bench.common import (APP, GENERIC_ERROR, ROOT, Server, classify, compare, connect, digit_files, digit_image,
                          explain_blank, explain_digit, fill_blank, generate, generate_tokens, run_load, save_png,
                          server_env, start_app)
from src.hub import MODELS, bundled_folder

ENDPOINTS = ("classify", "compare", "explain_digit", "generate", "generate_tokens", "fill_blank", "explain_blank")
# Which models each endpoint needs: it must say "The <model> model is unavailable" when one of them is broken.
NEEDS = {"classify": {"digit-bilstm"}, "compare": {"digit-bilstm", "digit-lstm"},
         "explain_digit": {"digit-bilstm", "digit-lstm"}, "generate": {"joke-lstm"},
         "generate_tokens": {"joke-lstm"}, "fill_blank": {"joke-lstm", "joke-bilstm"},
         "explain_blank": {"joke-lstm", "joke-bilstm"}}
BLANK_TEXT = "Why did the ___ cross the road?"


def calls(image: Path, prompt: str = "Knock knock ", seed: int = 0) -> dict[str, Callable[[Client], Any]]:
    """One good call per endpoint: the digit picture `image`, the joke `prompt` (5 words), BLANK_TEXT."""
    return {"classify": lambda c: classify(c, image), "compare": lambda c: compare(c, image),
            "explain_digit": lambda c: explain_digit(c, image),
            "generate": lambda c: generate(c, prompt, max_words=5, seed=seed),
            "generate_tokens": lambda c: generate_tokens(c, prompt, max_words=5, seed=seed),
            "fill_blank": lambda c: fill_blank(c, BLANK_TEXT),
            "explain_blank": lambda c: explain_blank(c, BLANK_TEXT)}


Attempt = Callable[[Callable[[], Any]], tuple[bool, str]]  # runs one API call: (acceptable, what happened)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def short(value: Any, limit: int = 160) -> str:
    """One printable line: whitespace runs collapsed, control characters escaped, cut at `limit`."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(str(value).split()))
    return text if len(text) <= limit else text[:limit] + "…"


def outcome(call: Callable[[], Any]) -> tuple[bool, str]:
    """Run one API call: a result, or an AppError with a readable message, is fine; anything else is not."""
    try:
        return True, f"ok: {short(call())}"
    except AppError as error:
        message = str(error.message or "")
        readable = bool(message.strip()) and GENERIC_ERROR not in message and "Traceback" not in message
        return readable, f"AppError: {short(message)}"
    except Exception as error:  # a transport error, a crash, a client-side failure
        return False, f"{type(error).__name__}: {short(error)}"


FRAME = re.compile(r'^  File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<fn>.+)$')
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt)\b.*")


def exceptions_in(log: str) -> list[str]:
    """Each traceback in a piece of server log as 'file:line in function: ExceptionType: message' (its
    innermost frame), leaving out gr.Error (the app's way to refuse bad input) and gradio's wrapper around
    a component's own exception (which is listed on its own)."""
    found, frame = [], None
    for line in log.splitlines():
        if match := FRAME.match(line):
            path = match["path"].split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
            frame = f"{path}:{match['line']} in {match['fn']}"
        elif frame and EXCEPTION.match(line):
            if not line.startswith(("gradio.exceptions.Error", "gradio.exceptions.ComponentProcessingError")):
                found.append(f"{frame}: {line}")
            frame = None
    return found


def healthy(client: Client, image: Path) -> bool:
    try:
        classify(client, image)
        return True
    except Exception:
        return False


def raw_generate(url: str, data: list) -> Any:
    """/generate through gradio's plain HTTP API with `data` as raw JSON (which may carry NaN and Infinity,
    which gradio_client refuses to send); returns the final text or raises AppError like the client."""
    request = urllib.request.Request(url + "gradio_api/call/generate", json.dumps({"data": data}).encode(),
                                     {"Content-Type": "application/json"})
    event_id = json.load(urllib.request.urlopen(request, timeout=30))["event_id"]
    event, result = None, None
    with urllib.request.urlopen(f"{url}gradio_api/call/generate/{event_id}", timeout=60) as stream:
        for line in stream:
            line = line.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                result = json.loads(line.split(":", 1)[1])
                break
    if event == "complete":
        return result
    if event != "error":
        raise RuntimeError(f"the event stream ended without a result (last event: {event})")
    message = result.get("error") if isinstance(result, dict) else result
    raise AppError(message or GENERIC_ERROR)


# ---- load --------------------------------------------------------------------------------------

def load_part(server: Server, work: Path, clients: int, seconds: float) -> list[Check]:
    images = digit_files(work / "load", clients)

    def plan(i: int, k: int):
        endpoint = ENDPOINTS[(i + k) % len(ENDPOINTS)]
        return endpoint, calls(images[i], f"Why did the {i} ", seed=k)[endpoint]

    print(f"load: {clients} clients for {seconds:g} s…", flush=True)
    result = run_load(server.url, clients, plan, seconds=seconds)
    checks = []
    for endpoint, stats in sorted(result.by_endpoint.items()):
        detail = (f"{len(stats.latencies)} ok, {len(stats.failures)} failed, p50 {stats.percentile(50) * 1000:.0f} ms, "
                  f"p99 {stats.percentile(99) * 1000:.0f} ms")
        if stats.failures:
            detail += f"; first failure: {short(stats.failures[0])}"
        checks.append(Check(f"load /{endpoint}", not stats.failures, detail))
    checks.append(Check(f"load total ({clients} clients, {seconds:g} s)", result.failed == 0 and server.alive(),
                        f"{result.ok} ok, {result.failed} failed, {result.throughput:.1f} req/s, "
                        f"server {'alive' if server.alive() else 'DEAD'}"))
    return checks


# ---- bad inputs --------------------------------------------------------------------------------

def bad_files(folder: Path) -> dict[str, Path]:
    """Files that are not a usable digit picture, by case name."""
    folder.mkdir(parents=True, exist_ok=True)
    digit = save_png(digit_image(), folder / "digit.png", "whole")
    files = {
        "blank white canvas": save_png(Image.new("L", (300, 300), 255), folder / "blank.png", "blank"),
        "text file named .png": folder / "text.png",
        "text file (.txt)": folder / "notes.txt",
        "empty file": folder / "empty.png",
        "truncated PNG": folder / "truncated.png",
        "SVG file": folder / "digit.svg",
        "12000x12000 PNG": folder / "huge.png",
        "30000x30000 PNG (decompression bomb)": folder / "bomb.png",
    }
    files["text file named .png"].write_text("this is not an image\n")
    files["text file (.txt)"].write_text("neither is this\n")
    files["empty file"].write_bytes(b"")
    files["truncated PNG"].write_bytes(digit.read_bytes()[: digit.stat().st_size // 2])
    files["SVG file"].write_text('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
                                 '<path d="M6 4h16l-8 20" stroke="black" stroke-width="3" fill="none"/></svg>')
    huge = Image.new("L", (12000, 12000), 255)
    huge.paste(digit_image(side=6000), (3000, 3000))
    huge.save(files["12000x12000 PNG"])
    Image.new("1", (30000, 30000), 1).save(files["30000x30000 PNG (decompression bomb)"])
    return files


def fixed_cases(url: str, files: dict[str, Path]) -> dict[str, Callable[[Client], Any]]:
    """Named calls with one bad input each."""
    cases: dict[str, Callable[[Client], Any]] = {}
    for name, path in files.items():
        cases[f"/classify {name}"] = lambda client, path=path: classify(client, path)
        cases[f"/compare {name}"] = lambda client, path=path: compare(client, path)
        cases[f"/explain_digit {name}"] = lambda client, path=path: explain_digit(client, path)
    prompts = {"empty prompt": "", "20,000-character prompt": "ha " * 6667,
               "control characters": "\x00\x01\x1b[31m\r\n\t\x7f",
               "emoji and RTL": "🐔🦆 ‮why did the"}
    for name, prompt in prompts.items():
        cases[f"/generate {name}"] = lambda client, prompt=prompt: generate(client, prompt)
    settings_cases = {"temperature -1": dict(temperature=-1), "temperature 1e6": dict(temperature=1e6),
                      "top_p 0": dict(top_p=0), "top_p 1.5": dict(top_p=1.5), "top_p -0.2": dict(top_p=-0.2),
                      "top_k -3": dict(top_k=-3), "top_k 1e12": dict(top_k=1e12),
                      "max_words 0": dict(max_words=0), "max_words 10**9": dict(max_words=10**9),
                      "max_words 2.5": dict(max_words=2.5), "seed 2**70": dict(seed=2**70),
                      "seed -1": dict(seed=-1), "temperature None": dict(temperature=None)}
    for name, kwargs in settings_cases.items():
        cases[f"/generate {name}"] = lambda client, kwargs=kwargs: generate(client, "Knock knock ", **kwargs)
        cases[f"/generate_tokens {name}"] = lambda client, kwargs=kwargs: generate_tokens(client, "Hi ", **kwargs)
    texts = {"no blank": "Why did the chicken cross the road?", "two blanks": "Why did the ___ cross the ___?",
             "only a blank": "___", "half a word blanked": "Why did the chick___ cross?",
             "20,000 characters": "ha " * 6666 + "___", "empty text": "", "control characters": "\x00___\x1b[31m",
             "emoji and RTL": "🐔 ‮why did the ___ cross"}
    for name, text in texts.items():
        cases[f"/fill_blank {name}"] = lambda client, text=text: fill_blank(client, text)
        cases[f"/explain_blank {name}"] = lambda client, text=text: explain_blank(client, text)
    raw = {  # (prompt, temperature, top_k, top_p, max_words, seed) as JSON that gradio_client cannot send
        "temperature NaN": ["Hi ", math.nan, 0, 0.95, 5, 0],
        "top_k Infinity": ["Hi ", 0.8, math.inf, 0.95, 5, 0],
        "max_words NaN": ["Hi ", 0.8, 0, 0.95, math.nan, 0],
        "seed NaN": ["Hi ", 0.8, 0, 0.95, 5, math.nan],
        "prompt as a number": [42, 0.8, 0, 0.95, 5, 0],
        "lone surrogate in the prompt": ["why \ud800 did ", 0.8, 0, 0.95, 5, 0],
        "temperature as text": ["Hi ", "hot", 0, 0.95, 5, 0],
    }
    for name, data in raw.items():
        cases[f"/generate raw JSON {name}"] = lambda client, data=data: raw_generate(url, data)
    return cases


def cause(detail: str) -> str:
    """What tells one failure from another: the server's exception when known, else the message."""
    return detail.rsplit(" [server: ", 1)[-1][:100]


def generate_property(client: Client, attempt: Attempt, examples: int, failures: dict[str, str]) -> None:
    """Random prompts and settings, in and out of range, through /generate."""
    prompt = st.one_of(st.text(max_size=200), st.text(st.characters(codec="utf-8"), max_size=50),
                       st.text(st.characters(max_codepoint=31), max_size=20), st.text(min_size=1990, max_size=2010))
    number = lambda low, high: st.one_of(st.floats(low, high), st.floats(-1e12, 1e12), st.integers(-10**6, 10**6))

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(prompt, number(0, 2), number(0, 100), number(0, 1), number(1, 20),  # few words: keep it quick
           st.one_of(st.none(), st.integers(-2**70, 2**70)))
    def check(prompt, temperature, top_k, top_p, max_words, seed):
        ok, detail = attempt(lambda: generate(client, prompt, temperature, top_k, top_p, max_words, seed))
        if not ok:
            args = (short(repr(prompt), 40), temperature, top_k, top_p, max_words, seed)
            failures.setdefault(cause(detail), f"{detail} for (prompt, T, top_k, top_p, max_words, seed) = {args}")

    check()


def image_property(client: Client, attempt: Attempt, examples: int, failures: dict[str, str], folder: Path) -> None:
    """Random small pictures (a digit, a flat colour or noise) in every common mode and format through /classify."""
    formats = {"PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"], "JPEG": ["L", "RGB", "CMYK"],
               "GIF": ["L", "P"], "BMP": ["1", "L", "P", "RGB"], "WEBP": ["RGB", "RGBA"],
               "TIFF": ["1", "L", "RGB", "RGBA", "I", "F"]}
    folder.mkdir(parents=True, exist_ok=True)
    digit = digit_image()
    counter = iter(range(10**9))

    @st.composite
    def pictures(draw) -> tuple[str, str, str, Image.Image]:
        fmt = draw(st.sampled_from(sorted(formats)))
        mode = draw(st.sampled_from(formats[fmt]))
        size = draw(st.integers(1, 400)), draw(st.integers(1, 400))
        kind = draw(st.sampled_from(["digit", "flat", "noise"]))
        if kind == "digit":
            image = digit.resize(size)
        elif kind == "flat":
            image = Image.new("L", size, draw(st.integers(0, 255)))
        else:
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            image = Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8))
        return fmt, mode, kind, image

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(pictures())
    def check(picture):
        fmt, mode, kind, image = picture
        path = folder / f"pic-{next(counter)}.{fmt.lower()}"
        try:
            image.convert(mode).save(path, fmt)
        except (OSError, ValueError):  # PIL cannot write this mode in this format: not a case
            return
        ok, detail = attempt(lambda: classify(client, path))
        if not ok:
            failures.setdefault(cause(detail), f"{detail} for a {image.width}x{image.height} {kind} image "
                                               f"saved as {mode} {fmt}")

    check()


def inputs_part(server: Server, work: Path, examples: int) -> list[Check]:
    def attempt(call: Callable[[], Any]) -> tuple[bool, str]:
        """outcome(), with the server's exception added when the call failed."""
        offset = len(server.log())
        ok, detail = outcome(call)
        if not ok:
            time.sleep(0.2)  # let the server finish writing the traceback
            if causes := exceptions_in(server.log()[offset:]):
                detail += f" [server: {causes[0]}]"
        return ok, detail

    print("inputs: fixed cases…", flush=True)
    files = bad_files(work / "bad")
    probe = save_png(digit_image(), work / "probe.png", "probe")
    checks = []
    with connect(server.url) as client:
        for name, call in fixed_cases(server.url, files).items():
            ok, detail = attempt(lambda: call(client))
            alive = healthy(client, probe)
            checks.append(Check(name, ok and alive, detail if alive else f"{detail}; then /classify FAILED"))
            print(f"  {'PASS' if ok and alive else 'FAIL'} {name}: {detail}", flush=True)
        for name, prop in (("hypothesis /generate prompts and settings", generate_property),
                           ("hypothesis /classify images", partial(image_property, folder=work / "pics"))):
            print(f"inputs: {name} ({examples} examples)…", flush=True)
            failures: dict[str, str] = {}
            prop(client, attempt, examples, failures)
            alive = healthy(client, probe)
            detail = "; ".join(failures.values()) or f"{examples} examples, all succeeded or gave a readable AppError"
            checks.append(Check(name, not failures and alive, detail if alive else f"{detail}; then /classify FAILED"))
    return checks


# ---- faults ------------------------------------------------------------------------------------

class BlackHole:
    """A loopback TCP port that accepts connections and never answers: a Hub that hangs."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                self.held.append(self.socket.accept()[0])
        except OSError:  # closed
            pass

    def close(self) -> None:
        self.socket.close()
        for connection in self.held:
            connection.close()


def copy_checkpoints(target: Path) -> Path:
    for name in MODELS:
        shutil.copytree(bundled_folder(name), target / name)
    return target


def endpoint_checks(case: str, server: Server, probe: Path, broken: str | None) -> list[Check]:
    """Each endpoint of a faulty app: the ones that need `broken` must say it is unavailable; the rest work."""
    checks = []
    with connect(server.url) as client:
        for endpoint, call in calls(probe).items():
            ok, detail = outcome(lambda: call(client))
            if broken in NEEDS[endpoint]:
                passed = detail.startswith(f"AppError: The {broken} model is unavailable")
            else:
                passed = detail.startswith("ok")
            checks.append(Check(f"{case}: /{endpoint}", ok and passed, detail))
    return checks


def faults_part(work: Path, hub_slack: float) -> list[Check]:
    probe = save_png(digit_image(), work / "fault-probe.png", "fault")
    checks, offline_starts = [], []
    for case, broken, damage in (
        ("truncated checkpoint", "digit-bilstm", lambda f: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])),
        ("missing checkpoint", "joke-lstm", lambda f: f.unlink()),
        ("missing blank model", "joke-bilstm", lambda f: f.unlink()),
    ):
        print(f"faults: {case} ({broken})…", flush=True)
        folder = copy_checkpoints(work / case.replace(" ", "-"))
        weights = folder / broken / "model.safetensors"
        damage(weights)
        try:
            env = server_env({"LSTM_DEMO_CHECKPOINTS": str(folder)})
            server, seconds = start_app(APP, work / f"{broken}.log", env)
        except RuntimeError as error:
            checks.append(Check(f"{case}: app starts", False, short(error, 300)))
            continue
        offline_starts.append(seconds)
        try:
            log_lines = [line for line in server.log().splitlines() if str(weights) in line]
            checks.append(Check(f"{case}: app starts, log names the file", bool(log_lines),
                                short(log_lines[0], 300) if log_lines else f"no log line mentions {weights}"))
            checks += endpoint_checks(case, server, probe, broken)
        finally:
            server.stop()

    print("faults: Hub unreachable…", flush=True)
    hole = BlackHole()
    hf_home = work / "hf-home"
    env = server_env({"HF_HUB_OFFLINE": None, "HF_ENDPOINT": hole.url, "HF_HOME": str(hf_home),
                      "HF_HUB_CACHE": str(hf_home / "hub")})
    try:
        server, seconds = start_app(APP, work / "no-hub.log", env)
    except RuntimeError as error:
        hole.close()
        return checks + [Check("Hub unreachable: app starts", False, short(error, 300))]
    try:
        baseline = max(offline_starts, default=math.nan)
        # It must really have asked the silent Hub; a NaN baseline (no offline start measured) passes.
        quick = bool(hole.held) and not seconds > baseline + hub_slack
        bundled = [line for line in server.log().splitlines() if "loaded from bundled" in line]
        checks.append(Check("Hub unreachable: app starts quickly", quick,
                            f"ready in {seconds:.1f} s (slowest offline start {baseline:.1f} s, "
                            f"slack {hub_slack:g} s); {len(hole.held)} connections to the silent Hub"))
        checks.append(Check("Hub unreachable: serves the bundled copies", len(bundled) == len(MODELS),
                            f"{len(bundled)} of {len(MODELS)} models 'loaded from bundled'"
                            + (f"; e.g. {short(bundled[0], 200)}" if bundled else "")))
        checks += endpoint_checks("Hub unreachable", server, probe, None)
    finally:
        server.stop()
        hole.close()
    return checks


# ---- main --------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description="Load and fault harness; see the module docstring.")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--examples", type=int, default=40, help="hypothesis examples per property")
    parser.add_argument("--hub-slack", type=float, default=20, help="allowed extra start-up seconds without Hub")
    parts = ["load", "inputs", "faults"]
    parser.add_argument("--parts", nargs="+", choices=parts, default=parts)
    args = parser.parse_args()
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="harness-") as tmp:
        work = Path(tmp)
        if {"load", "inputs"} & set(args.parts):
            print("starting app.py…", flush=True)
            ready = save_png(digit_image(), work / "ready.png", "ready")
            server, _ = start_app(APP, work / "app.log", probe_image=ready)
            try:
                if "load" in args.parts:
                    checks += load_part(server, work, args.clients, args.seconds)
                if "inputs" in args.parts:
                    checks += inputs_part(server, work, args.examples)
                errors = sorted(set(exceptions_in(server.log())))
                state = "alive" if server.alive() else "DEAD"
                checks.append(Check("app still up after load and inputs", server.alive(),
                                    f"server {state}; {len(errors)} distinct unexpected exceptions in its log"
                                    + "".join(f"; {e}" for e in errors)))
            finally:
                server.stop()
        if "faults" in args.parts:
            checks += faults_part(work, args.hub_slack)
    print("\n| check | result | detail |\n| --- | --- | --- |")
    for check in checks:
        print(f"| {check.name} | {'PASS' if check.passed else 'FAIL'} | {check.detail.replace('|', '/')} |")
    failed = sum(not check.passed for check in checks)
    print(f"\n{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
