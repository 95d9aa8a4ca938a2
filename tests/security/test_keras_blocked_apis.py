"""Keras configs that ask for more than a model: one line saying what, never a traceback.

The payloads (tests/security/keras_payloads.py) name `keras.utils.get_file` (CVE-2025-8747),
`keras.config.enable_unsafe_deserialization` (CVE-2025-9906) or
`keras.visualization.plot_image_gallery` as a Lambda's function: refused before Keras reads
the config, with --trust-pickle too. A StringLookup reading a vocabulary file outside the
archive and a TFSMLayer are Keras safe-mode refusals: the line says which, not "bytecode".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.runner import run_cli
from tests.security.keras_payloads import clean_archive, write_payload
from tests.security.refusals import assert_refused

BLOCKED = {
    "get_file": "keras.utils.get_file",
    "enable_unsafe_deserialization": "keras.config.enable_unsafe_deserialization",
    "plot_image_gallery": "keras.visualization.plot_image_gallery",
}
SAFE_MODE = {
    "string_lookup_path": "reads its vocabulary from a file outside the archive",
    "tfsm_layer": "TFSMLayer, which loads an external TensorFlow SavedModel",
}


@pytest.fixture(scope="module")
def clean() -> bytes:
    pytest.importorskip("keras")
    return clean_archive()


@pytest.mark.keras
@pytest.mark.parametrize("flags", [[], ["--trust-pickle"]], ids=["default", "trusted"])
@pytest.mark.parametrize("kind", list(BLOCKED))
def test_a_non_modeling_api_is_refused_whatever_the_flags(kind, flags, clean, tmp_path):
    marker = tmp_path / "MARKER"
    path = write_payload(clean, kind, marker, tmp_path / "model.keras")
    line = assert_refused(run_cli(["inspect", str(path), *flags]), BLOCKED[kind], "not part of")
    assert "bytecode" not in line
    assert list(tmp_path.iterdir()) == [path]  # no marker, nothing fetched or drawn


@pytest.mark.keras
@pytest.mark.parametrize("kind", list(SAFE_MODE))
def test_safe_mode_refusals_say_what_the_file_asks_for(kind, clean, tmp_path):
    marker = tmp_path / "MARKER"
    path = write_payload(clean, kind, marker, tmp_path / "model.keras")
    line = assert_refused(run_cli(["inspect", str(path)]), SAFE_MODE[kind], "--trust-pickle")
    assert "bytecode" not in line
    assert not marker.exists()


@pytest.mark.keras
def test_resume_refuses_the_cve_pattern_before_touching_data_or_out(clean, tmp_path, digits):
    marker = tmp_path / "MARKER"
    path = write_payload(clean, "get_file", marker, tmp_path / "model.keras")
    out = tmp_path / "out"
    result = run_cli(["resume", str(path), "--strategy", "lr-decay", "--data", str(digits),
                      "--out", str(out)])  # fmt: skip
    assert_refused(result, "keras.utils.get_file")
    assert not out.exists()
    assert not marker.exists()


def test_blocked_calls_are_found_anywhere_in_the_config():
    from plateau_cli.adapters.keras.archive import blocked_calls

    config = {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [
                {"class_name": "Dense", "config": {"name": "d", "activation": {
                    "module": "keras.activations", "class_name": "function", "config": "relu"}}},
                {"class_name": "Lambda", "config": {"name": "l", "function": {
                    "module": "keras.src.utils", "class_name": "function", "config": "get_file"}}},
                {"class_name": "Lambda", "config": {"name": "ok", "function": {
                    "module": "keras.ops", "class_name": "function", "config": "relu"}}},
            ],
            "compile_config": {"loss": {
                "module": "keras.saving", "class_name": "function", "config": "load_model"}},
        },
    }  # fmt: skip
    assert blocked_calls(config) == [
        "Lambda layer 'l' calls keras.src.utils.get_file",
        "Functional 'm' calls keras.saving.load_model",
    ]


def test_keras_own_non_modeling_refusal_is_translated(tmp_path):
    pytest.importorskip("keras")
    from plateau_cli.adapters.keras.archive import FileFacts
    from plateau_cli.adapters.keras.translate import translate

    facts = FileFacts("keras-v3", "3.15.1", None, None, False, None, None, None, ())
    error = ValueError(
        "Cannot deserialize `keras.utils.get_file` because it is not a modeling function."
        " Non-modeling APIs are disallowed during deserialization for security."
    )
    refusal = translate(error, Path("m.keras"), facts)
    assert refusal is not None
    assert refusal.exit_status == 2
    assert "keras.utils.get_file" in refusal.message
    assert "bytecode" not in refusal.message


def test_the_cuinit_line_is_start_up_chatter():
    from plateau_cli.adapters.keras.runtime import is_chatter

    line = (
        "E0000 00:00:1717171717.123456   12345 cuda_executor.cc:1309] failed call to cuInit:"
        " INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"
    )
    assert is_chatter(line)
    assert not is_chatter("ValueError: something the user must see")
