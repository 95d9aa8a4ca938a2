"""Names users type -> dotted paths of the code that implements them.

Importing this module imports nothing heavy: a log reader, an adapter or a strategy is imported
only when chosen (`load`). Built-ins go through the same table a plug-in would, and a test checks
that every name resolves.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Log formats, in sniffing order (most specific first).
LOG_READERS: dict[str, str] = {
    "tensorboard": "plateau_cli.logs.tensorboard:TensorBoardReader",
    "hf-trainer-state": "plateau_cli.logs.hf_trainer_state:TrainerStateReader",
    "lightning-csv": "plateau_cli.logs.lightning_csv:LightningCsvReader",
    "keras-csv": "plateau_cli.logs.keras_csv:KerasCsvReader",
    "jsonl": "plateau_cli.logs.jsonl:JsonLinesReader",
    "keras-stdout": "plateau_cli.logs.keras_stdout:KerasStdoutReader",
    "printed": "plateau_cli.logs.printed:PrintedLinesReader",
}

#: Framework adapters, in sniffing order.
ADAPTERS: dict[str, str] = {
    "keras": "plateau_cli.adapters.keras.adapter:KerasAdapter",
    "torch": "plateau_cli.adapters.torch.adapter:TorchAdapter",
}

#: Resume strategies: name -> the module holding its options and its per-framework appliers.
STRATEGIES: dict[str, str] = {
    "lr-decay": "plateau_cli.strategies.lr_decay",
    "augment": "plateau_cli.strategies.augment",
    "widen": "plateau_cli.strategies.widen",
    "unfreeze": "plateau_cli.strategies.unfreeze",
    "lr-find": "plateau_cli.strategies.lr_find",
    "rebalance": "plateau_cli.strategies.rebalance",
    "normalize": "plateau_cli.strategies.normalize",
    "revive": "plateau_cli.strategies.revive",
    "regularize": "plateau_cli.strategies.regularize",
}

#: Not a `resume --strategy` choice: the control `trial` runs beside the candidates.
CONTROL_STRATEGY = ("continue", "plateau_cli.strategies.control")


def load(dotted: str) -> Any:
    """Import `package.module:attribute` (or a bare module path) and return the object."""
    module_name, _, attribute = dotted.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module
