"""`--continue` never imports code named in a report: the same --import must be given again."""

from __future__ import annotations

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.run.continuation import load_options
from plateau_cli.run.continue_checks import Grants

NO_CODE = Grants(model_factory=None, factory_args={}, data="data.npz")


def _block(imports: list[str]) -> dict:
    return {"load": {"model_factory": None, "factory_args": {}, "imports": imports}}


def test_recorded_imports_are_required_again():
    with pytest.raises(UsageError) as caught:
        load_options(_block(["layers.py"]), False, None, {}, NO_CODE)
    assert "--import layers.py" in caught.value.message


def test_the_imports_given_again_are_used():
    options = load_options(_block(["layers.py"]), False, None, {}, NO_CODE, ("layers.py",))
    assert options.imports == ("layers.py",)


def test_a_report_without_imports_needs_none():
    assert load_options(_block([]), False, None, {}, NO_CODE).imports == ()
