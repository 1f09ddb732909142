"""Both digit models on MNIST test digits drawn again with a round pen, as people draw on the canvas.

    python -m bench.drawn_eval [--n 300] [--seed 0]
    python -m bench.drawn_eval --n 3000 --widths 12 22 --sizes 45-70 --no-photo   # a few cells, tighter
    python -m bench.drawn_eval --n 3000 --paired 12 22 --sizes 45-70   # one pen path per digit at both widths
    python -m bench.drawn_eval --models bilstm=checkpoints/digit-bilstm two-layer=runs/digit-bilstm2
    python -m bench.drawn_eval --at edb77fe   # the checkpoints and preprocessing of an earlier commit

Each test digit is thinned to its skeleton and traced into strokes (src.strokes), then drawn on a 300 px
canvas (the Sketch tab's) with a pen 6 to 50 px wide, the ink's box 25% to 95% of the canvas, a random
place, slant (±12°), tilt (±5°) and wobble (up to 3 px), black on white paper for half of the drawings and
ink on a transparent canvas for the other half (`--steady`: no slant, tilt or wobble). The drawing goes
through the app's own preprocessing (ink_map -> to_mnist) into both models, or into any checkpoint folders
(`--models`), or, with `--at REV`, through the digit checkpoints and src/preprocess.py of commit REV, taken
from git history (to compare these drawings with those of an earlier measurement). A last row draws
"photos": the digit on tinted paper with uneven light, blur, sensor noise and JPEG compression, read back
from the JPEG file as an upload is.

Prints the accuracy per pen width and size bucket for both models and writes the table to
bench/drawn_results.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from src import data
from src.digits import DigitRNN, logits_in_batches
from src.evaluate import digit_accuracy
from src.hub import load_folder
from src.preprocess import ink_map, read_image, to_mnist
from src.strokes import BLOB, Pen, digit_strokes, draw

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (6, 12, 22, 32, 44, 50)
SIZES = ((0.25, 0.45), (0.45, 0.70), (0.70, 0.95))
CANVAS = 300
NAMES = ("digit-bilstm", "digit-lstm")
Preprocess = Callable[[np.ndarray], "np.ndarray | None"]  # an RGBA drawing -> the (28, 28) model input


def app_preprocess(drawing: np.ndarray) -> np.ndarray | None:
    """What the app does to a canvas before the model reads it."""
    return to_mnist(ink_map(drawing))


def random_pen(rng: np.random.Generator, width: float, size: tuple[float, float], transparent: bool,
               steady: bool = False) -> Pen:
    """A pen of the given width at a random size in `size`, place, slant, tilt and wobble (none if `steady`;
    the same random draws either way, so a steady drawing is the same digit at the same size and place)."""
    share = rng.uniform(*size)
    margin = share / 2
    centre = (rng.uniform(margin, 1 - margin), rng.uniform(margin, 1 - margin))
    slant, rotate, jitter = rng.uniform(-12, 12), rng.uniform(-5, 5), rng.uniform(0, 3)
    if steady:
        slant = rotate = jitter = 0.0
    return Pen(width=width, size=share, centre=centre, slant=slant, rotate=rotate, jitter=jitter,
               transparent=transparent)


def from_git(rev: str, names: tuple[str, ...] = NAMES) -> tuple[dict, Preprocess]:
    """The digit checkpoints `names` and the preprocessing (src/preprocess.py) of commit `rev`, from git
    history; needs a clone with that commit."""
    def show(path: str) -> bytes:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True).stdout

    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "preprocess.py").write_bytes(show("src/preprocess.py"))
        spec = importlib.util.spec_from_file_location(f"preprocess_at_{rev}", folder / "preprocess.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name in names:
            (folder / name).mkdir()
            for file in ("config.json", "model.safetensors"):
                (folder / name / file).write_bytes(show(f"checkpoints/{name}/{file}"))
            models[f"{name}@{rev}"] = load_folder(DigitRNN, folder / name)
    return models, lambda drawing: module.to_mnist(module.ink_map(drawing))


def photo(drawing: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A white-paper drawing as a phone photo of it: tinted paper, light falling off, blur, noise, JPEG."""
    ink = 1.0 - drawing[..., 0].astype(np.float32) / 255.0
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS] / CANVAS
    light = 0.75 + 0.25 * np.cos((xx - rng.uniform(0, 1)) * rng.uniform(1, 3)) * np.cos((yy - rng.uniform(0, 1)))
    paper = np.array([rng.uniform(200, 245), rng.uniform(195, 240), rng.uniform(180, 235)])
    pen = np.array([rng.uniform(10, 70)] * 3)
    rgb = (paper * (1 - ink[..., None]) + pen * ink[..., None]) * light[..., None]
    rgb += rng.normal(0, 5, rgb.shape)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(40, 85)))
    buffer.seek(0)
    return read_image(buffer)[0]


def evaluate(models: dict, n: int, seed: int, widths: tuple[int, ...] = WIDTHS,
             sizes: tuple[tuple[float, float], ...] = SIZES, photos: bool = True, blob: float = BLOB,
             steady: bool = False, preprocess: Preprocess = app_preprocess) -> tuple[list[str], dict]:
    """Accuracy per (row, size bucket) for each model; rows are pen widths and, with `photos`, 'photo';
    `blob`: the tracer's filled-loop setting (src.strokes.skeleton); `steady`: see random_pen."""
    images, labels = data.mnist_tensors(train=False)
    rng = np.random.default_rng(seed)
    strokes: dict[int, list] = {}
    rows = [f"{w} px" for w in widths] + (["photo (12-22 px pen)"] if photos else [])
    results: dict = {}
    drawn: list[int] = []  # every test digit drawn, for the stored-MNIST reference
    for row in rows:
        for size in sizes:
            picked = rng.choice(len(images), n, replace=False)
            drawn += picked.tolist()
            inputs = []
            for k, i in enumerate(picked):
                i = int(i)
                if i not in strokes:
                    strokes[i] = digit_strokes(images[i].numpy(), blob)
                is_photo = row.startswith("photo")
                width = rng.uniform(12, 22) if is_photo else float(row.split()[0])
                pen = random_pen(rng, width, size, transparent=not is_photo and k % 2 == 1, steady=steady)
                drawing = draw(strokes[i], pen, CANVAS, seed=int(rng.integers(2**31)))
                if is_photo:
                    drawing = photo(drawing, rng)
                image28 = preprocess(drawing)
                inputs.append(np.zeros((28, 28), np.float32) if image28 is None else image28)
            batch = torch.from_numpy(np.stack(inputs))
            for name, model in models.items():
                results[(name, row, size)] = digit_accuracy(model, batch, labels[picked])
    for name, model in models.items():  # the tracer's cost: the same digits as MNIST stores them
        results[(name, "stored")] = digit_accuracy(model, images[drawn], labels[drawn])
    return rows, results


def paired(models: dict, n: int, seed: int, widths: tuple[int, ...], size: tuple[float, float],
           blob: float = BLOB, preprocess: Preprocess = app_preprocess) -> str:
    """The same n test digits drawn at each width with the same pen path (size, place, slant, tilt, wobble):
    each model's accuracy per width, and how many of its misses at the widest pen it also makes at the
    narrowest and on the digit as MNIST stores it (a miss at every width is the drawing's, not the pen's)."""
    images, labels = data.mnist_tensors(train=False)
    rng = np.random.default_rng(seed)
    picked = torch.from_numpy(rng.choice(len(images), n, replace=False))
    drawn: dict[int, list[np.ndarray]] = {w: [] for w in widths}
    for k, i in enumerate(picked.tolist()):
        strokes, path_seed = digit_strokes(images[i].numpy(), blob), int(rng.integers(2**31))
        for width in widths:
            pen = random_pen(np.random.default_rng(path_seed), width, size, transparent=k % 2 == 1)
            image28 = preprocess(draw(strokes, pen, CANVAS, seed=path_seed))
            drawn[width].append(np.zeros((28, 28), np.float32) if image28 is None else image28)
    narrow, wide = min(widths), max(widths)
    lines = [f"{n} test digits drawn at {size[0]:.0%}-{size[1]:.0%} of the canvas, each with one pen path at every width:"]
    for name, model in models.items():
        model.eval()
        wrong = {w: logits_in_batches(model, torch.from_numpy(np.stack(d))).argmax(-1) != labels[picked]
                 for w, d in drawn.items()}
        stored = logits_in_batches(model, images[picked]).argmax(-1) != labels[picked]
        lines.append(f"{name}: " + ", ".join(f"{w} px {1 - wrong[w].float().mean().item():.2%}" for w in widths)
                     + f"; of its {int(wrong[wide].sum())} misses at {wide} px, {int((wrong[wide] & wrong[narrow]).sum())}"
                     f" are misses at {narrow} px too and {int((wrong[wide] & stored).sum())} on the stored digit")
    return "\n".join(lines)


def parse_sizes(buckets: list[str]) -> tuple[tuple[float, float], ...]:
    """Size buckets given in percent of the canvas ("45-70") as shares ((0.45, 0.70))."""
    return tuple(tuple(int(v) / 100 for v in bucket.split("-")) for bucket in buckets)


def table(rows: list[str], results: dict, n: int, sizes: tuple[tuple[float, float], ...] = SIZES) -> str:
    """Markdown: one line per pen width, a column per model and size bucket."""
    names = [key[0] for key in results if key[1] == "stored"]
    head = ["pen width"] + [f"{name.removeprefix('digit-')} {lo:.0%}-{hi:.0%}" for name in names for lo, hi in sizes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    places = 2 if n >= 5000 else 1  # thousands per cell: the second decimal tells apart models on the same drawings
    for row in rows:
        cells = [f"{results[(name, row, size)]:.{places}%}" for name in names for size in sizes]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines.append(f"\n{n} drawings per cell (MNIST test digits drawn on a {CANVAS} px canvas; size = the inked box's "
                 "longer side as a share of the canvas). The same test digits as MNIST stores them: "
                 + ", ".join(f"{results[(name, 'stored')]:.2%} {name}" for name in names) + ".")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="drawings per pen width and size bucket")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", metavar="NAME=FOLDER",
                        default=[f"{name}={ROOT / 'checkpoints' / name}" for name in NAMES],
                        help="digit checkpoint folders to measure, each under a name (default: the shipped pair)")
    parser.add_argument("--at", metavar="REV", help="instead: the digit checkpoints and preprocessing of this commit")
    parser.add_argument("--steady", action="store_true", help="draw without slant, tilt or wobble")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "drawn_results.md")
    parser.add_argument("--widths", type=int, nargs="+", default=WIDTHS, help="pen widths (px) to draw with")
    parser.add_argument("--sizes", nargs="+", default=[f"{lo:.0%}-{hi:.0%}".replace("%", "") for lo, hi in SIZES],
                        help="size buckets in percent of the canvas, e.g. 45-70")
    parser.add_argument("--photo", action=argparse.BooleanOptionalAction, default=True, help="the photo row")
    parser.add_argument("--blob", type=float, default=BLOB,
                        help="trace round ink deeper than this many stroke half-widths (a filled loop); "
                             "inf: thin the ink as it is (the tracer before filled loops were traced round)")
    parser.add_argument("--paired", type=int, nargs="+", metavar="WIDTH",
                        help="instead of the table: the same digits and pen paths at these widths, in the first "
                             "size bucket (see `paired`)")
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    if args.at:
        models, preprocess = from_git(args.at)
    else:
        if not all("=" in pair for pair in args.models):
            parser.error("--models takes NAME=FOLDER pairs, e.g. bilstm=checkpoints/digit-bilstm")
        models = {name: load_folder(DigitRNN, Path(folder))
                  for name, folder in (pair.split("=", 1) for pair in args.models)}
        preprocess = app_preprocess
    if args.paired:
        print(paired(models, args.n, args.seed, tuple(args.paired), sizes[0], args.blob, preprocess))
        return
    rows, results = evaluate(models, args.n, args.seed, tuple(args.widths), sizes, args.photo, args.blob,
                             args.steady, preprocess)
    text = table(rows, results, args.n, sizes)
    print(text)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
