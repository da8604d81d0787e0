"""Generate docs/format.md (from the schema's descriptions) and docs/codes.md (from the codes' docs).

`python -m cxrules.docs` rewrites both; tests/test_docs.py fails when they are out of date.
"""

from __future__ import annotations

from pathlib import Path

from .codes import all_codes
from .schema import org_schema

__all__ = ["format_reference", "codes_reference", "write_docs"]

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


if __name__ == "__main__":
    write_docs()
