"""How `--help` reads at 80 columns: short value names, no `<bool>`, whole sentences.

typer writes every option's Python type as its metavar (`--json <bool>`, `--factory-arg
<list[str]>`) and the arguments in braces (`{model}`); the help text keeps the docstring's line
breaks, so an 80-column terminal breaks sentences in the middle. One command class fixes all of
it for every command, instead of a metavar on each of fifty options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

#: Value names by the option's Python type; anything else is a word.
_METAVARS = {int: "N", float: "X", Path: "PATH"}


def reflow(text: str | None) -> str | None:
    """Join a docstring's lines into paragraphs, so the terminal wraps them where it must."""
    if text is None:
        return None
    paragraphs = text.strip().split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


#: The same by click's type name, for typer releases without `type_descriptor`.
_BY_TYPE_NAME = {"integer": "N", "integer range": "N", "float": "X", "float range": "X"}


def _metavar(param: TyperOption) -> str:
    if param.multiple:
        return "KEY=VALUE" if param.name == "factory_arg" else "TEXT"
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if annotation in _METAVARS:
        return _METAVARS[annotation]
    name = getattr(getattr(param, "type", None), "name", "")
    return "PATH" if name == "path" else _BY_TYPE_NAME.get(name, "TEXT")


def tidy(param: Any) -> None:
    """Give one parameter the value name a person expects (idempotent)."""
    if isinstance(param, TyperArgument):
        param.metavar = (param.name or "arg").upper()
        param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # MODEL says it
    elif isinstance(param, TyperOption):
        if param.is_flag:
            param.metavar = ""  # a flag takes no value: nothing after its name
        elif param.metavar is None:
            param.metavar = _metavar(param)
        # The range is enforced with a one-line error; in the type column it only narrows the
        # descriptions.
        param._get_number_range_help_str = lambda: None  # type: ignore[method-assign]
    elif getattr(param, "is_flag", False):  # --help, --install-completion (click's own)
        param.metavar = ""


class PlateauCommand(TyperCommand):
    """Every plateau-cli command: tidy value names, reflowed help, `MODEL` in the usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)
        for param in self.params:
            tidy(param)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            tidy(param)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar or "[OPTIONS]"]
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "arg").upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class PlateauGroup(TyperGroup):
    """The app itself: its flags (--version, --install-completion) without `<bool>`."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            tidy(param)
        return params


def complete_strategy(incomplete: str) -> list[str]:
    """Shell completion for --strategy: the registered names (no framework is imported)."""
    from plateau_cli import registry

    return [n for n in [*registry.STRATEGIES, "auto"] if n.startswith(incomplete)]
