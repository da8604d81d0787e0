"""The schema is the single source of the format: complete, closed, documented, and shipped."""

from __future__ import annotations

import json

import jsonschema
import pytest

from cxrules import validate_path
from cxrules.schema import org_schema, schema_text

from conftest import ROOT


def _objects(node, path="#"):
    """Every object schema with its JSON pointer."""
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{path}/{index}")


def test_schema_is_valid_draft_2020_12_with_an_id():
    schema = org_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema") and schema["$id"].startswith("https://")


def _described(prop: dict) -> bool:
    """A description of its own, or one on the shared definition it refers to."""
    if "description" in prop:
        return True
    ref = prop.get("$ref", "")
    return ref.startswith("#/$defs/") and "description" in org_schema()["$defs"][ref.rsplit("/", 1)[1]]


def test_every_property_has_a_description():
    missing = [f"{path}/properties/{name}" for path, node in _objects(org_schema())
               for name, prop in node.get("properties", {}).items() if not _described(prop)]
    assert missing == []


def test_every_object_is_closed():
    open_objects = [path for path, node in _objects(org_schema())
                    if "properties" in node and node.get("additionalProperties") is not False]
    assert open_objects == []


def test_the_package_serves_the_schema_file_itself():
    assert json.loads(schema_text()) == json.loads((ROOT / "schemas" / "org.schema.json").read_text(encoding="utf-8"))


def test_ids_are_constrained_by_a_pattern():
    assert org_schema()["$defs"]["id"]["pattern"].startswith("^[a-z]")


def _field_schemas(section: str, *path: str) -> dict:
    node = org_schema()["properties"][section]["items"]
    for key in path:
        node = node["properties"][key] if "properties" in node else node["items"]["properties"][key]
    return node


BUSINESS_TIME = [("slas", "first_response"), ("slas", "resolution"), ("handoffs", "within"), ("escalations", "levels", "within")]
CALENDAR_TIME = [("followups", "within"), ("surges", "window")]


def test_business_time_fields_take_working_days_and_calendar_time_fields_do_not():
    import copy

    import fastjsonschema

    defs = org_schema()["$defs"]
    for fields, wd_allowed in ((BUSINESS_TIME, True), (CALENDAR_TIME, False)):
        for field in fields:
            node = {"$defs": defs, **_field_schemas(*field)}
            gate = fastjsonschema.compile(copy.deepcopy(node))
            for text, ok in (("3wd", wd_allowed), ("2h30m", True), ("3d", True), ("3 days", False), ("wd", False), (3, False),
                             ("1" * 21 + "m", False)):
                by_jsonschema = jsonschema.Draft202012Validator(node).is_valid(text)
                try:
                    gate(text)
                    by_gate = True
                except fastjsonschema.JsonSchemaException:
                    by_gate = False
                assert by_jsonschema == by_gate == ok, (field, text)


def test_the_duration_form_documents_both_kinds_of_time_and_the_bound():
    text = org_schema()["$defs"]["duration"]["description"]
    for words in ("calendar time", "business time", "`3wd`", "366 days", "`72h`", "next opening"):
        assert words in text


@pytest.mark.parametrize("old, new, fix", [
    ("    handles: [complaint, question]", "    handles: [complaint， question]", "replace `，` (full-width comma) with `,`"),
    ("    handles: [complaint, question]", "    handles: ［complaint, question］", "replace `［` (full-width left square bracket) with `[`"),
])
def test_a_value_a_chinese_input_method_punctuated_gets_the_punctuation_as_its_fix(tmp_path, old, new, fix):
    text = (ROOT / "tests" / "fixtures" / "tiny.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "org.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    (problem,) = validate_path(path).diagnostics
    assert problem.hint.startswith(fix), problem.hint
