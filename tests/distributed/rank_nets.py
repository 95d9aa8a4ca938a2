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


def digits_loaders() -> tuple[object, object]:
    """`--data tests/distributed/rank_nets.py:digits_loaders`: the sample digits as DataLoaders
    of 32, unshuffled, 1408 + 352 samples (whole batches of 32 and 16: no padding anywhere)."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    data = np.load(Path(__file__).resolve().parents[2] / "sample_models" / "data" / "digits.npz")
    x, y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"]).long()
    xv, yv = torch.from_numpy(data["x_val"]), torch.from_numpy(data["y_val"]).long()
    train = DataLoader(TensorDataset(x[:1408], y[:1408]), batch_size=32)
    val = DataLoader(TensorDataset(xv[:352], yv[:352]), batch_size=32)
    return train, val
