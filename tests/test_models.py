"""The models' contracts: shapes, directions, exact likelihoods, sampling, and a tiny training run."""
from __future__ import annotations

import codecs
import copy
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from safetensors.torch import load_file, save_file

from src import data
from src.digits import DigitRNN
from src.evaluate import bits_per_char
from src.examples import disagreements, load_gallery
from src.hub import load_folder
from src.jokes import CACHE_SHARPNESS, CACHE_WEIGHTS, JokeLSTM
from src.sampling import CRUDE, MAX_TOKENS_PER_WORD, Written, check_sampling, filtered_probs
from src.recipes import RECIPES, DigitRecipe, JokeRecipe, as_record
from src.tokenizer import EOS, build_vocab
from src.train import main as train_main
from src.train import train_blanks, train_digits, train_jokes
from src.train_digits import mixed
from src.train_jokes import joke_texts, vocabulary


@pytest.fixture(scope="module")
def tiny_lm() -> JokeLSTM:
    torch.manual_seed(0)
    vocab = build_vocab(["Why did the chicken cross the road?", "What do you call a fish with no eyes?"], 20, 10)
    return JokeLSTM(vocab, embed_dim=8, hidden_size=24, num_layers=1).eval()


def test_bilstm_classifies_from_both_final_states():
    torch.manual_seed(0)
    model = DigitRNN(hidden_size=8, bidirectional=True).eval()
    x = torch.rand(3, 28, 28)
    output, _ = model.lstm((x - 0.1307) / 0.3081)
    # forward half after the last row, backward half after reading back to the first row
    expected = model.head(torch.cat([output[:, -1, :8], output[:, 0, 8:]], -1))
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert not torch.allclose(model(x), model.head(output[:, -1]), atol=1e-4)


def test_lstm_row_by_row_ends_at_its_prediction():
    model = DigitRNN(hidden_size=8, bidirectional=False).eval()
    x = torch.rand(2, 28, 28)
    rows = model.row_by_row(x)["forward"]
    assert rows.shape == (2, 28, 10)
    assert torch.allclose(rows[:, -1], model(x).softmax(-1), atol=1e-6)


def test_digit_model_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="28, 28"):
        DigitRNN(hidden_size=8)(torch.rand(2, 28, 27))


def test_nll_is_the_probability_of_exactly_that_text(tiny_lm):
    text = "Zbigniew's xylophone? 🤖"
    tokens = [*tiny_lm.encode_joke(text), EOS]
    assert b"".join(tiny_lm.tokenizer.token_bytes(t) for t in tokens) == text.encode()
    # Score token by token with the carried state: the same sum as nll's single pass.
    total, state = 0.0, None
    for prev, nxt in zip(tokens, tokens[1:]):
        logits, state = tiny_lm(torch.tensor([[prev]]), state)
        total -= logits[0, -1].log_softmax(-1)[nxt].item()
    assert tiny_lm.nll(text) == pytest.approx(total, rel=1e-5)
    assert tiny_lm.nll("") > 0
    assert tiny_lm.nll(text) != pytest.approx(tiny_lm.nll(text + "!"))


def test_any_prompt_generates(tiny_lm):
    for prompt in ["", "qwzx unknownword", "🤖 ünï\x00\n\t", "\ud800 lone surrogate", "a" * 3000]:
        text = "".join(tiny_lm.generate(prompt, max_words=5, seed=1, stop_at_end=False))
        assert text.strip(), prompt[:20]
        assert 1 <= len(text.split()) <= 5, (prompt[:20], text)
        text.encode("utf-8")  # whole characters only: no stray surrogate or cut byte sequence


def test_generation_writes_whole_characters_only(tiny_lm):
    """An untrained LM draws single bytes all the time; none may start a character mid-way or leave one
    unfinished (each would be written as \ufffd)."""
    runs = [[step.data for step in tiny_lm.sample("é", temperature=1.5, max_words=8, seed=s, stop_at_end=False)]
            for s in range(30)]
    for written in runs:
        decoder = codecs.getincrementaldecoder("utf-8")()
        decoder.decode(b"".join(written))  # strict: raises on bytes that are not UTF-8
        unfinished_tail = decoder.getstate()[0]
        assert not unfinished_tail or len(written) == 8 * MAX_TOKENS_PER_WORD, \
            "only the token bound stops mid-character"
    texts = ["".join(tiny_lm.generate("é", temperature=1.5, max_words=8, seed=s, stop_at_end=False))
             for s in range(30)]
    assert not any("\ufffd" in text for text in texts)
    assert sum(ord(c) > 127 for text in texts for c in text) > 30, "it still writes characters beyond ASCII"


def test_same_seed_same_text_and_greedy_ignores_seed(tiny_lm):
    def run(**kw):
        return "".join(tiny_lm.generate("Why did", max_words=12, stop_at_end=False, **kw))
    assert run(seed=7) == run(seed=7)
    assert run(seed=7) != run(seed=8)
    assert run(temperature=0, seed=1) == run(temperature=0, seed=2) == run(top_k=1, seed=3)


def test_stop_at_end_false_runs_to_max_words(joke_model):
    for max_words in (1, 7, 60):
        text = "".join(joke_model.generate("", max_words=max_words, seed=3, stop_at_end=False))
        assert len(text.split()) == max_words


def test_stops_at_the_end_of_a_joke(joke_model):
    lengths = [len("".join(joke_model.generate("Why did the", max_words=300, seed=s)).split()) for s in range(5)]
    assert all(n < 300 for n in lengths), "jokes end on their own"


def crude_loving(model: JokeLSTM) -> JokeLSTM:
    """A copy of the model that wants to write crude stems: every token that would spell one, whole or after
    "fu", "sh" or "bi", gets a large head bias (the real LM rarely writes one: its training text has none)."""
    eager = copy.deepcopy(model)
    tokens = [t for t, data in enumerate(eager.tokenizer.tokens)
              if any(CRUDE.search(start + data) for start in (b"", b"fu", b"sh", b"bi"))]
    with torch.no_grad():
        eager.head.bias[tokens] += 20.0
    return eager


@pytest.mark.parametrize("prompt", ["You are a fu", "What the sh", "Re", "Knock knock. Who's there? Bi"])
def test_generation_never_spells_a_crude_stem(joke_model, prompt):
    """Not whole, not from pieces, not by finishing the word a prompt ends in, even when the model wants to."""
    model = crude_loving(joke_model)
    for seed in range(20):
        text = prompt + "".join(model.generate(prompt, temperature=1.0, max_words=12, seed=seed))
        assert not CRUDE.search(text.encode()), text


def test_the_start_of_a_crude_stem_is_followed_across_tokens_and_ends_with_the_word():
    assert Written.prompt("Re").after(b"fu").crude == b"fu"
    assert Written.prompt("x").after(b" sh").after(b"i").crude == b"shi"
    assert Written.prompt("fu ").crude == b"" and Written.prompt("x").after(b"shi").after(b" ok").crude == b""
    assert Written.prompt("Knock knock.\nWho's there? Bi").crude == b"bi"


def test_a_half_precision_folder_loads_back_as_the_model_that_was_scored(tiny_lm, tmp_path):
    joke = "Why did the chicken cross the road? To get to the other side!"
    for stored_as, size in (("float32", 4), ("float16", 2)):
        model = JokeLSTM(tiny_lm.tokenizer.vocab, embed_dim=8, hidden_size=24, stored_as=stored_as).eval()
        model.load_state_dict(tiny_lm.state_dict())
        model.round_to_stored()
        assert (model.lstm.weight_hh_l0 == tiny_lm.lstm.weight_hh_l0).all() == (stored_as == "float32")
        model.save_pretrained(tmp_path / stored_as)
        weights = load_file(tmp_path / stored_as / "model.safetensors")
        assert {w.element_size() for w in weights.values()} == {size}
        loaded = load_folder(JokeLSTM, tmp_path / stored_as)
        assert {p.dtype for p in loaded.parameters()} == {torch.float32}
        assert loaded.head.weight is loaded.embed.weight
        assert loaded.nll(joke) == model.nll(joke)


def test_state_is_carried_one_step_per_token(tiny_lm):
    calls = []
    hook = tiny_lm.lstm.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[1]))
    try:
        prompt = " ".join(["one two three four five"] * 10)
        list(tiny_lm.generate(prompt, max_words=8, temperature=0, stop_at_end=False))
    finally:
        hook.remove()
    assert calls == [len(tiny_lm.encode_joke(prompt))], "the prompt is read once; each token is one cell step"
    # A carried step gives what reading the whole text again gives, with the cache off and on.
    model = copy.deepcopy(tiny_lm)
    for weight, sharpness in ((0.0, 0.0), (0.1, 2.0)):
        model.cache_weight.fill_(weight)
        model.cache_sharpness.fill_(sharpness)
        tokens = model.encode_joke(prompt)
        _, context = model.read(torch.tensor([tokens]))
        for token in (5, 200, 0, len(model.tokenizer) - 1):
            log_probs, context = model.step(token, context)
            tokens.append(token)
            again, _ = model.read(torch.tensor([tokens]))
            assert torch.allclose(log_probs, again[0, -1], atol=1e-5)
            assert log_probs.exp().sum().item() == pytest.approx(1.0, abs=1e-5)


def test_weight_drop_masks_the_recurrent_weights_in_training_only(tiny_lm, tmp_path):
    tokens = torch.tensor([tiny_lm.encode_joke("Why did the chicken cross the road?")])
    model = JokeLSTM(tiny_lm.tokenizer.vocab, embed_dim=8, hidden_size=24, dropout=0.0, weight_drop=0.5)
    model.load_state_dict(tiny_lm.state_dict())
    kept = model.lstm.weight_hh_l0.detach().clone()
    model.eval()
    assert torch.equal(model(tokens)[0], tiny_lm(tokens)[0]), "no mask at inference"
    model.train()
    torch.manual_seed(0)
    first, _ = model(tokens)
    first.sum().backward()
    grad = model.lstm.weight_hh_l0.grad
    # About half the recurrent weights were dropped (no gradient), a new mask each call, the weights untouched.
    assert 0.4 < (grad == 0).float().mean() < 0.6 and (model.lstm.weight_ih_l0.grad != 0).float().mean() > 0.9
    assert not torch.equal(first, model(tokens)[0]) and torch.equal(model.lstm.weight_hh_l0, kept)
    model.save_pretrained(tmp_path)
    assert load_folder(JokeLSTM, tmp_path).weight_drop == 0.5
    # Training continued from a folder takes the run's settings, and saves them as its config.
    again = load_folder(JokeLSTM, tmp_path, dropout=0.1, weight_drop=0.2)
    assert (again.dropout.p, again.weight_drop) == (0.1, 0.2) and torch.equal(again.lstm.weight_hh_l0, kept)
    again.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["weight_drop"] == 0.2
    with pytest.raises(ValueError, match="weight_drop, calibrate and cache are the LM's"):
        train_blanks(JokeRecipe(bidirectional=True, weight_drop=0.5, limit=8), progress=False)


def lstm_logits(model: JokeLSTM, joke: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The LSTM's own logits (no cache) for each token of a whole joke, and those tokens."""
    tokens = model.joke_tokens(joke)
    return model(tokens[:, :-1])[0][0], tokens[0, 1:]


def test_calibration_divides_every_logit_by_the_likeliest_temperature(tiny_lm):
    jokes = ["Why did the chicken cross the road?", "What do you call a fish with no eyes?", "Why?"]
    tokens = torch.tensor([tiny_lm.encode_joke(jokes[0])])
    model = copy.deepcopy(tiny_lm)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(20):  # a model that has learnt something (an untrained one is best at an infinite T)
        optimizer.zero_grad()
        sum(F.cross_entropy(*lstm_logits(model, j), reduction="sum") for j in jokes).backward()
        optimizer.step()
    with torch.no_grad():  # ...and is overconfident: every logit times 5
        for weights in (model.proj.weight, model.proj.bias, model.head.bias):
            weights.mul_(5)
    before = model(tokens)[0]
    nll_before = sum(model.nll(j) for j in jokes)
    temperature = model.calibrate(jokes)
    assert temperature > 1.5
    assert torch.allclose(model(tokens)[0], before / temperature, atol=1e-5)
    assert sum(model.nll(j) for j in jokes) < nll_before
    # The likeliest temperature: a little hotter or colder scores the jokes worse, and a second fit keeps it.
    with torch.no_grad():
        logits, targets = map(torch.cat, zip(*(lstm_logits(model, j) for j in jokes)))
    score = lambda t: F.cross_entropy(logits / t, targets).item()  # noqa: E731
    assert score(1.0) < min(score(0.97), score(1.03))
    assert model.calibrate(jokes) == pytest.approx(1.0, abs=1e-3)


def test_the_cache_copies_from_the_joke_itself_and_keeps_a_distribution(tiny_lm):
    # Two jokes in a row, as generation writes them without stop_at_end: the second's cache starts at its start token.
    first, second = tiny_lm.joke_tokens("Knock knock. Who's there? Lettuce."), tiny_lm.joke_tokens("Lettuce who?")
    tokens = torch.cat([first, second[:, 1:]], 1)
    model = copy.deepcopy(tiny_lm)
    alone, _ = model.read(tokens[:, :-1])
    model.cache_weight.fill_(0.2)
    model.cache_sharpness.fill_(1.0)
    mixed, _ = model.read(tokens[:, :-1])
    assert torch.allclose(mixed.exp().sum(-1), torch.ones(mixed.shape[:2]), atol=1e-5)
    starts = [t for t in range(tokens.shape[1] - 1) if tokens[0, t] == EOS]  # of the tokens read
    assert starts == [0, first.shape[1] - 1]
    for t in range(tokens.shape[1] - 1):
        start = max(s for s in starts if s <= t)
        if t <= start + 1:
            assert torch.equal(mixed[0, t], alone[0, t]), "nothing in this joke before the last position to copy"
            continue
        # After position t the cache can only give the tokens that came after positions of the same joke before
        # t - 1 (not the token just read, unless it came earlier too), and gives them 0.2 in all.
        seen = torch.zeros(len(model.tokenizer), dtype=torch.bool)
        seen[tokens[0, start + 1:t]] = True
        lm_part = 0.8 * alone[0, t].exp()
        assert torch.allclose(mixed[0, t, ~seen].exp(), lm_part[~seen], rtol=1e-4)
        assert (mixed[0, t, seen].exp() > lm_part[seen]).all()
        assert (mixed[0, t, seen].exp() - lm_part[seen]).sum().item() == pytest.approx(0.2, abs=1e-5)


def test_fit_cache_keeps_the_best_grid_point_and_saves_it_with_the_weights(tiny_lm, tmp_path):
    jokes = ["Knock knock. Who's there? Lettuce. Lettuce who? Lettuce in, it's cold out here!",
             "Knock knock. Who's there? Boo. Boo who? Don't cry, it's only a joke."]
    model = copy.deepcopy(tiny_lm)
    nll = lambda m: sum(m.nll(j) for j in jokes)  # noqa: E731
    before = nll(model)
    weight, sharpness = model.fit_cache(jokes)
    fitted = nll(model)
    assert weight > 0 and fitted < before, "these jokes repeat themselves: the cache helps"
    other = copy.deepcopy(model)
    for w in CACHE_WEIGHTS:
        for s in CACHE_SHARPNESS:
            other.cache_weight.fill_(w)
            other.cache_sharpness.fill_(s)
            assert nll(other) >= fitted - 1e-4
    model.save_pretrained(tmp_path)
    loaded = load_folder(JokeLSTM, tmp_path)
    assert (float(loaded.cache_weight), float(loaded.cache_sharpness)) == pytest.approx((weight, sharpness))
    assert nll(loaded) == pytest.approx(fitted, rel=1e-6)
    # A folder saved before the cache existed has no such weights: it loads with the cache off.
    weights = load_file(tmp_path / "model.safetensors")
    del weights["cache_weight"], weights["cache_sharpness"]
    save_file(weights, tmp_path / "model.safetensors")
    assert nll(load_folder(JokeLSTM, tmp_path)) == pytest.approx(before, rel=1e-6)


def test_filters():
    logits = torch.tensor([3.0, 2.0, 1.0, 0.0])
    assert torch.equal(filtered_probs(logits, 0), torch.tensor([1.0, 0, 0, 0]))
    assert (filtered_probs(logits, 1.0, top_k=2)[2:] == 0).all()
    probs = filtered_probs(logits, 1.0)
    nucleus = filtered_probs(logits, 1.0, top_p=float(probs[0] + 1e-3))
    assert (nucleus[:2] > 0).all() and (nucleus[2:] == 0).all()
    assert torch.allclose(filtered_probs(logits, 1.0, top_k=0, top_p=1.0), probs)
    assert filtered_probs(logits, 2.0).max() < probs.max() < filtered_probs(logits, 0.5).max()


@pytest.mark.parametrize("temperature", [7.027626294649482e-220, 5e-324, 1e-40, 1e-37])
def test_a_tiny_temperature_is_greedy_not_nan(temperature):
    """Found by bench.harness's hypothesis run: 7e-220 became 0 in float32, and the division gave NaN."""
    logits = torch.tensor([-5.0, -1.0, -30.0, -math.inf])
    for top_k, top_p in ((0, 1.0), (1, 0.26)):
        assert torch.equal(filtered_probs(logits, temperature, top_k, top_p), torch.tensor([0.0, 1.0, 0.0, 0.0]))


@pytest.mark.parametrize("args, message", [
    ((-0.1, 0, 1.0, 5), "temperature"), ((math.nan, 0, 1.0, 5), "temperature"), ((1.0, -1, 1.0, 5), "top_k"),
    ((1.0, 0, 0.0, 5), "top_p"), ((1.0, 0, 1.5, 5), "top_p"), ((1.0, 0, 1.0, 0), "max_words"),
])
def test_sampling_settings_are_checked(args, message):
    with pytest.raises(ValueError, match=message):
        check_sampling(*args)


@pytest.mark.data
def test_tiny_digit_training_writes_a_loadable_checkpoint(tmp_path):
    model, metrics = train_digits(DigitRecipe(hidden_size=16, num_layers=2, epochs=1, drawn_epochs=0, limit=512),
                                  progress=False)
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["parameters"] == sum(p.numel() for p in model.parameters())
    assert len(metrics["curves"]["test_accuracy"]) == 1
    model.metrics = {"name": "digit-bilstm", **metrics}
    model.save_pretrained(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"config.json", "model.safetensors", "metrics.json", "README.md"}
    loaded = load_folder(DigitRNN, tmp_path)
    assert not loaded.training and loaded.metrics["test_accuracy"] == metrics["test_accuracy"]
    assert loaded.lstm.num_layers == 2  # the recipe's stacking is in the folder's config
    x = torch.rand(4, 28, 28)
    assert torch.equal(loaded(x), model.eval()(x))
    assert "MNIST test accuracy" in (tmp_path / "README.md").read_text()


@pytest.mark.data
def test_drawn_stage_continues_from_a_checkpoint_on_redrawn_digits(tmp_path):
    base, metrics = train_digits(DigitRecipe(bidirectional=False, hidden_size=8, epochs=1, drawn_epochs=0, limit=256),
                                 progress=False)
    base.metrics = {"name": "digit-lstm", **metrics}
    base.save_pretrained(tmp_path / "base")
    model, metrics = train_digits(DigitRecipe(bidirectional=False, hidden_size=8, epochs=0, drawn_epochs=1,
                                              init=tmp_path / "base", limit=256), progress=False)
    assert metrics["curves"]["stage"] == ["drawn"]
    assert metrics["init"]["test_accuracy"] == base.metrics["test_accuracy"]
    # Continuing from the saved first stage is the same as running both stages in one go.
    both, _ = train_digits(DigitRecipe(bidirectional=False, hidden_size=8, epochs=1, drawn_epochs=1, limit=256),
                           progress=False)
    assert not torch.equal(model.head.weight, base.head.weight)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), both.state_dict().values()))


def test_a_drawn_batch_takes_each_image_from_one_of_its_drawings():
    images = torch.arange(100.0)[:, None, None].expand(100, 28, 28)  # image i is all i
    drawings = torch.stack([-images, -1000 - images])  # set 0: -i, set 1: -1000 - i
    idx = torch.randperm(100, generator=torch.Generator().manual_seed(1))[:64]
    batch = mixed(images, drawings, idx, 1.0, torch.Generator().manual_seed(0))
    firsts = batch[:, 0, 0]
    assert torch.equal(batch, firsts[:, None, None].expand(64, 28, 28))
    assert torch.equal((-firsts) % 1000, idx.float())  # each image its own digit's drawing, in the batch's order
    assert 10 < (firsts <= -1000).sum() < 54  # from both sets
    kept = mixed(images, drawings, idx, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(kept, images[idx])
    # With one set, a batch asks the generator for no more than before sets existed.
    generator, reference = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    mixed(images, drawings[:1], idx, 0.5, generator)
    torch.rand(64, generator=reference)
    assert torch.equal(generator.get_state(), reference.get_state())


@pytest.mark.data
def test_drawn_stage_can_draw_each_digit_several_times_and_trace_filled_loops():
    recipe = DigitRecipe(bidirectional=False, hidden_size=8, epochs=0, drawn_epochs=1, limit=128, drawn_sets=2)
    _, metrics = train_digits(recipe, progress=False)
    assert metrics["curves"]["stage"] == ["drawn"] and metrics["recipe"]["drawn_sets"] == 2
    _, looped = train_digits(dataclasses.replace(recipe, drawn_loops=True), progress=False)
    assert looped["recipe"]["drawn_loops"] is True
    assert looped["curves"]["train_loss"] != metrics["curves"]["train_loss"]  # other drawings


@pytest.mark.data
def test_drawn_digits_are_the_same_digits_redrawn(digit_models):
    images, labels = (t[:200] for t in data.mnist_tensors(train=True))
    drawn = data.drawn_digits(images, seed=3)
    assert drawn.shape == images.shape and torch.equal(drawn, data.drawn_digits(images, seed=3))
    assert not torch.equal(drawn, data.drawn_digits(images, seed=4))
    # The tracer as it was (no filled loops traced round) draws most digits the same, the filled ones not.
    plain = data.drawn_digits(images, seed=3, blob=math.inf)
    assert 0 < (plain != drawn).flatten(1).any(1).sum() < 100
    # Still the same digits, drawn another way: the trained Bi-LSTM reads most of them as their labels.
    accuracy = (digit_models["digit-bilstm"](drawn).argmax(-1) == labels).float().mean()
    assert accuracy > 0.9, accuracy


@pytest.mark.data
def test_distillation_learns_the_teachers_answers_not_the_labels(tmp_path):
    # Teachers that always answer 3 and 7 (an all-zero head plus a bias): their mean puts half on each, so
    # a student that learnt from them picks 3 or 7 for every image, whatever the labels say.
    folders = []
    for digit in (3, 7):
        teacher = DigitRNN(hidden_size=4, bidirectional=False)
        with torch.no_grad():
            teacher.head.weight.zero_()
            teacher.head.bias.copy_(torch.nn.functional.one_hot(torch.tensor(digit), 10) * 20.0)
        teacher.metrics = {"name": "digit-lstm", "command": f"teacher {digit}", "test_accuracy": 0.1}
        teacher.save_pretrained(tmp_path / str(digit))
        folders.append(tmp_path / str(digit))
    model, metrics = train_digits(DigitRecipe(hidden_size=16, epochs=3, batch_size=16, drawn_epochs=0, limit=512,
                                              teachers=tuple(folders)), progress=False)
    probs = model(data.mnist_tensors(train=False)[0][:64]).softmax(-1)
    assert set(probs.argmax(-1).tolist()) <= {3, 7}
    assert torch.allclose(probs[:, [3, 7]].sum(-1), torch.ones(64), atol=0.1)
    assert [t["command"] for t in metrics["teachers"]] == ["teacher 3", "teacher 7"]
    model.metrics = {"name": "digit-bilstm", **metrics}
    model.save_pretrained(tmp_path / "student")
    card = (tmp_path / "student" / "README.md").read_text()
    assert "| `teacher 3` |" in card and "| `teacher 7` |" in card


def test_each_shipped_checkpoint_has_a_recipe_whose_command_line_defaults_are_its_settings(capsys):
    for name, recipe in RECIPES.items():
        with pytest.raises(SystemExit):
            train_main([name, "--help"])
        shown = capsys.readouterr().out
        for spec in dataclasses.fields(recipe):
            flag = "--" + spec.name.replace("_", "-")
            assert flag in shown, (name, flag)
            if spec.name not in ("bidirectional", "teachers"):
                assert f"(default: {getattr(recipe, spec.name)})" in " ".join(shown.split()), (name, flag)
    assert RECIPES["digit-lstm"].bidirectional is False
    assert RECIPES["digit-bilstm"] == dataclasses.replace(RECIPES["digit-lstm"], bidirectional=True)


@pytest.mark.data
def test_a_recipe_run_records_its_recipe(tmp_path):
    train_main(["digit-lstm", "--hidden-size", "8", "--epochs", "1", "--drawn-epochs", "0", "--limit", "128",
                "--no-progress", "--out", str(tmp_path)])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    expected = dataclasses.replace(RECIPES["digit-lstm"], hidden_size=8, epochs=1, drawn_epochs=0, limit=128)
    assert metrics["recipe"] == as_record(expected) and metrics["recipe"]["interpolation"] == "nearest"
    assert metrics["name"] == "digit-lstm" and DigitRNN.from_pretrained(tmp_path).lstm.hidden_size == 8


@pytest.mark.data
def test_a_missing_starting_folder_named_after_a_recipe_is_trained_first(tmp_path):
    """So every checkpoint takes one command: joke-bilstm starts from runs/joke-lstm-512, trained by its recipe
    when missing. Shown here on a digit model, whose tiny run takes seconds."""
    assert RECIPES["joke-bilstm"].init.name == "joke-lstm-512" in RECIPES
    base = tmp_path / "digit-lstm"
    train_main(["digit-lstm", "--init", str(base), "--epochs", "1", "--drawn-epochs", "0", "--limit", "64",
                "--no-progress", "--out", str(tmp_path / "next")])
    first, then = (json.loads((folder / "metrics.json").read_text()) for folder in (base, tmp_path / "next"))
    assert first["recipe"] == as_record(dataclasses.replace(RECIPES["digit-lstm"], limit=64))
    assert first["command"] == f"python -m src.train digit-lstm --out {base} --limit 64"
    assert then["recipe"]["init"] == str(base)
    assert (then["init"]["command"], then["init"]["train_seconds"]) == (first["command"], first["train_seconds"])


def test_a_small_run_does_not_train_the_real_starting_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where runs/joke-lstm-512 is missing
    with pytest.raises(SystemExit):
        train_main(["joke-bilstm", "--limit", "40", "--no-progress", "--out", "bi"])
    assert "give --init a scratch folder" in capsys.readouterr().err and not (tmp_path / "runs").exists()


@pytest.mark.data
def test_tidied_training_text_keeps_the_vocabulary_so_every_joke_model_has_the_same_tokens():
    plain, tidy = JokeRecipe(limit=300), JokeRecipe(limit=300, tidy_spacing=True)
    plain_texts, tidy_texts = joke_texts(plain), joke_texts(tidy)
    assert plain_texts.corpus != tidy_texts.corpus, "the texts differ..."
    assert vocabulary(tidy, tidy_texts) == vocabulary(plain, plain_texts), "...their tokens do not"
    assert vocabulary(tidy, tidy_texts) != build_vocab(tidy_texts.corpus, tidy.n_words, tidy.n_chunks)


@pytest.mark.data
def test_tiny_joke_training_learns_something():
    recipe = JokeRecipe(hidden_size=32, embed_dim=8, pretrain_epochs=8, finetune_epochs=1, batch_size=8, seq_len=32,
                        lr=0.02, limit=40, stored_as="float16")
    model, metrics = train_jokes(recipe, progress=False)
    test = data.clean_jokes("test")
    assert metrics["test_jokes"] == len(test) == 162
    # Both scores are the float16 folder's: the weights were rounded before either was recorded.
    assert all((p == p.half().float()).all() for p in model.parameters())
    assert metrics["test_bpc"] == pytest.approx(bits_per_char(model, test), abs=1e-4)
    assert metrics["val_bpc"] == pytest.approx(bits_per_char(model, joke_texts(recipe).val), abs=1e-4)
    # 40 jokes teach little that carries over to other jokes, but the slice itself must be learnt: an
    # untrained model of the same vocabulary and sizes reads it at ~2.5 bits per character, this one ~1.8.
    torch.manual_seed(0)
    untrained = JokeLSTM(model.tokenizer.vocab, hidden_size=32, embed_dim=8)
    seen = data.clean_jokes("train")[:40]  # the training slice (limit=40)
    assert bits_per_char(model, seen) < bits_per_char(untrained, seen) - 0.4
    assert metrics["curves"]["stage"] == ["pretrain"] * 8 + ["finetune"]


@pytest.mark.data
def test_a_calibrated_cached_run_records_its_settings_and_the_folders_scores():
    recipe = JokeRecipe(hidden_size=16, embed_dim=8, pretrain_epochs=2, finetune_epochs=1, batch_size=8,
                        seq_len=32, lr=0.02, limit=40, calibrate=True, cache=True)
    model, metrics = train_jokes(recipe, progress=False)
    calibration, cache, val = metrics["calibration"], metrics["cache"], joke_texts(recipe).val
    test = data.clean_jokes("test")
    settings = (float(model.cache_weight), float(model.cache_sharpness))
    assert settings == pytest.approx((cache["weight"], cache["sharpness"]))
    assert metrics["val_bpc"] == pytest.approx(bits_per_char(model, val), abs=1e-4)
    assert metrics["test_bpc"] == pytest.approx(bits_per_char(model, test), abs=1e-4)
    assert metrics["val_bpc"] <= cache["val_bpc_before"] <= calibration["val_bpc_before"]
    model.cache_weight.fill_(0.0)  # the LSTM alone: the figures recorded before the cache
    assert cache["val_bpc_before"] == pytest.approx(bits_per_char(model, val), abs=1e-4)
    assert cache["test_bpc_before"] == pytest.approx(bits_per_char(model, test), abs=1e-4)
    assert model.calibrate(val) == pytest.approx(1.0, abs=1e-3), "the folder is already calibrated"


def test_disagreement_gallery_holds_only_disagreements(tmp_path):
    torch.manual_seed(1)
    a, b = DigitRNN(hidden_size=8, bidirectional=False).eval(), DigitRNN(hidden_size=8).eval()
    images, labels = torch.rand(64, 28, 28), torch.randint(0, 10, (64,))
    found = disagreements(a, b, images, labels, limit=5)
    assert 0 < len(found["index"]) <= 5 and (found["lstm"] != found["bilstm"]).all()
    np.savez_compressed(tmp_path / "g.npz", **found)
    loaded = load_gallery(tmp_path / "g.npz")
    assert np.abs(loaded["images"] - images[found["index"]].numpy()).max() <= 0.5 / 255 + 1e-6
    assert load_gallery(tmp_path / "missing.npz") is None


@pytest.mark.parametrize("typed", [" ", "\n", "\t"])
def test_typed_trailing_white_space_is_the_next_words_own_space(joke_model, typed):
    """A prompt that ends with white space is read without it and continued by a new word, written without
    its own space: greedy, that is exactly the bare prompt's continuation less its first space; sampled,
    the word comes right after it (read with it, the model wrote "chicken  cross" and "chicken\n the")."""
    for prompt in ("Why did the chicken", "Knock knock.", "What do you call a"):
        greedy = "".join(joke_model.generate(prompt, temperature=0))
        assert greedy.startswith(" ")
        assert "".join(joke_model.generate(prompt + typed, temperature=0)) == greedy[1:]
        for seed in range(10):
            text = prompt + typed + "".join(joke_model.generate(prompt + typed, seed=seed))
            assert "  " not in text and not text[len(prompt) + 1].isspace(), (seed, text)


def test_min_words_keeps_a_joke_from_ending_at_once(joke_model):
    for seed in range(5):
        text = "".join(joke_model.generate("🤖¿Ünïcödé?\n\t", seed=seed, max_words=40, min_words=3))
        assert len(text.split()) >= 3
