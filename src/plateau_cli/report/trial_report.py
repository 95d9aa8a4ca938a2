"""What `trial` writes: trial.json (schema_version 1), trial.md and trial.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plateau_cli import __version__
from plateau_cli.atomic import atomic_path, write_text
from plateau_cli.jsonable import finite_or_none
from plateau_cli.run.trial import Candidate, TrialResult

SCHEMA_VERSION = 1
TRIAL_JSON = "trial.json"
TRIAL_MD = "trial.md"
TRIAL_PNG = "trial.png"


def margin(result: TrialResult) -> float | None:
    """How much better the winner's best is than the control's (positive = better)."""
    w, c = result.winner.best, result.control.best
    if w is None or c is None or result.winner.report is None:
        return None
    return c - w if result.winner.report.monitor.mode.value == "min" else w - c


def verdict(result: TrialResult) -> str:
    monitor = result.control.report.monitor.metric if result.control.report else "the metric"
    if result.control_won:
        return (
            f"the control won: no strategy beat continuing unchanged on {monitor} within"
            f" {result.budget} epochs; keep training as it is, or look elsewhere (the data)"
        )
    gain = margin(result) or 0.0
    base = result.control.best or 0.0
    share = f" ({gain / abs(base):.1%})" if base else ""
    return (
        f"{result.winner.name} won: {monitor} {_fmt(result.winner.best)} against the control's"
        f" {_fmt(base)}, better by {gain:.4g}{share}"
    )


def _candidate(c: Candidate) -> dict[str, Any]:
    r = c.report
    return {
        "strategy": c.name,
        "status": c.status,
        "reason": c.reason,
        "epochs_run": c.epochs,
        "best": finite_or_none(c.best),
        "best_epoch": r.best_epoch if r else None,
        "baseline": finite_or_none(r.monitored_baseline) if r else None,
        "history": [finite_or_none(v.metrics.get(r.monitor.metric)) for v in r.history]
        if r
        else [],
        "report": str(c.out_dir / "report.json") if r else None,
    }


def to_json(result: TrialResult) -> dict[str, Any]:
    monitor = result.control.report.monitor if result.control.report else None
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "plateau-cli", "version": __version__},
        "command_line": list(result.command_line),
        "input": {"path": str(result.input.path), "sha256": result.input.sha256},
        "monitor": (
            {"metric": monitor.metric, "mode": monitor.mode.value, "min_delta": monitor.min_delta}
            if monitor
            else None
        ),
        "budget_epochs": result.budget,
        "rungs": [
            {"epochs": epochs, "ran": list(ran), "kept": list(kept)}
            for epochs, ran, kept in result.rungs
        ],
        "candidates": [_candidate(c) for c in result.candidates],
        "winner": {
            "strategy": result.winner.name,
            "best": finite_or_none(result.winner.best),
            "margin_over_control": finite_or_none(margin(result)),
            "control_won": result.control_won,
            "checkpoint": {"path": str(result.checkpoint.path), "sha256": result.checkpoint.sha256},
        },
        "verdict": verdict(result),
        "epochs_spent": result.epochs_spent,
        "epochs_if_every_candidate_ran_the_budget": result.epochs_full,
        "interrupted": result.interrupted,
        "seed": result.seed,
        "duration_s": round(result.duration_s, 3),
    }


def load_hint(result: TrialResult) -> str | None:
    """A widened torch winner is rebuilt by the factory at its new width: say with what."""
    report = result.winner.report
    args = report.outcome.details.get("factory_args") if report is not None else None
    if not args:
        return None
    line = list(result.command_line)
    factory = next(
        (line[i + 1] for i, word in enumerate(line[:-1]) if word == "--model-factory"),
        next((w.split("=", 1)[1] for w in line if w.startswith("--model-factory=")), "FACTORY"),
    )
    given = " ".join(
        f"--factory-arg {k}={v!r}" if isinstance(v, str) else f"--factory-arg {k}={v}"
        for k, v in args.items()
    )
    return (
        f"The winner was widened: load its checkpoint with `--model-factory {factory} {given}`"
        " (the factory's old arguments build the old width)"
    )


def render_markdown(result: TrialResult) -> str:
    doc = to_json(result)
    metric = doc["monitor"]["metric"] if doc["monitor"] else "metric"
    lines = [
        "# plateau-cli trial",
        "",
        f"**{doc['verdict']}**",
        "",
        f"- Input: `{result.input.path}`; budget {result.budget} epochs; seed {result.seed}",
        f"- Winner's checkpoint: `{result.checkpoint.path}`",
        *([f"- {hint}"] if (hint := load_hint(result)) else []),
        f"- Epochs spent: {result.epochs_spent} (every candidate for the whole budget:"
        f" {result.epochs_full})",
        "",
        f"| candidate | status | epochs | best {metric} | best epoch |",
        "|---|---|---:|---:|---:|",
    ]
    for c in doc["candidates"]:
        lines.append(
            f"| {c['strategy']} | {c['status']} | {c['epochs_run']} | {_fmt(c['best'])} |"
            f" {c['best_epoch'] if c['best_epoch'] is not None else '–'} |"
        )
    lines += [
        f"- {c['strategy']} {'failed' if c['status'] == 'failed' else 'does not apply'}:"
        f" {c['reason']}"
        for c in doc["candidates"]
        if c["reason"]
    ]
    lines += ["", "## Rungs", ""]
    for rung in doc["rungs"]:
        lines.append(
            f"- to epoch {rung['epochs']}: ran {', '.join(rung['ran'])}; went on:"
            f" {', '.join(rung['kept'])}"
        )
    return "\n".join(lines) + "\n"


def write_plot(path: Path, result: TrialResult) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    metric = "metric"
    for c in result.candidates:
        if c.report is None:
            continue
        metric = c.report.monitor.metric
        values = [r.metrics.get(metric) for r in c.report.history]
        style = "--" if c.name == "continue" else "-"
        width = 2.2 if c is result.winner else 1.2
        label = f"{c.name} (winner)" if c is result.winner else c.name
        ax.plot(range(1, len(values) + 1), values, style, linewidth=width, marker=".", label=label)
    for epochs, _, _ in result.rungs[:-1]:
        ax.axvline(epochs + 0.5, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("epoch (dotted: end of a rung)")
    ax.set_ylabel(metric)
    ax.set_title("plateau-cli trial", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_trial(result: TrialResult) -> None:
    write_plot(result.out_dir / TRIAL_PNG, result)
    write_text(result.out_dir / TRIAL_MD, render_markdown(result))
    write_text(
        result.out_dir / TRIAL_JSON, json.dumps(to_json(result), indent=2, allow_nan=False) + "\n"
    )


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
