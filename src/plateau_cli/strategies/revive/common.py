"""Which layers revive may touch, framework-neutral: widen's graph walk, limited to chains
that end in a ReLU and hold no BatchNorm (a BatchNorm between would shift a zeroed unit)."""

from __future__ import annotations

from plateau_cli.errors import StrategyNotApplicableError, UsageError
from plateau_cli.strategies.widen.graph import Chain, Graph

RELU_NAMES = {"relu", "relu6", "relu_"}


def relu_chains(graph: Graph, layer: str | None, own_relu: set[str]) -> list[Chain]:
    """Hidden Dense/Conv layers followed by a ReLU (in the path, or their own activation when
    named in `own_relu`) whose units feed one consumer layer."""
    names = [o.name for o in graph.hidden_layers()]
    if layer is not None:
        if layer not in graph.ops:
            raise UsageError(f"--layer {layer!r}: no such layer; hidden layers: {', '.join(names)}")
        names = [layer]
    chains = []
    for name in names:
        chain = graph.chain(name)
        if not isinstance(chain, Chain) or chain.batch_norms:
            continue
        types = {graph.ops[p].type_name.lower() for p in chain.path}
        if name in own_relu or types & RELU_NAMES:
            chains.append(chain)
    if not chains:
        raise StrategyNotApplicableError(
            "revive found no hidden ReLU layer whose units feed a single Dense/Conv layer"
            + (f" (--layer {layer})" if layer else "")
        )
    return chains
