"""TorchScript archives whose code writes files: proof that loading one runs code.

`torch.from_file(path, shared=True, size=n)` creates `path` (n zero bytes, mapped shared), and
writing into the returned tensor writes the file. The first payload only creates a marker file;
the second writes a `.pth` file into a directory the test treats as site-packages: Python runs
the `import` lines of every `.pth` file there at start-up, so a TorchScript file that can write
one has arbitrary Python code execution on the next `python` the user starts.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def _scripted(module: Any, path: Path) -> Path:
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.jit.script(module).save(str(path))
    return path


def marker_archive(path: Path, marker: Path) -> Path:
    """A 64 -> 10 linear model whose forward first creates `marker` (16 zero bytes)."""
    import torch

    class MarkerNet(torch.nn.Module):
        def __init__(self, marker: str) -> None:
            super().__init__()
            self.marker = marker
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Used in the result: TorchScript drops an op whose output nobody reads.
            mapped = torch.from_file(self.marker, shared=True, size=16, dtype=torch.uint8)
            return self.fc(x) + mapped[:1].float() * 0

    return _scripted(MarkerNet(str(marker)), path)


def pth_archive(path: Path, site: Path, marker: Path) -> Path:
    """An archive whose forward writes site/plateau_payload.pth; that line creates `marker`."""
    import torch

    class PthWriterNet(torch.nn.Module):
        def __init__(self, target: str, payload: bytes) -> None:
            super().__init__()
            self.target = target
            self.payload = list(payload)
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            size = len(self.payload)
            mapped = torch.from_file(self.target, shared=True, size=size, dtype=torch.uint8)
            mapped.copy_(torch.tensor(self.payload, dtype=torch.uint8))
            return self.fc(x) + mapped[:1].float() * 0

    line = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
    return _scripted(PthWriterNet(str(site / "plateau_payload.pth"), line.encode()), path)
