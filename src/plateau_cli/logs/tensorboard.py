"""TensorBoard event files: one file, or a directory of runs (`--run` picks one; default latest).

Events are parsed with the protobuf classes that the `tensorboard` package ships
(`tensorboard.compat.proto.event_pb2`): they import without TensorFlow, and tensorboard is the
project that defines the format. (tensorboardX was ruled out: its package imports torch.) The
record framing is read here with struct (`_records`). Scalars arrive in two encodings, both
read: `simple_value` (TF1, torch's SummaryWriter, tensorboardX) and summary-v2 rank-0 tensors
(`tf.summary.scalar`, Keras 3's TensorBoard callback).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from plateau_cli.errors import CorruptFileError
from plateau_cli.history import HistoryBuilder
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._records import frame, header_ok
from plateau_cli.logs._steps import add_steps, steps_note
from plateau_cli.logs._tb_runs import choose_run, find_runs, is_event_file
from plateau_cli.logs._tb_tags import (
    EPOCH,
    STEP,
    classify,
    decide_levels,
    epoch_numbering,
    to_epochs,
)
from plateau_cli.logs._text import read_bytes
from plateau_cli.logs.base import LogRead, LogReader
from plateau_cli.names import canonical_name

#: DataType enum values of tensor.proto -> numpy dtype of tensor_content.
_MAX_STEP = 2**53
_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2"}


class TensorBoardReader(LogReader):
    format = "tensorboard"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        return header_ok(head)

    def read(self, path: Path, run: str | None = None) -> LogRead:
        builder = HistoryBuilder()
        if path.is_dir():
            runs = find_runs(path)
            if not runs:
                raise no_epochs(path, self.format, "no events.out.tfevents.* files")
            chosen, note = choose_run(path, runs, run)
            if note:
                builder.note(note)
            files = list(chosen.files)
            run_name: str | None = chosen.name
            run_names = tuple(r.name for r in runs)
        else:
            part = path.parent.name.lower() if is_event_file(path) else ""
            files = [(part, path)]
            run_name, run_names = None, ()
        scalars: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        for part, file in files:
            for problem in _read_scalars(file, part, scalars):
                builder.note(f"{file.name}: {problem}")
        if not scalars:
            found = f"{len(files)} event file(s) without scalar summaries"
            raise no_epochs(path, self.format, found)
        _add_to(builder, scalars)
        if not builder.has_epochs:
            raise no_epochs(path, self.format, "scalars without any per-epoch or ordered values")
        return LogRead(builder.build(), self.format, path, run=run_name, runs=run_names)


def _read_scalars(
    path: Path, part: str, into: dict[tuple[str, str], tuple[list[int], list[float]]]
) -> Iterator[str]:
    """Append (step, value) per (part, tag) from one event file; yield notes about damage."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event

    data = read_bytes(path)
    if data and not header_ok(data[:12]):
        raise CorruptFileError(f"{path}: not a TensorBoard event file (bad record header)")
    framing = frame(data)
    parse = Event.FromString
    skip_tags: set[str] = set()
    bad_steps = 0
    view = memoryview(data)
    for number, (start, length) in enumerate(
        zip(framing.starts.tolist(), framing.lengths.tolist(), strict=True), 1
    ):
        try:
            event = parse(view[start : start + length])
        except (DecodeError, RuntimeError, ValueError):
            yield f"record {number} cannot be parsed: read the {number - 1} records before it"
            return
        if not event.HasField("summary"):
            continue
        step = event.step
        if not 0 <= step < _MAX_STEP:
            bad_steps += 1
            continue
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                number_value = value.simple_value
            elif kind == "tensor" and value.tag not in skip_tags:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin and plugin != "scalars":
                    skip_tags.add(value.tag)
                    continue
                scalar = _tensor_scalar(value.tensor)
                if scalar is None:
                    continue
                number_value = scalar
            else:
                continue
            steps, values = into.setdefault((part, value.tag), ([], []))
            steps.append(step)
            values.append(number_value)
    if bad_steps:
        yield f"{bad_steps} event(s) with a negative or absurd step skipped"
    if framing.problem:
        yield framing.problem


def _tensor_scalar(tensor: object) -> float | None:
    """The value of a rank-0 numeric TensorProto, else None."""
    if len(tensor.tensor_shape.dim):  # type: ignore[attr-defined]
        return None
    dtype = _DTYPES.get(tensor.dtype)  # type: ignore[attr-defined]
    if dtype is None:
        return None
    content = tensor.tensor_content  # type: ignore[attr-defined]
    if content:
        size = np.dtype(dtype).itemsize
        return (
            float(np.frombuffer(content[:size], dtype=dtype)[0]) if len(content) >= size else None
        )
    for field in ("float_val", "double_val", "int_val", "int64_val"):
        values = getattr(tensor, field)
        if len(values):
            return float(values[0])
    return None


def _add_to(
    builder: HistoryBuilder, scalars: dict[tuple[str, str], tuple[list[int], list[float]]]
) -> None:
    """Sort tags into per-epoch and per-step series and hand them to the builder."""
    tags = {key: classify(key[0], key[1]) for key in scalars}
    arrays = {
        key: (np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64))
        for key, (s, v) in scalars.items()
    }
    keras_epochs = [key for key, (_, level, zero) in tags.items() if level == EPOCH and zero]
    undecided = {key: np.unique(arrays[key][0]).size for key, t in tags.items() if t[1] is None}
    known = [np.unique(arrays[key][0]).size for key, t in tags.items() if t[1] == EPOCH]
    levels = {key: t[1] for key, t in tags.items() if t[1] is not None}
    levels.update(decide_levels(undecided, min(known) if known else None))
    generic = [k for k, level in levels.items() if level == EPOCH and k not in keras_epochs]
    union = np.concatenate([arrays[k][0] for k in generic]) if generic else np.array([], np.int64)
    unique, offset, note = epoch_numbering(union)
    if note:
        builder.note(note)
    for key in keras_epochs:
        builder.add_epoch_array(tags[key][0], arrays[key][0] + 1, arrays[key][1])
    for key in generic:
        builder.add_epoch_array(
            tags[key][0], to_epochs(arrays[key][0], unique, offset), arrays[key][1]
        )
    per_step = [k for k, level in levels.items() if level == STEP]
    epoch_level = {canonical_name(tags[k][0]) for k in (*keras_epochs, *generic)}
    for key in per_step:
        add_steps(builder, tags[key][0], arrays[key][0], arrays[key][1], None, epoch_level)
    if per_step and not builder.has_epochs:
        for key in per_step:
            steps, values = arrays[key]
            order = np.argsort(steps, kind="stable")
            builder.add_epoch_array(tags[key][0], np.arange(1, steps.size + 1), values[order])
        builder.note("only per-step scalars: logged points numbered as epochs 1, 2, ... in order")
    elif per_step:
        builder.note(steps_note(sum(arrays[k][0].size for k in per_step)))
