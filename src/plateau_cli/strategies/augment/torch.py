"""augment for PyTorch: kornia geometry, tensor-op colour and noise, mixup with soft targets.

The transform receives each training batch as the model receives it (tensors on the device,
images NCHW for conv nets) and returns the augmented batch; validation batches never pass
through it. Flips, rotations, shifts and zooms are kornia.augmentation (one RandomAffine for the
three geometric ones, so an image is resampled once); contrast and brightness are tensor ops
with Keras' definitions (per-channel mean contrast, a brightness shift as a share of the data's
value range, both clipped to that range), because kornia's colour ops assume values in [0, 1].
Noise and the colour ops draw from a seeded `torch.Generator` on the batch's device, mixup
from a seeded numpy generator (a few numbers per batch); kornia draws from torch's global
generator, which the adapter seeds.

Mixup's soft targets: CrossEntropyLoss takes class probabilities, so integer labels become
mixed one-hot rows for training while validation keeps its integer labels. A LogSoftmax head
trained with NLLLoss (which takes no probabilities) is trained with cross-entropy instead:
log_softmax of log-probabilities is the identity, so every loss value is the same.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import kornia.augmentation as K
import numpy as np
import torch

from plateau_cli.adapters.torch.losses import INDEX
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import UsageError
from plateau_cli.strategies.augment.plan import Applied, FeatureStats, Plan

STATS_SAMPLES = 4096


def apply(handle: Any, data: DataBundle, plan: Plan, seed: int, rebuild: bool = False) -> Applied:
    """Set the training transform; the same again for a run continued from a checkpoint
    (`rebuild`: nothing of augment's lives in a torch checkpoint)."""
    if plan.needs_stats:
        plan = plan.with_stats(_stats(handle, data))
    notes: list[str] = []
    classes = None
    if plan.has("mixup"):
        classes, note = _soft_targets(handle)
        notes += [note] if note else []
    handle.train_transform = TorchAugment(plan, seed, classes)
    handle.train_copies = plan.copies
    return Applied(plan, tuple(notes), {"mixup_labels": "probabilities"} if classes else {})


class TorchAugment:
    """The training-batch transform: (x, y) -> augmented (x, y)."""

    def __init__(self, plan: Plan, seed: int, classes: int | None) -> None:
        self.plan = plan
        self.seed = seed
        self.classes = classes
        self.geometry = _geometry(plan)
        self.contrast = plan.value("contrast")
        self.brightness = plan.value("brightness")
        self.value_range = plan.stats.value_range if plan.stats is not None else None
        noise = plan.value("noise")
        self.noise = (
            torch.from_numpy(plan.stats.std * float(noise))
            if noise is not None and plan.stats is not None
            else None
        )
        self.alpha = plan.value("mixup")
        self.mix_rng = np.random.default_rng(seed)
        self._generators: dict[torch.device, torch.Generator] = {}

    def generator(self, device: torch.device) -> torch.Generator:
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            if self.geometry is not None:
                x = self._channels_first(x, self.geometry)
            if self.contrast is not None or self.brightness is not None:
                x = self._channels_first(x, self._colour)
            if self.noise is not None:
                g = self.generator(x.device)
                noise = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
                x = x + noise * self.noise.to(x.device, x.dtype)
            if self.alpha is not None:
                x, y = self._mix(x, y)
        return x, y

    def _channels_first(self, x: torch.Tensor, op: Any) -> torch.Tensor:
        if not self.plan.channels_last:
            return op(x)
        return op(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).contiguous()

    def _colour(self, x: torch.Tensor) -> torch.Tensor:
        """Keras' RandomContrast and RandomBrightness on NCHW batches."""
        assert self.value_range is not None
        low, high = self.value_range
        g = self.generator(x.device)
        shape = (x.shape[0], 1, 1, 1)
        if self.contrast is not None:
            c = float(self.contrast)
            factor = 1 - c + 2 * c * torch.rand(shape, generator=g, device=x.device, dtype=x.dtype)
            mean = x.mean(dim=(2, 3), keepdim=True)
            x = ((x - mean) * factor + mean).clamp(low, high)
        if self.brightness is not None:
            b = float(self.brightness)
            delta = -b + 2 * b * torch.rand(shape, generator=g, device=x.device, dtype=x.dtype)
            x = (x + delta * (high - low)).clamp(low, high)
        return x

    def _mix(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        lam = torch.from_numpy(self.mix_rng.beta(self.alpha, self.alpha, size=n))
        partner = torch.from_numpy(self.mix_rng.permutation(n)).to(x.device)
        lam = lam.to(x.device, x.dtype)
        lam_x = lam.view(n, *([1] * (x.dim() - 1)))
        x = lam_x * x + (1 - lam_x) * x[partner]
        if self.classes is not None:  # integer labels -> mixed one-hot rows
            y = torch.nn.functional.one_hot(y, self.classes).to(x.dtype)
        target = y if y.is_floating_point() else y.to(x.dtype)
        lam_y = lam.to(target.dtype).view(n, *([1] * (target.dim() - 1)))
        return x, lam_y * target + (1 - lam_y) * target[partner]


def _geometry(plan: Plan) -> torch.nn.Module | None:
    steps: list[torch.nn.Module] = []
    flip = plan.value("flip")
    if flip in ("horizontal", "both"):
        steps.append(K.RandomHorizontalFlip(p=0.5))
    if flip in ("vertical", "both"):
        steps.append(K.RandomVerticalFlip(p=0.5))
    degrees, shift, zoom = plan.value("rotate"), plan.value("shift"), plan.value("zoom")
    if degrees is not None or shift is not None or zoom is not None:
        steps.append(
            K.RandomAffine(
                degrees=float(degrees or 0.0),
                translate=(float(shift), float(shift)) if shift is not None else None,
                scale=(1 - float(zoom), 1 + float(zoom)) if zoom is not None else None,
                padding_mode="reflection",
                p=1.0,
            )
        )
    return torch.nn.Sequential(*steps) if steps else None


def _soft_targets(handle: Any) -> tuple[int | None, str | None]:
    """How mixup's labels reach the loss: the class count for integer labels (else None)."""
    loss = handle.loss
    if loss is None or loss.target != INDEX:
        return None, None  # float targets (BCE, MSE, class probabilities) mix as they are
    classes = handle.io_spec().output_units
    if (handle.output_tail is not None and len(handle.output_tail) != 1) or not classes:
        raise UsageError(
            f"--mixup: integer labels for outputs of shape {handle.output_tail} (per-pixel or"
            " sequence labels) cannot be mixed into class probabilities; drop --mixup"
        )
    if loss.name == "nll":
        handle.loss = dataclasses.replace(
            loss, name="cross-entropy", reason=f"{loss.reason}; cross-entropy for mixup"
        )
        return classes, (
            "loss nll -> cross-entropy for mixup's soft targets: on the LogSoftmax output it"
            " gives the same values (log_softmax of log-probabilities is the identity)"
        )
    return classes, None


def _stats(handle: Any, data: DataBundle) -> FeatureStats:
    if data.is_arrays:
        stats = FeatureStats.of(data.train.x)
        if data.image_layout == "NHWC" and not handle.io_spec().channels_last:
            # The adapter hands a conv net NCHW batches: the spread must be laid out alike.
            stats = dataclasses.replace(
                stats, std=np.ascontiguousarray(stats.std.transpose(2, 0, 1))
            )
        return stats
    return FeatureStats.of(_sample(data.train))


def _sample(source: Any) -> np.ndarray:
    """Up to STATS_SAMPLES inputs of a DataLoader (batches) or a map-style Dataset (samples)."""
    from torch.utils.data import DataLoader

    parts, count = [], 0
    batched = isinstance(source, DataLoader)
    for item in source:
        x = item[0] if isinstance(item, list | tuple) else item
        array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        parts.append(array if batched else array[None])
        count += len(parts[-1])
        if count >= STATS_SAMPLES:
            break
    if not parts:
        raise UsageError("augment: the training data yields nothing; nothing to augment")
    return np.concatenate(parts)[:STATS_SAMPLES]
