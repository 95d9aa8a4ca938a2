"""What a single flipped bit in a torch checkpoint turns into: how many are caught, and how.

Flips one random bit of sample_models/torch/lr/checkpoint.pt, N times (seeded), and loads each
copy the way `inspect`/`resume` do (`load_torch_file`, safe mode). Prints how many loaded
without complaint (the flip hit tensor bytes, which torch never checks against the zip's
CRC), how many were called damaged, and how many were called a safe-loader refusal (the
misleading message issue 12 removed: it should be 0).

    python benchmarks/bit_flips.py            # 300 flips, seed 0
    python benchmarks/bit_flips.py --flips 1000 --seed 1
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "sample_models" / "torch" / "lr" / "checkpoint.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from plateau_cli.adapters.torch.loading import load_torch_file
    from plateau_cli.errors import CorruptCheckpointError, UnsafeCheckpointError

    good = CHECKPOINT.read_bytes()
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flipped.pt"
        for _ in range(args.flips):
            data = bytearray(good)
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            path.write_bytes(bytes(data))
            try:
                load_torch_file(path, trust_pickle=False)
                outcomes["loaded without complaint (tensor bytes: torch checks no CRC)"] += 1
            except UnsafeCheckpointError:
                outcomes["called a safe-loader refusal"] += 1
            except CorruptCheckpointError as exc:
                kind = "CRC" if "CRC" in exc.message else "other damage"
                outcomes[f"called damaged ({kind})"] += 1
    size = f"{len(good):,} bytes"
    print(f"{args.flips} single-bit flips of {CHECKPOINT.name} ({size}), seed {args.seed}")
    for outcome, count in outcomes.most_common():
        print(f"  {count:5d}  {outcome}")
    if "called a safe-loader refusal" not in outcomes:
        print(f"  {0:5d}  called a safe-loader refusal")


if __name__ == "__main__":
    main()
