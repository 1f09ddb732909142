"""Filling a blank: the Bi-LSTM's masking and exact halves, the three methods' contracts, the junk filter
and the generation bounds, on tiny models (fast) and on the shipped checkpoints (marked data where the
held-out jokes are needed)."""
from __future__ import annotations

import copy
import random

import pytest
import torch

from src import data
from src.blanks import JokeBiLSTM, framed_batch
from src.evaluate import calibration
from src.cloze import (Blank, blanked, cloze_accuracy, fill_bidirectional, fill_blank, fill_left, fill_rescore,
                       joke_blanks, parse_blank, word_candidates, word_of, word_saliency)
from src.jokes import JokeLSTM
from src.sampling import CRUDE, MAX_WORD_CHARS, Written
from src.recipes import JokeRecipe
from src.tokenizer import EOS, build_vocab
from src.train_blanks import train_blanks
from tests.checkpoint_fixtures import load_bundled

TEXTS = ["Why did the chicken cross the road? To get to the other side.",
         "What do you call a fish with no eyes? A fsh.", "Knock knock. Who is there? Lettuce."]


@pytest.fixture(scope="module")
def vocab() -> list[str]:
    return build_vocab(TEXTS, 30, 10)


@pytest.fixture(scope="module")
def tiny_bi(vocab) -> JokeBiLSTM:
    torch.manual_seed(0)
    return JokeBiLSTM(vocab, embed_dim=8, hidden_size=12, backward_size=10).eval()  # widths as unequal as shipped


@pytest.fixture(scope="module")
def tiny_lm(vocab) -> JokeLSTM:
    torch.manual_seed(1)
    return JokeLSTM(vocab, embed_dim=8, hidden_size=12).eval()


@pytest.fixture(scope="module")
def bilstm() -> JokeBiLSTM:
    return load_bundled("joke-bilstm")


def test_the_prediction_at_a_position_does_not_depend_on_the_token_there(tiny_bi):
    tokens = torch.tensor([[EOS, *tiny_bi.tokenizer.encode(TEXTS[0]), EOS]])
    with torch.no_grad():
        logits = tiny_bi(tokens)
        assert logits.shape == (1, tokens.shape[1] - 2, len(tiny_bi.tokenizer))
        for position in (1, 5, tokens.shape[1] - 2):
            changed = tokens.clone()
            changed[0, position] = (changed[0, position] + 7) % len(tiny_bi.tokenizer)
            after = tiny_bi(changed)
            assert torch.equal(after[0, position - 1], logits[0, position - 1]), position
            # ...while the next position, whose forward state reads it, does change
            if position < tokens.shape[1] - 2:
                assert not torch.equal(after[0, position], logits[0, position])


def test_padded_batches_give_each_joke_what_it_gets_alone(tiny_bi):
    encoded = [tiny_bi.tokenizer.encode(t) for t in TEXTS]
    tokens, lengths, targets = framed_batch(encoded)
    with torch.no_grad():
        batched = tiny_bi(tokens, lengths)
        for row, e in enumerate(encoded):
            alone = tiny_bi(torch.tensor([[EOS, *e, EOS]]))[0]
            assert torch.allclose(batched[row, :len(e)], alone, atol=1e-5)
            assert targets[row, :len(e)].tolist() == e and (targets[row, len(e):] == -100).all()
    total, count = tiny_bi.loss(encoded)
    assert count == sum(map(len, encoded)) and total.item() > 0


def test_fill_is_the_forward_pass_at_the_gap_and_the_halves_split_it_exactly(tiny_bi):
    ids = tiny_bi.tokenizer.encode(TEXTS[0])
    gap = 4
    filled = tiny_bi.fill(ids[:gap], ids[gap + 1:])
    with torch.no_grad():
        full = tiny_bi(torch.tensor([[EOS, *ids, EOS]]))[0, gap]
        shared = tiny_bi.gap_logits(None, None)  # the head on the projection's bias alone
    assert torch.allclose(filled["both"], full, atol=1e-5)
    # linear head: both = forward half + backward half - the bias term they each include once
    assert torch.allclose(filled["both"], filled["forward"] + filled["backward"] - shared, atol=1e-5)


def test_a_bilstm_started_from_an_lm_guesses_with_its_forward_half_exactly_as_the_lm(tiny_lm, vocab):
    bi = JokeBiLSTM(vocab, embed_dim=8, hidden_size=12).eval()
    bi.start_from(tiny_lm)
    ids = tiny_lm.tokenizer.encode(TEXTS[1])
    with torch.no_grad():
        lm_next = tiny_lm(torch.tensor([[EOS, *ids[:6]]]))[0][0, -1]
    assert torch.allclose(bi.fill(ids[:6], ids[7:])["forward"], lm_next, atol=1e-5)
    with pytest.raises(ValueError, match="same vocabulary and sizes|vocabulary and sizes"):
        JokeBiLSTM(vocab, embed_dim=8, hidden_size=20).start_from(tiny_lm)


def test_rescoring_ranks_by_the_whole_jokes_likelihood(tiny_lm):
    text = "Why did the ___ cross the road?"
    blank = parse_blank(text, tiny_lm.tokenizer)
    k = 12
    ranked = fill_rescore(tiny_lm, blank, top=k, k=k)
    candidates = [t for t, _ in fill_left(tiny_lm, blank, top=k)]
    by_nll = sorted(candidates, key=lambda t: tiny_lm.nll(text.replace(" ___", tiny_lm.token_text(t))))
    assert [t for t, _ in ranked] == by_nll
    nll = {t: tiny_lm.nll(text.replace(" ___", tiny_lm.token_text(t))) for t in candidates}
    # the probabilities are the likelihoods normalised over the k candidates
    weights = torch.softmax(torch.tensor([-nll[t] for t, _ in ranked]), 0)
    assert torch.allclose(torch.tensor([p for _, p in ranked]), weights, atol=1e-4)


def test_rescoring_with_the_shipped_lm_matches_its_nll(joke_model):
    text = "What do you call a ___ with no eyes?"
    ranked = fill_rescore(joke_model, parse_blank(text, joke_model.tokenizer), top=5, k=5)
    nll = [joke_model.nll(text.replace(" ___", joke_model.token_text(t))) for t, _ in ranked]
    assert nll == sorted(nll)


def test_no_crude_word_of_the_shipped_vocabulary_is_offered_for_a_blank(joke_model):
    # The pretraining filter drops jokes with a word that begins with a blocked stem, so the 95 that hold one
    # inside a word ("bullshit") were trained on, and " bullshit" is a word token of the shipped vocabulary.
    crude = {i for i, t in enumerate(joke_model.tokenizer.tokens) if CRUDE.search(t)}
    assert joke_model.tokenizer.encode(" bullshit")[0] in crude
    for spaced in (True, False):
        assert crude.isdisjoint(word_candidates(joke_model.tokenizer, spaced).tolist())


def test_every_method_ranks_word_tokens_of_the_blanks_spacing(tiny_lm, tiny_bi):
    for text, spaced in (("Why did the ___ cross the road?", True), ("___ did the chicken cross?", False),
                         ('He said "___" twice.', False), ("Why did the\n___ cross the road?", True)):
        blank = parse_blank(text, tiny_lm.tokenizer)
        assert blank.spaced is spaced
        allowed = set(word_candidates(tiny_lm.tokenizer, spaced).tolist())
        results = [fill_left(tiny_lm, blank), fill_rescore(tiny_lm, blank),
                   *fill_bidirectional(tiny_bi, parse_blank(text, tiny_bi.tokenizer)).values()]
        for ranking in results:
            assert {t for t, _ in ranking} <= allowed and len(ranking) == 5
            assert all(word_of(tiny_lm.tokenizer, t).isalpha() or "'" in word_of(tiny_lm.tokenizer, t)
                       for t, _ in ranking)


def test_a_blank_after_a_line_break_or_a_tab_is_filled_as_after_a_space(tiny_lm, tiny_bi):
    """As in generation, white space before the blank is the word's own space: the same candidates, scores
    and words as with a plain space (a line break used to leave only word pieces: 's, s, ly)."""
    spaced = "Knock knock. ___ there?"
    for text in ("Knock knock.\n___ there?", "Knock knock.\t___ there?", "Knock knock. \n ___ there?"):
        for model, fill in ((tiny_lm, fill_left), (tiny_lm, fill_rescore), (tiny_bi, fill_bidirectional)):
            assert fill(model, parse_blank(text, model.tokenizer)) == fill(model, parse_blank(spaced, model.tokenizer))


@pytest.mark.parametrize("text, message", [
    ("", "Write a joke with one blank"),
    ("   ", "Write a joke with one blank"),
    ("No blank here.", "There is no blank"),
    ("Two ___ and ___.", "There are 2 blanks"),
    ("Half a wo___ is not a word.", "whole word"),
    ("The ___'s dog barked.", "not an apostrophe"),
    ("Why did the chicken\n___s cross?", "whole word"),
    ("Qué___ es", "whole word"),
    ("Straße ___ß", "whole word"),
    ("x ___ " + "y" * 1000, "the limit is 1,000"),
])
def test_bad_texts_are_refused_with_a_message(tiny_lm, text, message):
    with pytest.raises(ValueError, match=message):
        parse_blank(text, tiny_lm.tokenizer)


def test_a_joke_gives_a_blank_per_one_token_word_and_blanked_puts_one_back(tiny_lm):
    joke = TEXTS[0]
    blanks = joke_blanks(joke, tiny_lm.tokenizer)
    assert blanks and all(isinstance(b, Blank) for b, _ in blanks)
    for blank, answer in blanks:  # putting the answer back gives the joke's tokens
        assert [*blank.left, answer, *blank.right] == tiny_lm.tokenizer.encode(joke)
    text, word = blanked(joke, tiny_lm.tokenizer, random.Random(3))
    assert text.count("___") == 1 and text.replace("___", word) == joke
    assert blanked("?!", tiny_lm.tokenizer, random.Random(0)) is None


def test_cloze_accuracy_counts_top1_and_top5():
    blanks = [(None, 1), (None, 2), (None, 3), (None, 4)]
    answers = {1: [1, 9], 2: [9, 2], 3: [9, 8, 7, 6, 5, 3], 4: [4]}
    top1, top5 = cloze_accuracy(lambda blank: answers[blank], [(a, a) for _, a in blanks])
    assert (top1, top5) == (0.5, 0.75)


def test_batched_reads_give_each_row_what_it_gets_alone(tiny_lm, tiny_bi):
    rows = [[EOS, 5, 9, 12, 5], [EOS, 7], [EOS, 5, 9, 12, 5, 9, 12, 3]]
    cached = copy.deepcopy(tiny_lm)
    cached.cache_weight.fill_(0.3)
    cached.cache_sharpness.fill_(2.0)
    for lm in (tiny_lm, cached):
        alone = torch.stack([lm.read(torch.tensor([row]))[0][0, -1] for row in rows])
        assert torch.allclose(lm.last_log_probs(rows), alone, atol=1e-5)
    lefts, rights = [[5, 9], [], [12, 5, 9, 3]], [[7, 7, 3], [4], []]
    alone = torch.stack([tiny_bi.fill(left, right)["both"] for left, right in zip(lefts, rights)])
    assert torch.allclose(tiny_bi.fill_pairs(lefts, rights), alone, atol=1e-5)


def test_word_saliency_is_the_drop_when_each_word_alone_is_left_out(tiny_lm, tiny_bi):
    text = "Why did the ___ cross the road?"
    found = word_saliency(tiny_lm, tiny_bi, text)
    left_out = {"lstm_left": lambda t: fill_left(tiny_lm, parse_blank(t, tiny_lm.tokenizer), 10_000),
                "bilstm": lambda t: fill_bidirectional(tiny_bi, parse_blank(t, tiny_bi.tokenizer), 10_000)["both"]}
    for name, fill in left_out.items():
        shown = found[name].pieces
        assert "".join(piece for piece, _ in shown) == text
        ranking = fill(text)
        top = ranking[0][0]
        assert found[name].word == word_of(tiny_lm.tokenizer, top)
        for i, (piece, drop) in enumerate(shown):
            after_blank = i > [p for p, _ in shown].index("___")
            if piece.isspace() or piece == "___" or (name == "lstm_left" and after_blank):
                assert drop is None  # the LSTM never reads the right side
                continue
            without = "".join(p for j, (p, _) in enumerate(shown) if j != i)
            assert drop == pytest.approx(ranking[0][1] - dict(fill(without))[top], abs=1e-4), (name, piece)
    assert any(drop for piece, drop in found["bilstm"].pieces[5:])  # the Bi-LSTM does read the right side
    with pytest.raises(ValueError, match="no blank"):
        word_saliency(tiny_lm, tiny_bi, "No blank here.")


def test_calibration_error_is_the_bin_weighted_gap_between_shown_probability_and_share_right():
    assert calibration([0.7] * 10, [True] * 7 + [False] * 3) == pytest.approx((0.7, 0.7, 0.0))
    assert calibration([0.95, 0.95], [False, False]) == pytest.approx((0.95, 0.0, 0.95))
    # Two bins: 0.15 shown and 1 of 4 right (gap 0.1), 0.85 shown and 2 of 2 right (gap 0.15); weights 4/6, 2/6.
    shown, right, error = calibration([0.15] * 4 + [0.85] * 2, [True, False, False, False, True, True])
    assert (shown, right, error) == pytest.approx((0.3833333, 0.5, 4 / 6 * 0.1 + 2 / 6 * 0.15))
    assert calibration([1.0], [True]) == pytest.approx((1.0, 1.0, 0.0))  # 1.0 falls in the top bin


@pytest.mark.data
def test_the_cloze_benchmark_reports_how_honest_each_methods_probabilities_are(tmp_path):
    from bench import cloze
    cloze.main(["--limit", "2", "--out", str(tmp_path / "cloze.md")])
    text = (tmp_path / "cloze.md").read_text()
    honest = text[text.index("How honest"):].splitlines()
    rows = [line.split(" | ") for line in honest if line.startswith("| Bi-LSTM (one pass)")]
    assert len(rows) == 2  # the summary and the buckets
    shown, right, error = (float(cell.strip(" |%")) for cell in rows[0][1:])
    assert 0 < shown < 100 and 0 <= right <= 100 and 0 <= error <= 1
    buckets = [cell.strip(" |") for cell in rows[1][1:]]
    counted = sum(int(cell.split("(")[1].rstrip(")")) for cell in buckets if cell != "-")
    assert counted == int(text.split(" one-word blanks")[0].split(", ")[-1].replace(",", ""))


def test_fill_blank_answers_every_method_with_probabilities_and_times(tiny_lm, tiny_bi):
    words, ms = fill_blank(tiny_lm, tiny_bi, "Why did the ___ cross the road?")
    assert set(words) == {"lstm_left", "lstm_rescoring", "bilstm", "bilstm_forward_half", "bilstm_backward_half"}
    for ranking in words.values():
        probs = [p for _, p in ranking]
        assert len(ranking) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert set(ms) == {"lstm_left", "lstm_rescoring", "bilstm"} and all(v >= 0 for v in ms.values())


@pytest.mark.data
def test_tiny_bilstm_training_from_an_lm_writes_a_checkpoint_that_fills_blanks(tmp_path, tiny_lm):
    from src.train_jokes import train_jokes
    lm, _ = train_jokes(JokeRecipe(hidden_size=16, embed_dim=8, pretrain_epochs=1, finetune_epochs=0, batch_size=8,
                                   seq_len=16, limit=30), progress=False)
    lm.metrics = {"name": "joke-lstm", "command": "tiny", "test_bpc": 9.0, "train_seconds": 1.0}
    lm.save_pretrained(tmp_path / "lm")
    model, metrics = train_blanks(JokeRecipe(bidirectional=True, init=tmp_path / "lm", hidden_size=16, embed_dim=8,
                                             pretrain_epochs=1, finetune_epochs=1, batch_size=8, limit=30),
                                  progress=False)
    assert model.tokenizer.tokens == lm.tokenizer.tokens, "the LM's tokenizer"
    assert metrics["test_blanks"] > 1000 and 0 <= metrics["test_top1"] <= metrics["test_top5"] <= 1
    assert metrics["curves"]["stage"] == ["pretrain", "finetune"] and metrics["init"]["command"] == "tiny"
    model.metrics = metrics
    model.save_pretrained(tmp_path / "bi")
    again = JokeBiLSTM.from_pretrained(tmp_path / "bi").eval()
    blank = parse_blank("Why did the ___ cross the road?", again.tokenizer)
    assert fill_bidirectional(again, blank) == fill_bidirectional(model.eval(), blank)


# ---- clean text ---------------------------------------------------------------------------------

@pytest.mark.parametrize("joke, rule", [
    ("Funny! http://i.imgur.com/x.jpg", "link"),
    ("See www.example.org for more", "link"),
    ("X-post from /r/Jokes", "subreddit"),
    ("a post on r/cleanjokes today", "subreddit"),
    ("&gt; quoted", "markup"),
    ("[A Roverdose](foo)", "markup"),
    ("What cars do wolves drive? Auuuuuudis!", "character repeated 5+ times"),
    ("Wait for it......", "character repeated 5+ times"),
    ("CanYouFixTheSpaceBarOnMyKeyboardPlease?", "word over 30 characters"),
    ("Why did the chicken cross the road? To get to the other side.", None),
    ("He paid $1,000,000... and 1000000 more!", None),
    ("Her/his answer was: 'no'.", None),
])
def test_junk_rules(joke, rule):
    assert data.junk_rule(joke) == rule


@pytest.mark.data
def test_training_text_has_no_junk_and_the_drops_are_counted():
    train, extra = data.clean_jokes("train"), data.pretraining_jokes()
    assert not any(data.junk_rule(j) for j in train + extra)
    dropped = data.jokes_dropped()
    assert sum(dropped["cleanjokes train"].values()) >= 40 and dropped["cleanjokes train"]["link"] >= 10
    assert dropped["extra"]["blocked word"] > 1000 and dropped["extra"]["character repeated 5+ times"] > 100
    assert len(data.clean_jokes("test")) == 162, "the test split is never filtered"


def test_generation_stops_before_a_word_over_the_limit(tiny_lm, vocab):
    """An LM doctored to write the letter 'a' forever: greedy text is one endless word, cut at the limit."""
    lm = JokeLSTM(vocab, embed_dim=8, hidden_size=12).eval()
    with torch.no_grad():
        lm.head.bias.fill_(-50.0)
        lm.head.bias[lm.tokenizer.ids[b"a"]] = 50.0
    text = "".join(lm.generate("Say", temperature=0, max_words=5))
    assert set(text) == {"a"} and len(text) == MAX_WORD_CHARS - 1  # the prompt's "Say" + 29 letters counts 30
    # After white space the word is new: all MAX_WORD_CHARS are its own (its first token starts a word, then 'a's)
    text = "".join(lm.generate("Say\n", temperature=0, max_words=5))
    assert len(text) == MAX_WORD_CHARS and text.strip() == text and text.endswith("a" * 20)


def test_the_shipped_bilstm_shares_joke_lstms_tokenizer(bilstm, joke_model):
    assert bilstm.tokenizer.tokens == joke_model.tokenizer.tokens


def test_generation_never_writes_two_spaces_in_a_row(vocab):
    """An LM doctored to write a bare space and then a word with its own leading space ("a  the  the", as the
    corpus's double spaces taught joke-lstm to do now and then) writes each word after one space."""
    lm = JokeLSTM(vocab, embed_dim=8, hidden_size=12).eval()
    word = next(t for t in lm.tokenizer.tokens if t.startswith(b" ") and t.strip())
    with torch.no_grad():
        lm.head.bias.fill_(-50.0)
        lm.head.bias[lm.tokenizer.ids[b" "]] = 50.0
        lm.head.bias[lm.tokenizer.ids[word]] = 40.0
    assert "".join(lm.generate("Say", temperature=0, max_words=4)) == (" " + word[1:].decode()) * 4 + " "
    # A prompt's own trailing space counts the same: the first word comes after it, without another.
    assert "".join(lm.generate("Say ", temperature=0, max_words=1)) == word[1:].decode() + " "
    assert Written.prompt("Say ").space and not Written.prompt("   ").space and not Written.prompt("Say").space


def test_generation_never_puts_a_space_before_a_lone_punctuation_mark(vocab):
    """An LM doctored to end its words with " ?" (as the pretraining jokes' "who ?" taught joke-lstm to do)
    writes "?" after the word instead, also after a prompt's own trailing space."""
    lm = JokeLSTM([*vocab, " ?"] if " ?" not in vocab else vocab, embed_dim=8, hidden_size=12).eval()
    with torch.no_grad():
        lm.head.bias.fill_(-50.0)
        lm.head.bias[lm.tokenizer.ids[b" ?"]] = 50.0
        lm.head.bias[lm.tokenizer.ids[b"?"]] = 40.0
    assert "".join(lm.generate("Who", temperature=0, max_words=1)).startswith("????")  # not " ?"
    assert " ?" not in "Who " + "".join(lm.generate("Who ", temperature=0, max_words=3))


def test_generation_never_repeats_a_symbol_five_times(vocab):
    """An LM doctored to write '.' forever writes four, then something else; a prompt's own run counts."""
    lm = JokeLSTM(vocab, embed_dim=8, hidden_size=12).eval()
    with torch.no_grad():
        lm.head.bias.fill_(-50.0)
        lm.head.bias[lm.tokenizer.ids[b"."]] = 50.0
        lm.head.bias[lm.tokenizer.ids[b"!"]] = 40.0
    # four dots, then its second choice once, then dots again (until the word reaches MAX_WORD_CHARS)
    assert "".join(lm.generate("Wait", temperature=0, max_words=3)) == ("....!" * 6)[:MAX_WORD_CHARS - 1]
    assert "".join(lm.generate("Wait...", temperature=0, max_words=3)).startswith(".!....!")
    assert Written.prompt("Hm!!").symbol == ord("!") and Written.prompt("Hm!!").repeats == 2
    assert Written.prompt("").repeats == 0 and Written.prompt("a b").word_chars == 1
