"""The walk that decides what can be widened, on hand-made graphs (no framework)."""

from __future__ import annotations

import pytest

from plateau_cli.errors import StrategyNotApplicableError, UsageError
from plateau_cli.strategies.widen.graph import Graph, Kind, Op


def chain_graph(*ops: Op) -> Graph:
    """Link ops in order: each one's single user is the next."""
    linked = []
    for i, op in enumerate(ops):
        inputs = (ops[i - 1].name,) if i else ()
        users = (ops[i + 1].name,) if i + 1 < len(ops) else ()
        linked.append(
            Op(**{**op.__dict__, "inputs": op.inputs or inputs, "users": op.users or users})
        )
    return Graph(linked)


def dense(name: str, width: int, **kw) -> Op:
    return Op(name, Kind.DENSE, "Dense", width=width, **kw)


INPUT = Op("input", Kind.INPUT, "InputLayer")
RELU = Op("relu", Kind.PER_UNIT, "ReLU")


def test_the_narrowest_hidden_layer_is_chosen():
    graph = chain_graph(
        INPUT, dense("a", 16), dense("b", 4), dense("c", 8), dense("out", 10, is_output=True)
    )
    chain, how = graph.choose(None)
    assert (chain.layer.name, chain.consumer.name, how) == ("b", "c", "the narrowest hidden layer")
    assert [o.name for o in graph.widenable()] == ["a", "b", "c"]


def test_batchnorm_and_flatten_between_a_conv_and_its_consumer():
    graph = chain_graph(
        INPUT,
        Op("conv", Kind.CONV, "Conv2D", width=4),
        Op("bn", Kind.BATCH_NORM, "BatchNormalization"),
        RELU,
        Op("pool", Kind.PER_UNIT, "MaxPooling2D"),
        Op("flat", Kind.FLATTEN, "Flatten", block=16),
        dense("out", 10, is_output=True),
    )
    chain, _ = graph.choose("conv")
    assert [n.name for n in chain.batch_norms] == ["bn"]
    assert chain.block == 16
    assert chain.path == ("bn", "relu", "pool", "flat")
    assert chain.consumer.name == "out"


@pytest.mark.parametrize(
    ("graph", "layer", "reason"),
    [
        # a residual connection: hidden's output goes to the Add and to d2
        (
            Graph(
                [
                    INPUT,
                    dense("hidden", 4, inputs=("input",), users=("d2", "add")),
                    dense("d2", 4, inputs=("hidden",), users=("add",)),
                    Op("add", Kind.OTHER, "Add", inputs=("hidden", "d2"), users=("out",)),
                    dense("out", 10, inputs=("add",), is_output=True),
                ]
            ),
            "hidden",
            "feeds 2 layers (d2, add): a branch or residual connection",
        ),
        (
            Graph(
                [
                    INPUT,
                    dense("hidden", 4, inputs=("input",), users=("add",)),
                    Op("add", Kind.OTHER, "Add", inputs=("hidden", "input"), users=("out",)),
                    dense("out", 10, inputs=("add",), is_output=True),
                ]
            ),
            "hidden",
            "feeds add (Add), which merges it with another tensor",
        ),
        (
            chain_graph(INPUT, dense("h", 4, calls=2), dense("out", 10, is_output=True)),
            "h",
            "shared (called at 2 places)",
        ),
        (
            chain_graph(INPUT, dense("h", 4), dense("out", 10, is_output=True)),
            "out",
            "output layer",
        ),
        (
            chain_graph(INPUT, dense("h", 4, frozen=True), dense("out", 10, is_output=True)),
            "h",
            "frozen",
        ),
        (
            chain_graph(INPUT, dense("h", 4), dense("out", 10, frozen=True, is_output=True)),
            "h",
            "consumer out is frozen",
        ),
        (
            chain_graph(
                INPUT,
                dense("h", 4),
                Op("ln", Kind.OTHER, "LayerNormalization"),
                dense("out", 10, is_output=True),
            ),
            "h",
            "feeds ln (LayerNormalization), which widen cannot follow",
        ),
        (
            chain_graph(
                INPUT, dense("h", 4), Op("act", Kind.PER_UNIT, "Activation", is_output=True)
            ),
            "h",
            "reach the model's output through act",
        ),
        (
            chain_graph(
                INPUT,
                dense("h", 4, layer_problem="its activation softmax mixes units"),
                dense("out", 10, is_output=True),
            ),
            "h",
            "softmax mixes units",
        ),
        (
            chain_graph(
                INPUT,
                Op("c", Kind.CONV, "Conv2D", width=4),
                Op("g", Kind.CONV, "Conv2D", width=4, problem="a grouped convolution"),
                dense("out", 10, is_output=True),
            ),
            "c",
            "feeds g (Conv2D): a grouped convolution",
        ),
        (chain_graph(INPUT, RELU, dense("out", 10, is_output=True)), "relu", "it is a ReLU"),
    ],
)
def test_refusals_name_the_layer_and_the_reason(graph, layer, reason):
    with pytest.raises(StrategyNotApplicableError, match=f"cannot widen {layer} ") as info:
        graph.choose(layer)
    assert reason in str(info.value)


def test_an_unknown_layer_is_a_usage_error_listing_the_widenable_ones():
    graph = chain_graph(INPUT, dense("a", 8), dense("b", 4), dense("out", 10, is_output=True))
    with pytest.raises(
        UsageError,
        match=r"--layer 'nope': no such layer; widenable layers: a \(8 units\), b \(4 units\)",
    ):
        graph.choose("nope")


def test_an_unwidenable_bottleneck_is_refused_with_the_alternatives():
    graph = chain_graph(
        INPUT,
        dense("a", 8),
        dense("b", 4, layer_problem="its activation softmax mixes units"),
        dense("out", 10, is_output=True),
    )
    with pytest.raises(
        StrategyNotApplicableError,
        match=r"b \(Dense\), the narrowest hidden layer: its activation softmax mixes units;"
        r" widenable layers: a \(8 units\) \(choose one with --layer\)",
    ):
        graph.choose(None)


def test_a_model_without_hidden_layers_is_refused():
    graph = chain_graph(INPUT, dense("out", 10, is_output=True))
    with pytest.raises(StrategyNotApplicableError, match="no hidden Dense/Linear or Conv2D layer"):
        graph.choose(None)
