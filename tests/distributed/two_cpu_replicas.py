"""Run plateau-cli's command line with TensorFlow's CPU split into two logical devices.

    python -m tests.distributed.two_cpu_replicas resume MODEL --distribute mirrored ...

A CPU-only machine shows one CPU device, so `MirroredStrategy` would run one replica; splitting
it (before TensorFlow initialises) gives two, as two GPUs would.
"""

from __future__ import annotations

import sys


def digits_even() -> tuple[tuple[object, object], tuple[object, object]]:
    """`--data tests/distributed/two_cpu_replicas.py:digits_even`: the sample digits cut to
    whole batches of 32 (1408 + 352), so no replica gets a ragged share."""
    from pathlib import Path

    import numpy as np

    data = np.load(Path(__file__).resolve().parents[2] / "sample_models" / "data" / "digits.npz")
    return (data["x_train"][:1408], data["y_train"][:1408]), (
        data["x_val"][:352],
        data["y_val"][:352],
    )


def main() -> None:
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from plateau_cli.cli import main as cli

    cli(sys.argv[1:])


if __name__ == "__main__":
    main()


def digits_datasets() -> tuple[object, object]:
    """The same digits as unbatched, unshuffled `tf.data.Dataset`s: plateau-cli batches them
    by --batch-size and feeds them in order, so one device and two replicas see the same
    batches (array data is reshuffled by a seeded tf.data shuffle, whose order differs under
    a strategy)."""
    import tensorflow as tf

    (x, y), (xv, yv) = digits_even()
    return tf.data.Dataset.from_tensor_slices((x, y)), tf.data.Dataset.from_tensor_slices((xv, yv))
