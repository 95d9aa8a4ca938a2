"""Picking the framework adapter for a checkpoint, importing the framework only then."""

from __future__ import annotations

from pathlib import Path

from plateau_cli import registry
from plateau_cli.adapters.base import Adapter, LoadOptions, ModelHandle
from plateau_cli.adapters.sniff import sniff_checkpoint
from plateau_cli.errors import MissingDependencyError

_INSTALL_HINT = {
    "keras": "TensorFlow (Keras 3): pip install 'plateau-cli[keras]'",
    "torch": "PyTorch: pip install 'plateau-cli[torch]'",
}
_FRAMEWORK_MODULES = {"keras": ("tensorflow", "keras"), "torch": ("torch", "safetensors")}


def adapter_for(framework: str) -> Adapter:
    """Import the adapter (and with it the framework) only now that it is needed."""
    try:
        cls = registry.load(registry.ADAPTERS[framework])
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in _FRAMEWORK_MODULES.get(framework, ()):
            raise MissingDependencyError(
                f"this is a {framework} checkpoint, and {missing} is not installed; install"
                f" {_INSTALL_HINT[framework]}"
            ) from exc
        raise
    return cls()


def load_handle(path: Path, options: LoadOptions, seed: int = 0) -> ModelHandle:
    """Sniff, import the framework, seed it and open the checkpoint (inspect, trial)."""
    sniffed = sniff_checkpoint(path)
    adapter = adapter_for(sniffed.framework)
    adapter.seed(seed)
    import_user_code(options)
    return adapter.load(path, sniffed.format, options)


def import_user_code(options: LoadOptions) -> None:
    """`--import`: after the framework (user code imports it too), before the checkpoint."""
    if options.imports:
        from plateau_cli.entry_points import import_modules

        import_modules(options.imports)
