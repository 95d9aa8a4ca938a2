"""Free-form lines that a training loop prints: `Epoch 3/50, Loss: 0.41, Val Acc: 0.87`.

A line counts when it names an epoch (`Epoch 3`, `[epoch 3]`, `epoch=3`, `Epoch [3/50]`,
`Epoch 3: 100%|...|` from tqdm) and has at least one `name: value`, `name=value` or
`name value` pair after it. Anything else (banners, warnings, checkpoint messages) is skipped.
Lines that also name a step or batch (`Epoch [1/5], Step [100/600], Loss: 0.21`) are step-level:
their per-epoch values are the mean of the epoch's lines. Accuracy printed in percent (`87.0%`)
is read as a fraction.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from plateau_cli.history import HistoryBuilder
from plateau_cli.logs._epochs import EpochRows
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._steps import add_steps, derived_note, steps_note
from plateau_cli.logs._text import NUMBER, decode, read_bytes, split_lines, strip_ansi, to_float
from plateau_cli.logs.base import LogRead, LogReader
from plateau_cli.names import canonical_name

_EPOCH = re.compile(
    r"(?:\b(?:epoch|[ée]poque|epoche|[ée]poca|эпоха)\b|第)\s*[:#=]?\s*\[?\s*(\d{1,9})(?![\d.])"
    r"(?:\s*/\s*\d+)?\s*\]?(?:\s*[轮回]|\s*epoch)?",
    re.I,
)
#: pytorch/examples' evaluation line, printed after each epoch's training lines:
#: `Test set: Average loss: 0.0341, Accuracy: 9887/10000 (99%)`.
_TEST_SET = re.compile(
    rf"\b(?:test|validation|val)\s+set:\s*average\s+loss:\s*({NUMBER}),\s*accuracy:\s*"
    r"(\d+(?:\.\d*)?)\s*/\s*(\d+)",
    re.I,
)
#: Metric names in other languages, by their last word: mapped to the names we know.
_TRANSLATED = {
    "perte": "loss",
    "précision": "accuracy",
    "precision": "precision",
    "exactitude": "accuracy",
    "verlust": "loss",
    "genauigkeit": "accuracy",
    "pérdida": "loss",
    "precisión": "accuracy",
    "exactitud": "accuracy",
    "perdita": "loss",
    "accuratezza": "accuracy",
    # CamelCase run together (`TrainLoss=1.87 ValAcc=60.9%`): no separator to split on.
    "trainloss": "loss",
    "trainacc": "accuracy",
    "trainaccuracy": "accuracy",
    "valloss": "val_loss",
    "valacc": "val_accuracy",
    "valaccuracy": "val_accuracy",
}
#: Lines about checkpoints repeat an earlier epoch's numbers (`Loaded best model (epoch=20,
#: val_loss=1.05)`) long after it: they report, they do not train, so they are skipped.
_CHECKPOINT_LINE = re.compile(
    r"\b(?:checkpoint|saved|saving|loaded|loading|best model|restor(?:e|ed|ing))\b", re.I
)
_STEP = re.compile(
    r"\b(?:step|batch|iter|iteration)\b\s*[:#=]?\s*\[?\s*(\d{1,12})(?![\d.])(?:\s*/\s*\d+)?\s*\]?",
    re.I,
)
#: tqdm's bar, counter, timing and rate: `100%|####| 6/6 [00:00<00:00, 91.3it/s`.
_TQDM = re.compile(
    r"\d+%\|[^|]*\||\b\d+/\d+\b|\[?\d+:\d+(?::\d+)?<[^,\]]*,?|[\d.]+\s*(?:it/s|s/it)|\bETA\b[^,|]*"
)
_NAME = r"[A-Za-z]\w{0,40}(?:[ /.\-][A-Za-z]\w{0,40}){0,3}"
#: `name: 0.4`, `name=0.4`, or `name 0.4` where a separator (| , ; ] ) or the line's end
#: follows, so that prose ("in epoch 2 we changed 3 things") is not read as metrics.
_PAIR = re.compile(
    rf"({_NAME})\s*(?:[:=]\s*({NUMBER})(?![\w.])|\s+({NUMBER})(?<!\.)(?=\s*(?:[|,;\])]|$)))",
    re.I,
)
_NOT_METRICS = {"epoch", "step", "batch", "iter", "iteration", "eta", "it"}
_MIN_LINES = 2
#: Longer lines are not metric lines (a dumped tensor, a progress bar never cleared): skipped
#: unread, which also keeps the regular expressions linear.
MAX_LINE = 4096


def parse_line(line: str) -> tuple[int, int | None, dict[str, float]] | None:
    """(epoch, step or None, metrics) for a metric line, else None."""
    if len(line) > MAX_LINE:
        return None
    line = strip_ansi(line).replace("'", "").replace('"', "")
    if _CHECKPOINT_LINE.search(line):
        return None
    epoch = _EPOCH.search(line)
    if epoch is None:
        return None
    rest = line[: epoch.start()] + " , " + line[epoch.end() :]
    step = _STEP.search(rest)
    if step is not None:
        rest = rest[: step.start()] + " , " + rest[step.end() :]
    rest = _TQDM.sub(" , ", rest)
    values: dict[str, float] = {}
    for name, separated, spaced in _PAIR.findall(rest):
        token = separated or spaced
        if name.lower().split()[-1] in _NOT_METRICS:
            continue
        value = to_float(token)
        if value is not None:
            label = name.strip()
            values[_TRANSLATED.get(label.lower(), label)] = value
    if not values:
        return None
    return int(epoch.group(1)), int(step.group(1)) if step else None, values


class PrintedLinesReader(LogReader):
    format = "printed"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        lines = [ln for ln in split_lines(decode(head)) if ln.strip()]
        hits = sum(1 for ln in lines[:400] if parse_line(ln) is not None or _TEST_SET.search(ln))
        return hits >= _MIN_LINES or (hits == 1 and len(lines) <= _MIN_LINES + 1)

    def read(self, path: Path, run: str | None = None) -> LogRead:
        data = read_bytes(path)
        lines = split_lines(decode(data))
        rows = EpochRows()
        step_epochs: list[int] = []
        step_values: dict[str, list[tuple[int, int, float]]] = {}
        builder = HistoryBuilder()
        last_no = max((i for i, ln in enumerate(lines, 1) if ln.strip()), default=0)
        cut = not data.endswith((b"\n", b"\r"))
        last_epoch: int | None = None
        evaluations = 0
        for line_no, line in enumerate(lines, start=1):
            test = _TEST_SET.search(line) if len(line) <= MAX_LINE else None
            if test is not None and last_epoch is not None:
                correct, total = float(test.group(2)), float(test.group(3))
                loss = to_float(test.group(1))
                if loss is not None and total > 0:
                    rows.add(
                        last_epoch, {"val_loss": loss, "val_accuracy": correct / total}, line_no
                    )
                    evaluations += 1
                continue
            parsed = parse_line(line)
            if parsed is None:
                continue
            epoch, step, values = parsed
            last_epoch = epoch
            if cut and line_no == last_no and self._looks_cut(rows, step_values, values, step):
                builder.note(f"line {line_no} cut off (training still running?): skipped")
                continue
            if step is None:
                rows.add(epoch, values, line_no)
                continue
            index = len(step_epochs)
            step_epochs.append(epoch)
            for name, value in values.items():
                step_values.setdefault(name, []).append((index, epoch, value))
        if evaluations:
            builder.note(
                f"{evaluations} 'Test set: Average loss ..., Accuracy ...' line(s) read as"
                " val_loss and val_accuracy of the epoch printed before them"
            )
        rows.into(builder)
        if step_values:
            epoch_level = {canonical_name(n) for row in rows.rows.values() for n in row}
            self._add_steps(builder, step_values, len(step_epochs), epoch_level)
        if not builder.has_epochs:
            raise no_epochs(path, self.format, "no line with an epoch number and a metric value")
        return LogRead(builder.build(), self.format, path)

    @staticmethod
    def _looks_cut(
        rows: EpochRows, steps: dict, values: dict[str, float], step: int | None
    ) -> bool:
        """A last line without a newline that has fewer metrics than the lines before it."""
        if step is not None:
            return len(values) < len(steps)
        previous = rows.rows[max(rows.rows)] if rows.rows else {}
        return len(values) < len(previous)

    @staticmethod
    def _add_steps(
        builder: HistoryBuilder,
        step_values: dict[str, list[tuple[int, int, float]]],
        count: int,
        epoch_level: set[str],
    ) -> None:
        shift = 1 if min(e for v in step_values.values() for _, e, _ in v) == 0 else 0
        derived = []
        for name, points in step_values.items():
            table = np.array(points, dtype=np.float64)
            made = add_steps(
                builder,
                name,
                table[:, 0].astype(np.int64) + 1,
                table[:, 2],
                table[:, 1].astype(np.int64) + shift,
                epoch_level,
            )
            if made:
                derived.append(made)
        builder.note(steps_note(count))
        if derived:
            builder.note(derived_note(derived))
