"""How far a verdict can be trusted from the log alone: low, medium or high, with the reason.

A log that is too short to show a stall, or that holds one metric only, cannot tell a plateau
from noise or overfitting from a hard validation set; a log without validation metrics cannot
show overfitting at all; a class count that was assumed makes every chance comparison a guess.
"""

from __future__ import annotations

from plateau_cli.diagnose.base import Confidence, Finding, FindingKind
from plateau_cli.diagnose.context import Context

#: Verdicts that compare with chance (ln C, 1/C) and so lean on the class count.
_CLASS_BOUND = {FindingKind.NO_LEARNING, FindingKind.CHANCE_LEVEL, FindingKind.UNNORMALIZED_INPUTS}


def assess(ctx: Context, findings: list[Finding]) -> tuple[Confidence, str]:
    history = ctx.history
    n = history.n_epochs
    metrics = history.model_metrics()
    verdict = findings[0].kind
    if verdict in (FindingKind.DIVERGENCE, FindingKind.IMPROPER_LOSS):
        return Confidence.HIGH, ""
    if n <= ctx.patience:
        return Confidence.LOW, (
            f"only {n} epoch(s) logged: too few to tell a stall from noise"
            f" (patience {ctx.patience})"
        )
    if len(metrics) == 1:
        return Confidence.LOW, f"the log holds one metric only ({metrics[0]})"
    if verdict in _CLASS_BOUND and not ctx.classes.given:
        count = ctx.classes.count
        guessed = f"assumed to be {count}" if count is not None else "unknown"
        if count is None or ctx.classes.source.endswith("(assumed)"):
            return Confidence.MEDIUM, (
                f"the class count is {guessed}, so chance levels are uncertain;"
                " --num-classes or --data would settle it"
            )
    if not history.validation_metrics():
        return Confidence.MEDIUM, "no validation metrics: overfitting cannot be seen"
    return Confidence.HIGH, ""
