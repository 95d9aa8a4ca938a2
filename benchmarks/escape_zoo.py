"""Does anything escape each plateau of the development zoo, and does auto pick it?

For every zoo plateau (benchmarks/zoo/make_zoo.py; torch MLPs), from the same checkpoint, for
the same epochs and seeds, through plateau-cli's own resume pipeline (in-process):

  continue      nothing changed (the control)
  reduce-lr     ReduceLROnPlateau from the restored rate (factor 0.1, patience 2)
  <strategy>    every strategy with its defaults (a refusal counts as "does not apply")
  auto          --strategy auto with the plateau's log
  trial         `plateau-cli trial` racing all nine strategies and the control for the same
                epochs (successive halving; the winner's checkpoint is the arm's result)

Judged on best validation loss, except class imbalance, judged on balanced accuracy (computed
here from the written checkpoint for every arm alike). escape = better than continue by more
than the seed spread and 2%. auto's rules were tuned on the `tune` half of the data sets
(breast_cancer, digits); the table reports both halves separately.

    python benchmarks/zoo/make_zoo.py
    python benchmarks/escape_zoo.py --epochs 5 --seeds 0,1,2 --json zoo.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "benchmarks" / "zoo" / "generated"
STRATEGIES = (
    "lr-decay", "augment", "widen", "unfreeze", "lr-find", "rebalance", "normalize", "revive",
    "regularize",
)  # fmt: skip


def run_arm(entry: dict, arm: str, seed: int, epochs: int, tmp: Path) -> dict[str, Any]:
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.errors import PlateauError
    from plateau_cli.run.resume import ResumeRequest, run_resume

    where = Path(entry["dir"])
    strategy, options = arm, {}
    if "@" in arm:  # a strategy with options: rebalance@rebalance_mode=sample+smoothing=sqrt
        strategy, given = arm.split("@", 1)
        options = dict(pair.split("=", 1) for pair in given.split("+"))
    if arm == "reduce-lr":
        strategy, options = "lr-decay", {"lr": entry["lr"], "schedule": "plateau"}
    out = tmp / f"{where.name}-{arm}-{seed}"
    keras = entry.get("family") == "keras"
    load = (
        LoadOptions()
        if keras
        else LoadOptions(model_factory=entry["factory"], factory_args=entry["args"])
    )
    request = ResumeRequest(
        model=where / entry.get("model", "checkpoint.pt"),
        strategy="continue" if arm == "trial" else strategy,
        data=str(where / "data.npz"),
        strategy_options=options,
        epochs=epochs,
        patience=None,
        seed=seed,
        out=out,
        load=load,
        # auto reads the log; regularize rolls back to its best epoch (epoch_N.pt beside).
        log=where / "train_log.jsonl" if strategy in ("auto", "regularize") else None,
    )
    if arm == "trial":
        return _trial(entry, request, epochs, out)
    try:
        report = run_resume(request)
    except PlateauError as exc:
        return {"applies": False, "reason": exc.message}
    chosen = report.auto.get("chosen") if report.auto else None
    return {
        "applies": True,
        "val_loss": float(report.best.get("val_loss", float("nan"))),
        "balanced": _balanced(entry, out),
        "chosen": chosen,
    }


def _trial(entry: dict, request: Any, epochs: int, out: Path) -> dict[str, Any]:
    """The race over every strategy; its result is the winner's (best) checkpoint, as a user
    who runs `plateau-cli trial` keeps it."""
    from plateau_cli.errors import PlateauError
    from plateau_cli.run.trial import DEFAULT_STRATEGIES, run_trial

    try:
        result = run_trial(request, DEFAULT_STRATEGIES, epochs)
    except PlateauError as exc:
        return {"applies": False, "reason": exc.message}
    best = result.winner.report.best if result.winner.report else {}
    return {
        "applies": True,
        "val_loss": float(best.get("val_loss", float("nan"))),
        "balanced": _balanced(entry, out),
        "chosen": result.winner.name,
    }


def _balanced(entry: dict, out: Path) -> float:
    """Balanced accuracy of the written (best) checkpoint on the validation split (computed
    for the imbalance plateaus only, the ones scored on it)."""
    import numpy as np

    if entry["kind"] != "imbalance":
        return float("nan")
    data = np.load(Path(entry["dir"]) / "data.npz")
    if entry.get("family") == "keras":
        import keras

        files = list(out.glob("*.keras"))
        if not files:
            return float("nan")
        model = keras.models.load_model(files[0], compile=False)
        predicted = np.asarray(model.predict(data["x_val"], verbose=0)).argmax(1)
    else:
        import torch

        from plateau_cli import entry_points

        sys.path.insert(0, str(ROOT / "benchmarks" / "zoo"))
        from nets import args_from_state

        files = list(out.glob("*.pt"))
        if not files:
            return float("nan")
        state = torch.load(files[0], weights_only=True)
        state = state.get("model_state_dict", state)
        name = entry["factory"].rsplit(":", 1)[1]
        args = args_from_state(name, state, entry["args"])  # widen grows a layer: its width
        model = entry_points.call(entry["factory"], "--model-factory", args)
        try:
            model.load_state_dict(state)
        except RuntimeError:
            return float("nan")
        with torch.no_grad():
            predicted = model(torch.tensor(data["x_val"])).argmax(1).numpy()
    truth = data["y_val"]
    recalls = [float((predicted[truth == c] == c).mean()) for c in np.unique(truth)]
    return float(np.mean(recalls))


def score(kind: str, r: dict) -> float:
    """Lower is better: val_loss, or 1 - balanced accuracy for the imbalance plateaus."""
    return 1 - r["balanced"] if kind == "imbalance" else r["val_loss"]


def summarize(rows: list[dict]) -> tuple[str, dict[str, Any]]:
    arms = ["continue", "reduce-lr", *STRATEGIES, "auto", "trial"]
    lines = [
        "| plateau | data (half) | continue | best arm | escapes | auto chose | auto |",
        "|---|---|---|---|---|---|---|",
    ]
    totals = {"escapable": 0, "auto_escapes": 0, "auto_worse": 0, "auto_vs_random": []}
    for entry in rows:
        kind, runs = entry["kind"], entry["runs"]
        control = [score(kind, r) for r in runs["continue"]]
        c_mean = statistics.mean(control)
        escapes, means = [], {}
        for arm in arms[1:]:
            got = [r for r in runs.get(arm, []) if r["applies"]]
            if len(got) < len(control):
                continue
            values = [score(kind, r) for r in got]
            mean = statistics.mean(values)
            means[arm] = mean
            spread = max(
                (statistics.stdev(v) for v in (values, control) if len(v) > 1), default=0.0
            )
            if c_mean - mean > max(spread, 0.02 * abs(c_mean)):
                escapes.append(arm)
        auto_runs = runs.get("auto", [])
        chosen = sorted({r.get("chosen") or "-" for r in auto_runs if r["applies"]}) or ["none"]
        picks = [means[a] for a in STRATEGIES if a in means]
        esc = [a for a in escapes if a not in ("auto", "trial")]
        if esc:
            totals["escapable"] += 1
            totals["auto_escapes"] += "auto" in escapes
        if "auto" in means:
            spread = statistics.stdev(control) if len(control) > 1 else 0.0
            totals["auto_worse"] += means["auto"] - c_mean > max(spread, 0.02 * abs(c_mean))
            if picks:
                totals["auto_vs_random"].append(statistics.mean(picks) - means["auto"])
        best = min(means, key=means.get) if means else "-"
        lines.append(
            f"| {kind} | {entry['dataset']} ({entry['half']}) | {c_mean:.3f} |"
            f" {best} {means.get(best, float('nan')):.3f} | {', '.join(esc) or 'nothing'} |"
            f" {', '.join(chosen)} | {means.get('auto', float('nan')):.3f}"
            f"{' (escapes)' if 'auto' in escapes else ''} |"
        )
    return "\n".join(lines), totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=ZOO)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--kinds", default=None)
    parser.add_argument("--entries", default=None, help="comma-separated KIND--DATASET names")
    parser.add_argument("--arms", default=None, help="comma-separated; default: all")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    manifest = json.loads((args.zoo / "manifest.json").read_text())
    if args.kinds:
        manifest = [e for e in manifest if e["kind"] in args.kinds.split(",")]
    if args.entries:
        manifest = [
            e for e in manifest if f"{e['kind']}--{e['dataset']}" in args.entries.split(",")
        ]
    default = ["continue", "reduce-lr", *STRATEGIES, "auto", "trial"]
    arms = args.arms.split(",") if args.arms else default
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in manifest:
            runs = {
                arm: [run_arm(entry, arm, s, args.epochs, Path(tmp)) for s in seeds] for arm in arms
            }
            rows.append({**entry, "runs": runs})
            print(f"{entry['kind']} {entry['dataset']} done", file=sys.stderr, flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1, default=str))
    table, totals = summarize(rows)
    print(table)
    gain = totals.pop("auto_vs_random")
    print(
        f"\nplateaus some arm escapes: {totals['escapable']}; auto escapes"
        f" {totals['auto_escapes']} of them; auto worse than continue (beyond spread):"
        f" {totals['auto_worse']}; auto minus random pick (val score, + = auto better):"
        f" {statistics.mean(gain) if gain else float('nan'):+.4f} over {len(gain)} plateaus"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
