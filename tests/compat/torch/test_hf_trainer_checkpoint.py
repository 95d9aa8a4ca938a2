"""A Hugging Face Trainer `checkpoint-N/` directory (tiny BERT from a config, a real Trainer run
with save_steps): resumed through the CLI without --model-factory, and the output directory
loaded back with transformers' own API: `from_pretrained(out)` evaluates to the reported
metrics, the AdamW state (two param groups, no decay on biases/norms) and the LambdaLR schedule
load into the user's own construction, and `Trainer.train(resume_from_checkpoint=out)` goes on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from tests.compat.torch import hf_models  # noqa: E402
from tests.compat.torch.cli import resume  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

HF_DATA = Path(hf_models.__file__)
LR = 5e-3


def _arguments(out: Path, epochs: int) -> transformers.TrainingArguments:
    return transformers.TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=16,
        per_device_eval_batch_size=16,
        num_train_epochs=epochs,
        learning_rate=LR,
        weight_decay=0.01,
        save_strategy="steps",
        save_steps=8,
        logging_steps=4,
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    os.environ["HF_HUB_OFFLINE"] = "1"
    out = tmp_path_factory.mktemp("hf")
    train, val = hf_models.datasets()
    trainer = transformers.Trainer(
        model=hf_models.model(), args=_arguments(out, 3), train_dataset=train, eval_dataset=val
    )
    trainer.train()
    return out / "checkpoint-16"


@pytest.mark.parametrize("strategy", ["lr-decay", "auto"])
def test_trainer_checkpoint_directory_resumes_and_loads_back(tmp_path, checkpoint, strategy):
    before = {p.name: p.read_bytes() for p in checkpoint.iterdir()}
    saved_lr = torch.load(checkpoint / "optimizer.pt", weights_only=True)["param_groups"][0]["lr"]

    report = resume(
        checkpoint,
        tmp_path / "out",
        "--data",
        f"{HF_DATA}:loaders",
        "--epochs",
        "2",
        strategy=strategy,
    )

    assert {p.name: p.read_bytes() for p in checkpoint.iterdir()} == before
    assert report["input"]["format"] == "hf-checkpoint-dir"
    assert report["optimizer"]["name"] == "AdamW"
    assert report["optimizer"]["loaded_state"] == "restored"
    assert report["optimizer"]["learning_rate_at_load"] == pytest.approx(saved_lr)
    out = Path(report["output"]["path"])
    assert {"config.json", "model.safetensors", "optimizer.pt", "scheduler.pt"} <= {
        p.name for p in out.iterdir()
    }

    # transformers' own loader, and the user's own evaluation of it.
    model = transformers.BertForSequenceClassification.from_pretrained(out, local_files_only=True)
    val_loss, val_accuracy = hf_models.evaluate(model)
    assert report["output_metrics"]["val_loss"] == pytest.approx(val_loss, rel=1e-5)
    assert report["output_metrics"]["val_accuracy"] == pytest.approx(val_accuracy)

    # Both param groups, their weight decay, and a scheduler that agrees with the rate.
    written = torch.load(out / "optimizer.pt", weights_only=True)
    assert [g["weight_decay"] for g in written["param_groups"]] == [0.01, 0.0]
    scheduler = torch.load(out / "scheduler.pt", weights_only=True)
    rates = [g["lr"] for g in written["param_groups"]]
    assert scheduler["_last_lr"] == pytest.approx(rates)
    state = json.loads((out / "trainer_state.json").read_text())
    original = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["global_step"] > original["global_step"]
    assert scheduler["last_epoch"] == state["global_step"]
    assert len(state["log_history"]) > len(original["log_history"])
    if strategy == "lr-decay":
        assert rates[0] < saved_lr
        assert scheduler["base_lrs"][0] == pytest.approx(LR * rates[0] / saved_lr)

    # The user's optimizer and scheduler construction take the written states.
    decay = [p for n, p in model.named_parameters() if "bias" not in n and "LayerNorm" not in n]
    rest = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=LR
    )
    optimizer.load_state_dict(written)
    lr_scheduler = transformers.get_linear_schedule_with_warmup(optimizer, 0, 24)
    lr_scheduler.load_state_dict(scheduler)

    # And HF's Trainer continues from the directory.
    train, val = hf_models.datasets()
    trainer = transformers.Trainer(
        model=hf_models.model(),
        args=_arguments(tmp_path / "continued", 6),
        train_dataset=train,
        eval_dataset=val,
    )
    result = trainer.train(resume_from_checkpoint=str(out))
    assert result.global_step > state["global_step"]


def test_diagnose_reads_the_directory_trainer_state(tmp_path, checkpoint):
    from tests.e2e.runner import run_cli

    result = run_cli(["diagnose", str(checkpoint), "--json"])

    assert result.code in (0, 1), result.stderr
    assert "trainer_state.json" in result.stdout
    # The resumed directory's appended epochs read the same way.
    report = resume(checkpoint, tmp_path / "out", "--data", f"{HF_DATA}:loaders", "--epochs", "2")
    again = run_cli(["diagnose", report["output"]["path"], "--json"])
    assert again.code in (0, 1), again.stderr
    assert "trainer_state.json" in again.stdout
