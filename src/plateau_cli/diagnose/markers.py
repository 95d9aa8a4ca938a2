"""The epochs worth pointing at on a plot: best epoch, plateau start, divergence, ...

Shared by the terminal chart and the PNG so both mark the same epochs with the same letters.
"""

from __future__ import annotations

from dataclasses import dataclass

from plateau_cli.diagnose.base import Diagnosis, FindingKind
from plateau_cli.diagnose.series import best_position
from plateau_cli.monitor import Mode

_STALL = (FindingKind.PLATEAU, FindingKind.UNDERFITTING, FindingKind.CONVERGED)


@dataclass(frozen=True)
class Marker:
    epoch: int
    letter: str
    meaning: str


def markers(diagnosis: Diagnosis) -> list[Marker]:
    """Markers sorted by epoch: B best monitored epoch, P plateau start, O overfitting start,
    D divergence, S swings start, F accuracy frozen from."""
    out: list[Marker] = []
    series = diagnosis.history.get(diagnosis.monitor.metric)
    if series is not None:
        best = best_position(series.values, diagnosis.monitor.mode is Mode.MAX)
        if best is not None:
            out.append(Marker(int(series.index[best]), "B", f"best {diagnosis.monitor.metric}"))
    for finding in diagnosis.findings:
        if finding.epoch_start is None:
            continue
        if finding.kind in _STALL:
            out.append(Marker(finding.epoch_start, "P", f"{finding.kind.value} from"))
        elif finding.kind is FindingKind.OVERFITTING:
            out.append(Marker(finding.epoch_start, "O", "overfitting from"))
        elif finding.kind is FindingKind.DIVERGENCE:
            out.append(Marker(finding.epoch_start, "D", "divergence"))
        elif finding.kind is FindingKind.OSCILLATION:
            out.append(Marker(finding.epoch_start, "S", "swings from"))
        elif finding.kind is FindingKind.MAJORITY_CLASS:
            out.append(Marker(finding.epoch_start, "F", "accuracy frozen from"))
    return sorted(out, key=lambda m: (m.epoch, m.letter))
