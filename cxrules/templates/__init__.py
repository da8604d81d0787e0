"""Starting points for `cxrules init`: the three shipped orgs and a blank org that teaches the format."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..schema import schema_text

__all__ = ["TEMPLATES", "template_text", "write_template"]

TEMPLATES = ("blank", "automotive", "logistics", "aftersales")
_SOURCE_ORGS = Path(__file__).resolve().parent.parent.parent / "orgs"


def template_text(name: str) -> str:
    """The template's YAML: packaged with the wheel, or read from orgs/ in a source checkout."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown template `{name}`; one of {', '.join(TEMPLATES)}")
    packaged = resources.files(__name__) / f"{name}.yaml"
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (_SOURCE_ORGS / f"{name}.yaml").read_text(encoding="utf-8")


def write_template(name: str, target: Path) -> list[Path]:
    """Write the template and, beside it, the schema its first line points editors at."""
    text = re.sub(r"^# yaml-language-server: \$schema=\S+", "# yaml-language-server: $schema=org.schema.json",
                  template_text(name), count=1, flags=re.MULTILINE)
    target.write_text(text, encoding="utf-8")
    schema = target.parent / "org.schema.json"
    written = [target]
    if not schema.exists():
        schema.write_text(schema_text(), encoding="utf-8")
        written.append(schema)
    return written
