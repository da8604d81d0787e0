"""Headless Chromium for tests: open a page, collect console errors, take a screenshot.

Chromium comes from Debian's package (installed by .ci/run); where it is missing, the
browser tests are skipped with a message saying so, except in CI, where they fail.
"""

from __future__ import annotations

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
