"""How batches reach a model and predictions and losses are read from what it returns."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch.outputs import (  # noqa: E402
    ModelCall,
    parse_output_option,
    split_batch,
)
from plateau_cli.errors import DataMismatchError, UsageError  # noqa: E402

pytestmark = pytest.mark.torch

LOGITS = torch.tensor([[1.0, 2.0], [3.0, 0.5]])
HIDDEN = torch.zeros(2, 4)


class Returns(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return self.value


class Keywords(torch.nn.Module):
    def forward(self, input_ids, attention_mask):
        return input_ids.float() + attention_mask


def test_batches_split_into_inputs_and_targets():
    x, lengths, y = torch.zeros(2, 5), torch.tensor([5, 3]), torch.tensor([0, 1])
    assert split_batch((x, y), "training")[0] is x
    inputs, target = split_batch((x, lengths, y), "training")
    assert inputs == (x, lengths)
    assert target is y
    inputs, target = split_batch({"input_ids": x, "labels": y}, "training")
    assert set(inputs) == {"input_ids", "labels"}
    assert target is y
    with pytest.raises(DataMismatchError, match="none holds the targets"):
        split_batch({"input_ids": x}, "training")


def test_predictions_follow_the_conventions_and_output_option():
    call = ModelCall()
    assert call.predictions(LOGITS) is LOGITS
    assert call.predictions({"hidden": HIDDEN, "logits": LOGITS}) is LOGITS
    assert call.predictions((LOGITS, HIDDEN)) is LOGITS
    assert ModelCall(output=1).predictions((HIDDEN, LOGITS)) is LOGITS
    assert ModelCall(output="hidden").predictions({"hidden": HIDDEN, "logits": LOGITS}) is HIDDEN
    with pytest.raises(UsageError, match="its keys: hidden, logits"):
        ModelCall(output="scores").predictions({"hidden": HIDDEN, "logits": LOGITS})
    assert parse_output_option("0") == 0
    assert parse_output_option("logits") == "logits"


def test_model_output_objects_give_logits_and_their_own_loss():
    transformers = pytest.importorskip("transformers")
    loss = torch.tensor(0.7)
    output = transformers.modeling_outputs.SequenceClassifierOutput(loss=loss, logits=LOGITS)
    call = ModelCall()
    assert call.predictions(output) is LOGITS
    assert call.own_loss(output) is loss
    assert ModelCall(model_loss=False).own_loss(output) is None
    no_loss = transformers.modeling_outputs.SequenceClassifierOutput(logits=LOGITS)
    assert call.own_loss(no_loss) is None


def test_dict_batches_go_in_as_keywords_the_forward_accepts():
    model = Keywords()
    call = ModelCall.for_model(model, None, True)
    batch = {
        "input_ids": torch.ones(2, 3, dtype=torch.long),
        "attention_mask": torch.ones(2, 3),
        "labels": torch.tensor([0, 1]),
    }
    assert call(model, batch).shape == (2, 3)  # labels left out: forward does not take them
