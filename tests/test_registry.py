"""Every name users can type resolves to real code (pip-audit's exhaustive-dispatch test)."""

from __future__ import annotations

import pytest

from plateau_cli import registry
from plateau_cli.logs.base import LogReader
from plateau_cli.strategies import strategy_class
from plateau_cli.strategies.base import Strategy


@pytest.mark.parametrize("name", list(registry.LOG_READERS))
def test_log_reader_resolves(name):
    reader = registry.load(registry.LOG_READERS[name])
    assert issubclass(reader, LogReader)
    assert reader.format == name


@pytest.mark.parametrize("name", list(registry.STRATEGIES))
def test_strategy_resolves_without_a_framework(name):
    cls = strategy_class(name)
    assert issubclass(cls, Strategy)
    assert cls.name == name
    assert cls.helps_when
    assert cls.does_not_help_when
    assert cls.option_names
