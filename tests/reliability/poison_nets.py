"""`--model-factory` networks that fail in training: NaN after N steps, or out of memory.

`poisoned_mlp(after_steps=N)` is `tests/fixtures/torch/nets.py:mlp` (the same state-dict
names, so it loads that MLP's checkpoints) whose forward pass returns NaN from the (N+1)-th
training step on, as a network whose weights blew up would. Only forwards in training mode with
gradients enabled count: evaluation and the adapter's probes do not move the count.
`oom_mlp()` evaluates normally and raises `torch.OutOfMemoryError` on the first training step.
"""

from __future__ import annotations

# A factory module is user code: it imports torch at the top, as users' modules do.
import torch  # noqa: TID253
from torch import nn  # noqa: TID253


class PoisonedSequential(nn.Sequential):
    def __init__(self, after_steps: int, *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.after_steps = after_steps
        self.training_steps = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if self.training and torch.is_grad_enabled():
            self.training_steps += 1
            if self.training_steps > self.after_steps:
                return out * float("nan")
        return out


def poisoned_mlp(
    after_steps: int, hidden: int = 4, inputs: int = 64, classes: int = 10
) -> nn.Module:
    return PoisonedSequential(
        after_steps, nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )


class OutOfMemoryOnTraining(nn.Sequential):
    """Evaluates normally; the first training step raises what CUDA raises when memory runs out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity;"
                " 13.90 GiB already allocated)"
            )
        return super().forward(x)


def oom_mlp(hidden: int = 4, inputs: int = 64, classes: int = 10) -> nn.Module:
    return OutOfMemoryOnTraining(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, classes))
