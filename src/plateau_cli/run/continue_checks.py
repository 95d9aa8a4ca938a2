"""What `resume --continue DIR` accepts from DIR before it uses any of it.

An output directory is data: a colleague's run copied over, a CI artefact, a folder from an
archive. So its report.json is checked field by field (a damaged one is one line naming the
field, not a KeyError deep in the pipeline), checkpoints are followed only inside DIR (no
`../../x.pt`, no absolute path, no symlink leading out), and code the report names (a model
factory, a `--data module:function`) runs only when the user names it again on the command
line: the report says what the run used, it does not grant the right to run it.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plateau_cli.entry_points import looks_like_entry_point
from plateau_cli.errors import BadInputError, UsageError

_Check = Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _optional(check: _Check) -> _Check:
    return lambda value: value is None or check(value)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _list_of(check: _Check) -> _Check:
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


def _numbers_by_name(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and (v is None or _is_number(v)) for k, v in value.items()
    )


def _history_row(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _is_int(value.get("epoch"))
        and all(isinstance(k, str) and (v is None or _is_number(v)) for k, v in value.items())
    )


def _health_row(value: Any) -> bool:
    return isinstance(value, dict) and _is_str(value.get("id")) and _is_str(value.get("text"))


def _image_size(value: Any) -> bool:
    return value is None or (
        isinstance(value, list) and len(value) == 2 and all(map(_is_int, value))
    )


#: (dotted field, check, what was expected). Order: outer blocks before what is inside them.
_FIELDS: tuple[tuple[str, _Check, str], ...] = (
    ("framework", _is_str, "a string"),
    ("history", _list_of(_history_row), "a list of {epoch, metric: number} rows"),
    ("events", _optional(_list_of(_is_str)), "a list of strings"),
    ("changes", _list_of(_is_str), "a list of strings"),
    ("notes", _list_of(_is_str), "a list of strings"),
    ("health", _list_of(_health_row), "a list of {id, text} objects"),
    ("baseline", _numbers_by_name, "an object of numbers"),
    ("after_change", _numbers_by_name, "an object of numbers"),
    ("duration_s", _optional(_is_number), "a number"),
    ("command_line", _optional(_list_of(_is_str)), "a list of strings"),
    ("strategy", _is_dict, "an object"),
    ("strategy.parameters", _is_dict, "an object"),
    ("strategy.details", _optional(_is_dict), "an object"),
    ("optimizer", _is_dict, "an object"),
    ("optimizer.state", _is_str, "a string"),
    ("optimizer.loaded_state", _is_str, "a string"),
    ("optimizer.learning_rate_at_load", _optional(_is_number), "a number"),
    ("optimizer.iterations_at_load", _optional(_is_int), "an integer"),
    ("monitor", _is_dict, "an object"),
    ("monitor.metric", _is_str, "a string"),
    ("monitor.mode", _is_str, "a string"),
    ("monitor.min_delta", _is_number, "a number"),
    ("input", _is_dict, "an object"),
    ("input.path", _is_str, "a string"),
    ("input.sha256", _is_str, "a string"),
    ("continuation.checkpoint", _is_str, "a string"),
    ("continuation.trainer", _is_dict, "an object"),
    ("continuation.trainer.best_epoch", _is_int, "an integer"),
    ("continuation.trainer.best_value", _optional(_is_number), "a number"),
    ("continuation.trainer.wait", _is_int, "an integer"),
    ("continuation.strategy_state", _optional(_is_dict), "an object"),
    ("continuation.request", _is_dict, "an object"),
    ("continuation.request.model", _is_str, "a string"),
    ("continuation.request.strategy", _is_str, "a string"),
    ("continuation.request.strategy_options", _is_dict, "an object"),
    ("continuation.request.data", _is_str, "a string"),
    ("continuation.request.target", _optional(_is_str), "a string"),
    ("continuation.request.val_split", _optional(_is_number), "a number"),
    ("continuation.request.image_size", _image_size, "[height, width]"),
    ("continuation.request.epochs", _is_int, "an integer"),
    ("continuation.request.batch_size", _is_int, "an integer"),
    ("continuation.request.monitor", _optional(_is_str), "a string"),
    ("continuation.request.min_delta", _is_number, "a number"),
    ("continuation.request.patience", _optional(_is_int), "an integer"),
    ("continuation.request.seed", _is_int, "an integer"),
    ("continuation.request.load", _is_dict, "an object"),
    ("continuation.request.load.model_factory", _optional(_is_str), "a string"),
    ("continuation.request.load.factory_args", _optional(_is_dict), "an object"),
    ("continuation.request.load.loss", _optional(_is_str), "a string"),
    ("continuation.request.load.optimizer", _optional(_is_str), "a string"),
    ("continuation.request.load.device", _optional(_is_str), "a string"),
)
_MISSING = object()


def check_report(doc: Mapping[str, Any], report: Path) -> None:
    """Every field `--continue` reads has the type the pipeline expects; else one line."""
    for dotted, check, expected in _FIELDS:
        value: Any = doc
        for part in dotted.split("."):
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING and check(None):
            continue
        if value is _MISSING or not check(value):
            found = "missing" if value is _MISSING else f"a JSON {_json_type(value)}"
            raise BadInputError(
                f"--continue {report}: damaged report: {dotted!r} is {found}, expected"
                f" {expected}; the file was edited or truncated, so this run cannot be continued"
            )
    from plateau_cli.adapters.base import OptimizerState
    from plateau_cli.monitor import Mode

    states = {s.value for s in OptimizerState}
    for dotted, value, allowed in (
        ("optimizer.state", doc["optimizer"]["state"], states),
        ("optimizer.loaded_state", doc["optimizer"]["loaded_state"], states),
        ("monitor.mode", doc["monitor"]["mode"], {m.value for m in Mode}),
    ):
        if value not in allowed:
            raise BadInputError(
                f"--continue {report}: damaged report: {dotted!r} is {value!r}, expected one of"
                f" {', '.join(sorted(allowed))}"
            )
    request = doc["continuation"]["request"]
    if request["epochs"] < 1 or request["batch_size"] < 1:
        raise BadInputError(
            f"--continue {report}: damaged report: 'continuation.request.epochs' and"
            " 'batch_size' must be at least 1"
        )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def inside(out_dir: Path, name: str | Path, what: str) -> Path:
    """`out_dir / name`, refused when it (or a symlink on the way) leads outside `out_dir`."""
    candidate = Path(name)
    root = out_dir.resolve()
    resolved = (out_dir / candidate).resolve()
    if candidate.is_absolute() or ".." in candidate.parts or not resolved.is_relative_to(root):
        raise BadInputError(
            f"--continue {out_dir}: the report names {what} {str(name)!r}, which is outside the"
            " directory (an absolute path, '..' or a symlink leading out); --continue only reads"
            " checkpoints inside the run's own directory"
        )
    return out_dir / candidate


def _factory_arg(key: str, value: Any) -> str:
    """`key=value` as the user would type it: strings bare unless they would read back as
    another literal (`"32"`), everything else in Python's spelling (parse_factory_args)."""
    if isinstance(value, str):
        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return f"{key}={value}"
    return f"{key}={value!r}"


@dataclass(frozen=True)
class GivenAgain:
    """What the user named on the `--continue` command line (None: not given)."""

    model_factory: str | None = None
    factory_args: Mapping[str, Any] | None = None
    data: str | None = None


@dataclass(frozen=True)
class Grants:
    """The entry points and data the continued run may use, and what to tell the user."""

    model_factory: str | None
    factory_args: Mapping[str, Any]
    data: str
    messages: tuple[str, ...] = field(default=())


def grant(out_dir: Path, request: Mapping[str, Any], given: GivenAgain) -> Grants:
    """Code only from the command line; plain data files from the report, said aloud.

    A data file (an .npz, a CSV, an image folder) is read, never run: reading it again from
    the report is what continuing means. It may lie outside DIR, so the path is printed before
    it is read; `--data` names another one.
    """
    load = request["load"]
    factory, data = load.get("model_factory"), request["data"]
    args = dict(load.get("factory_args") or {})
    missing: list[tuple[str, str]] = []
    if factory and given.model_factory is None:
        missing.append(("--model-factory", factory))
        missing += [("--factory-arg", _factory_arg(k, v)) for k, v in args.items()]
    if looks_like_entry_point(data) and given.data is None:
        missing.append(("--data", data))
    if missing:
        used = " and ".join(f"{flag} {value}" for flag, value in missing if flag != "--factory-arg")
        again = " ".join(f"{flag} {shlex.quote(value)}" for flag, value in missing)
        raise UsageError(
            f"--continue {out_dir}: that run used {used}, code that plateau-cli runs only when"
            " you name it yourself (a report.json cannot grant it); check it, then pass it"
            f" again: plateau-cli resume --continue {shlex.quote(str(out_dir))} {again}"
        )
    messages: list[str] = []
    chosen_data = given.data if given.data is not None else data
    if given.data is None:
        messages.append(
            f"data: {data} (as recorded in {out_dir}/report.json; --data reads another)"
        )
    return Grants(
        model_factory=given.model_factory or factory,
        factory_args=dict(given.factory_args) if given.factory_args is not None else args,
        data=chosen_data,
        messages=tuple(messages),
    )
