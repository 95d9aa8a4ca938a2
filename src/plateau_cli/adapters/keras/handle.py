"""`KerasHandle`: a loaded Keras model behind the framework-neutral `ModelHandle` interface."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import keras

from plateau_cli.adapters.base import (
    EpochControl,
    IOSpec,
    ModelDescription,
    ModelHandle,
    UnitActivity,
)
from plateau_cli.adapters.keras import describe, optimizer, pipeline, training
from plateau_cli.adapters.keras.distribute import Distribution
from plateau_cli.adapters.keras.loading import Loaded
from plateau_cli.adapters.keras.runtime import installed_keras_version, parse_version
from plateau_cli.adapters.sniff import KERAS_H5
from plateau_cli.atomic import atomic_path
from plateau_cli.data import check_fit
from plateau_cli.data.base import DataBundle
from plateau_cli.data.fit import input_rank
from plateau_cli.errors import OutputError
from plateau_cli.zips import DAMAGED_ZIP_ERRORS

CHECKPOINT_NAME = "model.keras"


class KerasHandle(ModelHandle):
    framework: ClassVar[str] = "keras"

    def __init__(self, path: Path, fmt: str, loaded: Loaded) -> None:
        super().__init__(path, fmt)
        #: `--distribute`: the tf.distribute strategy whose scope the model lives in.
        self.distribution: Distribution | None = None
        self.model = loaded.model
        self.facts = loaded.facts
        self.optimizer_state = loaded.state
        self.optimizer_detail = loaded.detail
        self.load_notes = loaded.notes
        self.load_extra = dict(loaded.extra)
        #: Set when `set_learning_rate` replaced a LearningRateSchedule by a constant rate.
        self.schedule_replacement: optimizer.ScheduleReplacement | None = None
        self._fitting = False
        self._save_hooks: list[Callable[[], None]] = []

    # -- describing -------------------------------------------------------------------------
    def describe(self) -> ModelDescription:
        info = optimizer.optimizer_info(
            self.model, self.optimizer_state, self.optimizer_detail, self.schedule_replacement
        )
        return describe.description(
            self.model, self.path, self.format, info, self._notes(), self._extra()
        )

    def _notes(self) -> list[str]:
        notes = list(self.load_notes)
        if self.format == KERAS_H5:
            notes.append(
                "legacy .h5 input: the output checkpoint is written in the Keras v3 .keras format"
            )
        written = parse_version(self.facts.keras_version)
        installed = parse_version(installed_keras_version())
        if written is not None and installed is not None and written[:2] != installed[:2]:
            notes.append(
                f"written by Keras {self.facts.keras_version}, loaded with Keras"
                f" {installed_keras_version()}"
            )
        return notes

    def _extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "keras_version": self.facts.keras_version,
            "keras_version_installed": installed_keras_version(),
            "backend": keras.backend.backend(),
        }
        if self.facts.backend:
            extra["saved_backend"] = self.facts.backend
        if self.facts.date_saved:
            extra["date_saved"] = self.facts.date_saved
        extra.update(self.load_extra)
        extra |= describe.named_shapes(self.model)
        return extra

    def io_spec(self) -> IOSpec:
        return describe.io_spec(self.model)

    # -- data and training ------------------------------------------------------------------
    def check_data(self, data: DataBundle) -> None:
        spec = self.io_spec()
        check_fit(data, spec)
        if data.is_arrays:
            pipeline.probe(self.model, data)
        else:
            pipeline.check_dataset_shapes(data, spec.input_shape, spec.inputs)

    def prepare(self, data: DataBundle, batch_size: int, seed: int) -> pipeline.Prepared:
        return pipeline.prepare(
            data,
            batch_size,
            seed,
            self.train_transform,
            input_rank(self.io_spec()),
            self._input_dtype(),
            copies=self.train_copies,
        )

    def _input_dtype(self) -> str:
        try:
            return str(self.model.inputs[0].dtype)
        except (AttributeError, IndexError, ValueError):
            return "float32"

    def steps_per_epoch(self, prepared: pipeline.Prepared) -> int | None:
        return prepared.steps

    def unit_activity(self, prepared: pipeline.Prepared) -> list[UnitActivity]:
        from plateau_cli.adapters.keras.activity import unit_activity

        return unit_activity(self.model, prepared.train_eval)

    def evaluate(self, prepared: pipeline.Prepared, split: str = "val") -> dict[str, float]:
        return training.evaluate(self.model, prepared, split)

    def use_distribution(self, distribution: Distribution | None) -> None:
        self.distribution = distribution
        if distribution is not None:
            self.load_notes = [*self.load_notes, distribution.note()]

    def fit(
        self,
        prepared: pipeline.Prepared,
        first_epoch: int,
        epochs: int,
        control: EpochControl,
    ) -> None:
        self._fitting = True
        try:
            training.fit(self.model, prepared, first_epoch, epochs, control)
        finally:
            self._fitting = False

    # -- optimizer ----------------------------------------------------------------------------
    def learning_rate(self) -> float | None:
        return optimizer.current_rate(getattr(self.model, "optimizer", None))

    def set_learning_rate(self, lr: float) -> str | None:
        """Override the rate; returns a sentence when a schedule had to be replaced.

        Replacing a schedule recompiles the model, which a running `fit` cannot survive; the
        first override of a scheduled optimizer must come before `fit` (lr-decay's `apply`
        does). Later overrides, also from inside `fit`, are plain variable assignments.
        """
        if self._fitting and not optimizer.has_rate_variable(self.model.optimizer):
            raise RuntimeError(
                "set_learning_rate() on an optimizer driven by a LearningRateSchedule must be"
                " called once before fit(): replacing the schedule recompiles the model"
            )
        replaced = optimizer.set_rate(self.model, lr)
        if replaced is None:
            return None
        if self.schedule_replacement is None:
            self.schedule_replacement = replaced
        return replaced.describe()

    # -- weights ------------------------------------------------------------------------------
    def snapshot(self) -> list[Any]:
        return self.model.get_weights()

    def restore(self, snapshot: list[Any]) -> None:
        self.model.set_weights(snapshot)

    def checkpoint_name(self) -> str:
        return CHECKPOINT_NAME

    def add_save_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook()` once, just before the model is written.

        For a strategy that trains with an arrangement Keras cannot serialise (unfreeze routes
        each group of variables to its own optimizer): the hook puts the standard objects it
        persists in place, so the archive loads with plain `keras.models.load_model`.
        """
        self._save_hooks.append(hook)

    @property
    def saves_midway(self) -> bool:
        """Not while a save hook waits: it rearranges the optimizer for good (unfreeze's groups)."""
        return not self._save_hooks

    def save(self, path: Path, *, epochs_done: int) -> None:
        """Write a `.keras` archive atomically (Keras v3 format also for `.h5` input).

        `epochs_done` has no place in a Keras archive (Keras writes metadata.json itself); the
        optimizer's `iterations`, which the archive keeps, is the step count that resumes.
        """
        hooks, self._save_hooks = self._save_hooks, []
        for hook in hooks:
            hook()
        with atomic_path(Path(path), suffix=".keras") as tmp:
            with warnings.catch_warnings():
                # A Lambda layer (loaded with --trust-pickle) warns that reloading needs
                # safe_mode=False: true, and already what the user chose.
                warnings.filterwarnings("ignore", message="The object being serialized includes")
                self.model.save(tmp)
            _check_archive(tmp, Path(path))


def _check_archive(tmp: Path, final: Path) -> None:
    """A written archive must hold the config and the weights before it replaces anything."""
    try:
        with zipfile.ZipFile(tmp) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except DAMAGED_ZIP_ERRORS as exc:
        raise OutputError(
            f"cannot write {final}: the archive Keras wrote is damaged ({exc})"
        ) from exc
    missing = {"config.json", "model.weights.h5"} - names
    if missing or bad is not None:
        raise OutputError(
            f"cannot write {final}: the archive Keras wrote lacks {', '.join(sorted(missing))}"
            if missing
            else f"cannot write {final}: member {bad} of the written archive is damaged"
        )
