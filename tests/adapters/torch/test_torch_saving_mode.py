"""A whole module (pickled or TorchScript) is written in eval mode, whatever ran last: the run
no longer evaluates after training when the best epoch's numbers are known (run/final_metrics),
and a run cut mid-epoch puts its best weights back into a model still in train mode."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch import layouts  # noqa: E402
from plateau_cli.adapters.torch.saving import SaveTemplate, save_checkpoint  # noqa: E402
from tests.adapters.torch.torch_fixtures import script  # noqa: E402


def _quiet_jit_load(path):  # type: ignore[no-untyped-def]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path))


def _model():  # type: ignore[no-untyped-def]
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))


def test_whole_modules_are_written_in_eval_mode_and_the_model_keeps_its_flags(tmp_path):
    for fmt, load in (
        (layouts.PICKLED_MODULE, lambda p: torch.load(p, weights_only=False)),
        (layouts.TORCHSCRIPT, _quiet_jit_load),
    ):
        model = _model() if fmt == layouts.PICKLED_MODULE else script(_model())
        model.train()
        list(model.modules())[2].eval()  # kept in eval mode on purpose (a frozen BatchNorm)
        template = SaveTemplate(layouts.Layout(fmt), None)
        path = tmp_path / f"{fmt}.pt"
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        save_checkpoint(path, template, model, optimizer, epochs_done=1, steps_done=1)
        written = load(path)
        assert not any(m.training for m in written.modules()), fmt
        assert [m.training for m in model.modules()] == [True, True, False, True], fmt
