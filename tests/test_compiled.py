"""The engine's and the replay's modules run compiled, as installed by the README's command.

`pyproject.toml` lists the modules mypyc compiles when a wheel is built. A build that stopped
compiling them (a hook dropped, a module renamed) would still pass every other test, only
slower; in CI, which installs as the README says, it fails here.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import tomllib
from pathlib import Path

import pytest

from conftest import require_tool

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _compiled_modules() -> list[str]:
    hook = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    return [path.removesuffix(".py").replace("/", ".") for path in hook["include"]]


def test_every_module_listed_for_mypyc_exists():
    assert _compiled_modules(), "no module is listed for mypyc"
    for name in _compiled_modules():
        assert (PYPROJECT.parent / (name.replace(".", "/") + ".py")).is_file(), name


@pytest.mark.parametrize("name", _compiled_modules())
def test_the_installed_module_is_the_compiled_one(name):
    module = importlib.import_module(name)
    compiled = any(str(module.__file__).endswith(suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)
    require_tool(compiled, f"the compiled `{name}` (this run imports {module.__file__})",
                 "pip install . compiles it; an editable install without build hooks does not")
