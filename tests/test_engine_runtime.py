"""The classification pipeline: batching across files, hung decoders, and the two model runtimes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from audio import make_track
from tagger.engine import Classifier
from tagger.model import GenreModel


def test_a_hung_decoder_is_given_up_and_the_rest_goes_on(genre_model, tmp_path: Path, hang_on) -> None:
    paths = [make_track(tmp_path / f"t{i}.flac", seconds=5, seed=i) for i in range(4)]
    classifier = Classifier(genre_model, workers=2, timeout=5.0)
    classifier.featurize(paths[0])  # the first call pays for imports and filter banks, not part of the test
    classifier.featurize = hang_on(classifier.featurize, paths[1])
    results = {r.path: r for r in classifier.classify(paths)}
    assert set(results) == set(paths)
    assert results[paths[1]].decision is None
    assert "longer than 5 s" in results[paths[1]].error
    assert all(results[p].decision is not None for p in paths if p != paths[1])
    assert classifier.abandoned == 1


def test_windows_of_many_files_are_scored_together(genre_model, tmp_path: Path, monkeypatch) -> None:
    paths = [make_track(tmp_path / f"t{i}.wav", seconds=12, seed=i) for i in range(12)]
    calls = []
    predict = genre_model.predict
    monkeypatch.setattr(genre_model, "predict", lambda windows: calls.append(len(windows)) or predict(windows))
    results = list(Classifier(genre_model, workers=2).classify(paths))
    assert len(results) == len(paths)
    assert len(calls) < len(paths)
    assert sum(calls) == sum(len(r.decision.window_probs) for r in results)


def test_litert_network_scores_like_the_keras_network(genre_model) -> None:
    windows = np.random.default_rng(0).uniform(0, 4, (70, 250, 96)).astype(np.float32)
    keras_model = GenreModel.load(str(genre_model.path), runtime="keras")
    lite_model = GenreModel.load(str(genre_model.path), runtime="litert")
    assert (lite_model.runtime, keras_model.runtime) == ("litert", "keras")
    np.testing.assert_allclose(lite_model.predict(windows), keras_model.predict(windows), atol=1e-4)
    np.testing.assert_allclose(lite_model.features(windows), keras_model.features(windows), atol=1e-4)
    assert lite_model.model_id == keras_model.model_id


def test_the_network_outputs_tag_probabilities_and_the_embedding(genre_model) -> None:
    windows = np.random.default_rng(1).uniform(0, 4, (5, 250, 96)).astype(np.float32)
    features = genre_model.features(windows)
    tags = features[:, genre_model.layout["tag_probabilities"]]
    assert tags.shape == (5, 50) and genre_model.head.feature == "tag_probabilities"
    assert features[:, genre_model.layout["penultimate"]].shape == (5, 200)
    assert np.all((tags >= 0) & (tags <= 1))  # sigmoid outputs
    expected = genre_model.head.apply(tags)
    np.testing.assert_allclose(genre_model.predict(windows), expected, atol=1e-6)


def test_a_stale_litert_copy_is_never_used(genre_model, tmp_path: Path) -> None:
    import shutil

    from tagger.training.keras_network import export_runtime
    from tagger.model import load_keras_model

    copy = tmp_path / "model"
    shutil.copytree(genre_model.path, copy)
    for lite in copy.glob("network.*.tflite"):
        lite.rename(copy / "network.0000000000000000.tflite")
    assert GenreModel.load(str(copy)).runtime == "keras"
    export_runtime(copy, load_keras_model(copy / "network.keras"))
    assert GenreModel.load(str(copy)).runtime == "litert"
    assert len(list(copy.glob("network.*.tflite"))) == 1


def test_a_network_saved_again_keeps_its_id_and_a_changed_weight_does_not(genre_model, tmp_path: Path) -> None:
    # Two builds of one network differ in their bytes (save time, Keras's object ids); the id must
    # not, or every rebuild would throw away users' cached results and learned models' fallback.
    import shutil

    from tagger.model import load_keras_model
    from tagger.training.keras_network import export_runtime

    copy = tmp_path / "model"
    shutil.copytree(genre_model.path, copy)
    network = load_keras_model(copy / "network.keras")
    network.save(copy / "network.keras")
    export_runtime(copy, network)
    resaved = GenreModel.load(str(copy))
    assert (resaved.network_id, resaved.model_id) == (genre_model.network_id, genre_model.model_id)

    layer = next(layer for layer in network.layers if layer.get_weights())
    layer.set_weights([w + np.float32(1e-3) for w in layer.get_weights()])
    network.save(copy / "network.keras")
    export_runtime(copy, network)
    changed = GenreModel.load(str(copy))
    assert changed.network_id != genre_model.network_id and changed.model_id != genre_model.model_id


def test_corrupt_network_file_is_a_clear_error(tmp_path: Path, genre_model) -> None:
    import shutil

    from tagger.model import ModelError

    copy = tmp_path / "broken"
    shutil.copytree(genre_model.path, copy)
    for lite in copy.glob("network.*.tflite"):
        lite.unlink()
    (copy / "network.keras").write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(ModelError, match="not a loadable genre model"):
        GenreModel.load(str(copy))


@pytest.mark.parametrize("damage", ["missing", "truncated", "wrong width"])
def test_a_damaged_head_is_a_clear_error(tmp_path: Path, genre_model, damage: str) -> None:
    import shutil

    from tagger.head import Head
    from tagger.model import ModelError

    copy = tmp_path / "model"
    shutil.copytree(genre_model.path, copy)
    if damage == "missing":
        (copy / "head.npz").unlink()
    elif damage == "truncated":
        (copy / "head.npz").write_bytes((copy / "head.npz").read_bytes()[:100])
    else:
        head = Head.load(copy)
        Head(head.weights[:10], head.bias, head.feature).save(copy)
    with pytest.raises(ModelError, match="head"):
        GenreModel.load(str(copy))


def test_a_folder_saved_by_the_older_version_names_the_command_that_converts_it(tmp_path: Path,
                                                                                  genre_model) -> None:
    """A 0.1 folder (one whole model.keras) is refused with the fix; `tagger-train export` converts it."""
    import shutil

    from tagger.model import ModelError, load_keras_model
    from tagger.training import keras_network
    from tagger.training.cli import main

    old = tmp_path / "old"
    shutil.copytree(genre_model.path, old)
    whole = keras_network.genre_model(load_keras_model(old / "network.keras"), genre_model.head)
    for name in ("network.keras", "network.json", "head.npz", *(p.name for p in old.glob("network.*.tflite"))):
        (old / name).unlink()
    whole.save(old / "model.keras")
    with pytest.raises(ModelError, match="tagger-train export"):
        GenreModel.load(str(old))

    assert main(["export", str(old)]) == 0
    converted = GenreModel.load(str(old))
    assert converted.runtime == "litert" and not (old / "model.keras").exists()
    assert (old / "trained_on.txt").is_file()  # what the writer does not make is carried over
    windows = np.random.default_rng(2).uniform(0, 4, (6, 250, 96)).astype(np.float32)
    np.testing.assert_allclose(converted.predict(windows), genre_model.predict(windows), atol=1e-5)


def test_where_litert_has_no_wheel_keras_runs_the_network_or_the_error_names_the_extra(genre_model,
                                                                                         monkeypatch) -> None:
    from tagger.model import ModelError

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # as on a platform without a LiteRT wheel
    fallback = GenreModel.load(str(genre_model.path))
    assert fallback.runtime == "keras"
    windows = np.random.default_rng(3).uniform(0, 4, (3, 250, 96)).astype(np.float32)
    np.testing.assert_allclose(fallback.predict(windows), genre_model.predict(windows), atol=1e-4)
    monkeypatch.setitem(sys.modules, "keras", None)  # ... and without genre-tagger[train]
    with pytest.raises(ModelError, match=r"LiteRT has no wheel.*genre-tagger\[train\]"):
        GenreModel.load(str(genre_model.path))
