"""Generate the references: docs/format.md (org files), docs/mapping.md (ticket-log mappings) and docs/model.md
(simulation models) from their schemas' descriptions, and docs/codes.md from the codes' docs.

`python -m cxrules.docs` rewrites them; a test fails when they are out of date.
"""

from __future__ import annotations

from pathlib import Path

from .codes import all_codes
from .schema import org_schema, schema_text

__all__ = ["format_reference", "codes_reference", "file_reference", "SIDE_FILES", "write_docs"]

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _type(node: dict, defs: dict) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        target = defs[name]
        if name in ("ref", "id"):
            return "id"
        if name == "refList":
            return "list of ids"
        if name in ("category", "match", "weekHours"):
            return f"[{name}](#{name.lower()})"
        return target.get("type", name) if name not in ("duration", "percent", "interval", "date", "timezone") else name
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "")
    if kind == "array":
        return f"list of {_type(node.get('items', {}), defs)}"
    return kind


def _table(properties: dict, required: set, defs: dict, path: str, out: list, nested: list) -> None:
    out.append("| key | type | required | meaning |\n|---|---|---|---|")
    for key, node in properties.items():
        description = node.get("description") or defs.get(node.get("$ref", "/").rsplit("/", 1)[1], {}).get("description", "")
        out.append(f"| `{key}` | {_type(node, defs)} | {'yes' if key in required else ''} | {description.replace('|', '/')} |")
        inner = node.get("items", node) if node.get("type") == "array" else node
        if "properties" in inner:
            nested.append((f"{path}.{key}" if path else key, inner))


def format_reference() -> str:
    schema = org_schema()
    defs = schema["$defs"]
    out = ["# Org file format", "", "_Generated from `schemas/org.schema.json` by `python -m cxrules.docs`; do not edit._", "",
           schema["description"], ""]
    queue = [("", schema)]
    while queue:
        path, node = queue.pop(0)
        out.append(f"## `{path}`" if path else "## Top level")
        out.append("")
        nested: list = []
        _table(node["properties"], set(node.get("required", [])), defs, path, out, nested)
        out.append("")
        queue.extend(nested)
    for name in ("match", "category", "weekHours"):
        node = defs[name]
        out += [f"## {name}", "", node["description"], ""]
        if "properties" in node:
            _table(node["properties"], set(node.get("required", [])), defs, name, out, [])
            out.append("")
    out += ["## Value forms", ""] + [f"- **{name}**: {defs[name]['description']}" for name in ("id", "duration", "interval", "percent", "date", "timezone")]
    return "\n".join(out) + "\n"


SIDE_FILES = {"mapping.md": ("mapping.schema.json", "Ticket-log mapping format"),
              "model.md": ("model.schema.json", "Simulation model format")}
"""The references of the files beside an org: what `cxrules simulate` reads a log with, and what `calibrate` writes."""


def file_reference(schema_name: str, title: str) -> str:
    """A reference of any of the simulation's file formats: one table per object, maps keyed by ids shown as `<id>`."""
    import json

    schema = json.loads(schema_text(schema_name))
    defs = schema["$defs"]
    out = [f"# {title}", "", f"_Generated from `schemas/{schema_name}` by `python -m cxrules.docs`; do not edit._", "",
           schema["description"], ""]
    queue, seen = [("", schema)], set()
    while queue:
        path, node = queue.pop(0)
        out += [f"## `{path}`" if path else "## Top level", ""]
        if node.get("description") and path:
            out += [node["description"], ""]
        out.append("| key | type | required | meaning |\n|---|---|---|---|")
        for key, child in node["properties"].items():
            target = defs.get(child.get("$ref", "/").rsplit("/", 1)[1], {})
            description = child.get("description") or target.get("description", "")
            out.append(f"| `{key}` | {_kind(child, defs)} | {'yes' if key in node.get('required', ()) else ''} | {description.replace('|', '/')} |")
            for inner_path, inner in _objects(f"{path}.{key}" if path else key, child, defs):
                if inner_path not in seen:
                    seen.add(inner_path)
                    queue.append((inner_path, inner))
        out.append("")
    return "\n".join(out)


def _resolved(node: dict, defs: dict) -> dict:
    return defs[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node


def _objects(path: str, node: dict, defs: dict):
    """The objects with keys of their own under ``node``: itself, its list items, the values of a map (keyed by `<id>`).
    A shared definition is named once, by its name, however many keys use it."""
    if "$ref" in node and "properties" in _resolved(node, defs):
        yield node["$ref"].rsplit("/", 1)[1], _resolved(node, defs)
        return
    node = _resolved(node, defs)
    if "properties" in node:
        yield path, node
    elif node.get("type") == "array" and "items" in node:
        yield from _objects(f"{path}[]", node["items"], defs)
    elif isinstance(node.get("additionalProperties"), dict):
        yield from _objects(f"{path}.<id>", node["additionalProperties"], defs)


def _kind(node: dict, defs: dict) -> str:
    target = _resolved(node, defs)
    if "$ref" in node and "properties" in target:
        name = node["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "$ref" in node and "pattern" in target:
        return node["$ref"].rsplit("/", 1)[1]  # a value form: id, duration, date, time zone
    if "enum" in target:
        return " \\| ".join(f"`{v}`" for v in target["enum"])
    if "const" in target:
        return f"`{target['const']}`"
    if target.get("type") == "array":
        return f"list of {_kind(target.get('items', {}), defs)}"
    if isinstance(target.get("additionalProperties"), dict):
        return f"map of id → {_kind(target['additionalProperties'], defs)}"
    return target.get("type", "text")


def codes_reference() -> str:
    registry = all_codes()
    out = ["# Diagnostic codes", "", "_Generated from the code registry and the checks' docstrings by `python -m cxrules.docs`; do not edit._", "",
           "| code | name | severity | summary |", "|---|---|---|---|"]
    for code in sorted(registry):
        info = registry[code]
        out.append(f"| [{code}](#{code.lower()}) | `{info.name}` | {info.severity.value} | {info.summary} |")
    out.append("")
    for code in sorted(registry):
        info = registry[code]
        out += [f"## {code}", "", f"**{info.name}** ({info.severity.value}): {info.summary}", "", info.doc, ""]
    return "\n".join(out)


def write_docs(folder: Path = DOCS) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "format.md").write_text(format_reference(), encoding="utf-8")
    (folder / "codes.md").write_text(codes_reference(), encoding="utf-8")
    for name, (schema_name, title) in SIDE_FILES.items():
        (folder / name).write_text(file_reference(schema_name, title), encoding="utf-8")


if __name__ == "__main__":
    write_docs()
