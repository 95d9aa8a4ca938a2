"""The baseline's training metrics, measured on a bounded sample of the training set.

Kept apart from the run pipeline because it is a measuring decision with its own trade-off
(cost of a full pass against the standard error of a sample), reported in report.json.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle

if TYPE_CHECKING:
    from plateau_cli.run.resume import ResumeRequest


#: Training examples the baseline's training loss is measured on, unless --full-train-eval:
#: a seeded sample this size estimates a mean loss to about 1-2% (its standard error), where a
#: full pass over a large training set costs as much as an epoch without the backward pass.
TRAIN_EVAL_SAMPLE = 2048


def baseline_train_metrics(
    request: ResumeRequest, handle: ModelHandle, bundle: DataBundle, prepared: Any
) -> tuple[dict[str, float], dict[str, Any]]:
    """The baseline's training metrics, on a seeded sample of the training arrays unless the
    set is small or `--full-train-eval` asks for all; and what they were measured on."""
    total = len(bundle.train) if bundle.is_arrays else None
    if request.full_train_eval or total is None or total <= TRAIN_EVAL_SAMPLE:
        return handle.evaluate(prepared, "train"), {"samples": total, "sampled": False}
    import numpy as np

    rng = np.random.default_rng(request.seed)
    rows = np.sort(rng.choice(total, TRAIN_EVAL_SAMPLE, replace=False))  # sorted: fast reads
    part = bundle.train.take(rows)
    sample = dataclasses.replace(bundle, train=part, val=part)
    batch = request.batch_size or TRAIN_EVAL_SAMPLE
    metrics = handle.evaluate(handle.prepare(sample, batch, request.seed), "train")
    return metrics, {"samples": TRAIN_EVAL_SAMPLE, "of": total, "sampled": True}
