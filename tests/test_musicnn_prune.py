"""Pruning musicnn's front end: what is kept is musicnn's own, what is dropped is folded in exactly when constant.

Runs on the architecture with Keras's initial weights (no checkpoint needed).
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tagger.training.musicnn_port import FRONTEND_BRANCHES, FULL_FILTERS, build_musicnn  # noqa: E402
from tagger.training.musicnn_prune import multiply_adds, prune_musicnn  # noqa: E402

FRAMES, MELS = 40, 96
KEEP = (20, 30, 5, 6, 7)


@pytest.fixture(scope="module")
def network() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_musicnn(FRAMES, MELS)


@pytest.fixture(scope="module")
def windows() -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 3, size=(24, FRAMES, MELS)).astype(np.float32)


def outputs(model: keras.Model, windows: np.ndarray) -> list[np.ndarray]:
    probe = keras.Model(model.input, [model.get_layer(n).output for n in ("pooled_bn", "penultimate", "tag_logits")])
    return [np.asarray(o) for o in probe(windows, training=False)]


def silence_channels(model: keras.Model, per_branch: int) -> keras.Model:
    """A copy of ``model`` whose last ``per_branch`` channels in each branch always output 0."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for branch in FRONTEND_BRANCHES:
        conv, bn = copy.get_layer(branch.name), copy.get_layer(f"{branch.name}_bn")
        kernel, bias = conv.get_weights()
        kernel[..., -per_branch:] = 0.0
        bias[-per_branch:] = 0.5
        conv.set_weights([kernel, bias])
        gamma, beta, mean, variance = bn.get_weights()
        beta[-per_branch:], mean[-per_branch:] = 0.0, 0.5  # relu(0.5) - 0.5: the channel reads 0
        bn.set_weights([gamma, beta, mean, variance])
    return copy


def test_keeping_every_filter_reproduces_the_network(network, windows):
    pruned = prune_musicnn(network, FULL_FILTERS, windows)
    for got, want in zip(outputs(pruned, windows), outputs(network, windows)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_channels_that_never_change_are_dropped_first_and_without_effect(network, windows):
    silent = silence_channels(network, per_branch=3)
    keep = tuple(f - 3 for f in FULL_FILTERS)
    pruned = prune_musicnn(silent, keep, windows)
    full_pooled, full_penultimate, full_logits = outputs(silent, windows)
    pooled, penultimate, logits = outputs(pruned, windows)
    np.testing.assert_allclose(penultimate, full_penultimate, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits, full_logits, rtol=1e-4, atol=1e-4)
    # The embedding loses exactly the silent channels' max and mean features.
    assert pooled.shape[1] == full_pooled.shape[1] - 2 * 3 * len(FRONTEND_BRANCHES)


def test_pruned_network_is_smaller_and_keeps_layer_names(network, windows):
    pruned = prune_musicnn(network, KEEP, windows)
    assert [layer.name for layer in pruned.layers if layer.weights] == \
           [layer.name for layer in network.layers if layer.weights]
    for branch, count in zip(FRONTEND_BRANCHES, KEEP):
        assert pruned.get_layer(branch.name).filters == count
    kept_kernel = pruned.get_layer("timbral_38").get_weights()[0]
    full_kernel = network.get_layer("timbral_38").get_weights()[0]
    assert all(any(np.array_equal(k, full_kernel[..., j]) for j in range(full_kernel.shape[-1]))
               for k in np.moveaxis(kept_kernel, -1, 0)), "kept filters must be musicnn's own"
    assert pruned.output.shape == network.output.shape
    assert multiply_adds(FRAMES, MELS, KEEP) < multiply_adds(FRAMES, MELS, FULL_FILTERS) / 5


def test_factorising_at_full_rank_changes_nothing_and_a_low_rank_costs_less(network, windows):
    pruned = prune_musicnn(network, KEEP, windows)
    factorised = prune_musicnn(network, KEEP, windows, timbral_rank=max(KEEP[:2]))
    assert factorised.get_layer("timbral_67_basis").filters == max(KEEP[:2])
    assert factorised.get_layer("timbral_38").kernel_size == (1, 1)
    for got, want in zip(outputs(factorised, windows), outputs(pruned, windows)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    low = prune_musicnn(network, KEEP, windows, timbral_rank=4)
    assert low.output.shape == pruned.output.shape
    assert multiply_adds(FRAMES, MELS, KEEP, timbral_rank=4) < multiply_adds(FRAMES, MELS, KEEP) / 2


@pytest.mark.parametrize("keep", [(0, 30, 5, 6, 7), (205, 30, 5, 6, 7), (20, 30, 5)])
def test_impossible_filter_counts_are_refused(network, windows, keep):
    with pytest.raises(ValueError):
        prune_musicnn(network, keep, windows)
