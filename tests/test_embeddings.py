"""retrain's embeddings: files decode in the engine's pool, so a hung or broken file is reported and the rest go on."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from audio import make_track
from tagger.features import file_windows
from tagger.training.embeddings import Embedder


def test_a_hung_file_times_out_and_the_others_are_embedded_in_order(genre_model, tmp_path: Path,
                                                                    hang_on) -> None:
    paths = [make_track(tmp_path / f"t{i}.flac", seconds=5, seed=i) for i in range(4)]
    embedder = Embedder(genre_model, workers=2, timeout=5.0)
    embedder._featurize(paths[0])  # the first call pays for imports and filter banks, not part of the test
    embedder._featurize = hang_on(embedder._featurize, paths[1])
    results = list(embedder.run(paths))
    assert [r.path for r in results] == paths
    assert results[1].embeddings is None and "longer than 5 s" in results[1].error
    for path, result in zip(paths, results):
        if path != paths[1]:
            expected = genre_model.features(file_windows(path, genre_model.settings.features).mels)
            np.testing.assert_allclose(result.embeddings, expected, atol=1e-6)
            assert result.error is None and not result.cached


def test_broken_and_missing_files_are_reported_and_good_ones_come_from_the_cache(genre_model,
                                                                                 tmp_path: Path) -> None:
    good = make_track(tmp_path / "good.mp3", seconds=5, seed=1)
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC" + bytes(200))
    missing = tmp_path / "missing.ogg"
    paths = [broken, good, missing]
    first = list(Embedder(genre_model, workers=2).run(paths))
    again = list(Embedder(genre_model, workers=2).run(paths, keep_mels=True))
    for results in (first, again):
        assert [r.path for r in results] == paths
        assert results[0].embeddings is None and results[0].error
        assert results[2].embeddings is None and "cannot read file" in results[2].error
    assert not first[1].cached and again[1].cached
    np.testing.assert_array_equal(again[1].embeddings, first[1].embeddings)
    assert again[1].mels.shape[0] == first[1].embeddings.shape[0]


def test_cancel_ends_the_run_early(genre_model, tmp_path: Path) -> None:
    paths = [make_track(tmp_path / f"t{i}.wav", seconds=5, seed=i) for i in range(6)]
    cancel = threading.Event()
    seen = []
    for result in Embedder(genre_model, workers=1, use_cache=False).run(paths, cancel=cancel):
        seen.append(result.path)
        cancel.set()
    assert seen == paths[:1]
