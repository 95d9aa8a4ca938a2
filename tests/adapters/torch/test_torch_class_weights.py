"""rebalance's class weights reach the torch training loss only: fit trains on the weighted
loss, evaluation (the baseline, validation) stays unweighted."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.adapters.torch.torch_fixtures import (  # noqa: E402
    Control,
    factory,
    flat_bundle,
    load,
    trained_mlp,
)

pytestmark = pytest.mark.torch


@pytest.fixture
def mlp_file(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    return path


def test_the_training_objective_is_weighted_and_evaluation_is_not(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    prepared = handle.prepare(flat_bundle(digits), 32, seed=0)
    weights = np.linspace(0.2, 2.0, 10)
    handle.train_class_weights = weights
    x, y = next(iter(prepared.val))
    with torch.no_grad():
        logits = handle.model(x).double()
        per = torch.nn.functional.cross_entropy(logits, y, reduction="none").numpy()
        loss, _ = handle._objective(weights).run(handle.model, x, y)
    assert float(loss) == pytest.approx(float(np.mean(weights[y.numpy()] * per)), rel=1e-5)
    assert handle.evaluate(prepared)["loss"] == pytest.approx(
        _plain_val_loss(handle, prepared), rel=1e-6
    )


def test_fit_trains_on_the_weighted_loss(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    prepared = handle.prepare(flat_bundle(digits), 32, seed=0)
    handle.train_class_weights = np.zeros(10)  # every sample weighs 0: the loss is exactly 0
    control = Control()
    handle.fit(prepared, 1, 1, control)
    logs = control.epochs[0][1]
    assert logs["loss"] == 0.0
    assert logs["val_loss"] == pytest.approx(_plain_val_loss(handle, prepared), rel=1e-6)
    assert logs["val_loss"] > 0.01


def _plain_val_loss(handle, prepared) -> float:
    total, n = 0.0, 0
    with torch.no_grad():
        handle.model.eval()
        for x, y in prepared.val:
            total += float(torch.nn.functional.cross_entropy(handle.model(x), y, reduction="sum"))
            n += len(y)
    return total / n
