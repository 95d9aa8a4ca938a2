"""Write every artefact of a resume, in an order that keeps the directory consistent."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.atomic import write_text
from plateau_cli.interrupt import signals_ignored
from plateau_cli.outputs import (
    CURVES_PNG,
    HISTORY_CSV,
    REPORT_JSON,
    REPORT_MD,
    ensure_out_dir,
    sha256_of,
)
from plateau_cli.report.curves import write_curves
from plateau_cli.report.history_csv import write_history_csv
from plateau_cli.report.json_report import to_json
from plateau_cli.report.markdown import write_markdown
from plateau_cli.report.model import FileRef, ResumeReport


def write_artefacts(
    report: ResumeReport, handle: ModelHandle, out_dir: Path, started: float
) -> ResumeReport:
    """Checkpoint first, report.json last; Ctrl-C cannot cut this in half."""
    with signals_ignored():
        ensure_out_dir(out_dir)
        checkpoint = out_dir / handle.checkpoint_name()
        handle.save(checkpoint, epochs_done=len(report.history))
        report = dataclasses.replace(
            report,
            output=FileRef(checkpoint, sha256_of(checkpoint), handle.format),
            duration_s=time.monotonic() - started,
        )
        write_history_csv(out_dir / HISTORY_CSV, report.history)
        write_curves(out_dir / CURVES_PNG, report)
        write_markdown(out_dir / REPORT_MD, report)
        write_text(
            out_dir / REPORT_JSON, json.dumps(to_json(report), indent=2, allow_nan=False) + "\n"
        )
    return report
