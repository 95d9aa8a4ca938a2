"""Per-epoch rows from text logs (printed lines, Keras stdout, JSON lines), merged the same way.

Text logs repeat an epoch for two reasons: a progress bar redrawn in place (tqdm's `\\r`, Keras'
backspaces) and a resumed run that starts counting again. Both mean "the latest values win", but
only the second deserves a note, so rows are merged here and the builder sees one row per epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

from plateau_cli.history import HistoryBuilder


class EpochRows:
    """Collects `epoch -> {name: value}` in arrival order, noticing when epochs restart."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, float]] = {}
        self.restarts: list[tuple[int, int]] = []  # (line number, epoch it restarted at)
        self._last: int | None = None

    def add(self, epoch: int, values: Mapping[str, float], line_no: int) -> None:
        if self._last is not None and epoch < self._last:
            self.restarts.append((line_no, epoch))
        self._last = epoch
        self.rows.setdefault(epoch, {}).update(values)

    def drop(self, epoch: int) -> None:
        self.rows.pop(epoch, None)

    def __len__(self) -> int:
        return len(self.rows)

    def into(self, builder: HistoryBuilder) -> None:
        """Hand the merged rows to the builder (epochs shifted to start at 1 if they start at 0)."""
        shift = 1 if self.rows and min(self.rows) == 0 else 0
        if shift:
            builder.note("epochs are counted from 0 in the log: shown from 1")
        for epoch in sorted(self.rows):
            builder.add_epoch_row(epoch + shift, self.rows[epoch])
        if self.restarts:
            line_no, epoch = self.restarts[0]
            more = f" ({len(self.restarts)} restarts)" if len(self.restarts) > 1 else ""
            builder.note(
                f"epochs restart at line {line_no} (epoch {epoch}; a resumed run?){more}:"
                " kept the latest values for repeated epochs"
            )
