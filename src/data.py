"""Training and evaluation data: MNIST tensors and the jokes corpora with their fixed split."""
from __future__ import annotations

import csv
import math
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets
from torchvision.transforms.v2.functional import gaussian_blur

from src.preprocess import ink_map, to_mnist
from src.strokes import BLOB, Pen, digit_strokes, draw

# The training data lives beside the repository (../shared/data), or wherever LSTM_DEMO_DATA points.
DATA_DIR = Path(os.environ.get("LSTM_DEMO_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
REQUIRED = ("MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/t10k-images-idx3-ubyte", "jokes/cleanjokes.csv",
            "jokes/extra")

# The project's held-out rule: cleanjokes with ID % 10 == 0 are the test split (162 jokes).
# Of the rest, ID % 10 == 5 is kept aside as validation for choosing checkpoints.
TEST_MOD, VAL_MOD = 0, 5

# Pretraining jokes that contain any of these stems are dropped: the shipped model must stay clean.
_BLOCKED = re.compile(
    r"\b(sex|porn|penis|vagina|dick|cock|pussy|tits|boob|fuck|shit|bitch|cunt|slut|whore|rape|"
    r"nigg|fag|retard|dildo|orgasm|erection|condom|masturbat|anal\b|anus|butt|ass\b|asshole|"
    r"horny|naked|nude|viagra|hooker|prostitut|blowjob|damn|hell\b|crap|piss|cum\b|semen|"
    r"testic|balls\b|nazi|hitler|jews?\b|muslim|terroris|isis|nsfw|gay|lesbian|lesbo|dyke|"
    r"abortion|pedo|molest|incest|drunk|weed|cocaine|heroin|kill|murder|suicide|dead baby)",
    re.IGNORECASE,
)


# Scraped junk that a model trained on it learns to write: links, subreddit names, markup, drawn-out
# characters and endless "words". Training jokes that match a rule are dropped (jokes_dropped counts them).
JUNK_RULES = {
    "link": re.compile(r"https?://|www\.|\b[\w-]+\.(com|net|org|co|ly|io|gov|edu|uk)\b", re.IGNORECASE),
    "subreddit": re.compile(r"(?<![\w/])/?r/\w", re.IGNORECASE),
    "markup": re.compile(r"&(gt|lt|amp|quot|nbsp|#\d+);|\]\(|\*\*|__"),
    "character repeated 5+ times": re.compile(r"([^\w\s])\1{4,}|([A-Za-z])\2{4,}"),
    "word over 30 characters": re.compile(r"\S{31,}"),
}


def missing_data(root: Path = DATA_DIR) -> str | None:
    """None when the training data is in place, else a message saying what is missing and where it goes."""
    missing = [name for name in REQUIRED if not (root / name).exists()]
    if not missing:
        return None
    return (f"the training data is missing from {root} ({', '.join(missing)}): put MNIST (torchvision's raw "
            f"layout) and the jokes there, or set LSTM_DEMO_DATA to the folder that holds them")


def mnist_tensors(train: bool, root: Path = DATA_DIR) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as (N, 28, 28) float intensities in [0, 1] (white digit on black) and (N,) labels."""
    ds = datasets.MNIST(str(root), train=train, download=False)
    return ds.data.float().div_(255.0), ds.targets.clone()


def _read_jokes(path: Path) -> list[tuple[int, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [(int(row["ID"]), row["Joke"].strip()) for row in csv.DictReader(f) if row["Joke"].strip()]


def _word_runs(joke: str, n: int = 6) -> set[tuple[str, ...]]:
    """Runs of n words (lower case, punctuation dropped); a shorter joke is one run of all its words."""
    words = tuple(re.findall(r"[a-z0-9]+", joke.lower()))
    return {words[i:i + n] for i in range(max(1, len(words) - n + 1))}


def overlaps_test(root: Path = DATA_DIR) -> Callable[[str], bool]:
    """A predicate: does a joke equal a test joke or share a run of six words with one? cleanjokes.csv
    holds copies of some test jokes under other IDs (ID 320 is also 621 and 1338), and training on those
    would be training on the test split."""
    test_runs = set().union(*(_word_runs(j) for j in clean_jokes("test", root)))
    return lambda joke: not _word_runs(joke).isdisjoint(test_runs)


# The scraped text's spacing: a space before punctuation ("who ?") in 5.7% of the extra jokes and two
# spaces in a row in 10.6%; a model trained on it writes them. Recipes with tidy_spacing train on tidied
# text; held-out text is always scored as it is.
_RUN_OF_SPACES = re.compile(r" {2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([?!.,;:])(?=\s|$)")  # not " ..." or " :)"


def tidy_spacing(joke: str) -> str:
    """The joke with runs of spaces made one, and no space before a lone ? ! . , ; or : (one that ends a
    word)."""
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _RUN_OF_SPACES.sub(" ", joke))


def tidied(tidy: bool) -> Callable[[str], str]:
    """tidy_spacing, or the text as it is."""
    return tidy_spacing if tidy else str


def clean_jokes(split: str, root: Path = DATA_DIR, *, tidy: bool = False) -> list[str]:
    """cleanjokes.csv by split: 'test' (ID % 10 == 0), 'val' (ID % 10 == 5) or 'train' (the rest, less
    any joke that overlaps a test joke (see overlaps_test) or is junk (see JUNK_RULES); with `tidy`, its
    spacing tidied first (see tidy_spacing))."""
    rows = _read_jokes(root / "jokes" / "cleanjokes.csv")
    pick = {
        "test": lambda i: i % 10 == TEST_MOD,
        "val": lambda i: i % 10 == VAL_MOD,
        "train": lambda i: i % 10 not in (TEST_MOD, VAL_MOD),
    }[split]
    jokes = [joke for i, joke in rows if pick(i)]
    if split == "train":
        overlaps = overlaps_test(root)
        jokes = [j for j in map(tidied(tidy), jokes) if not overlaps(j) and junk_rule(j) is None]
    return jokes


def is_clean(joke: str) -> bool:
    """True if no blocked word stem occurs in the joke."""
    return _BLOCKED.search(joke) is None


def junk_rule(joke: str) -> str | None:
    """The name of the first JUNK_RULES rule the joke breaks, or None for clean text."""
    return next((name for name, rule in JUNK_RULES.items() if rule.search(joke)), None)


def jokes_dropped(root: Path = DATA_DIR, *, tidy: bool = False) -> dict[str, dict[str, int]]:
    """How many training jokes each filter drops, for the cleanjokes training split and the extra jokes
    (a joke is counted under the first rule it breaks, in the order the filters run), `tidy` as in
    clean_jokes."""
    overlaps = overlaps_test(root)
    rows = _read_jokes(root / "jokes" / "cleanjokes.csv")
    train = [tidied(tidy)(j) for i, j in rows if i % 10 not in (TEST_MOD, VAL_MOD) and not overlaps(j)]
    report = {"cleanjokes train": dict(Counter(filter(None, map(junk_rule, train))))}
    extra = [tidied(tidy)(joke) for path in sorted((root / "jokes" / "extra").glob("*.csv"))
             for _, joke in _read_jokes(path)]
    counts: Counter[str] = Counter()
    for joke in extra:
        for name, drops in (("over 1000 characters", len(joke) > 1000), ("blocked word", not is_clean(joke)),
                            ("overlaps a test joke", overlaps(joke))):
            if drops:
                counts[name] += 1
                break
        else:
            counts[junk_rule(joke)] += 1
    counts.pop(None, None)
    report["extra"] = dict(counts)
    return report


def pretraining_jokes(root: Path = DATA_DIR, max_chars: int = 1000, *, tidy: bool = False) -> list[str]:
    """The extra jokes, filtered: at most `max_chars` long, clean, not junk, de-duplicated, not a
    validation joke and not overlapping a test joke; with `tidy`, spacing tidied first (see tidy_spacing)."""
    prepare = tidied(tidy)
    held = {prepare(j).lower() for j in clean_jokes("val", root)}
    overlaps = overlaps_test(root)
    seen: set[str] = set()
    kept = []
    for path in sorted((root / "jokes" / "extra").glob("*.csv")):
        for _, raw in _read_jokes(path):
            joke = prepare(raw)  # first: tidying can make junk ("bar. ......" -> "bar.......")
            key = joke.lower()
            if (len(joke) <= max_chars and is_clean(joke) and junk_rule(joke) is None and key not in seen
                    and key not in held and not overlaps(joke)):
                seen.add(key)
                kept.append(joke)
    return kept


def random_affine(images: torch.Tensor, generator: torch.Generator, degrees: float = 10.0,
                  translate: float = 0.1, scale: tuple[float, float] = (0.9, 1.1),
                  shear: float = 10.0, elastic: float = 0.0, sigma: float = 4.0, p: float = 1.0,
                  mode: str = "bilinear") -> torch.Tensor:
    """Augment a batch (N, 28, 28) with an independent random affine map per image, plus an elastic
    distortion (Simard et al. 2003: a random displacement field smoothed by a Gaussian of width `sigma`
    and scaled to `elastic` pixels) when `elastic` > 0. Each image is transformed with probability `p`
    and otherwise left as it is. `mode` is grid_sample's interpolation: "bilinear" softens the strokes,
    "nearest" (torchvision RandomAffine's default) keeps them as crisp as the test images.

    The same ranges as torchvision's RandomAffine, but drawn per image and applied to the whole batch
    with one grid_sample call: v2.RandomAffine samples one map per call and costs ~0.5 ms per image
    here, more than the LSTM step it feeds.
    """
    n = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.empty(n).uniform_(low, high, generator=generator)

    angle = torch.deg2rad(uniform(-degrees, degrees))
    shear_x = torch.deg2rad(uniform(-shear, shear))
    zoom = uniform(*scale)
    # Rotation, then shear along x, then zoom: the inverse map that affine_grid expects (output -> input).
    cos, sin = torch.cos(angle), torch.sin(angle)
    a = torch.stack([cos, -sin + cos * torch.tan(shear_x)], -1)
    b = torch.stack([sin, cos + sin * torch.tan(shear_x)], -1)
    theta = torch.stack([a, b], 1) / zoom[:, None, None]
    shift = torch.stack([uniform(-translate, translate), uniform(-translate, translate)], -1) * 2
    theta = torch.cat([theta, shift[:, :, None]], dim=2)
    grid = torch.nn.functional.affine_grid(theta, (n, 1, 28, 28), align_corners=False)
    if elastic > 0:
        noise = torch.rand(n, 2, 28, 28, generator=generator) * 2 - 1
        field = gaussian_blur(noise, kernel_size=2 * math.ceil(3 * sigma) + 1, sigma=sigma)
        # pixels -> grid_sample's [-1, 1] coordinates
        grid = grid + field.permute(0, 2, 3, 1) * (elastic * 2 / 28)
    out = torch.nn.functional.grid_sample(images[:, None], grid, mode=mode, align_corners=False)[:, 0]
    if p >= 1.0:
        return out
    # Resampling blurs even a near-identity map, so untouched images keep the crisp strokes of the test set.
    keep = torch.rand(n, generator=generator) >= p
    return torch.where(keep[:, None, None], images, out)


def drawn_digits(images: torch.Tensor, seed: int, widths: tuple[float, float] = (6, 50),
                 sizes: tuple[float, float] = (0.25, 0.95), max_ratio: float = 0.4, canvas: int = 150,
                 blob: float = BLOB) -> torch.Tensor:
    """Each (28, 28) digit traced into strokes and drawn again as on the app's canvas (a round pen of a
    random width, at a random size, place, slant, tilt and wobble), then read back through the app's own
    preprocessing (src.preprocess.to_mnist): what the model meets when people draw. The pen is at most
    `max_ratio` of the ink's size (fatter, most digits are blobs nobody could read). Widths are given for
    a 300 px canvas; drawings are made at `canvas` px with the pen scaled along (the result is the same,
    4x cheaper); `blob` is the tracer's (src.strokes.skeleton). Deterministic for a seed; uses the CPU's
    cores."""
    chunks = torch.arange(len(images)).chunk(max(1, min(len(images) // 256, 64)))
    jobs = [(images[c].numpy(), seed * 100_003 + k, widths, sizes, max_ratio, canvas, blob)
            for k, c in enumerate(chunks)]
    # "spawn": forked workers of a process that has run torch's thread pool can hang.
    with ProcessPoolExecutor(len(os.sched_getaffinity(0)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return torch.cat(list(pool.map(_draw_chunk, *zip(*jobs))))


def _draw_chunk(images: np.ndarray, seed: int, widths: tuple[float, float], sizes: tuple[float, float],
                max_ratio: float, canvas: int, blob: float) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    out = torch.zeros(len(images), 28, 28)
    for k, image in enumerate(images):
        share = rng.uniform(*sizes)
        width = min(rng.uniform(*widths) / 300, max_ratio * share)
        pen = Pen(width=width * canvas, size=share,
                  centre=tuple(rng.uniform(share / 2, 1 - share / 2, 2)), slant=rng.uniform(-15, 15),
                  rotate=rng.uniform(-8, 8), jitter=rng.uniform(0, 3) * canvas / 300,
                  transparent=bool(rng.integers(2)))
        drawn = to_mnist(ink_map(draw(digit_strokes(image, blob), pen, canvas, seed=int(rng.integers(2**31)))))
        if drawn is not None:
            out[k] = torch.from_numpy(drawn)
    return out
