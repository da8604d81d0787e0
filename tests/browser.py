"""Headless Chromium for tests: open a page, collect console errors, take a screenshot.

Chromium comes from Debian's package (installed by .ci/run); where it is missing, the
browser tests are skipped with a message saying so, except in CI, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import require_tool

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000"]


def chromium() -> str:
    path = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    require_tool(path, "headless Chromium", "apt-get install chromium")
    return path


def open_page(url: str, screenshot: Path | None = None, size: str = "1400,3000") -> tuple[str, list[str]]:
    """The page's DOM after scripts ran, and the console errors it logged."""
    binary = chromium()
    with tempfile.TemporaryDirectory() as profile:
        args = [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}"]
        dom = subprocess.run(args + ["--dump-dom", url], capture_output=True, text=True, timeout=600)  # a guard against a hung browser, not a speed limit
        if screenshot is not None:
            subprocess.run(args + [f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=600)  # a guard against a hung browser, not a speed limit
    errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or ":ERROR:" in line or "error" in line.lower())]
    return dom.stdout, errors


def mermaid_js() -> str:
    """Mermaid's bundle from npm (CXRULES_MERMAID_JS, set by .ci/run); a skip, or in CI a failure, without it."""
    path = os.environ.get("CXRULES_MERMAID_JS")
    require_tool(path and Path(path).exists(), "Mermaid's parser", "npm install mermaid@11 and set CXRULES_MERMAID_JS to dist/mermaid.min.js")
    return str(path)


def run_mermaid(tmp_path: Path, body: str, script: str) -> str:
    """Load Mermaid in a page holding ``body``, run ``script`` (which writes into `<pre id="out">`), return that text."""
    page = tmp_path / "mermaid.html"
    page.write_text(f"""<!DOCTYPE html><html><body><pre id="out">pending</pre>{body}
<script src="file://{mermaid_js()}"></script><script>
mermaid.initialize({{startOnLoad: false}});
{script}
</script></body></html>""", encoding="utf-8")
    dom, _ = open_page(page.as_uri())
    return dom.split('<pre id="out">')[1].split("</pre>")[0]


def mermaid_parse(tmp_path: Path, diagrams: list[str]) -> list[str]:
    """`ok`, or `FAIL i: message`, for each diagram as Mermaid's own parser judges it."""
    embedded = json.dumps(diagrams).replace("</", "<\\/")  # a label's `</script>` must not end the page's script
    return run_mermaid(tmp_path, "", f"""const diagrams = {embedded};
Promise.all(diagrams.map((text, i) => mermaid.parse(text).then(() => 'ok', e => 'FAIL ' + i + ': ' + e.message)))
  .then(results => {{ document.getElementById('out').textContent = results.join('\\n'); }});""").strip().splitlines()


_MEASURE = """<script>document.querySelectorAll('section').forEach(function (s) {
  s.setAttribute('data-height', Math.ceil(s.getBoundingClientRect().height)); });</script>"""


def section_screenshots(html: str, folder: Path, prefix: str, ids: list[str], width: int = 1400) -> dict[str, tuple[Path, str]]:
    """A screenshot of each section ``ids`` of a report, cut to the section's own height: section id → (PNG, its DOM).

    The report is opened once with a script that writes each section's height into the page; then each section is shown
    alone, under the report's own head (its stylesheet), in a window that tall.
    """
    import re

    folder.mkdir(parents=True, exist_ok=True)
    head, _, _ = html.partition("<header>")
    with tempfile.TemporaryDirectory() as scratch:
        whole = Path(scratch) / "whole.html"
        whole.write_text(html.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
        dom, _ = open_page(whole.as_uri(), size=f"{width},2000")
        shots = {}
        for key in ids:
            found = re.search(rf'<section id="{key}"[^>]*data-height="(\d+)"', dom)
            assert found, f"section {key} is not in the report"
            body = re.search(rf'<section id="{key}".*?</section>', html, re.S)
            assert body, key
            page = Path(scratch) / f"{key}.html"
            page.write_text(f"{head}<main>{body.group(0)}</main></body></html>", encoding="utf-8")
            png = folder / f"{prefix}-{key}.png"
            section_dom, errors = open_page(page.as_uri(), screenshot=png, size=f"{width},{int(found.group(1)) + 60}")
            assert errors == [], errors
            shots[key] = (png, section_dom)
    return shots
