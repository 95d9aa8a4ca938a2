"""`--distribute mirrored`: Keras on TensorFlow's own data-parallel engine.

Keras 3's distribution API (`keras.distribution`) serves the JAX backend only; with the
TensorFlow backend `tf.distribute` is the engine, and Keras' trainer uses the strategy whose
scope the model was built in: `fit` and `evaluate` then split every batch across the replicas
and sum the gradients. So the model is loaded, and its optimizer restored, inside
`strategy.scope()`, and the scope stays open for the rest of the process: strategies create
variables later (widen builds a new model, a schedule or a reset makes a new optimizer), and a
variable created outside the scope is refused by the strategy.

The data is batched by the global --batch-size (Keras splits each batch across replicas), so
the updates are those of a one-process run with the same batch. MultiWorkerMirroredStrategy
(several machines) is refused before loading: Keras 3's trainer fails under it
(keras-team/keras#20585; reproduced here with two local workers), see run/resume.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from plateau_cli.errors import UsageError

MIRRORED = "mirrored"
CHOICES = (MIRRORED,)


@dataclass(frozen=True)
class Distribution:
    """The strategy a run uses (one process: a mirrored run writes like a one-device run)."""

    name: str
    strategy: Any
    #: The entered scope: it must stay referenced, or the strategy is left when it is collected.
    scope: Any = None

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def note(self) -> str:
        return (
            f"tf.distribute {self.name} on {self.replicas} replica(s): --batch-size is the"
            " global batch, split across them"
        )


def enter(name: str | None) -> Distribution | None:
    """Build the strategy and enter its scope for the rest of the process (see the module)."""
    if name is None:
        return None
    name = name.strip().lower()
    if name != MIRRORED:
        raise UsageError(f"--distribute must be one of {', '.join(CHOICES)}. Received: {name!r}")
    strategy = tf.distribute.MirroredStrategy(_local_devices())
    scope = strategy.scope()
    scope.__enter__()  # left open on purpose: see the module docstring
    return Distribution(name, strategy, scope)


def _local_devices() -> list[str]:
    """All GPUs; without one, every CPU device TensorFlow shows (one unless configured)."""
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]
