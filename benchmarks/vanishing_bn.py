"""Does a function-preserving normalisation escape the zoo's vanishing-gradient plateaus?

For each `vanishing` zoo checkpoint (8 Linear+Sigmoid layers at chance loss), from the same
weights, same data, same epochs and seeds:

  continue   SGD at the zoo's rate, nothing changed
  bn         a BatchNorm1d inserted after every hidden Linear (before its sigmoid), initialised
             to the identity on the training data (running mean/var = the pre-activations'
             statistics, weight = sqrt(var + eps), bias = mean): the eval-mode outputs are the
             same (max |output change| printed); then trained like continue
  bn-x10     the same at 10x the rate

Best validation loss over the epochs, mean +- stdev over the seeds; escape = better than
continue by more than the spread and 2%.

    python benchmarks/zoo/make_zoo.py
    python benchmarks/vanishing_bn.py --epochs 3 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics as st
from pathlib import Path
from typing import Any

ZOO = Path(__file__).resolve().parent / "zoo" / "generated"


def _factory(spec: str) -> Any:
    path, name = spec.rsplit(":", 1)
    module_spec = importlib.util.spec_from_file_location("zoo_nets", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def with_identity_bn(model: Any, x: Any) -> tuple[Any, float]:
    """The model with an identity-initialised BatchNorm1d after each hidden Linear."""
    import torch
    from torch import nn

    layers = list(model)
    out: list[nn.Module] = []
    h = x
    last_linear = max(i for i, m in enumerate(layers) if isinstance(m, nn.Linear))
    with torch.no_grad():
        for i, layer in enumerate(layers):
            h = layer(h)
            out.append(layer)
            if isinstance(layer, nn.Linear) and i != last_linear:
                bn = nn.BatchNorm1d(h.shape[1])
                mean, var = h.mean(0), h.var(0, unbiased=False)
                bn.running_mean.copy_(mean)
                bn.running_var.copy_(var)
                bn.weight.copy_(torch.sqrt(var + bn.eps))
                bn.bias.copy_(mean)
                out.append(bn)
        new = nn.Sequential(*out).eval()
        model.eval()
        change = float((new(x) - model(x)).abs().max())
    return new, change


def train(model: Any, data: Any, lr: float, epochs: int, seed: int) -> float:
    import torch

    torch.manual_seed(seed)
    xt, yt = torch.tensor(data["x_train"]), torch.tensor(data["y_train"]).long()
    xv, yv = torch.tensor(data["x_val"]), torch.tensor(data["y_val"]).long()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.functional.cross_entropy
    best = float("inf")
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(xt)).split(32):
            optimizer.zero_grad()
            loss_fn(model(xt[batch]), yt[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            best = min(best, float(loss_fn(model(xv), yv)))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=ZOO)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    manifest = json.loads((args.zoo / "manifest.json").read_text())
    print("| data (half) | continue | bn (max output change) | bn-x10 |")
    print("|---|---|---|---|")
    for entry in [e for e in manifest if e["kind"] == "vanishing"]:
        where = args.zoo / Path(entry["dir"]).name
        data = dict(np.load(where / "data.npz"))
        state = torch.load(where / "checkpoint.pt", weights_only=True)["model_state_dict"]
        make = _factory(entry["factory"])
        results: dict[str, list[float]] = {"continue": [], "bn": [], "bn-x10": []}
        change = 0.0
        for seed in seeds:
            for arm, mult in (("continue", 1.0), ("bn", 1.0), ("bn-x10", 10.0)):
                model = make(**entry["args"])
                model.load_state_dict(state)
                if arm != "continue":
                    model, change = with_identity_bn(model, torch.tensor(data["x_train"]))
                results[arm].append(train(model, data, entry["lr"] * mult, args.epochs, seed))
        c = results["continue"]

        def show(values: list[float], c: list[float] = c) -> str:
            spread = max(st.stdev(values), st.stdev(c)) if len(values) > 1 else 0.0
            escapes = st.mean(c) - st.mean(values) > max(spread, 0.02 * abs(st.mean(c)))
            sd = st.stdev(values) if len(values) > 1 else 0.0
            return f"{st.mean(values):.3f} +- {sd:.3f}{' (escapes)' if escapes else ''}"

        print(
            f"| {entry['dataset']} ({entry['half']}) | {show(c)} | {show(results['bn'])}"
            f" ({change:.1e}) | {show(results['bn-x10'])} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
