"""Shared inputs for the fault tests: digits as an .npz and a small torch checkpoint.

Both are made once per session in a few hundred milliseconds (scikit-learn ships the digits;
the MLP is `tests/fixtures/torch/nets.py:mlp`, trained for one epoch, so it still improves).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.e2e.keras_plateau import digits_npz

NETS = Path(__file__).resolve().parents[1] / "fixtures" / "torch" / "nets.py"
MLP_FACTORY = f"{NETS}:mlp"


@pytest.fixture(scope="session")
def digits(tmp_path_factory) -> Path:
    return digits_npz(tmp_path_factory.mktemp("digits") / "digits.npz")


@pytest.fixture(scope="session")
def torch_checkpoint(tmp_path_factory, digits) -> Path:
    """A checkpoint dict (weights, Adam state, epoch) of nets.mlp after one epoch."""
    torch = pytest.importorskip("torch")
    from tests.adapters.torch.torch_fixtures import nets, train_plain

    arrays = np.load(digits)
    torch.manual_seed(0)
    model = nets.mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_plain(model, optimizer, arrays["x_train"], arrays["y_train"], batch_size=64)
    path = tmp_path_factory.mktemp("torch_model") / "checkpoint.pt"
    torch.save(
        {"epoch": 1, "model_state_dict": model.state_dict(),
         "optimizer_state_dict": optimizer.state_dict(), "loss": 1.0},
        path,
    )  # fmt: skip
    return path
