"""Safe loading: nothing in a checkpoint runs unless the user says --trust-pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch.device import resolve_device  # noqa: E402
from plateau_cli.adapters.torch.loading import numpy_safe_globals  # noqa: E402
from plateau_cli.adapters.torch.unsafe import scan_globals  # noqa: E402
from plateau_cli.errors import (  # noqa: E402
    BadInputError,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    UsageError,
)
from tests.adapters.torch.torch_fixtures import factory, flat_bundle, load, nets, trained_mlp  # noqa: E402

pytestmark = pytest.mark.torch


class WritesAFile:
    """Unpickling this object writes `target`: the classic malicious checkpoint."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (exec, (f"open({str(self.target)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("writer", ["torch-zip", "torch-legacy", "raw-pickle-protocol-5"])
def test_a_malicious_pickle_never_runs_by_default(tmp_path, digits, writer):
    marker = tmp_path / "pwned.txt"
    model, _ = trained_mlp(digits)
    payload = {"model_state_dict": model.state_dict(), "extra": WritesAFile(marker)}
    path = tmp_path / "evil.pt"
    if writer == "torch-zip":
        torch.save(payload, path)
    elif writer == "torch-legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=5))

    with pytest.raises(UnsafeCheckpointError) as caught:
        load(path, model_factory=factory("mlp"))

    assert not marker.exists()
    message = str(caught.value)
    assert "builtins.exec" in message
    assert "do NOT use --trust-pickle" in message
    assert "\n" not in message


def test_a_pickled_module_needs_trust_pickle_and_then_trains(tmp_path, digits):
    model, _ = trained_mlp(digits)
    path = tmp_path / "model.pt"
    torch.save(model, path)

    with pytest.raises(UnsafeCheckpointError) as caught:
        load(path)
    message = str(caught.value)
    assert "torch.nn.modules.container.Sequential" in message
    assert "--trust-pickle" in message
    assert "--model-factory" in message

    handle = load(path, trust_pickle=True)
    assert handle.format == "torch-pickled-module"
    assert handle.describe().extra["loaded_with_trust_pickle"] is True
    bundle = flat_bundle(digits)
    prepared = handle.prepare(bundle, 32, 0)
    x, y = bundle.val.x, bundle.val.y
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(
            model(torch.from_numpy(x)), torch.from_numpy(y)
        )
    assert handle.evaluate(prepared)["loss"] == pytest.approx(expected.item(), rel=1e-5)


def test_numpy_scalars_and_dtypes_beside_the_weights_load_without_trust(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "ckpt.pth"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "best_acc": np.float64(0.8125),
            "best_epoch": np.int64(7),
            "seen": np.bool_(True),
            "dtype": np.dtype("float32"),
        },
        path,
    )
    handle = load(path, model_factory=factory("mlp"))
    values = handle.describe().extra["checkpoint_values"]
    assert values["best_acc"] == 0.8125
    assert values["best_epoch"] == 7


def test_the_numpy_allow_list_is_exactly_scalars_and_plain_dtypes():
    names = {
        g[1] if isinstance(g, tuple) else f"{g.__module__}.{g.__qualname__}"
        for g in numpy_safe_globals()
    }
    assert {"numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar", "numpy.dtype"} <= names
    assert "numpy.dtypes.Float64DType" in names
    assert "numpy.dtypes.ObjectDType" not in names
    assert not any("_reconstruct" in name or name.endswith("ndarray") for name in names)


def test_numpy_arrays_and_object_scalars_stay_refused(tmp_path, digits):
    model, _ = trained_mlp(digits)
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "table": np.zeros(3)}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"numpy\._core\.multiarray\._reconstruct"):
        load(path, model_factory=factory("mlp"))


def test_a_checkpoint_saved_on_cuda_opens_on_the_cpu(tmp_path, digits, monkeypatch):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "gpu.pt"
    # Record every storage as living on cuda:0, as torch.save does on a GPU machine.
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    torch.save({"model_state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    monkeypatch.undo()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)

    handle = load(path, model_factory=factory("mlp"))
    assert all(p.device.type == "cpu" for p in handle.model.parameters())
    for state in handle.optimizer.state.values():
        assert state["exp_avg"].device.type == "cpu"


def test_the_static_scan_finds_stack_globals_of_new_protocols():
    data = pickle.dumps(WritesAFile(Path("/nonexistent")), protocol=5)
    assert scan_globals(data) == ["builtins.exec"]


def test_a_truncated_archive_is_a_corrupt_checkpoint(tmp_path, digits):
    model, _ = trained_mlp(digits)
    good = tmp_path / "good.pt"
    torch.save({"model_state_dict": model.state_dict()}, good, _use_new_zipfile_serialization=False)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CorruptCheckpointError, match=r"bad\.pt"):
        load(bad, model_factory=factory("mlp"))


def test_a_factory_path_that_does_not_import_is_one_clear_line(tmp_path, digits):
    model, _ = trained_mlp(digits)
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    broken = tmp_path / "nets_broken.py"
    broken.write_text("import torch\nraise ImportError('no module named mynets')\n")
    with pytest.raises(BadInputError, match=r"importing .*nets_broken\.py.* failed"):
        load(path, model_factory=f"{broken}:build")
    with pytest.raises(BadInputError, match="no such file"):
        load(path, model_factory=f"{tmp_path / 'missing.py'}:build")
    with pytest.raises(BadInputError, match="RuntimeError: this factory always fails"):
        load(path, model_factory=factory("broken"))
    with pytest.raises(BadInputError, match=r"returned a dict; expected a torch\.nn\.Module"):
        load(path, model_factory=factory("not_a_module"))


def test_weights_without_a_factory_explain_model_factory(tmp_path, digits):
    model, _ = trained_mlp(digits)
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(UsageError) as caught:
        load(path)
    message = str(caught.value)
    assert "a bare state dict" in message
    assert "--model-factory mypkg.nets:build" in message
    assert "--factory-arg" in message


def test_devices_that_are_not_there_are_usage_errors():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(UsageError, match="--device must be one of auto, cpu, cuda, mps"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            resolve_device("cuda")


def test_pickled_module_trust_does_not_need_the_factory(tmp_path, digits):
    model = nets.small_cnn()
    path = tmp_path / "cnn.pt"
    torch.save(model, path)
    handle = load(path, trust_pickle=True, model_factory=factory("mlp"))
    assert any("--model-factory ignored" in note for note in handle.describe().notes)
