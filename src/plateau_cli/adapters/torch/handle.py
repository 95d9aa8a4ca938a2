"""`TorchHandle`: a loaded torch model with its optimizer and loss, behind `ModelHandle`.

What strategies may use besides the interface: `model`, `optimizer` (replace it with
`set_optimizer`, saying what became of the state), `device`, and `keep_in_eval_mode(modules)`
for BatchNorm layers that must keep their running statistics while the rest trains.
`train_transform` receives each training batch as the model receives it: tensors on the
device, images already NCHW for conv nets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plateau_cli.adapters.base import (
    EpochControl,
    IOSpec,
    ModelDescription,
    ModelHandle,
    OptimizerState,
    UnitActivity,
)
from plateau_cli.adapters.torch import batches, ddp, probe, sync_bn
from plateau_cli.adapters.torch.describe import describe_model, model_notes
from plateau_cli.adapters.torch.layouts import Layout
from plateau_cli.adapters.torch.losses import (
    INDEX,
    LossChoice,
    canonical_loss,
    named_loss,
    resolve_loss,
)
from plateau_cli.adapters.torch.optimizer import scale_learning_rates
from plateau_cli.adapters.torch.outputs import ModelCall, parse_output_option
from plateau_cli.adapters.torch.saving import SaveTemplate, save_checkpoint
from plateau_cli.adapters.torch.structure import Structure, read_structure
from plateau_cli.adapters.torch.training import Objective, evaluate, set_train_mode, train_epoch
from plateau_cli.data.base import DataBundle, Task
from plateau_cli.errors import DataMismatchError, UsageError

_CHECKPOINT_STEMS = {"torch-checkpoint-dict": "checkpoint", "lightning-ckpt": "checkpoint"}
_DEFAULT_SUFFIXES = {"lightning-ckpt": ".ckpt", "safetensors": ".safetensors"}


@dataclass(frozen=True)
class Prepared:
    train: Any
    val: Any


class TorchHandle(ModelHandle):
    framework = "torch"

    def __init__(
        self,
        path: Path,
        fmt: str,
        *,
        model: torch.nn.Module,
        device: torch.device,
        layout: Layout,
        template: SaveTemplate,
        optimizer: torch.optim.Optimizer,
        optimizer_state: OptimizerState,
        optimizer_detail: str | None,
        frozen_by_checkpoint: tuple[str, ...] = (),
        optimizer_inferred_from: str | None = None,
        loss_option: str | None = None,
        output_option: str | None = None,
        model_factory: str | None = None,
        factory_args: dict[str, Any] | None = None,
        trusted_pickle: bool = False,
        source_info: Mapping[str, Any] | None = None,
        notes: Iterable[str] = (),
    ) -> None:
        super().__init__(path, fmt)
        self.model = model
        self.device = device
        self.layout = layout
        self.template = template
        self.optimizer = optimizer
        self.optimizer_state = optimizer_state
        self.optimizer_detail = optimizer_detail
        self.frozen_by_checkpoint = frozen_by_checkpoint
        self.optimizer_inferred_from = optimizer_inferred_from
        self.loss_option = canonical_loss(loss_option) if loss_option else None
        #: --output: where the predictions are in a dict/tuple/ModelOutput output.
        self.output_option = parse_output_option(output_option)
        #: Per-sample input shape of the data the model ran on (the probe): the input shape.
        self.data_input_shape: tuple[int, ...] | None = None
        #: The model returns its own loss given the batch's labels (HF): trained on that.
        self.model_loss = False
        self.model_factory = model_factory
        #: The --factory-arg values the module was built with (widen names the one to change).
        self.factory_args = dict(factory_args or {})
        self.trusted_pickle = trusted_pickle
        self.source_info = dict(source_info or {})
        self._shapes_probed = False
        self.loss: LossChoice | None = None
        self.layer_shapes: dict[str, tuple[int, ...]] = {}
        self.output_tail: tuple[int, ...] | None = None
        self.steps_by_epoch: list[int] = []
        self._keep_eval: list[torch.nn.Module] = []
        #: Sentences from loading (ignored options, scheduler state kept as it was...).
        self.load_notes = list(notes)
        #: Under torchrun: this rank's place and the DDP wrapper for training (ddp.py).
        self.ddp: ddp.DdpContext | None = None
        self._ddp_wrap = ddp.Wrapper(None)
        #: --sync-batchnorm under torchrun: BatchNorm trains as SyncBatchNorm (sync_bn.py).
        self.sync_batchnorm = False

    # -- describing -------------------------------------------------------------------------
    @property
    def structure(self) -> Structure:
        """Read from the layers each time: a strategy (widen) may have changed them."""
        return read_structure(self.model)

    def describe(self) -> ModelDescription:
        if not self._shapes_probed:
            self._shapes_probed = True
            self._probe_shapes()
        return describe_model(self)

    def io_spec(self) -> IOSpec:
        structure = self.structure
        if self.loss is not None:
            task: Task | None = self.loss.task
        else:
            task = named_loss(self.loss_option, structure).task if self.loss_option else None
        return IOSpec(
            # Seen on real data once probed; before that the first layer's hint (an image
            # reader needs the channel count), never taken as the judge of fit.
            input_shape=self.data_input_shape or structure.input_shape,
            output_units=structure.output_units,
            output_activation=structure.output_activation,
            task=task,
            sparse_labels=self.loss is None or self.loss.target == INDEX,
            channels_last=structure.channels_last,
            integer_inputs=structure.has_embedding,
        )

    def notes(self) -> list[str]:
        return model_notes(self)

    # -- data and training ------------------------------------------------------------------
    def check_data(self, data: DataBundle) -> None:
        """The model runs on one real batch: that, not its first layer, says whether it fits."""
        if data.is_multi:
            raise DataMismatchError(
                f"{data.source}: the arrays are given by name (inputs or outputs of a"
                " multi-input/multi-output Keras model); a PyTorch module takes one feature"
                " array and one label array (x_train, y_train, ...), or a DataLoader from --data"
                " module:function"
            )
        self._ensure_loss(data)
        from plateau_cli.data import check_fit

        checked = data if data.is_arrays else probe.first_batch_bundle(data)
        try:
            self._probe(data)
        except DataMismatchError:
            # The layers' hint words the usual mistakes better (channel order, flat vs image).
            hinted = replace(self.io_spec(), input_shape=self.structure.input_shape)
            check_fit(checked, hinted)
            raise
        check_fit(checked, self.io_spec())

    def prepare(self, data: DataBundle, batch_size: int, seed: int) -> Prepared:
        if batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1. Received: {batch_size}")
        loss = self._ensure_loss(data)
        if self.output_tail is None:
            self._probe(data)
        prepared = self._prepare(data, batch_size, seed, loss)
        return Prepared(  # under torchrun: this rank's share of every batch (ddp.py)
            ddp.shard(prepared.train, self.ddp, seed), ddp.shard(prepared.val, self.ddp, seed)
        )

    def prepare_continued(
        self, data: DataBundle, batch_size: int, seed: int, epochs_done: int
    ) -> Prepared:
        """The uninterrupted run's batches from epoch `epochs_done + 1` on: the shuffle stream
        drawn from `seed` and moved on by the epochs done (on every rank alike under torchrun),
        so an interrupted and continued run trains as the uninterrupted one. A user's own
        DataLoader in one process shuffles by itself: its order comes from seed + epochs done."""
        prepared = self.prepare(data, batch_size, seed)
        if ddp.skip_epochs(prepared.train, epochs_done):
            return prepared
        return self.prepare(data, batch_size, seed + epochs_done)

    def _prepare(self, data: DataBundle, batch_size: int, seed: int, loss: LossChoice) -> Prepared:
        generator = torch.Generator().manual_seed(seed)
        layout = self._input_layout(data)
        if not data.is_arrays:
            fit = batches.TargetFit(loss, layout.dtype, self.output_tail)
            return Prepared(
                batches.wrap_native(
                    data.train,
                    batch_size,
                    self.device,
                    generator,
                    "training",
                    fit,
                    copies=self.train_copies,
                ),
                batches.wrap_native(data.val, batch_size, self.device, None, "validation", fit),
            )
        tensors = [
            batches.inputs_tensor(data.train.x, layout),
            batches.targets_tensor(data.train.y, loss, layout),
            batches.inputs_tensor(data.val.x, layout),
            batches.targets_tensor(data.val.y, loss, layout),
        ]
        if batches.keep_on_device(self.device, *tensors):
            tensors = [t.to(self.device) for t in tensors]
        drop_single = self.structure.has_batch_norm
        return Prepared(
            batches.ArrayBatches(
                *tensors[:2],
                batch_size,
                self.device,
                generator,
                drop_single,
                copies=self.train_copies,
            ),
            batches.ArrayBatches(*tensors[2:], batch_size, self.device),
        )

    def steps_per_epoch(self, prepared: Any) -> int | None:
        try:
            return len(prepared.train)
        except TypeError:
            return None

    def evaluate(self, prepared: Any, split: str = "val") -> dict[str, float]:
        if split not in {"train", "val"}:
            raise ValueError(f"split must be 'train' or 'val'. Received: {split!r}")
        source = prepared.val if split == "val" else ddp.in_order(prepared.train)
        with ddp.collective_errors():
            metrics = evaluate(self.model, source, self._objective())
        return ddp.mean_over_ranks(metrics, getattr(source, "local_samples", 0), self.ddp)

    def unit_activity(self, prepared: Any) -> list[UnitActivity]:
        from plateau_cli.adapters.torch.activity import unit_activity

        whole = ddp.whole(prepared.train)  # every rank judges all samples alike
        return unit_activity(self.model, batches.in_order(whole), self.model_call())

    def fit(self, prepared: Any, first_epoch: int, epochs: int, control: EpochControl) -> None:
        with sync_bn.synchronised(self.model, self.sync_batchnorm):  # before DDP wraps it
            self._fit(prepared, first_epoch, epochs, control)

    def _fit(self, prepared: Any, first_epoch: int, epochs: int, control: EpochControl) -> None:
        objective = self._objective(self.train_class_weights)
        control = ddp.synced(control, self.ddp)
        for epoch in range(first_epoch, first_epoch + epochs):
            control.on_epoch_begin(epoch)
            set_train_mode(self.model, self._keep_eval)
            with ddp.collective_errors():
                logs, stop = train_epoch(
                    self._ddp_wrap(self.model),  # wrapped after the strategy changed it
                    self.optimizer,
                    prepared.train,
                    ddp.objective_for(objective, prepared.train, self.ddp),
                    epoch=epoch,
                    control=control,
                    transform=self.train_transform,
                )
            self.steps_by_epoch.append(logs.batches)
            if stop:
                return
            metrics = self._rank_mean(dict(logs.items()), prepared.train, per_batch=("loss",))
            val = self.evaluate(prepared, "val")
            metrics.update({f"val_{name}": value for name, value in val.items()})
            if control.on_epoch_end(epoch, metrics):
                return

    def _rank_mean(self, metrics: dict, source: Any, per_batch: tuple[str, ...]) -> dict:
        return ddp.mean_over_ranks(
            metrics, getattr(source, "local_samples", 0), self.ddp, per_batch
        )

    @property
    def is_main_process(self) -> bool:
        """Rank 0 under torchrun (the process that writes), else always."""
        return self.ddp is None or self.ddp.rank == 0

    def use_ddp(self, context: ddp.DdpContext | None) -> None:
        """Train data-parallel in this process group (set by the adapter under torchrun)."""
        self.ddp = context
        self._ddp_wrap = ddp.Wrapper(context)
        if context is not None:
            self.load_notes.append(context.note())

    def use_sync_batchnorm(self) -> None:
        """--sync-batchnorm: under torchrun on GPUs, BatchNorm statistics over the global batch;
        in one process there is nothing to synchronise; on the CPU torch cannot (sync_bn.py)."""
        count = len(sync_bn.batch_norms(self.model))
        if self.ddp is None:
            self.load_notes.append(
                "--sync-batchnorm: one process sees the whole batch already; nothing to synchronise"
            )
        elif not sync_bn.runs_here(self.device):
            raise UsageError(
                f"--sync-batchnorm needs CUDA GPUs (NCCL): torch {torch.__version__}'s"
                " SyncBatchNorm does not run on the CPU; drop it (each process then normalises"
                " with its own share of the batch) or train with --device cuda"
            )
        elif count == 0:
            self.load_notes.append("--sync-batchnorm: the model has no BatchNorm layer")
        else:
            self.sync_batchnorm = True
            self.load_notes.append(
                f"--sync-batchnorm: {count} BatchNorm layer(s) train as SyncBatchNorm, with the"
                " statistics of the whole global batch; the checkpoint keeps plain BatchNorm"
            )

    def keep_in_eval_mode(self, modules: Iterable[torch.nn.Module]) -> None:
        """Keep these modules (BatchNorm of a frozen base) in inference mode while training."""
        for module in modules:
            if all(module is not kept for kept in self._keep_eval):
                self._keep_eval.append(module)

    def release_from_eval_mode(self, modules: Iterable[torch.nn.Module]) -> None:
        """Let these modules follow `model.train()` again (a BatchNorm unfrozen with --train-bn)."""
        released = list(modules)
        self._keep_eval = [m for m in self._keep_eval if all(m is not r for r in released)]

    # -- optimizer ----------------------------------------------------------------------------
    def learning_rate(self) -> float | None:
        """The first param group's rate: the head's, when a strategy added groups after it."""
        return float(self.optimizer.param_groups[0]["lr"])

    def set_learning_rate(self, lr: float) -> str | None:
        """Every group scaled by the same factor, so discriminative rates keep their ratios."""
        groups = self.optimizer.param_groups
        before = [float(g["lr"]) for g in groups]
        scale_learning_rates(self.optimizer, lr)
        if len(groups) > 1 and len(set(before)) > 1:
            after = ", ".join(f"{float(g['lr']):g}" for g in groups)
            return f"{len(groups)} param groups scaled alike, keeping their ratios: {after}"
        return None

    def set_optimizer(
        self, optimizer: torch.optim.Optimizer, state: OptimizerState, detail: str | None
    ) -> None:
        self.optimizer, self.optimizer_state, self.optimizer_detail = optimizer, state, detail

    # -- weights ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self, snapshot: Any) -> None:
        self.model.load_state_dict(snapshot)

    def checkpoint_name(self) -> str:
        stem = _CHECKPOINT_STEMS.get(self.format, "model")
        suffix = self.path.suffix or _DEFAULT_SUFFIXES.get(self.format, ".pt")
        if suffix == ".tar" and self.path.name.endswith((".pth.tar", ".pt.tar")):
            suffix = "".join(self.path.suffixes[-2:])  # the ImageNet example's .pth.tar
        return stem + suffix

    def save(self, path: Path, *, epochs_done: int) -> None:
        # Optimizer steps actually taken (partial epochs too), as the restored `step` counts them.
        steps = sum(self.steps_by_epoch)
        save_checkpoint(
            path,
            self.template,
            self.model,
            self.optimizer,
            epochs_done=epochs_done,
            steps_done=steps,
            factory_args=self.factory_args,
        )

    # -- internals ----------------------------------------------------------------------------
    def _ensure_loss(self, data: DataBundle) -> LossChoice:
        if self.loss is None:
            labels = probe.sample_labels(data)
            self.loss = resolve_loss(self.loss_option, labels, self.structure)
        return self.loss

    def _objective(self, class_weights: Any = None) -> Objective:
        """Evaluation's objective; training's with rebalance's class weights, when set."""
        if self.loss is None:
            raise UsageError("no data seen yet: call check_data or prepare before training")
        loss_fn = self.loss.build(class_weights).to(self.device)
        return Objective(loss_fn, self.loss.accuracy, self.loss.target, self.model_call())

    def model_call(self) -> ModelCall:
        """How batches reach the model; --loss makes plateau-cli's loss win over the model's."""
        return ModelCall.for_model(self.model, self.output_option, self.loss_option is None)

    def _input_layout(self, data: DataBundle | None = None) -> batches.InputLayout:
        """Arrays as the model takes them; images a reader laid out NHWC go NCHW for convs."""
        dtype = next((p.dtype for p in self.model.parameters() if p.is_floating_point()), None)
        nhwc = data is not None and data.image_layout == "NHWC"
        structure = self.structure
        stored = data.source_dtype if data is not None and data.is_arrays else None
        token_ids = structure.has_embedding and stored is not None and stored[:3] in {"int", "uin"}
        return batches.InputLayout(
            dtype=dtype or torch.float32,
            to_channels_first=nhwc and not structure.channels_last,
            integer_inputs=structure.integer_inputs or token_ids,
            output_tail=self.output_tail,
        )

    def _probe(self, data: DataBundle) -> None:
        result = probe.forward_two(self, data, self._input_layout(data))
        self.output_tail = result.output_tail
        self.layer_shapes = result.layer_shapes
        self.data_input_shape = result.input_shape
        self.model_loss = result.model_loss
        self._shapes_probed = True

    def _probe_shapes(self) -> None:
        structure = self.structure
        shape = structure.input_shape
        if shape is None or any(d is None for d in shape) or structure.integer_inputs:
            return
        x = np.zeros((2, *shape), dtype=np.float32)
        try:
            result = probe.forward_arrays(self, x, None, self._input_layout())
        except DataMismatchError:
            return  # a forward that needs more than the first layer tells: shapes stay unknown
        self.layer_shapes = result.layer_shapes
