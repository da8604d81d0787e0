"""The org's graphs as Mermaid and Graphviz DOT: org chart, routing map, escalation paths, hand-offs.

Each view is first built as a networkx graph (nodes and edges with labels and a `problem`
mark), then written out; findings of `cxrules check` can be drawn in (gaps red, overlaps
orange) so the picture shows what to fix.

Labels follow the org's `locale`: under `zh-*` the Chinese `label` comes first and the
English `name` second. Labels are text from the org file, so each format escapes them:
Mermaid with its entity codes (`#lt;`, `#quot;` …), DOT with backslash escapes and HTML
entities (Graphviz turns them back into the characters), so no label can inject markup or
break the syntax.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Callable, Iterable, Optional

import networkx as nx

from ..diagnostics import Diagnostic
from ..model import Org

__all__ = ["VIEWS", "build", "to_mermaid", "to_dot", "render_image", "GraphvizMissing", "cjk_font_warning", "has_cjk"]

VIEWS = ("org", "routing", "escalation", "handoffs")
_COLOURS = {"gap": "#d62728", "overlap": "#ff7f0e", "warning": "#bcbd22"}
_GAP_CODES = {"CX401", "CX713", "CX711", "CX611", "CX502"}
_OVERLAP_CODES = {"CX402", "CX403", "CX511", "CX501", "CX612"}


class GraphvizMissing(RuntimeError):
    """SVG or PNG was asked for but Graphviz's `dot` is not installed."""


def _chinese_first(org: Org) -> bool:
    return (org.info.locale or "").lower().startswith("zh")


def _name(org: Org, item) -> str:
    """Name and label on two lines; the Chinese label first under a `zh` locale."""
    label = getattr(item, "label", None)
    if not label or label == item.name:
        return item.name
    return f"{label}\n{item.name}" if _chinese_first(org) else f"{item.name}\n{label}"


def _problems(findings: Iterable[Diagnostic]) -> dict[str, str]:
    marks: dict[str, str] = {}
    for finding in findings:
        if not finding.subject:
            continue
        kind = "gap" if finding.code in _GAP_CODES else "overlap" if finding.code in _OVERLAP_CODES else "warning"
        if marks.get(finding.subject) != "gap":
            marks[finding.subject] = kind
    return marks


def build(org: Org, view: str, findings: Iterable[Diagnostic] = ()) -> nx.DiGraph:
    """A view of the org as a graph; nodes carry `label`, `kind`, `group` and maybe `problem`."""
    findings = list(findings)
    marks = _problems(findings)
    graph = nx.DiGraph(name=view)
    if view == "org":
        for unit in org.units:
            graph.add_node(f"unit:{unit.id}", label=_name(org, unit), kind="unit", problem=marks.get(unit.id))
            if unit.parent:
                graph.add_edge(f"unit:{unit.parent}", f"unit:{unit.id}", kind="contains")
        for role in org.roles:
            graph.add_node(role.id, label=f"{_name(org, role)}\n×{role.headcount}" if role.staff else _name(org, role),
                           kind="authority" if role.authority else "role", group=f"unit:{role.unit}", problem=marks.get(role.id))
            if role.reports_to:
                graph.add_edge(role.reports_to, role.id, kind="reports")
    elif view == "routing":
        for rule in org.routing:
            what = " · ".join(part for part in (
                ", ".join(rule.match.declared_categories) or "any category",
                ", ".join(sorted(rule.match.channels)) if rule.match.channels else "",
                ", ".join(sorted(rule.match.segments)) if rule.match.segments else "",
                ", ".join(sorted(rule.match.priorities)) if rule.match.priorities else "") if part)
            graph.add_node(f"rule:{rule.id}", label=f"{what}\n(precedence {rule.precedence}{', ' + rule.during if rule.during else ''})",
                           kind="rule", problem=marks.get(rule.id))
            graph.add_node(rule.to, label=_name(org, org.role(rule.to)), kind="role", problem=marks.get(rule.to))
            graph.add_edge(f"rule:{rule.id}", rule.to, kind="routes")
        fallback = org.info.fallback_queue
        graph.add_node("rule:__fallback__", label="no rule matches\n(fallback queue)", kind="rule")
        graph.add_node(fallback, label=_name(org, org.role(fallback)), kind="role", problem=marks.get(fallback))
        graph.add_edge("rule:__fallback__", fallback, kind="fallback")
        gaps = [f for f in findings if f.code == "CX401"]
        for number, gap in enumerate(gaps):  # tickets nobody owns, drawn in red on their way to the fallback queue
            region = gap.message.removeprefix("no routing rule owns ")
            graph.add_node(f"gap:{number}", label=f"GAP: {region}", kind="rule", problem="gap")
            graph.add_edge(f"gap:{number}", fallback, kind="fallback", problem="gap")
    elif view == "escalation":
        for path in org.escalations:
            previous = f"path:{path.id}"
            graph.add_node(previous, label=path.name or path.id, kind="rule", problem=marks.get(path.id))
            for index, level in enumerate(path.levels):
                node = f"{path.id}:{index}"
                role = org.role(level.role)
                graph.add_node(node, label=_name(org, role), kind="authority" if role.authority else "role")
                graph.add_edge(previous, node, kind="escalates", label=str(path.levels[index - 1].within and
                                                                          _short(path.levels[index - 1].within)) if index else "breach")
                previous = node
            if path.then:
                graph.add_edge(previous, f"path:{path.then}", kind="then", label="then")
    elif view == "handoffs":
        for handoff in org.handoffs:
            for role_id in (handoff.from_role, handoff.to_role):
                graph.add_node(role_id, label=_name(org, org.role(role_id)), kind="role", problem=marks.get(role_id))
            categories = ", ".join(sorted(handoff.categories)) if handoff.categories is not None and len(handoff.categories) <= 3 else ""
            graph.add_edge(handoff.from_role, handoff.to_role, kind="returns" if handoff.returns else "handoff",
                           label=" ".join(x for x in (categories, f"≤{_short(handoff.within)}" if handoff.within else "",
                                                      "↩" if handoff.returns else "") if x), problem=marks.get(handoff.id))
    else:
        raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
    return graph


def _short(duration) -> str:
    from ..model import format_duration

    return format_duration(duration, days=False) if duration else ""  # hand-off and escalation limits: business time


def _safe(node: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", node)


def _groups(graph: nx.DiGraph) -> dict[str, list[str]]:
    """Nodes by the unit that boxes them in ("" for none), in insertion order."""
    groups: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        groups.setdefault(data.get("group") or "", []).append(node)
    return groups


def to_mermaid(graph: nx.DiGraph) -> str:
    """Mermaid `flowchart` text (renders on GitHub, GitLab and in most wikis)."""
    lines = ["flowchart TB" if graph.graph.get("name") in ("org", "escalation") else "flowchart LR"]
    groups = _groups(graph)
    for group, nodes in groups.items():
        indent = "    "
        if group:
            lines.append(f'    subgraph {_safe(group)}["{_escape_mermaid(graph.nodes[group]["label"] if group in graph else group)}"]')
            indent = "        "
        for node in nodes:
            if node == group or node in groups:  # a unit drawn as the box around its roles
                continue
            data = graph.nodes[node]
            text = _escape_mermaid(data["label"])
            shape = {"rule": f'[/"{text}"/]', "authority": f'[["{text}"]]', "unit": f'[("{text}")]'}.get(data["kind"], f'["{text}"]')
            lines.append(f"{indent}{_safe(node)}{shape}")
        if group:
            lines.append("    end")
    for source, target, data in graph.edges(data=True):
        if data.get("kind") == "contains" and (target in groups or source in groups):
            continue
        arrow = "-.->" if data.get("kind") in ("returns", "fallback", "then", "contains") else "-->"
        label = f'|"{_escape_mermaid(data["label"])}"|' if data.get("label") else ""
        lines.append(f"    {_safe(source)} {arrow}{label} {_safe(target)}")
    for node, data in graph.nodes(data=True):
        if data.get("problem"):
            lines.append(f"    style {_safe(node)} stroke:{_COLOURS[data['problem']]},stroke-width:3px")
        elif data.get("kind") == "authority":
            lines.append(f"    style {_safe(node)} fill:#e8f0fe,stroke:#1a73e8")
    return "\n".join(lines) + "\n"


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_MERMAID_CODES = {"#": "#35;", "&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;",
                  "[": "#91;", "]": "#93;", "{": "#123;", "}": "#125;", "|": "#124;", ";": "#59;", "\\": "#92;"}
_MERMAID_SPECIAL = re.compile("[" + re.escape("".join(_MERMAID_CODES)) + "]")


def _lines(text: str) -> list[str]:
    """A label's lines, with control characters (tabs, carriage returns …) turned into spaces."""
    return [_CONTROL.sub(" ", line) for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _escape_mermaid(text: str) -> str:
    """A label inside Mermaid's quotes: characters that are markup or syntax as entity codes, lines joined by <br/>."""
    return "<br/>".join(_MERMAID_SPECIAL.sub(lambda m: _MERMAID_CODES[m.group()], line) for line in _lines(text))


def to_dot(graph: nx.DiGraph) -> str:
    """Graphviz DOT text (units as clusters; problems outlined in red or orange)."""
    rankdir = "TB" if graph.graph.get("name") in ("org", "escalation") else "LR"
    lines = [f'digraph "{_dot(graph.graph.get("name", "org"))}" {{', f"  rankdir={rankdir};",
             '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Noto Sans CJK SC, sans-serif", fontsize=11];',
             '  edge [fontname="sans-serif", fontsize=9, color="#555555"];', '  graph [fontname="Noto Sans CJK SC, sans-serif"];']
    groups = _groups(graph)
    for group, nodes in groups.items():
        indent = "  "
        if group:
            label = graph.nodes[group]["label"] if group in graph else group
            lines.append(f'  subgraph "cluster_{_safe(group)}" {{ label="{_dot(label)}"; style="rounded,dashed"; color="#999999";')
            indent = "    "
        for node in nodes:
            if node in groups:  # a unit drawn as the cluster around its roles
                continue
            data = graph.nodes[node]
            attributes = [f'label="{_dot(data["label"])}"']
            if data["kind"] == "rule":
                attributes.append('shape=note, fillcolor="#f7f7f7"')
            elif data["kind"] == "authority":
                attributes.append('fillcolor="#e8f0fe", color="#1a73e8", penwidth=2')
            elif data["kind"] == "unit":
                attributes.append('shape=folder, fillcolor="#fafafa"')
            if data.get("problem"):
                attributes.append(f'color="{_COLOURS[data["problem"]]}", penwidth=3')
            lines.append(f'{indent}"{_dot(node)}" [{", ".join(attributes)}];')
        if group:
            lines.append("  }")
    for source, target, data in graph.edges(data=True):
        if data.get("kind") == "contains" and (target in groups or source in groups):
            continue
        attributes = []
        if data.get("label"):
            attributes.append(f'label="{_dot(data["label"])}"')
        if data.get("kind") in ("returns", "fallback", "then", "contains"):
            attributes.append("style=dashed")
        if data.get("problem"):
            attributes.append(f'color="{_COLOURS[data["problem"]]}", penwidth=2')
        lines.append(f'  "{_dot(source)}" -> "{_dot(target)}"' + (f" [{', '.join(attributes)}]" if attributes else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot(text: str) -> str:
    """Text inside DOT's quotes: HTML-safe (`&`, `<`, `>` as entities, which Graphviz draws as the characters),
    backslashes and quotes escaped, lines joined by `\\n`."""
    def line(part: str) -> str:
        part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return part.replace("\\", "\\\\").replace('"', '\\"')
    return "\\n".join(line(part) for part in _lines(text))


def render_image(dot_text: str, fmt: str, dot_binary: Optional[str] = None) -> bytes:
    """SVG or PNG through Graphviz's `dot`; raises :class:`GraphvizMissing` when it is not installed."""
    binary = dot_binary or shutil.which("dot")
    if binary is None:
        raise GraphvizMissing("Graphviz is not installed: `apt-get install graphviz` (Debian/Ubuntu), "
                              "`brew install graphviz` (macOS); or use --format mermaid or dot")
    completed = subprocess.run([binary, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, timeout=120)
    if completed.returncode != 0:
        raise RuntimeError(f"dot failed: {completed.stderr.decode('utf-8', 'replace')[:500]}")
    return completed.stdout


_CJK = re.compile("[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Chinese (or Japanese) characters, which need a CJK font to be drawn."""
    return _CJK.search(text) is not None


def cjk_fonts_installed() -> Optional[bool]:
    """Whether fontconfig knows a font for Chinese (`fc-list :lang=zh`); None when that cannot be told."""
    binary = shutil.which("fc-list")
    if binary is None:
        return None
    try:
        found = subprocess.run([binary, ":lang=zh", "family"], capture_output=True, timeout=120)  # a guard, not a speed limit
    except (OSError, subprocess.SubprocessError):
        return None
    return found.returncode == 0 and bool(found.stdout.strip())


def cjk_font_warning(dot_text: str, probe: Optional[Callable[[], Optional[bool]]] = None) -> Optional[str]:
    """A warning for a PNG whose Chinese labels Graphviz would draw as boxes (no CJK font installed), else None.

    ``probe`` tells whether a CJK font is installed (default :func:`cjk_fonts_installed`).
    """
    if not has_cjk(dot_text):
        return None
    if (probe or cjk_fonts_installed)() is not False:
        return None
    return ("no font for Chinese is installed (`fc-list :lang=zh` lists none), so the PNG shows its Chinese labels as boxes; "
            "install one, e.g. `apt-get install fonts-noto-cjk` (Debian/Ubuntu), or use --format svg or mermaid")
