"""The JSON contracts, checked against real output: schemas/{diagnose,inspect,report}.schema.json.

Real `diagnose --json` on every log fixture, real `inspect --json` on a checkpoint of every
layout, and a real resume report must validate; the schemas' vocabularies must be exactly the
code's (a new finding kind, log format or checkpoint layout fails here until its schema says
so); each schema must reject a broken document; and the examples in schemas/README.md are
validated too, so the documentation cannot drift from the contract.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from plateau_cli import registry
from plateau_cli.adapters.base import OptimizerState
from plateau_cli.diagnose.base import ActionId, FindingKind, Severity, StrategyName
from plateau_cli.run.trainer import StopReason
from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
LOGS = ROOT / "tests" / "fixtures" / "logs"
NETS = ROOT / "tests" / "fixtures" / "torch" / "nets.py"


def schema(name: str) -> dict:
    document = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def validate(document: dict, name: str) -> None:
    jsonschema.Draft202012Validator(schema(name)).validate(document)


# -- the vocabularies are the code's --------------------------------------------------------


def test_diagnose_vocabularies_match_the_code():
    defs = schema("diagnose")["$defs"]
    assert set(defs["finding_kind"]["enum"]) == {k.value for k in FindingKind}
    assert set(defs["strategy"]["enum"]) == {s.value for s in StrategyName}
    assert set(defs["action_id"]["enum"]) == {a.value for a in ActionId}
    finding = defs["finding"]["properties"]
    assert set(finding["severity"]["enum"]) == {s.value for s in Severity}
    formats = schema("diagnose")["properties"]["source"]["properties"]["format"]["enum"]
    assert set(formats) == set(registry.LOG_READERS)


def test_inspect_and_report_vocabularies_match_the_code():
    states = {s.value for s in OptimizerState}
    assert set(schema("inspect")["$defs"]["optimizer_state"]["enum"]) == states
    assert set(schema("report")["$defs"]["optimizer_state"]["enum"]) == states
    assert set(schema("inspect")["properties"]["framework"]["enum"]) == set(registry.ADAPTERS)
    report = schema("report")["properties"]
    assert set(report["stopped_reason"]["enum"]) == {r.value for r in StopReason}
    names = {*registry.STRATEGIES, registry.CONTROL_STRATEGY[0]}  # trial candidates too
    assert set(report["strategy"]["properties"]["name"]["enum"]) == names


@pytest.mark.torch
def test_inspect_formats_match_the_adapters():
    pytest.importorskip("torch")
    from plateau_cli.adapters import sniff
    from plateau_cli.adapters.torch import file_view, layouts

    expected = {sniff.KERAS_V3, sniff.KERAS_H5, sniff.KERAS_BACKUP_DIR}
    expected |= {layouts.CHECKPOINT_DICT, layouts.LIGHTNING, layouts.STATE_DICT}
    expected |= {layouts.SAFETENSORS, layouts.TORCHSCRIPT, layouts.PICKLED_MODULE}
    expected |= {sniff.HF_DIRECTORY, file_view.OPTIMIZER_STATE, file_view.SCHEDULER_STATE}
    assert set(schema("inspect")["properties"]["format"]["enum"]) == expected


# -- diagnose --json on every log fixture ----------------------------------------------------


def log_fixtures() -> list[Path]:
    files = [p for p in sorted(LOGS.rglob("*")) if p.is_file() and "tfevents" not in p.name]
    runs = [LOGS / "keras" / "tensorboard", LOGS / "torch" / "runs" / "lr_0.1", LOGS / "hf" / "run"]
    return files + runs + [LOGS / "lightning"]


@pytest.mark.parametrize("path", log_fixtures(), ids=lambda p: str(p.relative_to(LOGS)))
def test_diagnose_json_validates(path):
    result = run_cli(["diagnose", str(path), "--json"])
    if result.code == 2:  # a fixture made to be refused (steps only, no epochs): one line
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
        return
    assert result.code in (0, 1), result.stderr
    document = json.loads(result.stdout)
    validate(document, "diagnose")
    assert document["verdict"] == document["findings"][0]["kind"]
    assert set(document["metric_names"]) == set(document["metrics"])
    assert document["monitor"]["metric"] in document["metrics"]


def test_diagnose_json_with_non_finite_evidence_validates():
    result = run_cli(["diagnose", str(LOGS / "messy" / "keras_nan_inf.csv"), "--json"])
    document = json.loads(result.stdout)
    validate(document, "diagnose")
    text = json.dumps(document)
    assert '"nan"' in text or '"inf"' in text  # the case the "number" definition exists for


def test_diagnose_schema_rejects_broken_documents():
    result = run_cli(["diagnose", str(LOGS / "keras" / "csvlogger.csv"), "--json"])
    good = json.loads(result.stdout)
    for broken in (
        {**good, "verdict": "stalled"},
        {**good, "findings": []},
        {k: v for k, v in good.items() if k != "recommendation"},
        {**good, "recommendation": {**good["recommendation"], "actions": [{"id": "reboot"}]}},
        {**good, "monitor": {**good["monitor"], "mode": "sideways"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken, "diagnose")


# -- inspect --json on every checkpoint layout -----------------------------------------------


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """layout -> (file, extra arguments for inspect)."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from tests.adapters.torch.torch_fixtures import lightning_checkpoint, nets, save_script

    root = tmp_path_factory.mktemp("layouts")
    torch.manual_seed(0)
    model = nets.mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.zeros(2, 64)).sum().backward()
    optimizer.step()
    factory = ["--model-factory", f"{NETS}:mlp"]
    torch.save({"epoch": 1, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict()}, root / "dict.pt")  # fmt: skip
    torch.save(lightning_checkpoint(model, optimizer, epoch=1, global_step=1), root / "last.ckpt")
    torch.save(model.state_dict(), root / "weights.pth")
    save_file(dict(model.state_dict()), str(root / "model.safetensors"))
    save_script(model, root / "scripted.pt")
    torch.save(model, root / "module.pt")
    frozen = nets.base_and_head()
    for parameter in frozen.base.parameters():
        parameter.requires_grad = False
    torch.save(
        {"model_state_dict": frozen.state_dict(),
         "optimizer_state_dict": torch.optim.Adam(frozen.head.parameters()).state_dict()},
        root / "frozen.pt",
    )  # fmt: skip
    return {
        "torch-checkpoint-dict": (root / "dict.pt", factory),
        "lightning-ckpt": (root / "last.ckpt", factory),
        "torch-state-dict": (root / "weights.pth", factory),
        "safetensors": (root / "model.safetensors", factory),
        "torchscript": (root / "scripted.pt", ["--trust-pickle"]),  # code: trusted, ours
        "torch-pickled-module": (root / "module.pt", ["--trust-pickle"]),
        "frozen base": (root / "frozen.pt", ["--model-factory", f"{NETS}:base_and_head"]),
    }


def check_inspect(path: Path, extra: list[str]) -> dict:
    from plateau_cli.outputs import sha256_of

    result = run_cli(["inspect", str(path), "--json", *extra])
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    validate(document, "inspect")
    params = document["params"]
    assert params["total"] == params["trainable"] + params["frozen"]
    assert params["total"] == sum(layer["params"] for layer in document["layers"])
    assert document["sha256"] == sha256_of(path)
    return document


LAYOUTS = [
    "torch-checkpoint-dict",
    "lightning-ckpt",
    "torch-state-dict",
    "safetensors",
    "torchscript",
    "torch-pickled-module",
    "frozen base",
]


@pytest.mark.torch
@pytest.mark.parametrize("layout", LAYOUTS)
def test_inspect_json_validates_for_every_torch_layout(layout, checkpoints):
    path, extra = checkpoints[layout]
    document = check_inspect(path, extra)
    assert document["framework"] == "torch"
    if layout == "frozen base":
        assert document["params"]["frozen"] > 0
        assert any(layer["trainable"] is False for layer in document["layers"])
    else:
        assert document["format"] == layout


@pytest.mark.keras
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_inspect_json_validates_for_keras(suffix, tmp_path):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(4, name="base"), keras.layers.Dense(10)]
    )
    model.get_layer("base").trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(keras.ops.zeros((2, 64)), keras.ops.zeros((2,), dtype="int32"))
    path = tmp_path / f"model{suffix}"
    model.save(path)
    document = check_inspect(path, [])
    assert document["format"] == ("keras-v3" if suffix == ".keras" else "keras-h5")
    assert document["params"]["frozen"] == 4 * 64 + 4


def test_inspect_schema_rejects_broken_documents():
    example = readme_examples()["inspect"]
    for broken in (
        {**example, "sha256": "abc"},
        {**example, "framework": "jax"},
        {**example, "params": {"total": -1, "trainable": 0, "frozen": 0}},
        {**example, "layers": [{"name": "x"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken, "inspect")


# -- a real resume report --------------------------------------------------------------------


@pytest.mark.torch
def test_real_torch_report_validates(checkpoints, tmp_path):
    pytest.importorskip("torch")
    from tests.e2e.keras_plateau import digits_npz

    data = digits_npz(tmp_path / "digits.npz")
    path, extra = checkpoints["torch-checkpoint-dict"]
    out = tmp_path / "out"
    result = run_cli(["resume", str(path), *extra, "--strategy", "lr-decay", "--data", str(data),
                      "--epochs", "2", "--out", str(out), "--json"])  # fmt: skip
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    validate(document, "report")
    assert json.loads((out / "report.json").read_text()) == document


# -- the documentation ----------------------------------------------------------------------


def readme_examples() -> dict[str, dict]:
    """The first ```json block after each '#### <schema> example' heading of schemas/README.md."""
    text = (SCHEMAS / "README.md").read_text()
    pattern = re.compile(r"#### (\w+) example\n.*?```json\n(.*?)\n```", re.DOTALL)
    return {name: json.loads(body) for name, body in pattern.findall(text)}


def test_readme_examples_validate_and_every_schema_is_documented():
    examples = readme_examples()
    assert set(examples) == {"diagnose", "inspect", "trial"}
    for name, document in examples.items():
        validate(document, name)
    text = (SCHEMAS / "README.md").read_text()
    for path in SCHEMAS.glob("*.schema.json"):
        assert path.name in text, f"{path.name} is not described in schemas/README.md"
