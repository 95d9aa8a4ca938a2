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
        help="lr-decay: rate x this (0.1); widen: width x this (2).",
        rich_help_panel=LR_PANEL,
    ),
]

ScheduleOpt = Annotated[
    str | None,
    typer.Option(
        help="constant (default), step, cosine, exponential or plateau.",
        rich_help_panel=LR_PANEL,
    ),
]

MinLrOpt = Annotated[
    float | None,
    typer.Option(
        help="Floor for every schedule (cosine decays to it).",
        rich_help_panel=LR_PANEL,
    ),
]

LrPatienceOpt = Annotated[
    int | None,
    typer.Option(
        help="plateau: epochs without improvement before a cut (2).",
        rich_help_panel=LR_PANEL,
    ),
]

CooldownOpt = Annotated[
    int | None,
    typer.Option(help="plateau: epochs to wait after a cut (0).", rich_help_panel=LR_PANEL),
]

StepSizeOpt = Annotated[
    int | None,
    typer.Option(help="step: epochs between cuts (5).", rich_help_panel=LR_PANEL),
]

GammaOpt = Annotated[
    float | None,
    typer.Option(
        help="step / exponential: multiplier per cut (0.1 / 0.9).",
        rich_help_panel=LR_PANEL,
    ),
]

UnitsOpt = Annotated[
    int | None,
    typer.Option(help="The layer's new width (instead of --factor).", rich_help_panel=WIDEN_PANEL),
]

LayerOpt = Annotated[
    str | None,
    typer.Option(
        help="The layer to grow (default: the narrowest hidden one).",
        rich_help_panel=WIDEN_PANEL,
    ),
]

InitOpt = Annotated[
    str | None,
    typer.Option(
        help="New units: zero-out (keeps the outputs; default), net2net or random.",
        rich_help_panel=WIDEN_PANEL,
    ),
]

NoiseOpt = Annotated[
    float | None,
    typer.Option(
        help="widen: noise on net2net copies; augment: input noise x feature spread (1).",
        rich_help_panel=WIDEN_PANEL,
    ),
]

LayersOpt = Annotated[
    str | None,
    typer.Option(
        help="Frozen blocks to unfreeze from the top, or 'all' (default: the top third).",
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

GradualOpt = Annotated[
    bool,
    typer.Option(
        "--gradual",
        help="Start with the top block, one more each epoch.",
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

BaseLrMultOpt = Annotated[
    float | None,
    typer.Option(
        help="Rate of the unfrozen layers relative to the head's (0.3).",
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

TrainBnOpt = Annotated[
    bool,
    typer.Option(
        "--train-bn",
        help="Train the unfrozen BatchNorm layers too (default: inference mode).",
        rich_help_panel=UNFREEZE_PANEL,
    ),
]

AugmentOpt = Annotated[
    str | None,
    typer.Option(
        help=(
            "Transforms, comma-separated: flip, rotate=15, shift=0.1, zoom=0.1, contrast=0.2,"
            " brightness=0.2, noise=1, mixup=0.2 (default: noise for vectors; rotate, shift,"
            " zoom for images)."
        ),
        rich_help_panel=AUGMENT_PANEL,
    ),
]

MixupOpt = Annotated[
    float | None,
    typer.Option(
        help="Mixup of inputs and labels, Beta(X, X) (off by default).",
        rich_help_panel=AUGMENT_PANEL,
    ),
]

CopiesOpt = Annotated[
    int | None,
    typer.Option(
        help="Augmented passes over the training set per epoch (4).",
        rich_help_panel=AUGMENT_PANEL,
    ),
]

BakeOpt = Annotated[
    bool,
    typer.Option(
        "--bake",
        help="Keras: save the image augmentation layers into the model.",
        rich_help_panel=AUGMENT_PANEL,
    ),
]

LrMultOpt = Annotated[
    float | None,
    typer.Option(
        help="Restored learning rate x this (0.2; 1 keeps it).",
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

RebalanceModeOpt = Annotated[
    str | None,
    typer.Option(
        "--rebalance-mode",
        help="rebalance: sample (class-weighted batches; default) or weights (weighted loss).",
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

NormalizeRateOpt = Annotated[
    str | None,
    typer.Option(
        "--normalize-rate",
        help="normalize: find (a range test from the normalized model; default) or keep.",
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

NoRollbackOpt = Annotated[
    bool,
    typer.Option(
        "--no-rollback",
        help="regularize: keep the given checkpoint even when --log's best epoch's is beside it.",
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
