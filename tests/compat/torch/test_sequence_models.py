"""LSTM, GRU and TransformerEncoder classifiers fed by the user's DataLoader of padded sequences
(`(ids, lengths, labels)` from a collate_fn), and a model whose forward returns a dict: each is
trained by the user's own loop, saved as a checkpoint dict, resumed through the CLI, and the
written weights are evaluated by the user's own code. Token ids stay integers throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tests.compat.torch import seq_models  # noqa: E402
from tests.compat.torch.cli import SEQ_MODELS, resume  # noqa: E402

pytestmark = pytest.mark.torch

CASES = ["make_lstm", "make_gru", "make_transformer", "make_dict_output"]


def _saved(tmp_path: Path, factory: str) -> tuple[Path, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = getattr(seq_models, factory)()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    seq_models.train(model, optimizer, epochs=2)
    path = tmp_path / "checkpoint.pt"
    torch.save(
        {
            "epoch": 2,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
        },
        path,
    )
    return path, optimizer


@pytest.mark.slow
@pytest.mark.parametrize("factory", CASES)
@pytest.mark.parametrize("strategy", ["lr-decay", "auto"])
def test_sequence_classifier_resumes_from_padded_batches(tmp_path, factory, strategy):
    path, _ = _saved(tmp_path, factory)

    report = resume(
        path,
        tmp_path / "out",
        "--model-factory",
        f"{SEQ_MODELS}:{factory}",
        "--data",
        f"{SEQ_MODELS}:loaders",
        "--epochs",
        "2",
        strategy=strategy,
    )

    assert report["optimizer"]["loaded_state"] == "restored"
    written = torch.load(report["output"]["path"], weights_only=True)
    model = getattr(seq_models, factory)()
    if report["strategy"]["name"] != "widen":
        model.load_state_dict(written["model_state_dict"])
        val_loss, val_accuracy = seq_models.evaluate(model)
        assert report["output_metrics"]["val_loss"] == pytest.approx(val_loss, rel=1e-5)
        assert report["output_metrics"]["val_accuracy"] == pytest.approx(val_accuracy)
    # The user's own optimizer construction takes the written state.
    user_optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    user_optimizer.load_state_dict(written["optimizer_state_dict"])


@pytest.mark.slow
def test_a_model_that_does_not_run_on_the_batch_is_refused_in_one_line(tmp_path):
    path, _ = _saved(tmp_path, "make_lstm")
    from tests.e2e.runner import run_cli

    result = run_cli(
        [
            "resume",
            str(path),
            "--strategy",
            "lr-decay",
            "--model-factory",
            f"{SEQ_MODELS}:make_transformer",
            "--data",
            f"{SEQ_MODELS}:loaders",
            "--device",
            "cpu",
        ]
    )

    assert result.code == 2
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_token_ids_from_an_npz_stay_integers_and_get_no_pixel_advice(tmp_path):
    import numpy as np

    ids, labels = seq_models.token_arrays(160, 0)
    val_ids, val_labels = seq_models.token_arrays(64, 1)
    data = tmp_path / "tokens.npz"
    np.savez(
        data,
        x_train=ids.numpy(),
        y_train=labels.numpy(),
        x_val=val_ids.numpy(),
        y_val=val_labels.numpy(),
    )
    torch.manual_seed(0)
    model = seq_models.make_token_classifier()
    torch.save(model.state_dict(), tmp_path / "tokens.pt")

    report = resume(
        tmp_path / "tokens.pt",
        tmp_path / "out",
        "--model-factory",
        f"{SEQ_MODELS}:make_token_classifier",
        "--data",
        str(data),
        "--epochs",
        "1",
    )

    assert all("255" not in note["text"] for note in report["health"])
    written = seq_models.make_token_classifier()
    written.load_state_dict(torch.load(report["output"]["path"], weights_only=True))
    written.eval()
    with torch.no_grad():
        logits = written(val_ids)
        val_loss = float(torch.nn.functional.cross_entropy(logits, val_labels))
    assert report["output_metrics"]["val_loss"] == pytest.approx(val_loss, rel=1e-5)


@pytest.mark.parametrize("integer_inputs", [True, False])
def test_pixel_advice_is_for_pixels_not_token_ids(integer_inputs):
    import numpy as np

    from plateau_cli.adapters.base import IOSpec
    from plateau_cli.data import data_health
    from plateau_cli.data.base import ArraySplit, DataBundle

    ids, labels = seq_models.token_arrays(160, 0)
    x = ids.numpy().astype(np.float32)  # as the npz reader hands them over
    bundle = DataBundle(
        ArraySplit(x[:120], labels.numpy()[:120]),
        ArraySplit(x[120:], labels.numpy()[120:]),
        "npz",
        "tokens.npz",
        source_dtype="int64",
    )
    io = IOSpec((8,), 2, "linear", None, integer_inputs=integer_inputs)

    advice = [w for w in data_health(bundle, io) if "255" in w.text]

    assert bool(advice) is not integer_inputs


@pytest.mark.slow
def test_trial_races_a_dict_output_sequence_model(tmp_path):
    from tests.e2e.runner import run_cli

    path, _ = _saved(tmp_path, "make_dict_output")

    result = run_cli(
        [
            "trial",
            str(path),
            "--model-factory",
            f"{SEQ_MODELS}:make_dict_output",
            "--data",
            f"{SEQ_MODELS}:loaders",
            "--output",
            "logits",
            "--strategies",
            "lr-decay,augment,widen",
            "--budget-epochs",
            "2",
            "--out",
            str(tmp_path / "trial"),
            "--json",
            "--device",
            "cpu",
        ]
    )

    assert result.code == 0, result.stderr
    statuses = [c["status"] for c in json.loads(result.stdout)["candidates"]]
    # continue and lr-decay race; augment (token ids) and widen (several inputs) do not apply.
    assert statuses.count("does not apply") == 2
    assert statuses.count("does not apply") < len(statuses)
