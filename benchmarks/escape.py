"""Does each strategy escape its plateau? Measured against continuing unchanged.

For every sample scenario (sample_models/) and framework, from the same checkpoint, for the
same epochs and seeds:

  (a) continue      the framework's own loop, nothing changed (the control)
  (b) reduce-lr     the framework's own ReduceLROnPlateau (factor 0.1, patience 2) alone
  (c) <strategy>    `plateau-cli resume --strategy <strategy>` with its defaults

and prints the best validation loss and accuracy, the gain over (a) with its seed-to-seed spread,
and the escape rate: the share of scenarios where the matching strategy beats (a) by more than
the spread. `--all-strategies` runs every strategy on every scenario (the ground truth that
`--strategy auto` is checked against).

    python benchmarks/escape.py                        # the README's table (several minutes)
    python benchmarks/escape.py --all-strategies --json results.json
    python benchmarks/escape.py --quick                # tiny: the smoke test
    python benchmarks/escape.py --scenarios dead --strategies revive,augment,auto \
        --update benchmarks/results/escape.json       # re-measure some arms, keep the rest

Each framework runs in a subprocess of its own (torch and TensorFlow in one process is fragile).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
#: The arms of --all-strategies: the original four, measured on every sample.
STRATEGIES = ("lr-decay", "augment", "widen", "unfreeze")
#: Every arm `--strategies` may name (auto included: its choice, measured like a strategy).
ARMS = (*STRATEGIES, "lr-find", "normalize", "rebalance", "regularize", "revive", "auto")
BATCH_SIZE = 32


def _load(name: str) -> ModuleType:
    """sample_models/*.py by path (sample_models is no package)."""
    sys.path.insert(0, str(SAMPLES))
    spec = importlib.util.spec_from_file_location(name, SAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- the plain framework loops: (a) and (b) -------------------------------------------------------


def keras_plain(scenario: Any, seed: int, epochs: int, reduce_lr: bool) -> dict[str, float]:
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    data = np.load(SAMPLES / "data" / scenario.keras_data)
    model = keras.models.load_model(SAMPLES / "keras" / scenario.name / "model.keras")
    callbacks = (
        [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=2, verbose=0)]
        if reduce_lr
        else []
    )
    history = model.fit(
        data["x_train"],
        data["y_train"],
        batch_size=BATCH_SIZE,
        epochs=epochs,
        validation_data=(data["x_val"], data["y_val"]),
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    ).history
    return _summary(history["val_loss"], history["val_accuracy"], history["loss"])


def torch_plain(scenario: Any, seed: int, epochs: int, reduce_lr: bool) -> dict[str, float]:
    import numpy as np
    import torch

    samples = _load("torch_samples")
    torch.manual_seed(seed)
    data = dict(np.load(SAMPLES / "data" / scenario.torch_data))
    saved = torch.load(SAMPLES / "torch" / scenario.name / "checkpoint.pt", weights_only=True)
    model = samples.build(scenario)
    model.load_state_dict(saved["model_state_dict"])
    params = samples.trained_parameters(scenario, model)
    optimizer = samples.make_optimizer(scenario.optimizer, params, scenario.torch.lr)
    optimizer.load_state_dict(saved["optimizer_state_dict"])
    generator = torch.Generator().manual_seed(seed)
    if not reduce_lr:
        rows = samples.train(model, optimizer, data, epochs, generator)
    else:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=2)
        rows = []
        for _ in range(epochs):
            row = samples.train(model, optimizer, data, 1, generator)[0]
            scheduler.step(row["val_loss"])
            rows.append(row)
    return _summary(
        [r["val_loss"] for r in rows], [r["val_accuracy"] for r in rows], [r["loss"] for r in rows]
    )


def _summary(val_loss: list[float], val_acc: list[float], loss: list[float]) -> dict[str, float]:
    return {
        "best_val_loss": float(min(val_loss)),
        "best_val_accuracy": float(max(val_acc)),
        "final_train_loss": float(loss[-1]),
    }


# -- plateau-cli: (c) ------------------------------------------------------------------------------


def plateau(framework: str, scenario: Any, strategy: str, seed: int, epochs: int) -> dict:
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.run.resume import ResumeRequest, run_resume

    if framework == "keras":
        model, data = SAMPLES / "keras" / scenario.name / "model.keras", scenario.keras_data
        load = LoadOptions()
    else:
        model, data = SAMPLES / "torch" / scenario.name / "checkpoint.pt", scenario.torch_data
        load = LoadOptions(
            model_factory=f"{SAMPLES / 'torch' / 'nets.py'}:{scenario.factory}",
            factory_args={k: _literal(v) for k, v in scenario.factory_args},
        )
    with tempfile.TemporaryDirectory() as out:
        request = ResumeRequest(
            model=model,
            strategy=strategy,
            data=str(SAMPLES / "data" / data),
            epochs=epochs,
            batch_size=BATCH_SIZE,
            patience=None,  # same epochs for every arm
            seed=seed,
            out=Path(out) / "run",
            load=load,
        )
        report = run_resume(request)
    history = report.history
    return _summary(
        [r.metrics["val_loss"] for r in history],
        [r.metrics.get("val_accuracy", float("nan")) for r in history],
        [r.metrics["loss"] for r in history],
    )


def _literal(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def worker(
    framework: str, names: list[str], arms: list[str], seeds: list[int], epochs: int
) -> None:
    from plateau_cli.errors import PlateauError

    scenarios = _load("scenarios")
    if framework == "torch":
        import torch

        torch.set_num_threads(1)
    for name in names:
        scenario = scenarios.BY_NAME[name]
        for arm in arms:
            arm_name = scenario.strategy if arm == "matching" else arm
            if arm_name not in ("continue", "reduce-lr", *ARMS):
                continue
            for seed in seeds:
                row: dict[str, Any] = {"framework": framework, "scenario": name, "arm": arm_name}
                row["seed"] = seed
                try:
                    if arm_name in ("continue", "reduce-lr"):
                        plain = keras_plain if framework == "keras" else torch_plain
                        row |= plain(scenario, seed, epochs, arm_name == "reduce-lr")
                    else:
                        row |= plateau(framework, scenario, arm_name, seed, epochs)
                except PlateauError as exc:  # e.g. unfreeze on a model with nothing frozen
                    row["error"] = str(exc)
                print(json.dumps(row), flush=True)


# -- the table -------------------------------------------------------------------------------


def summarize(rows: list[dict[str, Any]], matching: dict[str, str]) -> str:
    groups: dict[tuple[str, str], dict[str, dict[int, dict]]] = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["framework"]), {}).setdefault(r["arm"], {})[
            r["seed"]
        ] = r
    lines = [
        f"{'scenario':<10}{'framework':<10}{'arm':<11}{'best val_loss':>15}{'val_acc':>9}"
        f"{'gain vs (a)':>14}{'spread':>8}  escaped",
    ]
    escapes: list[bool] = []
    for (scenario, framework), arms in sorted(groups.items()):
        control = arms.get("continue", {})
        for arm, by_seed in sorted(arms.items(), key=lambda kv: _arm_order(kv[0])):
            ok = [r for r in by_seed.values() if "error" in r]
            if ok:
                lines.append(f"{scenario:<10}{framework:<10}{arm:<11}  n/a: {ok[0]['error'][:60]}")
                continue
            losses = [r["best_val_loss"] for r in by_seed.values()]
            accs = [r["best_val_accuracy"] for r in by_seed.values()]
            text = f"{scenario:<10}{framework:<10}{arm:<11}{_mean_sd(losses):>15}"
            text += f"{statistics.mean(accs):>9.3f}"
            if arm != "continue" and control:
                gains = [
                    control[s]["best_val_loss"] - r["best_val_loss"]
                    for s, r in by_seed.items()
                    if s in control
                ]
                mean_gain = statistics.mean(gains)
                spread = _spread(
                    gains, [control[s]["best_val_loss"] for s in by_seed if s in control], losses
                )
                escaped = mean_gain > spread
                text += f"{mean_gain:>+14.4f}{spread:>8.4f}  {'yes' if escaped else 'no'}"
                if arm == matching.get(scenario):
                    escapes.append(escaped)
                    text += "  <- matching strategy"
            lines.append(text)
    if escapes:
        lines.append(
            f"\nescape rate of the matching strategies: {sum(escapes)}/{len(escapes)}"
            f" ({100 * sum(escapes) / len(escapes):.0f}%)"
        )
    return "\n".join(lines)


def _updated(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`path`'s rows with this run's (framework, scenario, arm, seed) rows in their place."""

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["framework"], row["scenario"], row["arm"], row["seed"])

    new = {key(r): r for r in rows}
    kept = [r for r in json.loads(path.read_text()) if key(r) not in new]
    merged = kept + rows
    path.write_text(json.dumps(merged, indent=1) + "\n")
    return merged


def _arm_order(arm: str) -> tuple[int, str]:
    return ({"continue": 0, "reduce-lr": 1}.get(arm, 2), arm)


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f}±{sd:.4f}"


def _spread(gains: list[float], control: list[float], arm: list[float]) -> float:
    """Seed-to-seed spread: the larger of the gains' spread and either arm's own."""
    parts = [statistics.stdev(v) for v in (gains, control, arm) if len(v) > 1]
    return max(parts, default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--scenarios", default="lr,widen,unfreeze,augment,dead")
    parser.add_argument("--frameworks", default="keras,torch")
    parser.add_argument("--all-strategies", action="store_true", help="every strategy everywhere")
    parser.add_argument("--strategies", help=f"these arms (any of {', '.join(ARMS)})")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument(
        "--update", type=Path, help="replace these runs' rows in this JSON file, keep the rest"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.seeds, args.scenarios = 2, "0", "lr"
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.scenarios.split(",")
    if args.strategies:
        unknown = sorted(set(args.strategies.split(",")) - set(ARMS))
        if unknown:
            parser.error(f"unknown arms: {', '.join(unknown)}")
        chosen = args.strategies.split(",")
    else:
        chosen = list(STRATEGIES) if args.all_strategies else ["matching"]
    arms = ["continue", "reduce-lr", *chosen]
    if args.worker:
        worker(args.worker, names, arms, seeds, args.epochs)
        return 0
    scenarios = _load("scenarios")
    matching = {s.name: s.strategy for s in scenarios.SCENARIOS}
    rows: list[dict[str, Any]] = []
    for framework in args.frameworks.split(","):
        argv_ = [sys.executable, __file__, "--worker", framework, "--epochs", str(args.epochs)]
        argv_ += ["--seeds", args.seeds, "--scenarios", ",".join(names)]
        argv_ += ["--all-strategies"] if args.all_strategies else []
        argv_ += ["--strategies", args.strategies] if args.strategies else []
        proc = subprocess.run(argv_, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return proc.returncode
        rows += [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.update:
        rows = _updated(args.update, rows)
    print(f"best validation loss over {args.epochs} epochs, seeds {args.seeds} (mean±sd)")
    print(summarize(rows, matching))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
