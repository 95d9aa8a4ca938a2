"""The written checkpoint's validation metrics, taken from the pass that already measured them.

After training the model holds the weights of the best epoch (`Trainer` restores them, or the
last epoch was the best), or the weights it started from when no epoch beat them. Each of those
was evaluated on the validation data when it was made: by the epoch's own validation pass (the
same `evaluate` on the same data), or by the after-change evaluation. A further pass over the
validation set would repeat one of them number for number, so it is read from the record
instead; where this process did not measure those weights itself (a continued run's earlier
epochs, or a name missing from the record) the model is evaluated again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plateau_cli.run.trainer import TrainerState

if TYPE_CHECKING:
    from plateau_cli.run.resume import RunSetup


def measured_output(
    setup: RunSetup, state: TrainerState, trained_from: int
) -> dict[str, float] | None:
    """The validation metrics of the weights the model holds after `Trainer.run`, or None when
    they must be measured again. `trained_from`: the epochs done before this process began."""
    names = setup.val_names
    if not names:
        return None
    if state.best_epoch == 0:
        # The starting weights: after_change measured them, in a run that started here.
        source = setup.after_change if trained_from == 0 else None
    else:
        record = next((r for r in state.records if r.epoch == state.best_epoch), None)
        source = record.metrics if record is not None and record.epoch > trained_from else None
    if source is None or any(name not in source for name in names):
        return None
    return {name: float(source[name]) for name in names}
