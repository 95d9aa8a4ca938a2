"""`resume`'s strategy options, one type per flag, grouped in --help by strategy.

Which strategy takes which flag is the strategies' own business (`Strategy.option_names`); the
flags all reach `build_strategy`, which refuses one that belongs to another strategy.
"""

from __future__ import annotations

from typing import Annotated

import typer

from plateau_cli.cli.options import AUGMENT_PANEL, LR_PANEL, UNFREEZE_PANEL, WIDEN_PANEL

NEW_PANEL = "lr-find, rebalance, normalize, revive, regularize options"

FactorOpt = Annotated[
    float | None,
    typer.Option(
        help=(
            "lr-decay: multiply the rate by this (default 0.1); widen: grow the layer by"
            " this (default 2)."
        ),
        rich_help_panel=LR_PANEL,
    ),
]

ScheduleOpt = Annotated[
    str | None,
    typer.Option(
        help="lr-decay: constant, step, cosine, exponential or plateau (default constant).",
        rich_help_panel=LR_PANEL,
    ),
]

MinLrOpt = Annotated[
    float | None,
    typer.Option(
        help="lr-decay: floor for every schedule (cosine decays to it).",
        rich_help_panel=LR_PANEL,
    ),
]

LrPatienceOpt = Annotated[
    int | None,
    typer.Option(
        help="lr-decay plateau: epochs without improvement before reducing (2).",
        rich_help_panel=LR_PANEL,
    ),
]

CooldownOpt = Annotated[
    int | None,
    typer.Option(
        help="lr-decay plateau: epochs to wait after a reduction (0).", rich_help_panel=LR_PANEL
    ),
]

StepSizeOpt = Annotated[
    int | None,
    typer.Option(help="lr-decay step: epochs between reductions (5).", rich_help_panel=LR_PANEL),
]

GammaOpt = Annotated[
    float | None,
    typer.Option(
        help="lr-decay step/exponential: multiplier per step (0.1 / 0.9).",
        rich_help_panel=LR_PANEL,
    ),
]

UnitsOpt = Annotated[
    int | None,
    typer.Option(
        help="widen: the layer's new width (instead of --factor).", rich_help_panel=WIDEN_PANEL
    ),
]

LayerOpt = Annotated[
    str | None,
    typer.Option(
        help="widen: the layer to grow (default: the narrowest hidden layer).",
        rich_help_panel=WIDEN_PANEL,
    ),
]

InitOpt = Annotated[
    str | None,
    typer.Option(
        help=(
            "widen: how new units start: zero-out (random in, zero out: keeps the outputs;"
            " default), net2net (copies) or random (re-initialised, for comparison)."
        ),
        rich_help_panel=WIDEN_PANEL,
    ),
]

NoiseOpt = Annotated[
    float | None,
    typer.Option(
        help=(
            "widen: symmetry-breaking noise for net2net copies, relative to the weights'"
            " scale; augment: Gaussian input noise, times each feature's spread (default 1"
            " for vector inputs)."
        ),
        rich_help_panel=WIDEN_PANEL,
    ),
]

LayersOpt = Annotated[
    str | None,
    typer.Option(
        help=(
            "unfreeze: how many frozen blocks to unfreeze from the top, or 'all' (default:"
            " the top third, at least one; with --gradual, all)."
        ),
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

GradualOpt = Annotated[
    bool,
    typer.Option(
        "--gradual",
        help="unfreeze: start with the top block, one more each epoch (ULMFiT).",
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

BaseLrMultOpt = Annotated[
    float | None,
    typer.Option(
        help="unfreeze: learning rate of unfrozen layers relative to the head's (0.3).",
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

TrainBnOpt = Annotated[
    bool,
    typer.Option(
        "--train-bn",
        help=(
            "unfreeze: train the unfrozen BatchNorm layers too (default: frozen, in"
            " inference mode)."
        ),
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

AugmentOpt = Annotated[
    str | None,
    typer.Option(
        help=(
            "augment, for an overfit model (training loss far below validation; not for one"
            " that underfits at a high training loss): transforms, e.g. flip,rotate=15,"
            "shift=0.1,zoom=0.1,contrast=0.2,brightness=0.2,noise=1,mixup=0.2; a name alone"
            " takes its default. Default: noise for vectors; rotate,shift,zoom for images (no"
            " flip: a mirrored digit or letter is another class)."
        ),
        rich_help_panel=AUGMENT_PANEL,
    ),
]

MixupOpt = Annotated[
    float | None,
    typer.Option(
        help="augment: mixup of inputs and labels, Beta(ALPHA, ALPHA) (off by default).",
        rich_help_panel=AUGMENT_PANEL,
    ),
]

CopiesOpt = Annotated[
    int | None,
    typer.Option(
        help="augment: augmented passes over the training set per epoch (4).",
        rich_help_panel=AUGMENT_PANEL,
    ),
]

BakeOpt = Annotated[
    bool,
    typer.Option(
        "--bake",
        help=(
            "augment, Keras: save the image augmentation layers into the model (inactive"
            " at inference)."
        ),
        rich_help_panel=AUGMENT_PANEL,
    ),
]

LrMultOpt = Annotated[
    float | None,
    typer.Option(
        help=(
            "augment: multiply the restored learning rate by this (0.2; 1 keeps it; --lr"
            " sets a rate instead)."
        ),
        rich_help_panel=AUGMENT_PANEL,
    ),
]

StartLrOpt = Annotated[
    float | None,
    typer.Option(
        help="lr-find: the range test's first rate (default: the restored rate / 1000).",
        rich_help_panel=NEW_PANEL,
    ),
]

EndLrOpt = Annotated[
    float | None,
    typer.Option(
        help="lr-find: the range test's last rate (default: the restored rate x 10000).",
        rich_help_panel=NEW_PANEL,
    ),
]

StepsOpt = Annotated[
    int | None,
    typer.Option(help="lr-find: mini-batches in the range test (100).", rich_help_panel=NEW_PANEL),
]

PickOpt = Annotated[
    str | None,
    typer.Option(
        help="lr-find: min10 (a tenth of the rate at the lowest loss; default) or steepest.",
        rich_help_panel=NEW_PANEL,
    ),
]

SmoothingOpt = Annotated[
    str | None,
    typer.Option(
        help="rebalance: class weights 1/frequency (none, default) or 1/sqrt(frequency) (sqrt).",
        rich_help_panel=NEW_PANEL,
    ),
]

ToleranceOpt = Annotated[
    float | None,
    typer.Option(
        help="normalize: largest output change the fold may cause, times the outputs' spread.",
        rich_help_panel=NEW_PANEL,
    ),
]

InitScaleOpt = Annotated[
    float | None,
    typer.Option(
        help="revive: scale of the new incoming weights relative to He's (1).",
        rich_help_panel=NEW_PANEL,
    ),
]

WeightDecayOpt = Annotated[
    float | None,
    typer.Option(
        help="regularize: weight decay (0.05 decoupled; 5e-4 L2 for torch SGD/Adam).",
        rich_help_panel=NEW_PANEL,
    ),
]

DropoutOpt = Annotated[
    float | None,
    typer.Option(
        help="regularize: raise existing Dropout layers to at least this rate (0.5).",
        rich_help_panel=NEW_PANEL,
    ),
]
