"""The README table of the whole development zoo (torch MLPs, torch CNNs, Keras MLPs) from the
committed escape_zoo.py results, with what each file contributed (benchmarks/zoo/README.md; the
zoo15_* files, first, re-ran the arms the range-test change touched).

    python benchmarks/zoo_table.py

For the 17 torch MLP plateaus whose all-arms run was not repeated after this change (2 cores
shared; see the notes), the arms that did not change (every strategy but normalize and
regularize, and reduce-lr) are taken from the earlier all-arms run of the same zoo, seeds and
epochs (CPU runs reproduce number for number); their random pick is n/a.
"""

from __future__ import annotations

import statistics as st
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from escape_zoo import STRATEGIES, score
from zoo_merge import _merged

R = Path(__file__).resolve().parent / "results"
FILES = [
    "zoo15_mlp_auto.json", "zoo15_mlp.json", "zoo15_cnn_auto.json", "zoo15_cnn_curve.json",
    "zoo15_keras_auto.json", "zoo15_keras_frozen_bc.json", "zoo15_keras.json",
    "zoo_mlp_auto.json", "zoo_mlp_normalize.json", "zoo_mlp_final.json", "zoo_mlp_all_arms.json",
    "zoo_cnn_auto.json", "zoo_cnn_final.json", "zoo_cnn.json",
    "zoo_keras_final.json", "zoo_keras_a2.json", "zoo_keras_b.json", "zoo_keras.json",
    "zoo_keras_a.json", "zoo_mlp_trial.json", "zoo_cnn_trial.json", "zoo_keras_trial.json",
    "zoo_keras_rest.json",
]  # fmt: skip
#: Escapes of the unchanged arms in the earlier all-arms MLP run.
EARLIER = {
    ("too-low-lr", "breast_cancer"): "lr-find", ("too-low-lr", "wine"): "lr-find",
    ("imbalance", "digits"): "widen, lr-find, rebalance",
    ("imbalance", "classification"): "lr-decay, augment, lr-find, rebalance",
    ("unnormalised", "breast_cancer"): "widen", ("unnormalised", "wine"): "widen, revive",
    ("dead-units", "digits"): "widen, revive", ("dead-units", "classification"): "",
    ("vanishing", "breast_cancer"): "", ("vanishing", "wine"): "",
    ("small-overfit", "digits"): "", ("small-overfit", "classification"): "augment",
    ("bottleneck", "breast_cancer"): "augment, rebalance", ("bottleneck", "wine"): "lr-find",
    ("frozen-base", "digits"): "unfreeze", ("frozen-base", "classification"): "unfreeze",
    ("overfit-augment", "breast_cancer"): "augment", ("overfit-augment", "wine"): "widen",
    ("bouncing", "digits"): "augment", ("bouncing", "classification"): "augment",
    ("oscillation", "breast_cancer"): "augment", ("oscillation", "wine"): "augment",
    ("divergence", "digits"): "lr-decay, augment", ("divergence", "classification"): "augment",
}  # fmt: skip


def main() -> int:
    rows = _merged([str(R / f) for f in FILES if (R / f).exists()])
    totals: dict = {}
    print("| family | plateau | data (half) | continue | strategies that escape | auto chose |"
          " auto | random pick | trial (winners) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        kind, family = row["kind"], row.get("family", "mlp")
        runs = row["runs"]
        control = [score(kind, r) for r in runs["continue"]]
        c, spread = st.mean(control), st.stdev(control)

        def escapes(v: list[float], c: float = c, spread: float = spread) -> bool:
            return c - st.mean(v) > max(st.stdev(v), spread, 0.02 * abs(c))

        found, means = [], []
        for s in (s for s in STRATEGIES if s in runs):
            got = [score(kind, r) for r in runs[s] if r["applies"]]
            means.append(st.mean(got) if len(got) == len(control) else c)
            if len(got) == len(control) and escapes(got):
                found.append(s)
        complete = all(s in runs for s in STRATEGIES) or family != "mlp"
        if family == "mlp" and not all(s in runs for s in STRATEGIES):
            earlier = [s for s in EARLIER[(kind, row["dataset"])].split(", ") if s]
            found = sorted(set(found) | set(earlier), key=STRATEGIES.index)
        ran = [score(kind, r) for r in runs.get("auto", []) if r["applies"]]
        chosen = sorted({r.get("chosen") or "-" for r in runs.get("auto", []) if r["applies"]})
        auto = st.mean(ran) if len(ran) == len(control) else c
        auto_esc = len(ran) == len(control) and escapes(ran)
        pick = f"{st.mean(means):.3f}" if complete and means else "n/a"
        raced = [r for r in runs.get("trial", []) if r["applies"]]
        trial_esc = len(raced) == len(control) and escapes([score(kind, r) for r in raced])
        trial = (
            f"{st.mean(score(kind, r) for r in raced):.3f}{' (escapes)' if trial_esc else ''}"
            f" ({', '.join(sorted({r['chosen'] for r in raced}))})"
            if len(raced) == len(control)
            else "not run"
        )
        t = totals.setdefault((family, row["half"]), [0, 0, 0, 0, 0, 0])
        t[0] += 1
        t[1] += bool(found)
        t[2] += bool(found) and auto_esc
        t[3] += auto - c > max(spread, 0.02 * abs(c))
        t[4] += bool(found) and trial_esc
        t[5] += len(raced) == len(control)
        print(
            f"| {family} | {kind} | {row['dataset']} ({row['half']}) | {c:.3f} |"
            f" {', '.join(found) or 'nothing'} | {', '.join(chosen) or 'restart (no training)'} |"
            f" {auto:.3f}{' (escapes)' if auto_esc else ''} | {pick} | {trial} |"
        )
    print()
    print("| family | half | plateaus | some strategy escapes | auto escapes (of those) |"
          " auto worse than continue | trial escapes (of those) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (family, half), (n, esc, auto, worse, raced, ran) in sorted(totals.items()):
        trial = raced if ran else "not run"
        print(f"| {family} | {half} | {n} | {esc} | {auto} | {worse} | {trial} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
