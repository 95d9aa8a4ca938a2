"""The framework adapter interface: everything `resume`, `inspect` and `trial` need of a model.

One adapter per framework (`adapters/keras`, `adapters/torch`) implements it. The core never
imports a framework: it sniffs the file with `adapters.sniff` (pure Python), picks the adapter
from the registry, and from then on talks to a `ModelHandle`.

Distributed training is planned (DDP under torchrun, a tf.distribute strategy): a handle says
whether it is the main process, averages its metrics itself, and the core writes files and
reports progress only on the main process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from plateau_cli.data.base import DataBundle, Task


@dataclass(frozen=True)
class LoadOptions:
    """How to open a checkpoint; every field has a safe default."""

    #: Allow deserialisation that can run code (pickled modules, Keras Lambda layers).
    trust_pickle: bool = False
    #: `module:callable` or `path/file.py:callable` that builds the torch module.
    model_factory: str | None = None
    factory_args: Mapping[str, Any] = field(default_factory=dict)
    #: Loss and optimizer for models saved without them (names as the framework spells them).
    loss: str | None = None
    optimizer: str | None = None
    #: Learning rate for a new optimizer (no state saved) or to override the restored one.
    lr: float | None = None
    device: str = "auto"
    #: PyTorch: which part of a dict/tuple/ModelOutput output holds the predictions (a key or
    #: an index); None follows the conventions (`logits`, else the first element).
    output: str | None = None
    #: `--import`: modules or .py files imported before loading (Keras custom objects,
    #: classes a torch factory or a pickled module needs). Explicit opt-in, as --model-factory.
    imports: tuple[str, ...] = ()
    #: Keras: `mirrored` (tf.distribute); None runs on one device.
    distribute: str | None = None
    #: PyTorch under torchrun: BatchNorm statistics over the whole global batch (SyncBatchNorm).
    sync_batchnorm: bool = False


class OptimizerState(str, Enum):
    """What became of the optimizer state saved in the checkpoint."""

    RESTORED = "restored"  # moments and step count continue
    SKIPPED = "skipped"  # present in the file, but the framework could not use it
    ABSENT = "absent"  # nothing saved: a new optimizer starts from zero
    REMAPPED = "remapped"  # carried over per parameter through a change of shapes
    PARTIAL = "partial"  # kept for some parameters, reset for others
    RESET = "reset"  # a strategy had to start it again


@dataclass(frozen=True)
class OptimizerInfo:
    name: str | None
    learning_rate: float | None
    state: OptimizerState
    #: Steps taken so far (Keras `iterations`, torch Adam `step`), when known.
    iterations: int | None = None
    #: A learning-rate schedule object in place of a constant rate (Keras CosineDecay, ...).
    schedule: str | None = None
    #: One sentence for a person, e.g. the warning Keras would only have logged.
    detail: str | None = None
    #: Further hyper-parameters worth showing (momentum, betas, weight decay).
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerInfo:
    name: str
    kind: str
    output_shape: str | None
    params: int
    trainable_params: int

    @property
    def trainable(self) -> bool | None:
        """True, False, or None when only some of the layer's parameters train."""
        if self.params in (0, self.trainable_params):
            return True if self.params else None
        return False if self.trainable_params == 0 else None


@dataclass(frozen=True)
class ModelDescription:
    """What `inspect` shows; also recorded in the report."""

    framework: str
    format: str
    path: Path
    layers: tuple[LayerInfo, ...]
    trainable_params: int
    frozen_params: int
    optimizer: OptimizerInfo
    loss: str | None
    metrics: tuple[str, ...]
    input_shape: tuple[int | None, ...] | None
    output_shape: tuple[int | None, ...] | None
    notes: tuple[str, ...] = ()
    #: Format-specific facts: the Keras version that wrote the file, a torch checkpoint's epoch...
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IOSpec:
    """What the model expects and produces, for checking data before any training."""

    input_shape: tuple[int | None, ...] | None  # without the batch dimension
    output_units: int | None
    output_activation: str | None  # "softmax", "sigmoid", "linear"/None
    task: Task | None  # inferred from the loss and output, when possible
    #: Whether integer (sparse) labels are expected for classification.
    sparse_labels: bool = True
    #: Image layout the model wants: Keras NHWC (True) or torch NCHW (False). Data readers
    #: produce NHWC; the adapter transposes when needed.
    channels_last: bool = True
    #: The inputs are integer ids into an embedding (tokens): no pixel-scale advice for them.
    integer_inputs: bool = False
    #: The model takes raw strings (a Keras `Input(dtype="string")` feeding TextVectorization or
    #: StringLookup): text features feed it as they are, numbers do not, and the numeric checks
    #: and input-value strategies do not apply.
    string_inputs: bool = False
    #: What the brightest pixel of an image folder is fed as: 1.0 (torchvision's ToTensor) or
    #: 255.0 (Keras' `image_dataset_from_directory`), so images reach the model as in training.
    image_max: float = 1.0
    #: The model's own leading preprocessing (Rescaling, Normalization), as numpy in -> numpy
    #: out, so the input health check judges what the first trainable layer sees.
    preprocess: Callable[[Any], Any] | None = field(default=None, compare=False)
    #: Those layers in words ("Rescaling(scale=0.00784, offset=-1)"), for notes.
    preprocessing: str | None = None
    #: A model with several inputs (Keras functional): input name -> per-sample shape. Dict
    #: data is keyed by these names. None for a one-input model (`input_shape` says it).
    inputs: Mapping[str, tuple[int | None, ...]] | None = None
    #: A model with several outputs: output name -> that output's own IOSpec (units,
    #: activation, the task its loss says). None for a one-output model.
    outputs: Mapping[str, IOSpec] | None = None

    @property
    def is_multi(self) -> bool:
        """Several inputs or several outputs: the data must be dicts keyed by their names."""
        return self.inputs is not None or self.outputs is not None


@dataclass(frozen=True)
class UnitActivity:
    """How many units of one ReLU-family layer are dead: output 0 on every sample seen.

    FINDINGS §2: a plateau that no learning rate fixes can be dead units, and only the
    checkpoint plus data show it (the log shows an oscillation, then a plateau).
    """

    layer: str
    activation: str
    units: int
    dead: int
    samples: int
    #: Inside a nested model (Keras `base/layer`): revive reaches top-level layers only.
    nested: bool = False

    @property
    def dead_share(self) -> float:
        return self.dead / self.units if self.units else 0.0


class EpochControl(Protocol):
    """The core's side of a training loop; the adapter calls it (epochs count from 1).

    Two optional members (read with getattr, so a minimal control needs neither):
    `batch_progress: bool`, whether to call `on_batch_end` from loops where a per-batch call
    costs something (Keras); and `on_stop_request(callback) -> remove`, to have `callback`
    run (it only sets a flag) as soon as an interrupt is asked for.
    """

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, epoch: int, batch: int, logs: Mapping[str, float]) -> bool:
        """Return True to stop now (interrupt requested, non-finite loss).

        `logs` may be lazy (values still on the device): reading one is a synchronisation,
        so a control reads them rarely, never per batch.
        """
        ...

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """`logs` holds train and `val_` metrics under canonical names. True stops training."""
        ...


class ModelHandle(ABC):
    """A loaded model with its optimizer, loss and metrics, ready to evaluate and train."""

    framework: ClassVar[str]
    #: The batch size the checkpoint records (Lightning hyper_parameters, a script's `args`),
    #: with the entry it was found in; resume uses it when --batch-size is not given.
    recorded_batch_size: tuple[int, str] | None = None

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = fmt
        #: A framework-native function (x, y) -> (x, y) applied to every training batch, set by
        #: the augment strategy before `prepare`. Validation batches never pass through it.
        self.train_transform: Callable[[Any, Any], tuple[Any, Any]] | None = None
        #: Passes over the training data per epoch, each reshuffled (and augmented afresh when
        #: `train_transform` is set); set by augment's `--copies` before `prepare`.
        self.train_copies: int = 1
        #: Per-class weights of the training loss (rebalance's `--rebalance-mode weights`), by
        #: class index; None: unweighted. Validation and evaluation are never weighted.
        self.train_class_weights: Any = None

    # -- describing -------------------------------------------------------------------------
    @abstractmethod
    def describe(self) -> ModelDescription: ...

    @abstractmethod
    def io_spec(self) -> IOSpec: ...

    # -- data and training ------------------------------------------------------------------
    @abstractmethod
    def check_data(self, data: DataBundle) -> None:
        """Raise DataMismatchError when the data cannot feed this model (before any training)."""

    @abstractmethod
    def prepare(self, data: DataBundle, batch_size: int, seed: int) -> Any:
        """Turn the bundle into the framework's own batches (train shuffled, val in order)."""

    def prepare_continued(
        self, data: DataBundle, batch_size: int, seed: int, epochs_done: int
    ) -> Any:
        """Batches for a run that goes on after `epochs_done` epochs (`--continue`).

        By default the order is drawn from `seed + epochs_done`: it repeats on a re-run, but
        it is not the uninterrupted run's. A handle that can replay its shuffle stream
        (torch's own array batches) overrides this, so the continued epochs train on exactly
        the batches the uninterrupted run would have.
        """
        return self.prepare(data, batch_size, seed + epochs_done)

    def steps_per_epoch(self, prepared: Any) -> int | None:
        """Training batches per epoch, for progress bars; None when unknown."""
        return None

    @abstractmethod
    def evaluate(self, prepared: Any, split: str = "val") -> dict[str, float]:
        """Metrics on one split ("train" or "val"), canonical names without the `val_` prefix."""

    def unit_activity(self, prepared: Any) -> list[UnitActivity]:
        """Dead-unit counts of the hidden ReLU layers on the training data (in inference mode).

        Layers whose activation cannot be observed (a ReLU called functionally inside a torch
        `forward`) are not listed; an empty list means nothing could be measured.
        """
        return []

    @abstractmethod
    def fit(self, prepared: Any, first_epoch: int, epochs: int, control: EpochControl) -> None:
        """Train up to `epochs` epochs numbered from `first_epoch`, calling `control` each epoch."""

    # -- optimizer ----------------------------------------------------------------------------
    @abstractmethod
    def learning_rate(self) -> float | None:
        """The rate the next step will use (for a schedule: its current value)."""

    @abstractmethod
    def set_learning_rate(self, lr: float) -> str | None:
        """Override the rate for the following steps, keeping the optimizer's state.

        Returns a sentence when more than a number had to change (a Keras LearningRateSchedule
        replaced by a constant rate), so the report can say so; None otherwise.
        """

    # -- weights ------------------------------------------------------------------------------
    @abstractmethod
    def snapshot(self) -> Any:
        """An in-memory copy of the weights, for restore-best."""

    @abstractmethod
    def restore(self, snapshot: Any) -> None: ...

    @abstractmethod
    def checkpoint_name(self) -> str:
        """File name for the output checkpoint in the input's format family (`model.keras`)."""

    @abstractmethod
    def save(self, path: Path, *, epochs_done: int) -> None:
        """Write the checkpoint atomically at `path` (via plateau_cli.atomic)."""

    @property
    def saves_midway(self) -> bool:
        """Whether `save` can run between epochs without changing how training goes on (the
        per-epoch recovery point needs it)."""
        return True

    # -- process ------------------------------------------------------------------------------
    @property
    def is_main_process(self) -> bool:
        return True


class Adapter(ABC):
    """Opens checkpoints of one framework."""

    name: ClassVar[str]

    @abstractmethod
    def load(self, path: Path, fmt: str, options: LoadOptions) -> ModelHandle:
        """Open `path` (already sniffed as `fmt`); raise PlateauError subclasses for bad files."""

    @staticmethod
    @abstractmethod
    def seed(seed: int) -> None:
        """Seed the framework's random generators so a CPU re-run gives the same numbers."""
