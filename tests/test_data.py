"""The data split and filters the models are trained and scored on."""
from __future__ import annotations

import re

import pytest
import torch

from src import data

pytestmark = pytest.mark.data


def test_joke_splits_are_disjoint_and_the_test_split_is_fixed():
    train, val, test = (data.clean_jokes(s) for s in ("train", "val", "test"))
    assert len(test) == 162 and len(val) == 162
    overlaps = data.overlaps_test()
    assert not any(overlaps(j) for j in train), "no training joke shares six words with a test joke"
    # cleanjokes.csv repeats test joke 320 as 621 and 1338: those copies must not be trained on
    assert "What do you call a cow with no legs? Ground beef." in test
    assert not any("cow with no legs" in j for j in train)
    assert len(train) > 1150  # 1,192: 1,250 less 58 junk jokes (data.JUNK_RULES)


def test_pretraining_jokes_are_bounded_clean_unique_and_held_out():
    extra = data.pretraining_jokes()
    assert len(extra) > 30_000
    assert all(len(j) <= 1000 and data.is_clean(j) for j in extra)
    assert len({j.lower() for j in extra}) == len(extra)
    overlaps = data.overlaps_test()
    assert not any(overlaps(j) for j in extra)
    assert not set(extra) & set(data.clean_jokes("val"))


def test_training_text_can_have_its_spacing_tidied_and_held_out_text_is_kept_as_it_is():
    assert data.tidy_spacing("Who ?  Me . Well ... ok :) Fine , yes !") == "Who? Me. Well ... ok :) Fine, yes!"
    spaced = re.compile(r" [?!.,;:](?=\s|$)|  ")
    tidied = data.pretraining_jokes(tidy=True) + data.clean_jokes("train", tidy=True)
    assert not any(spaced.search(j) for j in tidied)
    assert not any(data.junk_rule(j) for j in tidied), "junk made by tidying ('bar. .....') is dropped too"
    assert any(spaced.search(j) for j in data.pretraining_jokes()), "untidied unless asked"
    assert any(spaced.search(j) for j in data.clean_jokes("test")), "the test split is scored untouched"


def test_the_word_filter():
    assert data.is_clean("Why did the scarecrow win an award? He was outstanding in his field.")
    assert not data.is_clean("That joke was crap.")
    assert data.is_clean("She bought new jewelry and an analysis of her sextant.") is False  # stems are prefixes
    assert data.is_clean("She bought new jewelry and an analysis of grapes.")  # ...bounded where it matters


def test_random_affine_is_seeded_per_image_and_keeps_untouched_images_exact():
    images = data.mnist_tensors(train=False)[0][:64]
    moved = data.random_affine(images, torch.Generator().manual_seed(0))
    assert moved.shape == images.shape and 0 <= moved.min() and moved.max() <= 1 + 1e-6
    assert torch.equal(moved, data.random_affine(images, torch.Generator().manual_seed(0)))
    changed = (moved - images).abs().flatten(1).amax(1) > 0.1
    assert changed.all(), "every image gets its own map"
    assert torch.equal(data.random_affine(images, torch.Generator().manual_seed(0), p=0.0), images)
    half = data.random_affine(images, torch.Generator().manual_seed(0), p=0.5)
    untouched = (half == images).flatten(1).all(1)
    assert 10 < untouched.sum() < 54


def test_elastic_distortion_adds_to_the_affine_map():
    images = data.mnist_tensors(train=False)[0][:16]
    plain = data.random_affine(images, torch.Generator().manual_seed(0))
    elastic = data.random_affine(images, torch.Generator().manual_seed(0), elastic=34.0)
    assert elastic.shape == images.shape
    assert ((elastic - plain).abs().flatten(1).amax(1) > 0.1).all()


def test_nearest_resampling_keeps_pixel_values_and_bilinear_blends_them():
    strokes = (data.mnist_tensors(train=False)[0][:16] > 0.5).float()  # only 0s and 1s
    nearest = data.random_affine(strokes, torch.Generator().manual_seed(0), mode="nearest")
    bilinear = data.random_affine(strokes, torch.Generator().manual_seed(0))
    assert set(nearest.unique().tolist()) <= {0.0, 1.0}
    assert ((bilinear > 0.05) & (bilinear < 0.95)).sum() > 100
    assert not torch.equal(nearest, strokes)
