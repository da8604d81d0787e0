"""The report as a PDF, printed by headless Chromium: the browser that lays the HTML out is the one that prints it.

The report's print stylesheet (A4, no sticky headers, no figure split across pages) decides how it looks; nothing here
draws anything. Chromium is an outside program: where it is missing, :class:`ChromiumMissing` says how to get it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

__all__ = ["html_to_pdf", "find_chromium", "ChromiumMissing", "PdfFailed", "BROWSERS"]

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
"""The names headless Chromium goes by on PATH, tried in this order."""


class ChromiumMissing(RuntimeError):
    """No Chromium on PATH: the message says which names were looked for and how to install one."""


class PdfFailed(RuntimeError):
    """Chromium ran but wrote no PDF: the message has what it said."""


def find_chromium() -> Optional[str]:
    """The first of :data:`BROWSERS` on PATH, or None."""
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = 300) -> None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (A4, as the page's print stylesheet lays it out).

    Raises :class:`ChromiumMissing` when no Chromium is on PATH and :class:`PdfFailed` when it writes no PDF.
    """
    binary = find_chromium()
    if binary is None:
        raise ChromiumMissing(f"--pdf needs headless Chromium, and none of {', '.join(BROWSERS)} is on PATH "
                              "(install it, e.g. `apt-get install chromium`), or print the HTML report from a browser")
    pdf_path = Path(pdf_path).resolve()
    pdf_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--no-pdf-header-footer",
                "--run-all-compositor-stages-before-draw", "--virtual-time-budget=3000", f"--print-to-pdf={pdf_path}",
                Path(html_path).resolve().as_uri()]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PdfFailed(f"{binary} could not print {html_path}: {error}") from None
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PdfFailed(f"{binary} wrote no PDF (exit {done.returncode}): {' / '.join(said) or 'it said nothing'}")
