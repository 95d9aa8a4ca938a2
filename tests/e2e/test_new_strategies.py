"""The new strategies through the CLI with tiny real Keras and torch models, 1 epoch each:
imbalanced classes (rebalance), features at ~1e3 (normalize), dead ReLU units (revive), a
rate far too low (lr-find), overfitting (regularize). Asserts on the report's numbers and on
the written checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _npz(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    n = int(len(x) * 0.75)
    np.savez(path, x_train=x[:n], y_train=y[:n], x_val=x[n:], y_val=y[n:])
    return path


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("data")
    x = rng.normal(size=(400, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 1.3).astype("int64")  # ~10% positives
    raw = (x * 1000 + 3000).astype("float32")
    return {"imbalanced": _npz(root / "imb.npz", x, y), "raw": _npz(root / "raw.npz", raw, y)}


def _resume(model: Path, strategy: str, data: Path, out: Path, *extra: str) -> dict:
    argv = ["resume", str(model), "--strategy", strategy, "--data", str(data), "--epochs", "1"]
    result = run_cli([*argv, "--out", str(out), "--json", *extra])
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


# -- torch ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_models(tmp_path_factory, datasets) -> dict[str, Path]:
    torch = pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("torch")
    torch.manual_seed(0)
    out = {}
    for name in ("plain", "dead"):
        model = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, 2)
        )
        if name == "dead":
            with torch.no_grad():
                model[0].bias[:12] = -100.0  # 12 of 16 units output 0 on every sample
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        a = np.load(datasets["imbalanced"])
        loss = torch.nn.functional.cross_entropy(
            model(torch.tensor(a["x_train"])), torch.tensor(a["y_train"])
        )
        loss.backward()
        optimizer.step()
        path = root / f"{name}.pt"
        torch.save(model, path)
        out[name] = path
    return out


def test_torch_rebalance_judges_on_balanced_accuracy(torch_models, datasets, tmp_path) -> None:
    report = _resume(
        torch_models["plain"], "rebalance", datasets["imbalanced"], tmp_path / "o", "--trust-pickle"
    )
    details = report["strategy"]["details"]
    assert details["judged_on"] == "val_balanced_accuracy"
    assert report["monitor"]["metric"] == "val_balanced_accuracy"
    assert "val_balanced_accuracy" in report["baseline"]
    assert len(details["after"]["recall_per_class"]) == 2
    assert any("imbalanced" in c for c in report["changes"])


def test_torch_rebalance_with_loss_weights(torch_models, datasets, tmp_path) -> None:
    report = _resume(
        torch_models["plain"], "rebalance", datasets["imbalanced"], tmp_path / "o",
        "--trust-pickle", "--rebalance-mode", "weights",
    )  # fmt: skip
    assert report["strategy"]["parameters"]["rebalance_mode"] == "weights"
    assert any("training loss weighted per class" in c for c in report["changes"])
    assert report["monitor"]["metric"] == "val_balanced_accuracy"


def test_torch_revive_revives_the_dead_units(torch_models, datasets, tmp_path) -> None:
    report = _resume(
        torch_models["dead"], "revive", datasets["imbalanced"], tmp_path / "o", "--trust-pickle"
    )
    revived = report["strategy"]["details"]["revived"]
    assert revived[0]["dead"] >= 12
    assert revived[0]["units"] == 16
    # function kept on validation (up to float32 rounding where a dead unit wakes on val data)
    assert report["strategy"]["details"]["max_abs_output_change"] < 1e-4


def test_torch_normalize_keeps_the_function_and_writes_raw_scale(
    torch_models, datasets, tmp_path
) -> None:
    import torch

    model, raw = torch_models["plain"], datasets["raw"]
    report = _resume(model, "normalize", raw, tmp_path / "o", "--trust-pickle", "--lr", "1e-30")
    change = report["strategy"]["details"]["max_abs_output_change"]
    assert change < 1e-3
    written = torch.load(tmp_path / "o" / "model.pt", weights_only=False)
    original = torch.load(torch_models["plain"], weights_only=False)
    assert not written._forward_pre_hooks  # the user's module, nothing of ours
    x = torch.tensor(np.load(datasets["raw"])["x_val"])
    original.eval(), written.eval()
    with torch.no_grad():
        assert float((written(x) - original(x)).abs().max()) < 1e-2


def test_torch_lr_find_raises_a_rate_far_too_low(torch_models, datasets, tmp_path) -> None:
    report = _resume(
        torch_models["plain"], "lr-find", datasets["imbalanced"], tmp_path / "o", "--trust-pickle"
    )
    curve = report["strategy"]["details"]["range_test"]
    assert len(curve["lr"]) == len(curve["loss"]) >= 10
    assert report["strategy"]["parameters"]["lr"] > report["strategy"]["parameters"]["previous_lr"]
    assert "up" in report["changes"][0]


def test_torch_regularize_raises_decay_and_dropout(torch_models, datasets, tmp_path) -> None:
    report = _resume(
        torch_models["plain"],
        "regularize",
        datasets["imbalanced"],
        tmp_path / "o",
        "--trust-pickle",
    )
    assert report["strategy"]["parameters"]["weight_decay"] > 0
    assert any("0.1 -> 0.5" in c for c in report["changes"])


# -- Keras ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory, datasets) -> dict[str, Path]:
    keras = pytest.importorskip("keras")
    root = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(0)
    out = {}
    for name in ("plain", "dead"):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(16, activation="relu", name="hidden"),
                keras.layers.Dropout(0.1),
                keras.layers.Dense(2, activation="softmax", name="out"),
            ]
        )
        if name == "dead":
            bias = np.zeros(16, dtype="float32")
            bias[:12] = -100.0
            model.get_layer("hidden").bias.assign(bias)
        model.compile(
            optimizer=keras.optimizers.SGD(1e-4, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        a = np.load(datasets["imbalanced"])
        model.fit(a["x_train"], a["y_train"], epochs=1, verbose=0)
        path = root / f"{name}.keras"
        model.save(path)
        out[name] = path
    return out


def test_keras_rebalance(keras_models, datasets, tmp_path) -> None:
    report = _resume(keras_models["plain"], "rebalance", datasets["imbalanced"], tmp_path / "o")
    assert report["monitor"]["metric"] == "val_balanced_accuracy"
    assert report["strategy"]["details"]["before"]["balanced_accuracy"] <= 1.0


def test_keras_rebalance_with_loss_weights(keras_models, datasets, tmp_path) -> None:
    report = _resume(
        keras_models["plain"], "rebalance", datasets["imbalanced"], tmp_path / "o",
        "--rebalance-mode", "weights",
    )  # fmt: skip
    assert report["strategy"]["parameters"]["method"] == "loss weights"
    assert report["epochs_run"] == 1
    assert report["monitor"]["metric"] == "val_balanced_accuracy"


def test_keras_revive(keras_models, datasets, tmp_path) -> None:
    report = _resume(keras_models["dead"], "revive", datasets["imbalanced"], tmp_path / "o")
    revived = report["strategy"]["details"]["revived"]
    assert revived[0]["layer"] == "hidden"
    assert revived[0]["dead"] >= 12
    assert report["strategy"]["details"]["max_abs_output_change"] < 1e-4


def test_keras_normalize_keeps_the_function_inside_the_model(
    keras_models, datasets, tmp_path
) -> None:
    import keras

    report = _resume(keras_models["plain"], "normalize", datasets["raw"], tmp_path / "o")
    assert report["strategy"]["details"]["max_abs_output_change"] < 1e-3
    assert report["after_change"]["val_loss"] == pytest.approx(
        report["baseline"]["val_loss"], rel=1e-3
    )
    # the written model holds the standardisation and takes raw inputs
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    assert "plateau_standardize" in [layer.name for layer in written.layers]
    a = np.load(datasets["raw"])
    accuracy = float(np.mean(written.predict(a["x_val"], verbose=0).argmax(1) == a["y_val"]))
    assert accuracy == pytest.approx(report["output_metrics"]["val_accuracy"], abs=1e-6)


def test_keras_lr_find_and_regularize(keras_models, datasets, tmp_path) -> None:
    report = _resume(keras_models["plain"], "lr-find", datasets["imbalanced"], tmp_path / "a")
    assert report["strategy"]["parameters"]["lr"] > 1e-4
    report = _resume(keras_models["plain"], "regularize", datasets["imbalanced"], tmp_path / "b")
    assert report["strategy"]["parameters"]["weight_decay"] == pytest.approx(0.05)
    assert any("-> 0.5" in c for c in report["changes"])


# -- auto -------------------------------------------------------------------------------------


def _balanced(datasets: dict[str, Path], tmp_path: Path) -> Path:
    """The imbalanced features with random balanced labels: no health warning."""
    data = np.load(datasets["imbalanced"])
    path = tmp_path / "balanced.npz"
    rng = np.random.default_rng(1)
    np.savez(path, x_train=data["x_train"], y_train=rng.integers(0, 2, len(data["y_train"])),
             x_val=data["x_val"], y_val=rng.integers(0, 2, len(data["y_val"])))  # fmt: skip
    return path


def test_auto_on_a_healthy_log_changes_nothing(torch_models, datasets, tmp_path) -> None:
    """A healthy (or converged) log and nothing in the data or checkpoint: no training."""
    data = _balanced(datasets, tmp_path)
    # The log must describe this checkpoint (resume checks the baseline against it): a run
    # that converged onto the model's own validation loss.
    probe = _resume(torch_models["plain"], "lr-decay", data, tmp_path / "probe", "--trust-pickle")
    last = probe["baseline"]["val_loss"]
    log = tmp_path / "train_log.jsonl"
    rows = [
        {
            "epoch": e + 1,
            "loss": last * 0.9 + 0.5 / (e + 1) ** 2 - 0.5 / 40**2,
            "val_loss": last + 0.5 / (e + 1) ** 2 - 0.5 / 40**2,
        }
        for e in range(40)
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o"
    argv = ["resume", str(torch_models["plain"]), "--strategy", "auto", "--trust-pickle"]
    argv += ["--data", str(data), "--log", str(log), "--out", str(out)]
    result = run_cli(argv)
    assert result.code == 0, result.stderr
    assert "nothing to change" in result.stderr
    assert "error" not in result.stderr
    assert not out.exists()
    # With --json a script still reads one document: the decision, nothing trained or written.
    result = run_cli([*argv, "--json"])
    assert result.code == 0, result.stderr
    decision = json.loads(result.stdout)
    schema = json.loads((ROOT / "schemas" / "decision.schema.json").read_text())
    jsonschema.validate(decision, schema)
    assert decision["trained"] is False
    assert decision["written"] is False
    assert decision["strategy"] is None
    assert decision["auto"]["chosen"] == "none"
    assert decision["auto"]["evidence"]["val_loss"] == pytest.approx(last, rel=1e-4)
    assert not out.exists()


def test_auto_chooses_rebalance_for_imbalanced_data(torch_models, datasets, tmp_path) -> None:
    # at a workable rate: the range test finds nothing far above it, so class weights
    argv = ["--trust-pickle", "--lr", "0.05"]
    report = _resume(torch_models["plain"], "auto", datasets["imbalanced"], tmp_path / "o", *argv)
    assert report["auto"]["chosen"] == "rebalance"
    assert "class-imbalance" in report["auto"]["evidence"]["health"]
    assert (report["auto"]["evidence"]["range_test_lr"] or 0) < 30 * 0.05


def test_auto_raises_a_rate_far_too_low_before_class_weights(
    torch_models, datasets, tmp_path
) -> None:
    # the fixture's SGD at 1e-4: the range test finds a rate far above it; lr-find, not
    # rebalance (the zoo's tune half: a rate that learns learns the rare class too)
    argv = ["--trust-pickle"]
    report = _resume(torch_models["plain"], "auto", datasets["imbalanced"], tmp_path / "o", *argv)
    auto = report["auto"]
    assert (auto["chosen"], auto["rule"]) == ("lr-find", "rate-far-too-low")
    assert auto["evidence"]["range_test_lr"] >= 30 * 1e-4
    assert auto["alternatives"] == ["rebalance"]


def test_auto_revives_dead_units(torch_models, datasets, tmp_path) -> None:
    # balanced labels, so the imbalance rule stays out of the way
    balanced = _balanced(datasets, tmp_path)
    report = _resume(torch_models["dead"], "auto", balanced, tmp_path / "o", "--trust-pickle")
    assert report["auto"]["chosen"] == "revive"


def test_auto_says_restart_for_a_sigmoid_stack_at_chance(datasets, tmp_path) -> None:
    """8 sigmoid layers, loss exactly ln 2: auto trains nothing, names the change, exit 0."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    layers: list = []
    for width in (6, 16, 16, 16, 16, 16, 16, 16):
        layers += [torch.nn.Linear(width, 16), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(16, 2))
    with torch.no_grad():
        model[-1].weight.zero_()  # constant logits: the loss is ln 2 on any labels
        model[-1].bias.zero_()
    path = tmp_path / "sigmoid8.pt"
    torch.save(model, path)
    out = tmp_path / "o"
    argv = ["resume", str(path), "--strategy", "auto", "--trust-pickle", "--epochs", "1"]
    argv += ["--data", str(_balanced(datasets, tmp_path)), "--out", str(out)]
    result = run_cli(argv)
    assert result.code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    for words in ("restart from scratch", "ReLU", "8 sigmoid/tanh layers", "action: restart"):
        assert words in line
    assert "error" not in result.stderr
    assert not out.exists()


def test_auto_overrules_a_log_only_restart_when_the_range_test_finds_a_far_higher_rate(
    datasets, tmp_path
) -> None:
    """A ReLU MLP at ln 2 whose log, pinned at chance and barely moving, names restart: the
    checkpoint has no saturating stack, so auto runs lr-find's range test, which finds the loss
    falling at a rate far above the restored 1e-5: lr-find, not restart."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    with torch.no_grad():
        model[-1].weight.zero_()  # constant logits: ln 2 on balanced labels
        model[-1].bias.zero_()
    path = tmp_path / "relu.pt"
    torch.save(model, path)
    x = np.load(datasets["imbalanced"])["x_train"]
    data = _npz(tmp_path / "sep.npz", x, (x[:, 0] > 0).astype("int64"))  # balanced, learnable
    log = tmp_path / "train_log.jsonl"
    noise = (4, -3, 2, -1, 5, -4, 1, -2, 3, -5)
    rows = [
        {"epoch": e + 1, "loss": 0.694 + n / 1e4, "val_loss": 0.6932 - 1.3e-5 * e,
         "val_accuracy": 0.5}
        for e, n in enumerate(noise)
    ]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = _resume(path, "auto", data, tmp_path / "o", "--trust-pickle", "--lr", "1e-5",
                     "--log", str(log))  # fmt: skip
    auto = report["auto"]
    assert "restart" in auto["evidence"]["log_actions"]
    assert (auto["chosen"], auto["rule"]) == ("lr-find", "rate-far-too-low")
    assert auto["evidence"]["range_test_lr"] >= 30 * 1e-5
    assert report["strategy"]["parameters"]["lr"] >= 30 * 1e-5
