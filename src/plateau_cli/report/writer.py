"""Write every artefact of a resume, in an order that keeps the directory consistent.

The checkpoint comes first and report.json last, and a report.json left by an earlier run in
the same --out is removed before the new checkpoint replaces the one it describes: whatever
stops the writing (a kill, a full disk), a directory that holds a report.json holds the
checkpoint that report describes. When writing fails (OutputError, exit 2), a directory this
run created and left empty is removed, and the message says which complete files were written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.atomic import TEMP_PREFIX, write_text
from plateau_cli.errors import OutputError
from plateau_cli.outputs import (
    CONTINUE_DIR,
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
from plateau_cli.run.interrupt import signals_ignored


def write_artefacts(
    report: ResumeReport,
    handle: ModelHandle,
    out_dir: Path,
    started: float,
    continuation: Callable[[Path], None] | None = None,
) -> ResumeReport:
    """Checkpoint first, report.json last; Ctrl-C cannot cut this in half.

    `continuation` (an interrupted run) writes the continuation checkpoint into `.continue/`
    before anything else; a run that completes removes a `.continue/` left by an earlier one.
    """
    with signals_ignored():
        created = not out_dir.exists()
        written: list[str] = []
        try:
            return _write(report, handle, out_dir, started, written, continuation)
        except OutputError as exc:
            if created and not written:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()  # only if empty: nothing of ours, nothing of anyone's
            if not written:
                raise
            raise OutputError(
                f"{exc.message}; complete so far in {out_dir}: {', '.join(written)}"
                f" (no {REPORT_JSON})"
            ) from exc


def _write(
    report: ResumeReport,
    handle: ModelHandle,
    out_dir: Path,
    started: float,
    written: list[str],
    continuation: Callable[[Path], None] | None,
) -> ResumeReport:
    ensure_out_dir(out_dir)
    try:
        # The earlier save's report goes first, then its other descriptions: a kill from here
        # on never leaves an old report.json or report.md beside the new checkpoint.
        for name in (REPORT_JSON, REPORT_MD, CURVES_PNG):
            (out_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot replace {out_dir / REPORT_JSON}: {exc.strerror or exc}; choose another --out"
        ) from exc
    if continuation is not None:
        continuation(out_dir)
        written.append(CONTINUE_DIR)
    checkpoint = out_dir / handle.checkpoint_name()
    handle.save(checkpoint, epochs_done=len(report.history))
    written.append(checkpoint.name)
    report = dataclasses.replace(
        report,
        output=FileRef(checkpoint, sha256_of(checkpoint), handle.format),
        duration_s=time.monotonic() - started,
    )
    write_history_csv(out_dir / HISTORY_CSV, report.history)
    written.append(HISTORY_CSV)
    write_curves(out_dir / CURVES_PNG, report)
    written.append(CURVES_PNG)
    write_markdown(out_dir / REPORT_MD, report)
    written.append(REPORT_MD)
    write_text(out_dir / REPORT_JSON, json.dumps(to_json(report), indent=2, allow_nan=False) + "\n")
    if continuation is None:
        _remove_continue(out_dir)
    return report


def _remove_continue(out_dir: Path) -> None:
    """Drop `.continue/` (the recovery points included) in one rename, then delete it: a kill
    meanwhile leaves a temporary folder the next run clears, never half a recovery point."""
    folder = out_dir / CONTINUE_DIR
    if not folder.exists():
        return
    doomed = out_dir / f"{TEMP_PREFIX}continue-{os.getpid()}"
    try:
        os.rename(folder, doomed)
    except OSError:
        doomed = folder
    shutil.rmtree(doomed, ignore_errors=True)
