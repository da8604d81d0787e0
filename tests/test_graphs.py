"""Graphs (issue 11): labels escaped in every format, Chinese first under `locale: zh-CN`, a warning for PNGs without a CJK font."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import cxrules
from cxrules.rendering import graphs
from cxrules.rendering.graphs import VIEWS, build, render_image, to_dot, to_mermaid

from browser import mermaid_parse, run_mermaid
from conftest import ORGS, ROOT, require_tool

TINY = ROOT / "tests" / "fixtures" / "tiny.yaml"
ARTIFACTS = ROOT / "artifacts"
EVIL = '<script>alert(1)</script> "q" back\\slash ] | ; {x} `tick` #quot; &amp; 投诉\nsecond line <img src=x onerror=alert(2)>'
EVIL_LABEL = "投诉专员 <script>alert(3)</script>"


def _yaml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _hostile_org(tmp_path: Path, locale: str = "zh-CN") -> Path:
    """tiny.yaml with markup, quotes, backslashes, newlines, `]`, `|`, `;` and Chinese in every name and label drawn."""
    text = TINY.read_text(encoding="utf-8")
    replacements = {
        "  timezone: Asia/Shanghai\n": f"  timezone: Asia/Shanghai\n  locale: {locale}\n",
        "    name: Manager\n": f"    name: {_yaml('Manager ' + EVIL)}\n    label: {_yaml('经理 ' + EVIL_LABEL)}\n",
        "    name: Service desk\n": f"    name: {_yaml('Desk ' + EVIL)}\n    label: {_yaml(EVIL_LABEL)}\n",
        "    name: Centre\n": f"    name: {_yaml('Centre ' + EVIL)}\n    label: {_yaml('中心 ' + EVIL_LABEL)}\n",
        "    name: Front line\n": f"    name: {_yaml('Front ' + EVIL)}\n    label: {_yaml('一线')}\n",
        "  - id: complaints\n    levels:\n": f"  - id: complaints\n    name: {_yaml('Path ' + EVIL)}\n    levels:\n",
        "escalations:\n": "handoffs:\n  - id: up\n    from: desk\n    to: manager\n    returns: true\nescalations:\n",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def hostile(tmp_path):
    return cxrules.load_org(_hostile_org(tmp_path))


RAW_MARKUP = re.compile(r"<\s*(script|img)", re.IGNORECASE)


@pytest.mark.parametrize("view", VIEWS)
def test_mermaid_labels_are_escaped_with_entity_codes(hostile, view):
    text = to_mermaid(build(hostile, view))
    assert not RAW_MARKUP.search(text), text
    assert "#lt;script#gt;" in text and "#quot;q#quot; back#92;slash #93; #124; #59;" in text
    for line in text.splitlines()[1:]:
        for label in re.findall(r'"(.*?)"', line):  # every quoted label: nothing Mermaid or HTML would read as syntax
            bare = re.sub(r"#\w+;", "", label.replace("<br/>", ""))
            assert not set(bare) & set('"<>[]{}|;`\\&#'), label


@pytest.mark.parametrize("view", VIEWS)
def test_dot_labels_are_escaped_and_dot_draws_them_as_written(hostile, view):
    text = to_dot(build(hostile, view))
    assert not RAW_MARKUP.search(text)
    require_tool(shutil.which("dot"), "Graphviz", "apt-get install graphviz")
    svg = render_image(text, "svg").decode("utf-8")
    assert not RAW_MARKUP.search(svg)
    drawn = " ".join("".join(node.itertext()) for node in ElementTree.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"))
    if view in ("org", "escalation"):  # the labels come back exactly as written in the org file
        assert "<script>alert(1)</script>" in drawn and '"q" back\\slash ] | ; {x} `tick` #quot; &amp; 投诉' in drawn
        assert "投诉专员 <script>alert(3)</script>" in drawn


def test_cli_formats_with_hostile_labels(run_cli, tmp_path):
    org = _hostile_org(tmp_path)
    for fmt in ("mermaid", "dot"):
        result = run_cli("graph", org, "--format", fmt)
        assert result.exit_code == 0 and not RAW_MARKUP.search(result.stdout)
    require_tool(shutil.which("dot"), "Graphviz", "apt-get install graphviz")
    for fmt in ("svg", "png"):
        target = tmp_path / f"g.{fmt}"
        result = run_cli("graph", org, "--format", fmt, "-o", target)
        assert result.exit_code == 0, result.output
        assert not RAW_MARKUP.search(target.read_bytes().decode("utf-8", "replace"))
    ElementTree.fromstring((tmp_path / "g.svg").read_bytes())  # well-formed XML
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")


def test_mermaid_with_hostile_labels_parses(tmp_path):
    org = cxrules.load_org(_hostile_org(tmp_path))
    diagrams = [to_mermaid(build(org, view)) for view in VIEWS]
    assert mermaid_parse(tmp_path, diagrams) == ["ok"] * len(diagrams)


def test_mermaid_draws_hostile_labels_as_written(tmp_path):
    """Rendered as a page embeds it (`mermaid.run`), every label shows the org's text, markup as text."""
    from html import escape, unescape

    org = cxrules.load_org(_hostile_org(tmp_path))
    out = run_mermaid(tmp_path, f'<pre class="mermaid">{escape(to_mermaid(build(org, "escalation")))}</pre>', """
mermaid.run({querySelector: '.mermaid'}).then(() => {
  document.getElementById('out').textContent = Array.from(document.querySelectorAll('.mermaid .nodeLabel'))
    .map(n => n.textContent).join('\\n') + '\\nscripts: ' + document.querySelectorAll('.mermaid script, .mermaid img').length;
}, e => { document.getElementById('out').textContent = 'FAIL ' + e.message; });""")
    drawn = unescape(out).splitlines()
    assert drawn[-1] == "scripts: 0", drawn
    assert "Path " + EVIL.replace("\n", "") in drawn, drawn
    assert "投诉专员 <script>alert(3)</script>" + "Desk " + EVIL.replace("\n", "") in drawn, drawn


def _order(text: str, first: str, second: str) -> bool:
    return 0 <= text.find(first) < text.find(second)


@pytest.mark.parametrize("view", VIEWS)
def test_chinese_label_comes_first_under_a_chinese_locale(view):
    org = cxrules.load_org(ORGS / "logistics.yaml")  # locale: zh-CN
    role = org.role("complaint_specialist")
    for text in (to_mermaid(build(org, view)), to_dot(build(org, view))):
        assert role.label in text
        assert _order(text, role.label, role.name), (view, text[:400])
        assert not _order(text, role.name, role.label)


@pytest.mark.parametrize("view", ["org", "escalation"])
def test_english_name_stays_first_under_another_locale(tmp_path, view):
    org = cxrules.load_org(_hostile_org(tmp_path, locale="en-GB"))
    for text in (to_mermaid(build(org, view)), to_dot(build(org, view))):
        assert 0 <= text.find("Manager ") < text.find("经理 ")
    chinese = cxrules.load_org(_hostile_org(tmp_path, locale="zh-CN"))
    for text in (to_mermaid(build(chinese, view)), to_dot(build(chinese, view))):
        assert 0 <= text.find("经理 ") < text.find("Manager ")


def test_png_warns_when_no_cjk_font_is_installed(run_cli, tmp_path, monkeypatch):
    require_tool(shutil.which("dot"), "Graphviz", "apt-get install graphviz")
    monkeypatch.setattr(graphs, "cjk_fonts_installed", lambda: False)
    result = run_cli("graph", ORGS / "logistics.yaml", "--format", "png", "-o", tmp_path / "g.png")
    assert result.exit_code == 0
    assert "warning" in result.stderr and "apt-get install fonts-noto-cjk" in result.stderr and "fc-list :lang=zh" in result.stderr
    # not for formats that carry the text (the viewer's fonts draw it), nor for an org without Chinese, nor with a font
    assert "fonts-noto-cjk" not in run_cli("graph", ORGS / "logistics.yaml", "--format", "svg", "-o", tmp_path / "g.svg").stderr
    assert "fonts-noto-cjk" not in run_cli("graph", TINY, "--format", "png", "-o", tmp_path / "t.png").stderr
    monkeypatch.setattr(graphs, "cjk_fonts_installed", lambda: True)
    assert "fonts-noto-cjk" not in run_cli("graph", ORGS / "logistics.yaml", "--format", "png", "-o", tmp_path / "g.png").stderr


def test_font_probe_asks_fontconfig(monkeypatch):
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, stdout=b"", stderr=b"")

    monkeypatch.setattr(graphs.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(graphs.subprocess, "run", fake_run)
    assert graphs.cjk_fonts_installed() is False and calls[0][1] == ":lang=zh"
    assert graphs.cjk_font_warning("label=\"投诉\"", probe=lambda: False)
    assert graphs.cjk_font_warning("label=\"complaint\"", probe=lambda: False) is None
    assert graphs.cjk_font_warning("label=\"投诉\"", probe=lambda: None) is None  # cannot tell: no false alarm
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    assert graphs.cjk_fonts_installed() is None


def test_png_of_a_chinese_org_draws_its_labels(tmp_path):
    """Writes artifacts/graph-logistics-org.png, for a person to look at: Chinese must show as characters, not boxes."""
    require_tool(shutil.which("dot"), "Graphviz", "apt-get install graphviz")
    require_tool(graphs.cjk_fonts_installed(), "a CJK font", "apt-get install fonts-noto-cjk")
    png = render_image(to_dot(build(cxrules.load_org(ORGS / "logistics.yaml"), "org")), "png")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "graph-logistics-org.png").write_bytes(png)
