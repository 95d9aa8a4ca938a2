"""Generate the development zoo: small torch MLPs stalled on purpose, 12 kinds of plateau, each
on two scikit-learn data sets (one in the half auto's rules were tuned on, one in the half they
are reported on), saved with optimizer state (`checkpoint.pt`) and their log
(`train_log.jsonl`), plus `manifest.json` naming factory arguments and the restored rate.

    python benchmarks/zoo/make_zoo.py                   # torch MLPs -> generated/, a minute
    python benchmarks/zoo/make_zoo.py --family cnn      # torch CNNs -> generated_cnn/
    python benchmarks/zoo/make_zoo.py --family keras    # Keras MLPs -> generated_keras/

The CNN and Keras families hold the kinds where the framework or the architecture matters
(too-low rate, imbalance, unnormalised inputs, bottleneck, frozen base), each on a tune and a
report data set: 8x8 digits images / synthetic shapes for the CNNs, breast_cancer / wine for
Keras.

The folder is ignored by git: regenerate it. Everything is seeded; CPU only.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch  # noqa: TID253
from torch import nn  # noqa: TID253

HERE = Path(__file__).resolve().parent
#: Data sets auto's rules were tuned on, and those they are reported on.
TUNE = ("breast_cancer", "digits", "digits_img")
REPORT = ("wine", "classification", "shapes")


def load(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    if name == "breast_cancer":
        d = datasets.load_breast_cancer()
        x, y = d.data, d.target
    elif name == "wine":
        d = datasets.load_wine()
        x, y = d.data, d.target
    elif name in ("digits", IMAGE_TUNE):
        d = datasets.load_digits()
        x, y = d.data, d.target
    elif name == IMAGE_REPORT:
        x, y = shapes(seed=seed)
    else:
        x, y = datasets.make_classification(
            1200, 20, n_informative=8, n_classes=4, n_clusters_per_class=1, random_state=seed
        )
    x = (x - x.mean(0)) / np.where(
        x.std(0) > 0, x.std(0), 1
    )  # standardised, except where a kind says
    return x.astype("float32"), y.astype("int64")


#: Image data sets for the CNN entries (8x8, one channel, NCHW for torch).
IMAGE_TUNE, IMAGE_REPORT = "digits_img", "shapes"
#: The kinds where the framework or the architecture matters (CNN and Keras entries).
FRAMEWORK_KINDS = ("too-low-lr", "imbalance", "unnormalised", "bottleneck", "frozen-base")


def shapes(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic 8x8 images of four shapes (horizontal bar, vertical bar, diagonal, square
    outline) at random places, with noise: a second image set that is not digits."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 8, 8), dtype=np.float64)
    y = rng.integers(0, 4, n)
    for i, c in enumerate(y):
        a, b = rng.integers(0, 4, 2)
        if c == 0:
            x[i, a + 2, b : b + 4] = 1
        elif c == 1:
            x[i, a : a + 4, b + 2] = 1
        elif c == 2:
            for k in range(4):
                x[i, a + k, b + k] = 1
        else:
            x[i, a : a + 4, b] = x[i, a : a + 4, b + 3] = 1
            x[i, a, b : b + 4] = x[i, a + 3, b : b + 4] = 1
    x += rng.normal(0, 0.3, x.shape)
    return x.reshape(n, 64), y


def split(
    x: np.ndarray, y: np.ndarray, seed: int, train: int | None = None
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    n = int(len(x) * 0.7) if train is None else train
    tr, va = idx[:n], idx[int(len(x) * 0.7) :]
    return {"x_train": x[tr], "y_train": y[tr], "x_val": x[va], "y_val": y[va]}


def imbalanced(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary: class 0 vs the rest, the rest cut to ~10%."""
    rng = np.random.default_rng(seed)
    y2 = (y != 0).astype("int64") if len(np.unique(y)) > 2 else y
    major = int(np.bincount(y2).argmax())
    minor_idx = np.flatnonzero(y2 != major)
    count = min(len(minor_idx), max(8, int((y2 == major).sum() / 9)))
    keep = rng.choice(minor_idx, count, replace=False)
    idx = np.concatenate([np.flatnonzero(y2 == major), keep])
    return x[idx], y2[idx]


#: kind -> how it is stalled. Each returns (data arrays, factory args, optimizer, epochs, extra)
def recipe(kind: str, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    classes = int(y.max()) + 1
    base = {"inputs": x.shape[1], "classes": classes, "hidden": 32}
    r: dict[str, Any] = {
        "data": split(x, y, seed),
        "args": base,
        "opt": ("adam", 1e-3),
        "epochs": 15,
    }
    if kind == "too-low-lr":
        r["opt"], r["epochs"] = ("sgd", 1e-4), 10
    elif kind == "imbalance":
        xi, yi = imbalanced(x, y, seed)
        r["data"] = split(xi, yi, seed)
        r["args"] = {**base, "classes": 2, "hidden": 4}
        r["opt"], r["epochs"] = ("sgd", 1e-3), 8
    elif kind == "unnormalised":
        r["data"] = split(x * 1000 + 2000, y, seed)
        r["opt"], r["epochs"] = ("sgd", 1e-6), 10
    elif kind == "dead-units":
        r["args"] = {**base, "hidden": 64}
        r["kill"] = 0.85
        r["opt"], r["epochs"] = ("sgd", 0.05), 10
    elif kind == "vanishing":
        r["args"] = {**base, "depth": 8, "activation": "sigmoid"}
        r["opt"], r["epochs"] = ("sgd", 0.01), 10
    elif kind == "small-overfit":
        r["data"] = split(x, y, seed, train=max(40, 4 * classes))
        r["args"] = {**base, "hidden": 256, "dropout": 0.1}
        r["opt"], r["epochs"] = ("adam", 3e-3), 150
    elif kind == "bottleneck":
        r["args"] = {**base, "hidden": 2}
        r["opt"], r["epochs"] = ("adam", 1e-2), 30
    elif kind == "frozen-base":
        r["args"] = {**base, "hidden": 16}
        r["frozen"] = True
        r["opt"], r["epochs"] = ("adam", 1e-2), 20
    elif kind == "overfit-augment":
        r["data"] = split(x, y, seed, train=max(100, 10 * classes))
        r["args"] = {**base, "hidden": 128}
        r["opt"], r["epochs"] = ("adam", 3e-3), 100
    elif kind == "bouncing":
        r["opt"], r["epochs"] = ("adamw", 0.05), 20
    elif kind == "oscillation":
        r["opt"], r["epochs"] = ("sgdm", 0.3), 20
    elif kind == "divergence":
        r["opt"], r["epochs"] = ("adam", 1e-3), 10
        r["then"] = ("adam", 0.2, 3)
    return r


KINDS = (
    "too-low-lr", "imbalance", "unnormalised", "dead-units", "vanishing", "small-overfit",
    "bottleneck", "frozen-base", "overfit-augment", "bouncing", "oscillation", "divergence",
)  # fmt: skip


def optimizer_for(name: str, lr: float, params: Any) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "sgdm":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    return torch.optim.Adam(params, lr=lr)


def train(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    d: dict,
    epochs: int,
    log: list,
    seed: int,
    keep: Path | None = None,
) -> None:
    """`keep`: write `epoch_N.pt` there whenever val_loss improves (as a ModelCheckpoint with
    save_best_only and the epoch in its name does), for regularize's roll-back."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.tensor(d["x_train"]), torch.tensor(d["y_train"])
    xv, yv = torch.tensor(d["x_val"]), torch.tensor(d["y_val"])
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        losses = []
        for i in range(0, len(x), 32):
            b = perm[i : i + 32]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[b]), y[b])
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        model.eval()
        with torch.no_grad():
            out = model(xv)
            vl = float(nn.functional.cross_entropy(out, yv))
            va = float((out.argmax(1) == yv).float().mean())
        best = min((row["val_loss"] for row in log), default=math.inf)
        log.append({"epoch": len(log) + 1, "loss": float(np.mean(losses)), "val_loss": vl,
                    "val_accuracy": va, "lr": opt.param_groups[0]["lr"]})  # fmt: skip
        if keep is not None and vl < best:
            keep.mkdir(parents=True, exist_ok=True)
            torch.save({"model_state_dict": model.state_dict(),
                        "optimizer_state_dict": opt.state_dict(), "epoch": len(log)},
                       keep / f"epoch_{len(log)}.pt")  # fmt: skip


def as_images(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Flat 64-feature rows -> (N, 1, 8, 8) for the torch CNNs."""
    return {k: v.reshape(len(v), 1, 8, 8) if k.startswith("x") else v for k, v in d.items()}


def cnn_args(args: dict[str, Any]) -> dict[str, Any]:
    """The MLP recipe's widths for the CNN: `hidden` is the dense layer's, 8 filters."""
    return {"channels": 8, "hidden": args["hidden"], "classes": args["classes"]}


def make(kind: str, dataset: str, out: Path, seed: int = 0, family: str = "mlp") -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(HERE))
    from nets import cnn, mlp

    torch.manual_seed(seed)
    x, y = load(dataset, seed)
    r = recipe(kind, x, y, seed)
    factory = "mlp"
    if family == "cnn":
        r["data"], r["args"], factory = as_images(r["data"]), cnn_args(r["args"]), "cnn"
        model = cnn(**r["args"])
    else:
        model = mlp(**r["args"])
    where = out / f"{kind}--{dataset}"
    for old in where.glob("epoch_*.pt"):
        old.unlink()
    log: list[dict[str, float]] = []
    if r.get("frozen"):
        # base pretrained on the first half of the classes, then frozen; the head trains
        d = r["data"]
        keep = d["y_train"] < max(2, r["args"]["classes"] // 2)
        pre = {**d, "x_train": d["x_train"][keep], "y_train": d["y_train"][keep]}
        train(model, optimizer_for("adam", 1e-2, model.parameters()), pre, 5, [], seed)
        model[-1].reset_parameters()
        for layer in model[:-1]:  # everything but the head: the MLP's layer, the CNN's base
            for p in layer.parameters():
                p.requires_grad_(False)
        opt = optimizer_for(r["opt"][0], r["opt"][1], model[-1].parameters())
    else:
        opt = optimizer_for(r["opt"][0], r["opt"][1], model.parameters())
    if "kill" in r:
        train(model, opt, r["data"], 3, log, seed, where)
        with torch.no_grad():
            n = int(model[0].out_features * r["kill"])
            model[0].bias[:n] = -50.0
    train(model, opt, r["data"], r["epochs"], log, seed, where)
    if "then" in r:
        for group in opt.param_groups:
            group["lr"] = r["then"][1]
        train(model, opt, r["data"], r["then"][2], log, seed, where)
    where.mkdir(parents=True, exist_ok=True)
    np.savez(where / "data.npz", **r["data"])
    torch.save({"model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                "epoch": len(log)}, where / "checkpoint.pt")  # fmt: skip
    (where / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    final = log[-1]
    return {
        "kind": kind, "dataset": dataset, "half": "tune" if dataset in TUNE else "report",
        "dir": str(where), "factory": str(HERE / "nets.py") + f":{factory}", "args": r["args"],
        "family": family, "model": "checkpoint.pt",
        "lr": opt.param_groups[0]["lr"], "val_loss": final["val_loss"],
        "finite": all(math.isfinite(v) for v in final.values()),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="default: generated[_FAMILY]")
    parser.add_argument("--family", choices=("mlp", "cnn", "keras"), default="mlp")
    parser.add_argument("--kinds", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = args.out or HERE / ("generated" if args.family == "mlp" else f"generated_{args.family}")
    kinds = (
        args.kinds.split(",") if args.kinds else KINDS if args.family == "mlp" else FRAMEWORK_KINDS
    )
    manifest = []
    for kind in kinds:
        if args.family == "cnn":
            pair = (IMAGE_TUNE, IMAGE_REPORT)
        elif args.family == "keras":
            pair = (TUNE[0], REPORT[0])
        else:
            pair = (TUNE[0], REPORT[0]) if KINDS.index(kind) % 2 == 0 else (TUNE[1], REPORT[1])
        for dataset in pair:
            if args.family == "keras":
                from keras_zoo import make_keras

                entry = make_keras(kind, dataset, out)
            else:
                entry = make(kind, dataset, out, family=args.family)
            manifest.append(entry)
            print(f"{kind:16s} {dataset:15s} val_loss {entry['val_loss']:.4f} lr {entry['lr']:g}")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
