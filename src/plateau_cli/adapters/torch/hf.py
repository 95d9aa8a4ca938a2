"""Hugging Face Trainer checkpoint directories (`checkpoint-N/`), in and out.

What an HF user has is a directory: `config.json` + `model.safetensors` (or
`pytorch_model.bin`), and beside them `optimizer.pt`, `scheduler.pt`, `trainer_state.json`,
`rng_state.pth` and `training_args.bin`. The model is built from `config.json` by the class its
`architectures` names, from local files only (no hub: `HF_HUB_OFFLINE=1`, `local_files_only`),
unless `--model-factory` builds it. `training_args.bin` is a pickle and is never unpickled: it
is copied byte for byte, like `rng_state.pth`. The output is a directory of the same shape, so
`from_pretrained(out)` loads it and `Trainer.train(resume_from_checkpoint=out)` continues it:
the optimizer's groups and moments, the scheduler rescaled to the rate trained at and advanced
by the steps taken, and `trainer_state.json` with this run's epochs appended.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plateau_cli.adapters.base import LoadOptions, OptimizerState
from plateau_cli.adapters.sniff import HF_DIRECTORY
from plateau_cli.adapters.torch.factory import build_module, fit_weights
from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.adapters.torch.layouts import Layout
from plateau_cli.adapters.torch.loading import load_safetensors, load_torch_file
from plateau_cli.adapters.torch.optimizer import build_optimizer
from plateau_cli.adapters.torch.saving import SaveTemplate
from plateau_cli.adapters.torch.schedulers import factors, rescale, rescale_groups
from plateau_cli.errors import BadInputError, OutputError, UsageError

FORMAT = HF_DIRECTORY
#: Copied byte for byte: HF reads them on resume; plateau-cli never unpickles them.
COPIED_FILES = ("rng_state.pth", "training_args.bin", "generation_config.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "merges.txt",
    "vocab.json",
)


@dataclass
class HfState:
    """What the directory holds besides the weights and the optimizer."""

    source: Path
    scheduler: Any = None
    trainer_state: dict[str, Any] | None = None
    loaded_rates: list[float] | None = None
    #: Per-epoch metrics of this run, appended to trainer_state.json's log_history.
    epoch_logs: list[dict[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_directory(path: Path, options: LoadOptions, device: torch.device) -> HfHandle:
    notes: list[str] = []
    if options.model_factory:
        weights = _read_weights(path)
        model = build_module(options, path, "a Hugging Face checkpoint directory")
        fit_weights(model, weights, source=path, factory=options.model_factory)
        del weights
    else:
        model = _from_pretrained(path)
    model.to(device)
    saved = None
    if (path / "optimizer.pt").is_file():
        saved = load_torch_file(path / "optimizer.pt", trust_pickle=options.trust_pickle).obj
    setup = build_optimizer(model, saved, options, device)
    state = HfState(path, trainer_state=_trainer_state(path))
    if (path / "scheduler.pt").is_file():
        state.scheduler = load_torch_file(path / "scheduler.pt", trust_pickle=False).obj
        notes.append(
            "scheduler.pt is kept: rescaled to the rate trained at and advanced by the steps"
            " taken, so Trainer.train(resume_from_checkpoint=...) continues the schedule"
        )
    if setup.state is OptimizerState.RESTORED:
        state.loaded_rates = [float(g["lr"]) for g in setup.optimizer.param_groups]
    layout = Layout(FORMAT, scheduler_keys=("scheduler.pt",) if state.scheduler else ())
    source_info = _source_info(state.trainer_state)
    return HfHandle(
        path,
        FORMAT,
        model=model,
        device=device,
        layout=layout,
        template=SaveTemplate(layout, None),
        **setup.handle_arguments(options, factory=bool(options.model_factory)),
        source_info=source_info,
        notes=(*notes, *setup.notes),
        hf=state,
    )


class HfHandle(TorchHandle):
    """A TorchHandle that writes a Trainer checkpoint directory."""

    def __init__(self, *args: Any, hf: HfState, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hf = hf

    def checkpoint_name(self) -> str:
        return self.path.name

    def fit(self, prepared: Any, first_epoch: int, epochs: int, control: Any) -> None:
        super().fit(prepared, first_epoch, epochs, _Recording(control, self.hf.epoch_logs))

    def save(self, path: Path, *, epochs_done: int) -> None:
        steps = sum(self.steps_by_epoch[:epochs_done]) if epochs_done else 0
        save_directory(path, self, epochs_done=epochs_done, steps_done=steps)


@dataclass
class _Recording:
    """Passes every call through, keeping each epoch's metrics for trainer_state.json."""

    control: Any
    logs: list[dict[str, float]]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.control, name)

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool:
        self.logs.append(dict(metrics))
        return bool(self.control.on_epoch_end(epoch, metrics))


def save_directory(path: Path, handle: HfHandle, *, epochs_done: int, steps_done: int) -> None:
    """Write the whole directory beside `path`, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".plateau-tmp-", dir=path.parent))
    try:
        _write(tmp, handle, epochs_done, steps_done)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{path}: cannot write the checkpoint directory: {exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write(out: Path, handle: HfHandle, epochs_done: int, steps_done: int) -> None:
    hf, model, optimizer = handle.hf, handle.model, handle.optimizer
    if hasattr(model, "save_pretrained"):
        with _quiet_transformers():
            model.save_pretrained(out, safe_serialization=True)
    else:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        shutil.copyfile(hf.source / "config.json", out / "config.json")
    for name in (*COPIED_FILES, *_TOKENIZER_FILES):
        if (hf.source / name).is_file() and not (out / name).exists():
            shutil.copyfile(hf.source / name, out / name)
    rates = [float(group["lr"]) for group in optimizer.param_groups]
    scale = factors(hf.loaded_rates, rates) if hf.loaded_rates else None
    optimizer_state = _cpu_tree(optimizer.state_dict())
    if scale is not None:
        rescale_groups(optimizer_state, scale)
    torch.save(optimizer_state, out / "optimizer.pt")
    hf.notes = []
    if hf.scheduler is not None:
        result = rescale(hf.scheduler, scale or [1.0] * len(rates), rates, steps_done)
        if result.state is not None:
            torch.save(result.state, out / "scheduler.pt")
        if result.note and (scale is not None or result.state is None):
            hf.notes.append(f"scheduler.pt: {result.note}")
    if hf.trainer_state is not None:
        state = _advanced_state(hf.trainer_state, hf.epoch_logs[:epochs_done], steps_done, rates)
        (out / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")


def _advanced_state(
    state: dict[str, Any], logs: list[dict[str, float]], steps_done: int, rates: list[float]
) -> dict[str, Any]:
    """global_step and epoch moved on by what was kept; one log entry per kept epoch."""
    out = json.loads(json.dumps(state))
    step = int(out.get("global_step") or 0)
    epoch = float(out.get("epoch") or 0.0)
    per_epoch = steps_done // len(logs) if logs else 0
    history = out.setdefault("log_history", [])
    for metrics in logs:
        step += per_epoch
        epoch += 1.0
        entry: dict[str, Any] = {"epoch": epoch, "step": step, "learning_rate": rates[0]}
        if "loss" in metrics:
            entry["loss"] = metrics["loss"]
        for key, value in metrics.items():
            if key.startswith("val_"):
                entry["eval_" + key.removeprefix("val_")] = value
        history.append(entry)
    out["global_step"] = int(state.get("global_step") or 0) + steps_done
    out["epoch"] = epoch
    return out


def _from_pretrained(path: Path) -> torch.nn.Module:
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import transformers
    except ImportError as exc:
        raise UsageError(
            f"{path}: a Hugging Face checkpoint directory; install transformers"
            " (pip install transformers) to build the model from its config.json, or pass"
            " --model-factory"
        ) from exc
    config = json.loads((path / "config.json").read_text())
    names = config.get("architectures") or []
    cls = getattr(transformers, names[0], None) if names else None
    if cls is None:
        raise UsageError(
            f"{path}: config.json names no architecture this transformers"
            f" ({transformers.__version__}) has ({', '.join(names) or 'none'}); pass"
            " --model-factory to build the model"
        )
    try:
        with _quiet_transformers():
            return cls.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise BadInputError(
            f"{path}: {names[0]}.from_pretrained could not load the directory:"
            f" {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        ) from exc


@contextlib.contextmanager
def _quiet_transformers() -> Any:
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()


def _read_weights(path: Path) -> dict[str, Any]:
    if (path / "model.safetensors").is_file():
        return dict(load_safetensors(path / "model.safetensors").obj)
    return dict(load_torch_file(path / "pytorch_model.bin", trust_pickle=False).obj)


def _trainer_state(path: Path) -> dict[str, Any] | None:
    file = path / "trainer_state.json"
    if not file.is_file():
        return None
    try:
        state = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{file}: not readable JSON ({exc})") from exc
    return state if isinstance(state, dict) else None


def _source_info(state: dict[str, Any] | None) -> dict[str, Any]:
    if not state:
        return {}
    keys = ("global_step", "epoch", "best_metric", "best_model_checkpoint", "max_steps")
    return {k: state[k] for k in keys if isinstance(state.get(k), int | float | str)}


def _cpu_tree(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu_tree(v) for v in value]
    return value
