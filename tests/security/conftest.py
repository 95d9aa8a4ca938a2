"""The security tests use the fault tests' digits and torch checkpoint (made once per session)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.reliability.conftest import MLP_FACTORY, digits, torch_checkpoint

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"


def load_make_hostile() -> ModuleType:
    """tests/fixtures/hostile/make_hostile.py (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location(
        "plateau_make_hostile", HOSTILE / "make_hostile.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


__all__ = ["HOSTILE", "MLP_FACTORY", "digits", "load_make_hostile", "torch_checkpoint"]
