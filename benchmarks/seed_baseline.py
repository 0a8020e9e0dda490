"""The seed's way of tagging, reproduced for comparison: the baseline of the benchmarks.

Per file: load the whole file at its native rate (librosa), cut it into 4 s chunks with 2 s
overlap (at most 15), compute a Mel spectrogram per chunk, resize each to 150x150, one model
call per file, average, write the genre with mutagen. The seed's CNN (conv + max-pool blocks,
dense head on 150x150 inputs) is rebuilt with random weights: its speed, not its accuracy, is
what is compared.

Usage: python benchmarks/seed_baseline.py FILE_OR_FOLDER...
Prints one line: files, seconds, files/s.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


def seed_model():
    import keras

    inputs = keras.Input((150, 150, 1))
    x = inputs
    for filters in (32, 64, 128, 256):
        x = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, keras.layers.Dense(len(GENRES), activation="softmax")(x))


def seed_chunks(path: Path):
    import librosa
    import numpy as np
    import tensorflow as tf

    audio, rate = librosa.load(path, sr=None)
    size, hop = 4 * rate, 2 * rate
    chunks = []
    for start in range(0, max(1, len(audio) - size + 1), hop):
        chunk = audio[start:start + size]
        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=chunk, sr=rate), ref=np.max)
        chunks.append(tf.image.resize(mel[..., None], (150, 150)).numpy())
        if len(chunks) == 15:
            break
    return np.stack(chunks)


def tag_like_the_seed(paths: list[Path]) -> None:
    import mutagen

    model = seed_model()
    for path in paths:
        probs = model.predict(seed_chunks(path), verbose=0).mean(axis=0)
        audio = mutagen.File(path, easy=True)
        if audio.tags is None:
            audio.add_tags()
        audio["genre"] = GENRES[int(probs.argmax())]
        audio.save()


def main() -> None:
    audio_ext = {".mp3", ".flac", ".ogg", ".wav", ".m4a", ".opus", ".aiff"}
    paths = []
    for arg in sys.argv[1:]:
        arg = Path(arg)
        paths += sorted(p for p in arg.rglob("*") if p.suffix in audio_ext) if arg.is_dir() else [arg]
    started = time.perf_counter()
    tag_like_the_seed(paths)
    elapsed = time.perf_counter() - started
    print(f"{len(paths)} files {elapsed:.2f} s {len(paths) / elapsed:.3f} files/s")


if __name__ == "__main__":
    main()
