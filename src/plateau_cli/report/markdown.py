"""report.md: the before/after table and the list of changes, for a person or a CI artefact."""

from __future__ import annotations

import math
from pathlib import Path

from plateau_cli.atomic import write_text
from plateau_cli.names import base_name, is_validation
from plateau_cli.report.model import ResumeReport
from plateau_cli.wording import plain


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.3g}"


def render_markdown(report: ResumeReport) -> str:
    m = report.monitor
    verdict = "improved" if report.improved else "did not improve"
    lines = [
        f"# plateau-cli resume: {report.strategy}"
        + (" (chosen by --strategy auto)" if report.auto else ""),
        "",
        *_auto_lines(report),
        f"**{m.metric} {verdict}**: {_fmt(report.monitored_baseline)} before, "
        f"{_fmt(report.monitored_best)} at best (epoch {report.best_epoch}), mode {m.mode.value}"
        f", min_delta {m.min_delta:g}.",
        "",
        f"- Input: `{report.input.path}` ({report.input.format},"
        f" sha256 `{report.input.sha256[:16]}…`)",
    ]
    if report.output is not None:
        lines.append(f"- Output: `{report.output.path}` (sha256 `{report.output.sha256[:16]}…`)")
    lines += [
        f"- Framework: {report.framework}; seed {report.seed}; batch size {report.batch_size}"
        + (f" ({report.batch_size_detail})" if report.batch_size_detail else ""),
        f"- Epochs: {len(report.history)} of {report.epochs_requested}; stopped: "
        f"{report.stopped_reason.value}"
        + (f" ({report.stopped_detail})" if report.stopped_detail else ""),
        f"- Duration: {report.duration_s:.1f} s",
        *_train_eval_line(report),
        "",
        "## Before and after",
        "",
        f"| metric | baseline | best (epoch {report.best_epoch}) | final | written checkpoint |",
        "|---|---:|---:|---:|---:|",
    ]
    names = [k for k in report.baseline if is_validation(k)]
    names += [k for k in report.baseline if not is_validation(k)]
    for name in names:
        lines.append(
            f"| {name} | {_fmt(report.baseline.get(name))} | {_fmt(report.best.get(name))} | "
            f"{_fmt(report.final.get(name))} | {_fmt(report.output_metrics.get(name))} |"
        )
    lines += ["", "## Changes", ""]
    lines += [f"- {c}" for c in (*report.outcome.changes, *report.events)] or ["- none"]
    opt = report.optimizer
    lines += [
        "",
        "## Optimizer",
        "",
        f"- Loaded: {opt.name or 'unknown'}, state {opt.state.value}"
        + (f" ({opt.detail})" if opt.detail else "")
        + (f", {opt.iterations} steps so far" if opt.iterations is not None else ""),
        f"- Through the change: {report.outcome.optimizer_state.value}"
        + (f" ({report.outcome.optimizer_detail})" if report.outcome.optimizer_detail else ""),
    ]
    if report.health:
        lines += ["", "## Data warnings", ""]
        lines += [f"- {h.text}" for h in report.health]
    if report.notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {n}" for n in report.notes]
    lines += ["", "## History", ""]
    keys = sorted(
        {k for r in report.history for k in r.metrics},
        key=lambda k: (is_validation(k), base_name(k)),
    )
    lines.append("| epoch | lr | " + " | ".join(keys) + " |")
    lines.append("|---:|---:|" + "---:|" * len(keys))
    for r in report.history:
        cells = " | ".join(_fmt(r.metrics.get(k)) for k in keys)
        lines.append(f"| {r.epoch} | {_fmt(r.lr)} | {cells} |")
    return "\n".join(lines) + "\n"


def _auto_lines(report: ResumeReport) -> list[str]:
    """Why `--strategy auto` chose this strategy, in its own words, before anything else."""
    auto = report.auto
    if not auto:
        return []
    chosen = auto.get("chosen") or report.strategy
    reason = plain(str(auto.get("reason") or "no reason given")).rstrip(". ")
    line = (
        f"**Why {chosen}**: {reason}."
        if chosen == report.strategy
        else f"**auto chose {chosen}**: {reason}."
    )
    if auto.get("alternatives"):
        line += f" Next best: {', '.join(auto['alternatives'])}."
    sources = (
        f"the checkpoint, the data and the log `{auto['log']}`"
        if auto.get("log")
        else "the checkpoint and the data"
    )
    line += f" Decided from {sources}."
    lines = [line]
    if auto.get("fallback"):
        lines += ["", f"Instead: {plain(str(auto['fallback'])).rstrip('. ')}."]
    return [*lines, ""]


def write_markdown(path: Path, report: ResumeReport) -> None:
    write_text(path, render_markdown(report))


def _train_eval_line(report: ResumeReport) -> list[str]:
    sample = report.baseline_train_eval
    if not sample or not sample.get("sampled"):
        return []
    return [
        f"- Baseline training metrics: on a seeded sample of {sample['samples']} of the"
        f" {sample['of']} training examples (--full-train-eval measures all)"
    ]
