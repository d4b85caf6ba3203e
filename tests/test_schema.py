"""`graphc schema`: a JSON Schema editors can use — it accepts every valid document and flags shape errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from dsl import ir
from dsl.printer import print_spec
from dsl.schema import document_schema

from .conftest import EXAMPLES
from .strategies import specs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GOLDEN = Path(__file__).parent / "golden" / "diagnostics"
VALIDATOR = jsonschema.Draft202012Validator(document_schema())


def load_document(text: str, syntax: str) -> Any:
    return yaml.safe_load(text) if syntax == "yaml" else tomllib.loads(text)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(document_schema())


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*.toml")), ids=str)
def test_every_example_document_is_valid(path: Path) -> None:
    document = load_document(path.read_text(encoding="utf-8"), path.suffix[1:])
    assert [error.message for error in VALIDATOR.iter_errors(document)] == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs.filter(lambda spec: spec.nodes))  # the schema also flags a graph without nodes (E121)
def test_every_printed_document_is_valid(spec: ir.GraphSpec) -> None:
    for syntax in ("yaml", "toml"):
        document = load_document(print_spec(spec, syntax), syntax)
        assert [error.message for error in VALIDATOR.iter_errors(document)] == []


@pytest.mark.parametrize(
    "name",
    [
        "toml_missing_to.toml",
        "toml_unknown_key.toml",
        "toml_wrong_kind.toml",
        "yaml_missing_graph.yaml",
        "yaml_missing_to.yaml",
        "yaml_node_without_next.yaml",
        "yaml_unknown_branch_key.yaml",
        "yaml_unknown_node_key.yaml",
        "yaml_unknown_top_key.yaml",
        "yaml_wrong_kind.yaml",
    ],
)
def test_shape_errors_are_flagged_in_the_editor_too(name: str) -> None:
    path = GOLDEN / name
    document = load_document(path.read_text(encoding="utf-8"), path.suffix[1:])
    assert list(VALIDATOR.iter_errors(document)) != []
