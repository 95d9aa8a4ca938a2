"""Regenerate every sample model, its data, its training log and the figures in README.md.

    python sample_models/make_samples.py                      # everything (~1 min on 2 cores)
    python sample_models/make_samples.py --only widen --framework torch
    python sample_models/make_samples.py --no-checks          # skip the continue/lr checks

Each framework trains in a process of its own (torch and TensorFlow in one process can crash
on import, and a crash here should not take the other framework's samples with it). Seeds,
threads and kernels are fixed, so a re-run on the same machine writes the same weights; another
CPU can round differently, which is why the scenario checks below run every time: the script
exits 1, after writing everything, when a sample no longer shows the plateau README promises.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from readme_tables import figures_table, replace_block, samples_table
from scenarios import (
    BY_NAME,
    CHECK_EPOCHS,
    DIGITS,
    DIGITS_IMAGES,
    DIGITS_IMAGES_NCHW,
    DIGITS_SMALL,
    SCENARIOS,
    Scenario,
)

ROOT = Path(__file__).resolve().parent
FRAMEWORKS = ("keras", "torch")
FIGURES = ROOT / "figures.json"
README = ROOT / "README.md"
VAL_SHARE = 0.2
SPLIT_SEED = 0
SMALL_PER_CLASS = 12
#: Which 120 digits make the small training set. Subsets differ a lot at 12 a class (val_loss
#: 0.29-0.44 for the same model); this one is close to what FINDINGS §3 measured.
SMALL_SUBSET_SEED = 2
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same arrays give the same bytes


def write_bytes(path: Path, payload: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(payload)
    os.replace(partial, path)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """numpy.savez_compressed with fixed timestamps (numpy stamps the current time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    write_bytes(path, buffer.getvalue())


def prepare_data(folder: Path) -> None:
    """Digits from scikit-learn (shipped inside the package), scaled to [0, 1], split 80/20."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=VAL_SHARE, random_state=SPLIT_SEED, stratify=y
    )
    rng = np.random.default_rng(SMALL_SUBSET_SEED)
    small = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(y_train == c), SMALL_PER_CLASS, replace=False)
                for c in range(10)
            ]
        )
    )
    folder.mkdir(parents=True, exist_ok=True)
    write_npz(
        folder / DIGITS, {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}
    )
    write_npz(
        folder / DIGITS_SMALL,
        {"x_train": x_train[small], "y_train": y_train[small], "x_val": x_val, "y_val": y_val},
    )
    for name, shape in ((DIGITS_IMAGES, (-1, 8, 8, 1)), (DIGITS_IMAGES_NCHW, (-1, 1, 8, 8))):
        arrays = {"x_train": x_train.reshape(shape), "x_val": x_val.reshape(shape)}
        write_npz(folder / name, {**arrays, "y_train": y_train, "y_val": y_val})


def run_worker(framework: str, names: list[str], checks: bool) -> list[dict[str, Any]]:
    """Train one framework's samples in a child process; its results come back as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", framework]
        command += ["--results", str(results), *(f"--only={n}" for n in names)]
        command += [] if checks else ["--no-checks"]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, env=env, check=False)
        if done.returncode != 0:
            sys.exit(f"error: the {framework} worker failed (exit {done.returncode}); see above")
        return json.loads(results.read_text())


def summarize(result: dict[str, Any], checks: bool) -> dict[str, Any]:
    history = result["history"]
    last = history[-1]
    best = min(history, key=lambda row: row["val_loss"])
    scenario = BY_NAME[result["scenario"]]
    folder = ROOT / result["framework"] / scenario.name
    model = folder / ("model.keras" if result["framework"] == "keras" else "checkpoint.pt")
    units = result["inactive_units"]
    figures: dict[str, Any] = {
        "file": str(model.relative_to(ROOT.parent)),
        "size_bytes": model.stat().st_size,
        "params": result["params"],
        "trainable_params": result["trainable_params"],
        "epochs": len(history),
        "train_loss": last["loss"],
        "val_loss": last["val_loss"],
        "val_accuracy": last["val_accuracy"],
        "best_val_loss": best["val_loss"],
        "best_epoch": best["epoch"],
        "inactive_units": None if units is None else f"{units[0]}/{units[1]}",
    }
    for name, rows in result["checks"].items():
        figures[name] = {
            "epochs": len(rows),
            "best_val_loss": min(row["val_loss"] for row in rows),
            "final_val_loss": rows[-1]["val_loss"],
            "best_val_accuracy": max(row["val_accuracy"] for row in rows),
            "final_train_loss": rows[-1]["loss"],
        }
    if not checks:
        figures["continue"] = figures["lr_x0.1"] = None
    return figures


def expectations(scenario: Scenario, f: dict[str, Any]) -> list[str]:
    """What README promises about a sample, as (failed) sentences."""
    failed = []
    units = f["inactive_units"]
    inactive, width = map(int, units.split("/")) if units else (0, 0)
    if f["size_bytes"] >= 2 * 1024 * 1024:
        failed.append(f"{f['file']} is {f['size_bytes']} bytes, over 2 MB")
    cont, decayed = f.get("continue"), f.get("lr_x0.1")
    if cont and cont["best_val_loss"] < 0.9 * f["best_val_loss"]:
        failed.append(
            f"continuing unchanged beat the run's best val_loss by over 10%"
            f" ({cont['best_val_loss']:.3f} vs {f['best_val_loss']:.3f}): not stalled"
        )
    if scenario.name == "lr":
        if inactive > width // 2:
            failed.append(f"{units} hidden units inactive: a dead-unit plateau, not an lr one")
        if cont and decayed and decayed["best_val_loss"] > cont["best_val_loss"] - 0.03:
            failed.append("lr x0.1 does not clearly beat continuing unchanged")
    if scenario.name == "widen" and inactive:
        failed.append(f"{units} bottleneck units are dead: a dead-unit plateau, not a capacity one")
    if scenario.name == "augment" and not (
        f["train_loss"] < 0.01 and f["val_loss"] > f["best_val_loss"]
    ):
        failed.append("not overfit: training loss over 0.01 or val_loss not past its minimum")
    if scenario.name == "dead" and inactive < 0.75 * width:
        failed.append(f"only {units} ReLU units dead (expected most of them)")
    return failed


def render_readme(figures: dict[str, Any]) -> None:
    from readme_tables import figures_table

    text = README.read_text(encoding="utf-8")
    text = replace_block(text, "samples", samples_table())
    text = replace_block(text, "figures", figures_table(figures))
    write_bytes(README, text.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(BY_NAME), help="a scenario")
    parser.add_argument("--framework", choices=FRAMEWORKS, help="one framework only")
    parser.add_argument(
        "--no-checks", action="store_true", help=f"skip the {CHECK_EPOCHS}-epoch checks"
    )
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = args.only or [s.name for s in SCENARIOS]
    checks = not args.no_checks
    if args.worker:  # in the child process
        module = __import__(f"{args.worker}_samples")
        results = module.run([BY_NAME[n] for n in names], ROOT, checks)
        args.results.write_text(json.dumps(results))
        return 0
    started = time.perf_counter()
    prepare_data(ROOT / "data")
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    failed: list[str] = []
    for framework in [args.framework] if args.framework else FRAMEWORKS:
        print(f"{framework}: {', '.join(names)}", flush=True)
        for result in run_worker(framework, names, checks):
            key = f"{framework}/{result['scenario']}"
            figures[key] = summarize(result, checks)
    for key, f in sorted(figures.items()):
        failed += [f"{key}: {m}" for m in expectations(BY_NAME[key.split("/")[1]], f)]
    ordered = {
        f"{fw}/{s.name}": figures[f"{fw}/{s.name}"]
        for s in SCENARIOS
        for fw in FRAMEWORKS
        if f"{fw}/{s.name}" in figures
    }
    write_bytes(FIGURES, (json.dumps(ordered, indent=2) + "\n").encode("utf-8"))
    render_readme(ordered)
    print(figures_table(ordered))
    print(f"done in {time.perf_counter() - started:.0f} s")
    for line in failed:
        print(f"warning: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
