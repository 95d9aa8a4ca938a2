"""A --model-factory for the torchrun tests: the sample MLP, plus a way to fail on cue.

`PLATEAU_TEST_DIE_RANK=1` makes that rank exit hard (os._exit) at its 20th training forward,
as a crashed worker would. `PLATEAU_TEST_STARTED=path` makes rank 0 create that file at its
20th training forward, so a test knows training is under way before it sends SIGTERM. The
module and its state-dict names are the sample's (`0.weight`...), so the sample checkpoint
loads into it unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from sample_models.torch.nets import mlp
from torch import nn  # noqa: TID253 - a factory file is torch code

_CUE = 20


def mlp_with_cues(**kwargs: object) -> nn.Module:
    model = mlp(**kwargs)  # type: ignore[arg-type]
    calls = {"n": 0}
    rank = os.environ.get("RANK", "0")

    def cue(module: nn.Module, args: object) -> None:
        if not module.training:
            return
        calls["n"] += 1
        if calls["n"] != _CUE:
            return
        if os.environ.get("PLATEAU_TEST_DIE_RANK") == rank:
            os._exit(3)
        started = os.environ.get("PLATEAU_TEST_STARTED")
        if started and rank == "0":
            Path(started).touch()

    model.register_forward_pre_hook(cue)
    return model
