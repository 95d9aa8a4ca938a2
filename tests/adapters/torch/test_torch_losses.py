"""The loss: --loss in torch or Keras spellings, else chosen from the labels and the output."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch.losses import (  # noqa: E402
    PROBABILITIES,
    canonical_loss,
    named_loss,
    resolve_loss,
)
from plateau_cli.adapters.torch.structure import read_structure  # noqa: E402
from plateau_cli.data.base import Task  # noqa: E402
from plateau_cli.errors import UsageError  # noqa: E402

pytestmark = pytest.mark.torch

nn = torch.nn
LOGITS_10 = read_structure(nn.Sequential(nn.Linear(4, 10)))
LOGIT_1 = read_structure(nn.Sequential(nn.Linear(4, 1)))
SIGMOID_1 = read_structure(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
LOG_SOFTMAX = read_structure(nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1)))


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("CrossEntropyLoss", "cross-entropy"),
        ("sparse_categorical_crossentropy", "cross-entropy"),
        ("bce", "bce-with-logits"),
        ("BCELoss", "bce-probabilities"),
        ("mean_squared_error", "mse"),
        ("mae", "l1"),
        ("smooth-l1", "huber"),
    ],
)
def test_loss_names_in_torch_and_keras_spellings(given, canonical):
    assert canonical_loss(given) == canonical
    assert canonical_loss(canonical) == canonical  # stored names round-trip


def test_an_unknown_loss_lists_the_known_ones():
    with pytest.raises(UsageError, match=r"--loss must be one of .*cross-entropy.*'hinge'"):
        canonical_loss("hinge")


def test_the_labels_and_the_output_layer_choose_the_default():
    ints = np.array([0, 1, 2])
    assert resolve_loss(None, ints, LOGITS_10).name == "cross-entropy"
    assert resolve_loss(None, ints, LOG_SOFTMAX).name == "nll"
    binary = resolve_loss(None, np.array([0, 1, 1]), LOGIT_1)
    assert (binary.name, binary.task) == ("bce-with-logits", Task.BINARY)
    assert resolve_loss(None, np.array([0.0, 1.0]), SIGMOID_1).name == "bce-probabilities"
    regression = resolve_loss(None, np.array([0.3, 1.7]), LOGIT_1)
    assert (regression.name, regression.task, regression.accuracy) == (
        "mse",
        Task.REGRESSION,
        None,
    )
    soft = resolve_loss(None, np.eye(10, dtype=np.float32)[[1, 2]], LOGITS_10)
    assert (soft.name, soft.target) == ("cross-entropy", PROBABILITIES)
    whole = resolve_loss(None, np.array([0.0, 3.0, 9.0]), LOGITS_10)
    assert whole.name == "cross-entropy"


def test_a_named_bce_follows_the_head():
    assert named_loss("binary_crossentropy", SIGMOID_1).name == "bce-probabilities"
    assert named_loss("binary_crossentropy", LOGIT_1).name == "bce-with-logits"
    assert resolve_loss("mse", np.array([0, 1]), LOGIT_1).task is Task.REGRESSION
