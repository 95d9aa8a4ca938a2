"""The stalled-on-purpose scenarios: what each one is, how it was trained, what should fix it.

Pure Python (no framework): make_samples.py reads it to write the README table, and each
framework's worker reads the recipe it trains by. The recipes follow FINDINGS.md, which measured
these plateaus on scikit-learn's digits; seeds were chosen so that each sample shows its plateau
and not a different one (for example, all four bottleneck units alive in `widen`, so that it is a
capacity plateau and not a dead-unit one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Epochs of the check runs (continue unchanged; learning rate x0.1) made from every sample.
CHECK_EPOCHS = 10
BATCH_SIZE = 32  # plateau-cli resume's default, so "continue unchanged" means the same batches

#: Prepared arrays, under sample_models/data/.
DIGITS = "digits.npz"  # 64 features per digit
DIGITS_SMALL = "digits_small.npz"  # the same validation set, 120 training digits (12 a class)
DIGITS_IMAGES = "digits_images.npz"  # 8x8x1, NHWC (Keras)
DIGITS_IMAGES_NCHW = "digits_images_nchw.npz"  # 1x8x8, NCHW (torch convolutions)


@dataclass(frozen=True)
class Recipe:
    """How one framework's sample was trained."""

    seed: int
    epochs: int
    lr: float


@dataclass(frozen=True)
class Scenario:
    name: str
    strategy: str  # the plateau-cli strategy that should get it moving
    stalled_by: str  # one line for the README
    model: str  # one line for the README
    optimizer: str  # "adam", "adamw" (weight decay WEIGHT_DECAY) or "sgd" (momentum MOMENTUM)
    keras: Recipe
    torch: Recipe
    keras_data: str
    torch_data: str
    #: torch factory in sample_models/torch/nets.py and the arguments that rebuild the sample.
    factory: str
    factory_args: tuple[tuple[str, str], ...] = ()


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="lr",
        optimizer="adamw",
        strategy="lr-decay",
        stalled_by=(
            "AdamW at lr 0.1 (weight decay 0.1): steps too large to settle, val_loss bounces"
            " between 0.14 and 0.40"
        ),
        model="MLP 64-32-10, LeakyReLU(0.1)",
        keras=Recipe(seed=0, epochs=25, lr=0.1),
        torch=Recipe(seed=0, epochs=25, lr=0.1),
        keras_data=DIGITS,
        torch_data=DIGITS,
        factory="mlp",
        factory_args=(("hidden", "32"), ("activation", "leaky_relu")),
    ),
    Scenario(
        name="widen",
        optimizer="adam",
        strategy="widen",
        stalled_by="a 4-unit bottleneck (all 4 alive): Adam at lr 0.01 has converged",
        model="MLP 64-4-10, ReLU",
        keras=Recipe(seed=4, epochs=40, lr=0.01),
        torch=Recipe(seed=3, epochs=40, lr=0.01),
        keras_data=DIGITS,
        torch_data=DIGITS,
        factory="mlp",
        factory_args=(("hidden", "4"),),
    ),
    Scenario(
        name="unfreeze",
        optimizer="adam",
        strategy="unfreeze",
        stalled_by=(
            "convolutional base pretrained on digits 0-4, then frozen; the head trained on all"
            " ten digits (Adam, 100 epochs) until it has nothing left to learn"
        ),
        model="CNN: conv8-BN-ReLU-pool-conv8-ReLU-global-avg (frozen base) + dense head",
        keras=Recipe(seed=2, epochs=100, lr=0.03),
        torch=Recipe(seed=2, epochs=100, lr=0.01),
        keras_data=DIGITS_IMAGES,
        torch_data=DIGITS_IMAGES_NCHW,
        factory="small_cnn",
    ),
    Scenario(
        name="augment",
        optimizer="adam",
        strategy="augment",
        stalled_by=(
            "120 training digits, Adam at lr 0.005 for 120 epochs: training loss ~0.004,"
            " val_loss past its minimum"
        ),
        model="MLP 64-64-10, ReLU",
        keras=Recipe(seed=0, epochs=120, lr=0.005),
        torch=Recipe(seed=0, epochs=120, lr=0.005),
        keras_data=DIGITS_SMALL,
        torch_data=DIGITS_SMALL,
        factory="mlp",
    ),
    Scenario(
        name="dead",
        optimizer="sgd",
        strategy="auto",
        stalled_by=(
            "SGD at lr 0.6, momentum 0.9: most ReLU units died; no learning rate revives them"
        ),
        model="MLP 64-64-10, ReLU",
        keras=Recipe(seed=4, epochs=20, lr=0.6),
        torch=Recipe(seed=2, epochs=20, lr=0.6),
        keras_data=DIGITS,
        torch_data=DIGITS,
        factory="mlp",
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}


def cli_args(scenario: Scenario, framework: str, root: Path) -> list[str]:
    """`MODEL --data DATA [--model-factory ... --factory-arg ...]` for `plateau-cli resume` or
    `trial` on this sample, with paths under `root` (the sample_models folder)."""
    if framework == "keras":
        model, data, extra = root / "keras" / scenario.name / "model.keras", scenario.keras_data, []
    else:
        model, data = root / "torch" / scenario.name / "checkpoint.pt", scenario.torch_data
        extra = ["--model-factory", f"{root / 'torch' / 'nets.py'}:{scenario.factory}"]
        extra += [a for k, v in scenario.factory_args for a in ("--factory-arg", f"{k}={v}")]
    return [str(model), "--data", str(root / "data" / data), *extra]


def log_path(scenario: Scenario, framework: str, root: Path) -> Path:
    """The log of the run that made the sample."""
    name = "training.log" if framework == "keras" else "train_log.jsonl"
    return root / framework / scenario.name / name


#: Optimizer settings besides the learning rate: `lr` uses AdamW with this decay (it bounds the
#: weights, so the high rate adds noise instead of blowing the weights up), `dead` uses SGD with
#: this momentum; the others use Adam with its defaults.
WEIGHT_DECAY = 0.1
MOMENTUM = 0.9

#: The (un-)pretraining split for `unfreeze`: the base learns these classes only.
PRETRAIN_CLASSES = (0, 1, 2, 3, 4)
PRETRAIN_EPOCHS = 10
PRETRAIN_LR = 0.01
