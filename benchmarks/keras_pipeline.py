"""The Keras array pipeline's own cost per epoch: per-epoch permutation (now) against the
element-wise `Dataset.range(n).shuffle(n)` it replaced, on the overhead benchmark's MLP.

Both pipelines feed the same `model.fit` (one epoch per call, one CPU thread), in one process,
arms alternating each round; printed: CPU seconds per epoch, median and min-max, and the
ratio old / new per round. Also the pipelines alone (iterating the batches, no model).

    python benchmarks/keras_pipeline.py                 # 50,000 rows, batch 32 and 256
    python benchmarks/keras_pipeline.py --rows 1000000  # the pipeline alone scales with n
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def old_batches(x, y, batch_size: int, seed: int):  # type: ignore[no-untyped-def]
    """The pipeline before: element-wise shuffle of the index dataset, then batched."""
    import tensorflow as tf

    n = int(x.shape[0])
    indices = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
    whole = tf.data.Dataset.from_tensors((x, y)).repeat()
    return (
        tf.data.Dataset.zip((indices.batch(batch_size), whole))
        .map(lambda i, a: (tf.gather(a[0], i), tf.gather(a[1], i)))
        .prefetch(tf.data.AUTOTUNE)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", default="32,256")
    args = parser.parse_args()
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    sys.path.insert(0, str(HERE))
    import numpy as np

    from plateau_cli.adapters.keras.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    import overhead
    from plateau_cli.adapters.keras import pipeline
    from plateau_cli.data import aligned
    from plateau_cli.data.base import ArraySplit, DataBundle

    rng = np.random.default_rng(0)
    x = aligned.as_aligned(rng.standard_normal((args.rows, 64)).astype(np.float32))
    y = aligned.as_aligned((x @ rng.standard_normal((64, 10)).astype(np.float32)).argmax(1))
    bundle = DataBundle(ArraySplit(x, y), ArraySplit(x[:500], y[:500]), "npz", "bench")
    for batch in [int(b) for b in args.batches.split(",")]:
        arms = {
            "new": pipeline.prepare(bundle, batch, 0, None, 2, "float32").train,
            "old": old_batches(pipeline.as_tensor(x), pipeline.as_tensor(y), batch, 0),
        }
        keras.utils.set_random_seed(0)
        model = overhead.keras_model("mlp")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        for dataset in arms.values():  # trace both once
            model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        fit: dict[str, list[float]] = {name: [] for name in arms}
        alone: dict[str, list[float]] = {name: [] for name in arms}
        for round_ in range(args.rounds):
            for name in arms if round_ % 2 == 0 else list(reversed(arms)):
                start = time.process_time()
                model.fit(arms[name], epochs=1, verbose=0, shuffle=False)
                fit[name].append(time.process_time() - start)
                start = time.process_time()
                for _ in arms[name]:
                    pass
                alone[name].append(time.process_time() - start)
        ratios = [o / n for o, n in zip(fit["old"], fit["new"], strict=True)]
        print(f"rows {args.rows:,}, batch {batch}: CPU s per epoch, median (min-max)")
        for name in arms:
            print(f"  {name}: fit {_spread(fit[name])}   pipeline alone {_spread(alone[name])}")
        print(f"  old / new (fit, per round): {_spread(ratios)}")


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


if __name__ == "__main__":
    main()
