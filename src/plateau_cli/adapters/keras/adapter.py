"""`KerasAdapter`: opens `.keras` and legacy `.h5` checkpoints, weights-only files and
BackupAndRestore directories with `--model-factory` (registry name "keras")."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import keras
import tensorflow as tf

from plateau_cli.adapters.base import Adapter, LoadOptions
from plateau_cli.adapters.keras import distribute, loading
from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.adapters.sniff import KERAS_BACKUP_DIR
from plateau_cli.run.distributed import refuse_several_processes


class KerasAdapter(Adapter):
    name: ClassVar[str] = "keras"

    def load(self, path: Path, fmt: str, options: LoadOptions) -> KerasHandle:
        refuse_several_processes("a Keras resume")  # torchrun starts torch jobs only
        path = Path(path)
        distribution = distribute.enter(options.distribute)  # before the model: its scope
        if fmt == KERAS_BACKUP_DIR:  # BackupAndRestore: weights only, the factory builds
            from plateau_cli.adapters.keras import backup

            handle = KerasHandle(path, fmt, backup.load(path, fmt, options))
        elif options.model_factory:  # a weights-only file: the user's code builds the model
            from plateau_cli.adapters.keras import weights_only

            handle = KerasHandle(path, fmt, weights_only.load(path, fmt, options))
        else:
            handle = KerasHandle(path, fmt, loading.load(path, fmt, options))
        handle.use_distribution(distribution)
        return handle

    @staticmethod
    def seed(seed: int) -> None:
        """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic.

        `enable_op_determinism` makes ops that would sum in a thread-dependent order pick a
        fixed order, so a CPU re-run gives identical numbers. It is process-wide and cannot be
        turned off again, which suits a command-line run.
        """
        keras.utils.set_random_seed(int(seed))
        tf.config.experimental.enable_op_determinism()
