"""Schema validation: the org schema, and jsonschema's errors told as plain sentences.

``schemas/org.schema.json`` is the single source of truth for the format. The installed
package carries a copy (see ``pyproject.toml``); a source checkout reads the file itself.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

import fastjsonschema
import jsonschema

from .diagnostics import Diagnostic
from .loading import LOOKALIKES, Document, JsonPath

__all__ = ["org_schema", "schema_text", "validate_document", "validate_against", "schema_problems", "is_valid", "describe_path", "closest"]

SCHEMA_NAME = "org.schema.json"
SUPPORTED_API_VERSION = "cxrules/v1"


def schema_text(name: str = SCHEMA_NAME) -> str:
    """A schema as published (for `cxrules schema` and for editors): the installed copy, else the source file."""
    packaged = resources.files("cxrules") / "schemas" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "schemas" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def org_schema() -> dict:
    return json.loads(schema_text())


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(org_schema())


_ITEM_NAME = ".format(**locals())"
_RAISE = re.compile(r"^( *)raise JsonSchemaValueException\(.*\)$", re.MULTILINE)


@lru_cache(maxsize=1)
def _gate_code() -> str:
    """The Python source of the gate: fastjsonschema's code for the org schema, less what only its messages need.

    The gate answers yes or no; jsonschema words the errors. So two things of the generated
    code go, and nothing else changes:

    - fastjsonschema names each list item for its messages, `".roles[{data__roles_x}]".format(**locals())`,
      and evaluates that on every item that goes to the function of a `$ref`, valid or not; in the
      function of the whole schema ``locals()`` holds hundreds of variables, so naming the items
      cost 2 s of a 20,000-rule org whose checks take 0.25 s. The names are left unformatted.
    - each `raise` carries its message, its value and the whole schema of its property written
      out: two thirds of the code, compiled in every process. A bare `raise` says no as well.
    """
    code = fastjsonschema.compile_to_code(copy.deepcopy(org_schema()), use_default=False)  # it rewrites `$ref`s in place
    return _RAISE.sub(r'\1raise JsonSchemaValueException("")', code).replace(_ITEM_NAME, "")


@lru_cache(maxsize=1)
def _gate() -> Callable[[Any], Any]:
    """A compiled yes/no validator of the same schema, ~20x faster than jsonschema on big orgs.

    jsonschema stays the authority: it runs whenever the gate says no, and its errors are
    what users see. tests/test_mutations.py checks that both always agree.
    """
    code = _gate_code()
    namespace: dict[str, Any] = {}
    exec(compile(code, "<org schema gate>", "exec"), namespace)  # code generated from our own schema
    root = re.search(r"^def (\w+)\(", code, re.MULTILINE)  # the first function is the whole schema's
    assert root is not None
    return namespace[root.group(1)]


def is_valid(data: Any) -> bool:
    try:
        _gate()(data)
        return True
    except fastjsonschema.JsonSchemaException:
        return False


def closest(word: str, candidates, cutoff: float = 0.6) -> str | None:
    """The candidate nearest to a misspelt word, for "did you mean …" hints."""
    matches = difflib.get_close_matches(str(word), sorted(set(candidates)), n=1, cutoff=cutoff)
    return matches[0] if matches else None


_SECTION_NOUNS = {
    "calendars": "calendar", "units": "unit", "roles": "role", "duties": "duty", "channels": "channel",
    "categories": "category", "segments": "segment", "skills": "skill", "slas": "SLA", "routing": "routing rule",
    "handoffs": "hand-off", "escalations": "escalation path", "followups": "follow-up policy",
    "surges": "surge rule", "workflows": "workflow", "automations": "automation", "campaigns": "campaign", "accept": "accepted finding",
}


def describe_path(document: Document, path: JsonPath) -> str:
    """Name the object a path lies in: "role `cs_rep`", "`staff` entry 2 of role `desk`", "`org`"."""
    if len(path) >= 2 and path[0] in _SECTION_NOUNS and isinstance(path[1], int):
        item_id = document.get(path[:2] + ("id",))
        noun = _SECTION_NOUNS[path[0]]
        item = f"{noun} `{item_id}`" if isinstance(item_id, str) else f"{noun} #{path[1] + 1}"
        inner = path[2:]
        for index in range(len(inner) - 1, 0, -1):
            if isinstance(inner[index], int) and isinstance(inner[index - 1], str):
                return f"`{inner[index - 1]}` entry {inner[index] + 1} of {item}"
        return item
    if len(path) > 1:
        return f"`{path[0]}`"
    return "the file"


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if value == "":
        return "(empty)"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "a mapping"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED_TYPES = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false", "array": "a list", "object": "a mapping"}


@lru_cache(maxsize=4)
def _named_validator(name: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_text(name)))


def validate_against(document: Document, name: str) -> list[Diagnostic]:
    """Schema violations of a file against another published schema (e.g. the log mapping's)."""
    return [diagnostic for error in _named_validator(name).iter_errors(document.data) for diagnostic in _translate(document, error)]


def validate_document(document: Document) -> list[Diagnostic]:
    """Every schema violation of one file, at the line and column where it must be fixed."""
    return [diagnostic for _, diagnostic in schema_problems(document)]


def schema_problems(document: Document) -> list[tuple[JsonPath, Diagnostic]]:
    """Schema violations with the path of the value each is about."""
    if is_valid(document.data):
        return []
    return [(tuple(error.absolute_path), diagnostic) for error in _validator().iter_errors(document.data)
            for diagnostic in _translate(document, error)]


def _as_dict(schema: Any) -> dict:
    return schema if isinstance(schema, dict) else {}


def _translate(document: Document, error: jsonschema.ValidationError) -> Iterator[Diagnostic]:
    path = tuple(error.absolute_path)
    where = describe_path(document, path)
    named = [step for step in path[2:] if isinstance(step, str)] if len(path) > 2 else [step for step in path if isinstance(step, str)]
    field = f"`{named[-1]}`" if named else "the value"
    # jsonschema types these as `Any | Unset`; on an error they are always set
    kind: Any = error.validator
    schema = _as_dict(error.schema)
    value: Any = error.instance

    if kind == "additionalProperties":
        known = list(schema.get("properties", {}))
        for extra in sorted(set(value) - set(known)):
            suggestion = closest(extra, known)
            yield Diagnostic(
                "CX112", f"unknown property `{extra}` in {where}", document.location(path + (extra,), key=True),
                hint=f"did you mean `{suggestion}`?" if suggestion else f"known properties: {', '.join(known)}")
    elif kind == "required":
        missing = re.match(r"'([^']+)'", error.message)
        name = missing.group(1) if missing else error.message
        if path == () and name == "apiVersion":
            yield Diagnostic("CX120", f"the file has no `apiVersion`; this release reads `{SUPPORTED_API_VERSION}`",
                             document.location(()), hint=f"add `apiVersion: {SUPPORTED_API_VERSION}` as the first key")
            return
        yield Diagnostic("CX111", f"{where} is missing the required property `{name}`", document.location(path, key=True),
                         hint=_describe_property(schema, name))
    elif kind == "type":
        types: Any = error.validator_value
        expected = " or ".join(str(_EXPECTED_TYPES.get(t, t)) for t in (types if isinstance(types, list) else [types]))
        hint = None
        if path in document.surprises:
            original = document.surprises[path]
            hint = f"YAML reads `{original}` as {_shown(value)}: write `\"{original}\"` in quotes"
        elif (lookalike := _lookalike_hint(value)) is not None:
            hint = lookalike
        elif expected == "a list" and isinstance(value, (str, int)):
            hint = f"write a list: `[{_shown(value)}]`"
        elif isinstance(value, int) and not isinstance(value, bool) and path and path[-1] in _DURATION_FIELDS:
            hint = f"a duration needs its unit: `{value}h` for {value} hours, `{value}m` for minutes"
        if value is None:
            yield Diagnostic("CX110", f"{field} in {where} has no value; expected {expected}", document.location(path, key=True),
                             hint=_describe_property(_as_dict(error.parent.schema) if error.parent else {}, str(path[-1])) if path else None)
            return
        found = _shown(value) if isinstance(value, (list, dict)) else f"{_type_name(value)} `{_shown(value)}`"
        yield Diagnostic("CX110", f"{field} in {where} must be {expected}, found {found}", document.location(path), hint=hint)
    elif kind in ("enum", "const"):
        allowed = schema.get("enum") or [schema.get("const")]
        if path == ("apiVersion",):
            yield Diagnostic("CX120", f"unsupported apiVersion `{_shown(value)}`; this release reads `{SUPPORTED_API_VERSION}`",
                             document.location(path), hint=f"set `apiVersion: {SUPPORTED_API_VERSION}`")
            return
        suggestion = closest(str(value), [str(a) for a in allowed])
        yield Diagnostic("CX113", f"{field} in {where} is `{_shown(value)}`; expected one of {', '.join(f'`{a}`' for a in allowed)}",
                         document.location(path), hint=f"did you mean `{suggestion}`?" if suggestion else None)
    elif kind == "pattern" and "propertyNames" in error.schema_path:
        days = ["daily", "weekdays", "weekends", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        suggestion = closest(str(value), days, cutoff=0.3)
        yield Diagnostic("CX114", f"`{_shown(value)}` is not a day in {where}", document.location(path + (value,), key=True),
                         hint=(f"did you mean `{suggestion}`? " if suggestion else "")
                         + "days are `daily`, `weekdays`, `weekends`, a day such as `mon` or a range such as `mon-fri`")
    elif kind == "pattern":
        yield _bad_format(document, path, field, where, value, schema)
    elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems"):
        bound = error.validator_value
        rule = {
            "minimum": f"at least {bound}", "maximum": f"at most {bound}",
            "exclusiveMinimum": f"more than {bound}", "exclusiveMaximum": f"less than {bound}",
            "minLength": f"at least {bound} character(s) long", "maxLength": f"at most {bound} characters long",
            "minItems": f"a list of at least {bound} item(s)", "maxItems": f"a list of at most {bound} items",
        }[kind]
        yield Diagnostic("CX115", f"{field} in {where} must be {rule}, found `{_shown(value)}`", document.location(path))
    elif kind == "uniqueItems":
        seen, repeated = set(), None
        for index, item in enumerate(value):
            marker = json.dumps(item, sort_keys=True)
            if marker in seen:
                repeated = index
                break
            seen.add(marker)
        at = path + (repeated,) if repeated is not None else path
        yield Diagnostic("CX116", f"{field} in {where} lists `{_shown(document.get(at))}` twice", document.location(at),
                         hint="remove the repeated item")
    else:
        yield Diagnostic("CX119", f"{field} in {where}: {error.message}", document.location(path))


_DURATION_FIELDS = frozenset({"first_response", "resolution", "within", "window", "mean"})
"""Properties that hold a duration, whatever the section: a bare number there lacks its unit."""

_FORMAT_HINTS = {
    "id": "ids are lower-case letters, digits and `_`, starting with a letter",
    "ref": "ids are lower-case letters, digits and `_`, starting with a letter",
    "duration": "write calendar time like `30m`, `2h30m`, `3d` or `1w`",
    "businessDuration": "write business time as open hours like `30m`, `4h`, `2h30m`, or working days like `3wd`",
    "interval": "write times of day as `HH:MM-HH:MM`, e.g. `09:00-18:00`",
    "percent": "write shares like `80%`",
    "date": "write dates as `YYYY-MM-DD`",
    "timezone": "use an IANA time zone such as `Asia/Shanghai`",
}


def _bad_format(document: Document, path: JsonPath, field: str, where: str, value: Any, schema: dict) -> Diagnostic:
    pattern = schema.get("pattern", "")
    kind = next((name for name, definition in org_schema()["$defs"].items() if definition.get("pattern") == pattern), None)
    hint = _FORMAT_HINTS.get(kind or "", None)
    if kind in ("id", "ref") and isinstance(value, str):
        slug = re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")
        if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", slug):
            hint = f"{hint}: did you mean `{slug}`?"
    elif kind in ("duration", "businessDuration") and isinstance(value, str):
        spaced = re.sub(r"\s+", "", value.lower())
        days = "d" if kind == "duration" else "wd"
        for long, short in (("workingdays", "wd"), ("workingday", "wd"), ("weeks", "w"), ("week", "w"), ("days", days), ("day", days),
                            ("hours", "h"), ("hour", "h"), ("mins", "m"), ("min", "m")):
            spaced = spaced.replace(long, short)
        if kind == "businessDuration":  # `3D`: days are refused in business time (CX310), so suggest working days
            spaced = re.sub(r"^(\d+)d$", r"\1wd", spaced)
        if spaced != value and re.fullmatch(pattern, spaced):
            hint = f"{hint}: did you mean `{spaced}`?"
    if hint is None:
        hint = schema.get("description")
    return Diagnostic("CX114", f"{field} in {where} has the wrong form: `{_shown(value)}`", document.location(path),
                      hint=_lookalike_hint(value) or hint)


def _lookalike_hint(value: Any) -> str | None:
    """`complaint， question` read as one text: the fix is the punctuation a Chinese input method typed, not the value."""
    if not isinstance(value, str):
        return None
    found = next((char for char in value if char in LOOKALIKES), None)
    if found is None:
        return None
    name, ascii_form = LOOKALIKES[found]
    return f"replace `{found}` ({name}) with `{ascii_form}`: YAML read `{_shown(value)}` as one text"


def _describe_property(schema: dict, name: str) -> str | None:
    description = schema.get("properties", {}).get(name, {}).get("description")
    return f"`{name}`: {description}" if description else None
