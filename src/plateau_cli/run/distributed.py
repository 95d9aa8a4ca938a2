"""Running under a launcher with several processes: who am I, and may I write?

`torchrun` (and `python -m torch.distributed.run`) starts one process per device and tells each
its place through environment variables: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT. Reading them needs no framework, so the command line can silence the other ranks
before anything prints, and the core can ask `is_main()` before it writes. A run without these
variables (or with WORLD_SIZE=1) is the ordinary one-process run, untouched.

Only rank 0 prints and writes: every rank trains, evaluates and decides the same way (the
metrics are averaged over the ranks), so rank 0's report is the job's report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from plateau_cli.errors import ExitStatus, PlateauError

_REQUIRED = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(PlateauError):
    """Another rank died, or the process group could not be formed (exit 2, nothing written)."""

    exit_status = ExitStatus.BAD_INPUT


@dataclass(frozen=True)
class Launch:
    """This process's place in a multi-process job, as the launcher set it."""

    rank: int
    world_size: int
    local_rank: int
    master: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect(environ: Mapping[str, str] | None = None) -> Launch | None:
    """The launch this process belongs to, or None for an ordinary one-process run.

    A WORLD_SIZE of 1 (torchrun --nproc_per_node=1) is a one-process run: no process group,
    the same code path and numbers as without the launcher.
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return None
    missing = [name for name in _REQUIRED if not env.get(name)]
    if missing:
        raise DistributedError(
            f"WORLD_SIZE is set but {', '.join(missing)} is not: start several processes with"
            " torchrun (python -m torch.distributed.run), which sets all of them"
        )
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
        local = int(env.get("LOCAL_RANK", env["RANK"]))
    except ValueError as exc:
        raise DistributedError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc})") from exc
    if world < 1 or not 0 <= rank < world:
        raise DistributedError(f"RANK {rank} is not within WORLD_SIZE {world}")
    if world == 1:
        return None
    return Launch(rank, world, local, f"{env['MASTER_ADDR']}:{env['MASTER_PORT']}")


def is_main() -> bool:
    """True in a one-process run and on rank 0: the process that prints and writes."""
    launch = detect_quietly()
    return launch is None or launch.is_main


def detect_quietly() -> Launch | None:
    """`detect`, with a malformed environment taken as one process (the error comes later,
    where the framework is set up and the user sees it)."""
    try:
        return detect()
    except DistributedError:
        return None


def silence_other_ranks() -> None:
    """Point stdout and stderr of every rank but 0 at /dev/null, at the descriptor level.

    Called first thing by the command line: progress bars, the summary, warnings from the
    frameworks and error lines then come once, from rank 0, instead of interleaved N times.
    """
    launch = detect_quietly()
    if launch is None or launch.is_main:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
            os.dup2(null, stream.fileno())
        except (OSError, ValueError):
            continue  # a stream without a descriptor (captured by a test): leave it
    os.close(null)


def check_global_batch(batch_size: int, launch: Launch) -> None:
    """--batch-size is the global batch: each step takes that many samples across all ranks,
    so a run gives the same updates, learning rate and report on 1 or N processes."""
    if batch_size < launch.world_size:
        raise DistributedError(
            f"--batch-size {batch_size} is the global batch, split across {launch.world_size}"
            f" processes; it must be at least {launch.world_size}"
        )


def refuse_several_processes(command: str) -> None:
    """Commands that do not run data-parallel yet say so before any work (exit 2)."""
    launch = detect()
    if launch is not None:
        raise DistributedError(
            f"{command} runs in one process; start it without torchrun (only resume runs on"
            f" {launch.world_size} processes)"
        )
