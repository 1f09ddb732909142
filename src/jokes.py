"""A subword LSTM language model of short jokes: exact likelihoods and streaming sampling.

The vocabulary (src.tokenizer) holds frequent words and word pieces plus every single byte, so any
prompt works (unknown words, emoji, empty) and `nll` scores exactly the given text: unknown words are
spelled with smaller tokens, down to bytes, and pay for every one of them. Token 0 marks both the start
and the end of a joke.

The model's probabilities (`read`, `step`, `nll`, sampling) are the LSTM's mixed with a within-joke cache
(`cache_mix`), whose two settings are fitted on held-out jokes after training (`fit_cache`).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from src.checkpoint import HubCheckpoint
from src.sampling import (CRUDE, MAX_SYMBOL_RUN, MAX_TOKENS_PER_WORD, MAX_WORD_CHARS, SPACED_PUNCTUATION, Sampled, Written,
                          check_sampling, decoded, draw, filtered_probs, is_symbol, unfinished)
from src.tokenizer import EOS, Tokenizer

# fit_cache's grid: the cache's weight in the mixture, and how sharply it picks the earlier positions
CACHE_WEIGHTS = tuple(round(0.01 * i, 2) for i in range(11))
CACHE_SHARPNESS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)


def padded(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows of different lengths as one (batch, longest) tensor padded with EOS after each row's tokens,
    and their lengths: an LSTM reading left to right gives every real position the state it gets alone."""
    lengths = torch.tensor([len(row) for row in rows])
    tokens = torch.full((len(rows), int(lengths.max())), EOS)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return tokens, lengths


@dataclass(frozen=True)
class Context:
    """What the LM carries from token to token: the LSTM state and, for its cache, the top layer's output at
    every token read so far with those tokens, in the pieces they were read in ((batch, n, hidden) and
    (batch, n) each): a sampled joke keeps every step's context, and pieces let them share what they hold."""

    state: tuple[torch.Tensor, torch.Tensor]
    outputs: tuple[torch.Tensor, ...]
    tokens: tuple[torch.Tensor, ...]

    def expand(self, batch: int) -> Context:
        """The same context for `batch` continuations (from a batch of one)."""
        return Context(tuple(s.expand(-1, batch, -1).contiguous() for s in self.state),
                       tuple(o.expand(batch, -1, -1) for o in self.outputs),
                       tuple(t.expand(batch, -1) for t in self.tokens))


def cache_mix(log_probs: torch.Tensor, queries: torch.Tensor, keys: torch.Tensor, tokens: torch.Tensor,
              weight: float, sharpness: float) -> torch.Tensor:
    """Next-token log-probabilities (batch, n, vocab) mixed with a continuous cache (Grave et al. 2017,
    "Improving neural language models with a continuous cache"): (1 - weight) x the LM's + weight x the
    cache's, where the cache gives each earlier position of the same joke (but the one just before) the
    softmax of sharpness x (its output . this output) and puts that on the token that followed it. Jokes
    repeat themselves ("Knock knock. Who's there? Lettuce. Lettuce who?"), and the cache copies from the joke
    itself. `keys`: the outputs at every token read (batch, total, hidden), `tokens` those tokens (batch,
    total), `queries` the last n of `keys`. A joke starts at its start token (EOS): text after another joke
    does not look back past it. A position with no such earlier one keeps the LM's probabilities."""
    n, total = queries.shape[1], keys.shape[1]
    if not weight or total < 2:
        return log_probs
    positions = torch.arange(total)
    joke_start = torch.where(tokens == EOS, positions, 0).cummax(-1).values[:, total - n:]
    # Key i (followed by token i + 1) is in query j's joke (j is the (total - n + j)-th position), two or more
    # positions before it: the key just before j is followed by the token j has just read and is the most like
    # it, so the cache would mostly say "again" (generated jokes stuttered: "some some", "on on").
    earlier = (positions[:-1] < positions[total - n:, None] - 1) & (positions[:-1] >= joke_start[..., None])
    scores = (sharpness * queries @ keys[:, :-1].transpose(1, 2)).masked_fill(~earlier, -math.inf)
    attention = scores.softmax(-1).nan_to_num(0.0)  # a query with no earlier key: all -inf, then 0
    # Only the tokens that followed a key change by more than the factor (1 - weight): the cache's probability
    # of each key's follower (attention summed over the keys with the same follower, each distinct follower
    # a slot) is mixed in there alone, not over the whole vocabulary (rescoring reads 50 continuations at once).
    followers = tokens[:, 1:]
    distinct, slot = followers.unique(return_inverse=True)
    slot = slot[:, None, :].expand(-1, n, -1)
    cache = attention.new_zeros(*attention.shape[:2], len(distinct)).scatter_add_(2, slot, attention).gather(2, slot)
    index = followers[:, None, :].expand(-1, n, -1)
    at_followers = log_probs.gather(2, index)
    mixed = torch.logaddexp(at_followers + math.log1p(-weight), cache.log() + math.log(weight))
    has_earlier = earlier.any(-1)[..., None]
    scaled = log_probs + torch.where(has_earlier, math.log1p(-weight), 0.0)
    return scaled.scatter_(2, index, torch.where(has_earlier, mixed, at_followers))


class JokeLSTM(
    nn.Module,
    HubCheckpoint,
    library_name="pytorch",
    tags=["text-generation", "lstm", "jokes"],
    license="mit",
):
    """Subword LSTM language model with tied input and output embeddings.

    In training, dropout masks the embeddings and the LSTM's outputs, and `weight_drop` drops that share of
    the LSTM's hidden-to-hidden weights, a new mask per batch (DropConnect, as in Merity et al.'s AWD-LSTM):
    it regularises the recurrence itself, which dropout on the inputs and outputs does not reach.

    The cache's weight and sharpness are buffers, saved with the weights (0: no cache; folders from before
    it load with it off)."""

    card_title = "Subword LSTM joke generator"
    card_description = (
        "Pretrained on filtered jokes from the Short Jokes collections, fine-tuned on the training split of "
        "r/cleanjokes (ID % 10 != 0, less any joke sharing six words with a test joke). Bits per character "
        "are measured on the 162 held-out jokes (ID % 10 == 0). The "
        "vocabulary (frequent words, word pieces and all 256 bytes) is in config.json."
    )

    def __init__(self, vocab: list[str], embed_dim: int = 256, hidden_size: int = 512, num_layers: int = 1,
                 dropout: float = 0.25, weight_drop: float = 0.0, stored_as: str = "float32"):
        super().__init__()
        self.stored_as = stored_as  # model.safetensors' dtype (src.checkpoint.HubCheckpoint)
        self.tokenizer = Tokenizer(vocab)
        self.embed = nn.Embedding(len(self.tokenizer), embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.weight_drop = weight_drop
        self.proj = nn.Linear(hidden_size, embed_dim)
        self.head = nn.Linear(embed_dim, len(self.tokenizer))
        self.head.weight = self.embed.weight  # tied: a token's input and output vectors are one
        self.register_buffer("cache_weight", torch.zeros(()))
        self.register_buffer("cache_sharpness", torch.zeros(()))
        self.register_load_state_dict_pre_hook(self._cache_off_when_absent)

    @staticmethod
    def _cache_off_when_absent(module: nn.Module, state_dict: dict, prefix: str, *args: object) -> None:
        """Weights saved before the cache existed (older folders and Hub revisions) load with it off."""
        for name in ("cache_weight", "cache_sharpness"):
            state_dict.setdefault(prefix + name, torch.zeros(()))

    def forward(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(batch, time) token ids -> the LSTM's own logits (batch, time, vocab), without the cache (training,
        calibration), and the LSTM state after the last step."""
        x = self.dropout(self.embed(tokens))
        if self.training and self.weight_drop:
            dropped = {name: F.dropout(getattr(self.lstm, name), self.weight_drop)
                       for name in (f"weight_hh_l{layer}" for layer in range(self.lstm.num_layers))}
            output, state = torch.func.functional_call(self.lstm, dropped, (x, state))
        else:
            output, state = self.lstm(x, state)
        return self.head(self.proj(self.dropout(output))), state

    @torch.no_grad()
    def read(self, tokens: torch.Tensor, context: Context | None = None) -> tuple[torch.Tensor, Context]:
        """The model's next-token log-probabilities (batch, time, vocab) after each of `tokens` (batch, time),
        read after `context` (None: from a zero state), and the context after them. Inference: no dropout."""
        output, state = self.lstm(self.embed(tokens), None if context is None else context.state)
        return self._mixed(self.head(self.proj(output)), output, tokens, state, context)

    @torch.no_grad()
    def last_log_probs(self, rows: list[list[int]]) -> torch.Tensor:
        """read's log-probabilities (n, vocab) after the last token of each row, every row read from a zero state,
        all in one padded batch: the head and the cache work at each row's end only (read's head at every
        position is most of its cost when only the next token matters)."""
        tokens, lengths = padded(rows)
        output, _ = self.lstm(self.embed(tokens))
        last = output[torch.arange(len(rows)), lengths - 1]
        log_probs = self.head(self.proj(last)).log_softmax(-1)
        weight, sharpness = float(self.cache_weight), float(self.cache_sharpness)
        return torch.cat([cache_mix(log_probs[i, None, None], last[i, None, None], output[i, None, :n],
                                    tokens[i, None, :n], weight, sharpness)[0] for i, n in enumerate(lengths.tolist())])

    @torch.no_grad()
    def step(self, token: int, context: Context) -> tuple[torch.Tensor, Context]:
        """Log-probabilities (vocab,) after one more token read after `context`, and the context after it.

        torch.lstm_cell layer by layer: for a single step, nn.LSTM's call costs about 2.5 ms on this CPU
        and the cell 0.4 ms, and the step is most of a sampled token's cost.
        """
        x = self.embed(torch.tensor([token]))
        hidden, cell = context.state
        new_hidden, new_cell = [], []
        for layer in range(self.lstm.num_layers):
            weights = (getattr(self.lstm, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            h, c = torch.lstm_cell(x, (hidden[layer], cell[layer]), *weights)
            new_hidden.append(h)
            new_cell.append(c)
            x = h
        # A start token begins a new joke, which the cache does not look back past (cache_mix): it forgets the last.
        kept = context if token != EOS else Context(context.state, (), ())
        log_probs, after = self._mixed(self.head(self.proj(x))[:, None], x[:, None], torch.tensor([[token]]),
                                       (torch.stack(new_hidden), torch.stack(new_cell)), kept)
        return log_probs[0, 0], after

    def _mixed(self, logits: torch.Tensor, outputs: torch.Tensor, tokens: torch.Tensor,
               state: tuple[torch.Tensor, torch.Tensor], before: Context | None) -> tuple[torch.Tensor, Context]:
        """The LSTM's logits for new tokens as the model's log-probabilities (cache_mix), and the context after them."""
        after = Context(state, (*before.outputs, outputs) if before else (outputs,),
                        (*before.tokens, tokens) if before else (tokens,))
        log_probs = logits.log_softmax(-1)
        if float(self.cache_weight):
            log_probs = cache_mix(log_probs, outputs, torch.cat(after.outputs, 1), torch.cat(after.tokens, 1),
                                  float(self.cache_weight), float(self.cache_sharpness))
        return log_probs, after

    def encode_joke(self, text: str) -> list[int]:
        """Ids of a joke's text, preceded by the start-of-joke token."""
        return [EOS, *self.tokenizer.encode(text)]

    def joke_tokens(self, text: str) -> torch.Tensor:
        """Ids (1, tokens) of `text` as a whole joke: the start token, its tokens, the end token."""
        return torch.tensor([self.encode_joke(text) + [EOS]])

    def joke_log_probs(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The log-probabilities (tokens, vocab) of every token of `text` as a whole joke, end token
        included, and those tokens' ids."""
        tokens = self.joke_tokens(text)
        log_probs, _ = self.read(tokens[:, :-1])
        return log_probs[0], tokens[0, 1:]

    @torch.no_grad()
    def nll(self, text: str) -> float:
        """Negative log-likelihood in nats of `text` as a whole joke (its end-of-joke token included)."""
        log_probs, targets = self.joke_log_probs(text)
        return -log_probs.gather(1, targets[:, None]).sum().item()

    def calibrate(self, jokes: list[str]) -> float:
        """Fit one temperature T to the LSTM's own logits (no cache) on `jokes` (held-out ones: the validation
        split) by likelihood and fold it into the weights, returning T. A fine-tuned LM tends to be
        overconfident (T > 1); dividing the output projection and the output bias by T divides every logit
        by T, so scoring, sampling and rescoring all use the calibrated probabilities and the folder format
        stays the same."""
        self.eval()
        with torch.no_grad():
            logits, targets = map(torch.cat, zip(*((self(t[:, :-1])[0][0], t[0, 1:])
                                                   for t in map(self.joke_tokens, jokes))))
        log_scale = torch.zeros((), requires_grad=True)  # log(1 / T); the loss is convex in 1 / T
        search = torch.optim.LBFGS([log_scale], max_iter=100, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            search.zero_grad()
            value = F.cross_entropy(logits * log_scale.exp(), targets)
            value.backward()
            return value

        search.step(loss)
        scale = log_scale.detach().exp()
        with torch.no_grad():
            for weights in (self.proj.weight, self.proj.bias, self.head.bias):
                weights.mul_(scale)
        return 1 / scale.item()

    def fit_cache(self, jokes: list[str]) -> tuple[float, float]:
        """Choose the cache's weight and sharpness (cache_mix) that score `jokes` (held-out ones: the
        validation split) best, from the grid CACHE_WEIGHTS x CACHE_SHARPNESS (weight 0: no cache), and
        keep them; returns (weight, sharpness)."""
        self.eval()
        self.cache_weight.fill_(0.0)  # each joke read once, by the LSTM alone; each grid point mixes the cache in
        read = [(*self.read(tokens[:, :-1]), tokens) for tokens in map(self.joke_tokens, jokes)]

        def nll(weight: float, sharpness: float) -> float:
            return -sum(cache_mix(log_probs, context.outputs[0], context.outputs[0], tokens[:, :-1], weight,
                                  sharpness)[0].gather(1, tokens[0, 1:, None]).sum().item()
                        for log_probs, context, tokens in read)

        weight, sharpness = min(((w, s) for w in CACHE_WEIGHTS for s in CACHE_SHARPNESS), key=lambda ws: nll(*ws))
        self.cache_weight.fill_(weight)
        sharpness = sharpness if weight else 0.0
        self.cache_sharpness.fill_(sharpness)
        return weight, sharpness

    @torch.no_grad()
    def next_token_log_probs(self, prompt: str) -> torch.Tensor:
        """Log-probabilities (vocab,) of the token that follows `prompt` at the start of a joke, as generation's
        first step sees them (the tokens that may not come there masked)."""
        log_probs, _, written = self._read(prompt)
        log_probs[self.blocked(written, 0)] = -math.inf
        return log_probs

    def _read(self, prompt: str) -> tuple[torch.Tensor, Context, Written]:
        """Read a prompt once: the log-probabilities of the next token, the context and what the prompt has
        written. Trailing white space is not read: it stands for the next word's own space (see Written)."""
        log_probs, context = self.read(torch.tensor([self.encode_joke(prompt.rstrip())]))
        return log_probs[0, -1], context, Written.prompt(prompt)

    def token_text(self, token: int) -> str:
        """A token as readable text; a byte that is not a whole character shows as its escape (b"\\xe2" as
        "\\xe2"), so the vocabulary's 128 single bytes of longer characters do not all look alike ("\ufffd")."""
        return self.tokenizer.token_bytes(token).decode("utf-8", errors="backslashreplace")

    @torch.no_grad()
    def generate(self, prompt: str = "", *, temperature: float = 0.8, top_k: int = 0, top_p: float = 1.0,
                 max_words: int = 40, seed: int | None = None, stop_at_end: bool = True,
                 min_words: int = 0) -> Iterator[str]:
        """Sample a continuation of `prompt`, yielding text pieces as they are sampled.

        temperature 0 is greedy; top_k=0 and top_p=1.0 disable those filters; the same seed gives the
        same text. Stops at the end-of-joke token (which is held back until min_words words are out;
        with stop_at_end=False the next joke follows on a new line), before the token that would start
        word max_words + 1 or make a word longer than MAX_WORD_CHARS, or after max_words *
        MAX_TOKENS_PER_WORD tokens.
        """
        yield from decoded(self.sample(prompt, temperature=temperature, top_k=top_k, top_p=top_p,
                                       max_words=max_words, seed=seed, stop_at_end=stop_at_end, min_words=min_words))

    @torch.no_grad()
    def sample(self, prompt: str = "", *, temperature: float = 0.8, top_k: int = 0, top_p: float = 1.0,
               max_words: int = 40, seed: int | None = None, stop_at_end: bool = True, min_words: int = 0,
               branch: tuple[Sampled, int] | None = None) -> Iterator[Sampled]:
        """The tokens `generate` writes, each with what the model knew when it was drawn. With
        branch=(step, token), start where an earlier run drew `step`, with `token` forced there instead
        (the prompt is not read again: the step carries the context), then sample on as usual."""
        check_sampling(temperature, top_k, top_p, max_words)
        generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        if branch is None:
            # The prompt is read once; afterwards each sampled token costs one LSTM step on the carried context.
            (log_probs, context, written), forced = self._read(prompt), None
        else:
            start, forced = branch
            log_probs, context, written = start.log_probs.clone(), start.before, start.written
        for _ in range(max_words * MAX_TOKENS_PER_WORD):
            log_probs[self.blocked(written, min_words)] = -math.inf
            probs = filtered_probs(log_probs, temperature, top_k, top_p)
            token = draw(probs, temperature, generator) if forced is None else forced
            forced = None
            if token == EOS and stop_at_end:
                break
            # Without stop_at_end, the end of a joke starts the next one, on a new line.
            data = b"\n" if token == EOS else self.tokenizer.token_bytes(token)
            if written.space and token != EOS:
                data = data[1:]  # its leading space is the one the text ends with (see Written)
            after = written.after(data)
            if after.words > max_words or after.word_chars > MAX_WORD_CHARS:
                break
            yield Sampled(token, data, float(probs[token]), log_probs, context, written)
            written = after
            log_probs, context = self.step(token, context)

    def blocked(self, written: Written, min_words: int) -> torch.Tensor:
        """The token ids that may not come next: the end token while fewer than `min_words` words are out,
        a space before a lone ? ! . , ; or : (see _spaced_punctuation), any token that would repeat the symbol
        at the end of the text more than MAX_SYMBOL_RUN times, after a space that ends some text, any token
        that does not start a word with its own space, any token whose bytes would not be UTF-8 after the
        text's (an unfinished character is finished first), and any token that would write a crude stem."""
        ids = ([EOS] if written.words < min_words else []) + self._spaced_punctuation() + self._crude_after(written.crude)
        if written.repeats:
            ids += self._leading_runs().get((written.symbol, MAX_SYMBOL_RUN + 1 - written.repeats), [])
        if written.space:
            ids += self._not_spaced()
        ids += self._not_utf8_after(written.partial)
        return torch.tensor(ids, dtype=torch.long)

    @functools.cache
    def _spaced_punctuation(self) -> list[int]:
        """The tokens that are a space and a lone ? ! . , ; or : (" ?"), which the pretraining jokes' "who ?"
        taught the LM to write (docs/joke-lm.md, Clean text)."""
        return [token for token, data in enumerate(self.tokenizer.tokens) if SPACED_PUNCTUATION.fullmatch(data)]

    @functools.cache
    def _crude_after(self, start: bytes) -> list[int]:
        """The tokens that would write a crude stem (src.sampling.CRUDE_STEMS) after `start`, the end of the
        word being written that begins one (a few dozen possible values, so the cache stays small)."""
        return [token for token, data in enumerate(self.tokenizer.tokens) if CRUDE.search(start + data)]

    @functools.cache
    def _not_utf8_after(self, partial: bytes) -> list[int]:
        """The tokens whose bytes after `partial` (an unfinished character, or b"") are not UTF-8 or its
        beginning; after an unfinished character, the end token too."""
        return [token for token, data in enumerate(self.tokenizer.tokens)
                if unfinished(partial + data) is None or (partial and token == EOS)]

    @functools.cache
    def _not_spaced(self) -> list[int]:
        """The tokens that are not a space and then something else: the end token and the bare space too."""
        return [token for token, data in enumerate(self.tokenizer.tokens)
                if not (data.startswith(b" ") and data.strip(b" "))]

    @functools.cache
    def _leading_runs(self) -> dict[tuple[int, int], list[int]]:
        """(symbol byte, n) -> the tokens that start with at least n copies of that symbol."""
        runs: dict[tuple[int, int], list[int]] = {}
        for token, data in enumerate(self.tokenizer.tokens):
            if data and is_symbol(data[0]):
                count = len(data) - len(data.lstrip(data[:1]))
                for n in range(1, count + 1):
                    runs.setdefault((data[0], n), []).append(token)
        return runs
