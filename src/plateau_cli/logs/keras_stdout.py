"""What Keras' `model.fit` prints: verbose=2 (one line per epoch) and verbose=1 (progress bars).

verbose=1 redraws its bar in place: Keras 3 (and tf.keras 2) writes backspaces over the previous
width, a carriage return, then the new bar, with ANSI bold and colour codes around the parts.
Treating `\\b`, `\\r` and `\\n` all as segment breaks turns a captured terminal into a sequence of
bar states; per epoch, the last state before the bar is complete holds the epoch's final
metrics, including the `val_*` ones that Keras adds at the end. TensorFlow's start-up noise and
`model.evaluate` bars after the last epoch are not part of any epoch and are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

from plateau_cli.history import HistoryBuilder
from plateau_cli.logs._epochs import EpochRows
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._text import NUMBER, decode, read_bytes, strip_ansi, to_float
from plateau_cli.logs.base import LogRead, LogReader

_SEGMENTS = re.compile(r"[\r\n\x08]+")
_EPOCH = re.compile(r"^\s*Epoch (\d{1,9})/(\d{1,9})\s*$")
_PROGRESS = re.compile(r"^\s*(\d+)/(\d+|Unknown)\b")
_PAIR = re.compile(rf"(?:^|\s)-\s+([A-Za-z_][\w.]{{0,64}}):\s+({NUMBER})(?=\s|$)")


def _segments(text: str) -> list[str]:
    return [s for s in _SEGMENTS.split(strip_ansi(text)) if s.strip()]


def _pairs(segment: str) -> dict[str, float]:
    found = {}
    for name, token in _PAIR.findall(segment):
        value = to_float(token)
        if value is not None:
            found[name] = value
    return found


class KerasStdoutReader(LogReader):
    format = "keras-stdout"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        segments = _segments(decode(head))
        has_epoch = any(_EPOCH.match(s) for s in segments)
        return has_epoch and any(_PROGRESS.match(s) and _pairs(s) for s in segments)

    def read(self, path: Path, run: str | None = None) -> LogRead:
        data = read_bytes(path)
        segments = _segments(decode(data))
        rows = EpochRows()
        builder = HistoryBuilder()
        epoch: int | None = None
        progress: tuple[int, str] | None = None
        closed = False
        for number, segment in enumerate(segments, start=1):
            match = _EPOCH.match(segment)
            if match:
                epoch, progress, closed = int(match.group(1)), None, False
                continue
            bar = _PROGRESS.match(segment)
            if epoch is None or bar is None:
                continue
            done, total = int(bar.group(1)), bar.group(2)
            if progress is not None and (total != progress[1] or done < progress[0]):
                closed = True  # a new bar (model.evaluate, predict) after this epoch's
            if closed:
                continue
            progress = (done, total)
            values = _pairs(segment)
            if values:
                rows.add(epoch, values, number)
        if epoch is not None and epoch in rows.rows:
            self._drop_unfinished(rows, epoch, progress, data, builder)
        elif epoch is not None:
            builder.note(f"epoch {epoch} has no metrics yet (training still running?): skipped")
        rows.into(builder)
        if not builder.has_epochs:
            found = "no 'Epoch N/M' line followed by a progress line with metrics"
            raise no_epochs(path, self.format, found)
        return LogRead(builder.build(), self.format, path)

    @staticmethod
    def _drop_unfinished(
        rows: EpochRows,
        epoch: int,
        progress: tuple[int, str] | None,
        data: bytes,
        builder: HistoryBuilder,
    ) -> None:
        """The last epoch counts only if its bar completed and its line was fully written."""
        if progress is not None and progress[1] != "Unknown" and progress[0] < int(progress[1]):
            rows.drop(epoch)
            builder.note(
                f"epoch {epoch} still in progress (step {progress[0]}/{progress[1]}): skipped"
            )
            return
        previous = rows.rows.get(max((e for e in rows.rows if e != epoch), default=-1), {})
        if not data.rstrip(b" ").endswith((b"\n", b"\r")) and len(rows.rows[epoch]) < len(previous):
            rows.drop(epoch)
            builder.note(f"epoch {epoch}'s line cut off (training still running?): skipped")
