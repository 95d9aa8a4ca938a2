"""`--device auto|cpu|cuda|mps`: one place decides where the model and its optimizer live."""

from __future__ import annotations

import re

import torch

from plateau_cli.errors import UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when there is one, else Apple's MPS, else the CPU.

    Asking for a device that is not there is a usage error rather than a silent fall-back to
    the CPU: a run the user expected on a GPU would otherwise take hours without a word.
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = _CUDA_INDEX.match(name)
    if name == "cuda" or match:
        if not torch.cuda.is_available():
            raise UsageError(
                f"--device {name}: this torch build or machine has no CUDA device"
                f" (torch {torch.__version__}); use --device cpu or --device auto"
            )
        if match and int(match.group(1)) >= torch.cuda.device_count():
            raise UsageError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise UsageError("--device mps: Apple's MPS backend is not available here; use cpu")
        return torch.device("mps")
    raise UsageError(
        f"--device must be one of {', '.join(DEVICE_CHOICES)} (or cuda:N). Received: {name!r}"
    )


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
