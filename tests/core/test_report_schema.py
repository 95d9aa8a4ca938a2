"""report.json validates against the committed JSON Schema (schemas/report.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from plateau_cli.run.resume import run_resume
from tests.core.test_resume_pipeline import _request, model_and_data, numpy_framework  # noqa: F401

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture(scope="module")
def report_schema():
    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_completed_report_validates(numpy_framework, model_and_data, report_schema):  # noqa: F811
    model, data = model_and_data
    report = run_resume(_request(model, data, epochs=2))
    doc = json.loads((report.out_dir / "report.json").read_text())
    assert doc["framework"] == "numpy"  # the test double; real reports say keras or torch
    jsonschema.validate({**doc, "framework": "keras"}, report_schema)


def test_schema_rejects_a_broken_report(numpy_framework, model_and_data, report_schema):  # noqa: F811
    model, data = model_and_data
    report = run_resume(_request(model, data, epochs=1))
    doc = json.loads((report.out_dir / "report.json").read_text())
    doc["framework"] = "keras"
    doc["stopped_reason"] = "gave-up"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, report_schema)
