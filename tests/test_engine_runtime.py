"""The classification pipeline: batching across files, hung decoders, and the two model runtimes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from audio import make_track
from tagger.engine import Classifier
from tagger.model import GenreModel, export_runtime


def test_a_hung_decoder_is_given_up_and_the_rest_goes_on(genre_model, tmp_path: Path) -> None:
    paths = [make_track(tmp_path / f"t{i}.flac", seconds=5, seed=i) for i in range(4)]
    release = threading.Event()
    classifier = Classifier(genre_model, workers=2, timeout=5.0)
    featurize = classifier.featurize
    featurize(paths[0])  # the first call pays for imports and filter banks, not part of the test

    def hang_on_the_second(path: Path):
        if path == paths[1]:
            release.wait(30)  # a decoder stuck in a C library: Python cannot interrupt it
        return featurize(path)

    classifier.featurize = hang_on_the_second
    try:
        results = {r.path: r for r in classifier.classify(paths)}
    finally:
        release.set()
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


def test_litert_copy_scores_like_the_keras_model(genre_model, tmp_path: Path) -> None:
    windows = np.random.default_rng(0).uniform(0, 4, (70, 250, 96)).astype(np.float32)
    keras_model = GenreModel.load(str(genre_model.path), runtime="keras")
    lite_model = GenreModel.load(str(genre_model.path), runtime="litert")
    assert lite_model.runtime == "litert"
    np.testing.assert_allclose(lite_model.predict(windows), keras_model.predict(windows), atol=1e-4)
    assert lite_model.model_id == keras_model.model_id


def test_a_stale_litert_copy_is_never_used(genre_model, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(genre_model.path, copy)
    (copy / "model.keras").write_bytes((copy / "model.keras").read_bytes() + b"")
    for lite in copy.glob("model.*.tflite"):
        lite.rename(copy / "model.0000000000000000.tflite")
    assert GenreModel.load(str(copy)).runtime == "keras"
    export_runtime(copy)
    assert GenreModel.load(str(copy)).runtime == "litert"
    assert len(list(copy.glob("model.*.tflite"))) == 1


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path, genre_model) -> None:
    import shutil

    from tagger.model import ModelError

    copy = tmp_path / "broken"
    shutil.copytree(genre_model.path, copy)
    for lite in copy.glob("model.*.tflite"):
        lite.unlink()
    (copy / "model.keras").write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(ModelError, match="not a loadable genre model"):
        GenreModel.load(str(copy))
