"""The engine's and the replay's modules run compiled, as installed by the README's command, and decide as the source does.

`pyproject.toml` lists the modules mypyc compiles when a wheel is built. A build that stopped
compiling them (a hook dropped, a module renamed) would still pass every other test, only
slower; in CI, which installs as the README says, it fails here. Compiled code trusts its
type annotations where Python checks nothing (a `bool` taken as an `int`, a parameter typed
`int` given a text): a replay and an engine stream must come out byte for byte as from the
interpreted source.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from cxrules.engine import Engine, TicketCreated, VirtualClock
from cxrules.engine import store as store_module
from cxrules.engine.store import Schedule, timer_entry

from conftest import ROOT, require_tool
from engine_helpers import local, make_org

PYPROJECT = ROOT / "pyproject.toml"


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


@pytest.mark.parametrize("name", _compiled_modules())
def test_a_compiled_module_binds_at_its_top_level_only_constants_and_type_aliases(name):
    """Compiled, a module-level name declared Final is read from a C static; any other is looked up in the module's dict at
    each use, about 40 times an event on the engine's path before they were declared (cachegrind: the realistic stream
    -4.6 % instructions once they were). So each name a compiled module binds at its top level, other than by import, def
    or class, is Final, a TypeAlias or a TypeVar."""
    tree = ast.parse((PYPROJECT.parent / (name.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
    loose = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign):
            declared = ast.unparse(node.annotation).split("[")[0]
            if declared not in ("Final", "TypeAlias"):
                loose.append(f"line {node.lineno}: {ast.unparse(node.target)}: {declared}")
        elif isinstance(node, ast.Assign):
            targets = [ast.unparse(target) for target in node.targets]
            is_type_var = isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "TypeVar"
            if targets != ["__all__"] and not is_type_var:
                loose.append(f"line {node.lineno}: {' = '.join(targets)}")
    assert not loose, f"{name}: declare these Final (or TypeAlias): {'; '.join(loose)}"


def test_the_schedule_hands_back_the_entries_it_holds_not_copies():
    """Compiled, a tuple typed field by field is taken apart each time it is read from a list and built anew (a new tuple, its
    float and ints allocated) each time it is returned: 460 instructions a look at the schedule's head, 2.5 % of a replay's
    work. The memory store's timer entries are typed as tuples of any length so that they pass through whole."""
    compiled = any(str(store_module.__file__).endswith(suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)
    require_tool(compiled, f"the compiled `cxrules.engine.store` (this run imports {store_module.__file__})",
                 "pip install . compiles it; interpreted, an entry is always the very one held")
    entries = [timer_entry(local(2025, 3, 3, 10, minute), 7 + minute, "sla", "T1", f"T1:{minute}", ("resolution", "breach", 0))
               for minute in range(3)]
    schedule = Schedule(reversed(entries))
    for entry in entries:
        assert schedule.head() is entry and schedule.pop() is entry


def test_a_service_may_extend_the_compiled_engine_and_its_overrides_are_called(tmp_path):
    """A service's own engine, as before the engine was compiled: its override of a step the compiled engine takes
    inside `submit` is the one called, and its instances keep attributes of their own."""
    class Audited(Engine):
        def _dispatch(self, decisions, fresh=True):
            self.dispatched.extend(type(decision).__name__ for decision in decisions)
            super()._dispatch(decisions, fresh)

    start = local(2025, 3, 3, 10)
    engine = Audited(make_org(tmp_path), VirtualClock(start))
    engine.dispatched = []
    try:
        decided = engine.submit(TicketCreated("T1", category="question", channel="phone", segment="normal", priority="normal",
                                              at=start))
        assert engine.dispatched == [type(decision).__name__ for decision in decided] and "Assigned" in engine.dispatched
    finally:
        engine.close()


_DIGESTS = """
import dataclasses, hashlib, json, random, sys
sys.path.insert(0, sys.argv[3])
import cxrules, centre
from cxrules.engine import Engine, VirtualClock
from cxrules.simulation import load_mapping, read_log, simulate

org = cxrules.load_org(sys.argv[1] + "/orgs/automotive.yaml")
mapping, _ = load_mapping(sys.argv[2] + "/mapping.yaml", org)
records, unmapped = read_log(sys.argv[2] + "/tickets.csv", mapping)


def fields(value):  # a flight field by field (its journey's too): a compiled class's repr is not the dataclass's
    if isinstance(value, random.Random):
        return "a random generator"
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)  # a set's order differs from process to process
    if dataclasses.is_dataclass(value):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    return repr(value)


for mode in ("as-is", "what-if"):
    result = simulate(org, records, mapping, unmapped, mode=mode, keep_flights=True)
    print(mode, hashlib.sha256(json.dumps(result.to_dict(), sort_keys=True, default=repr).encode()).hexdigest(),
          hashlib.sha256(json.dumps(result.flights, sort_keys=True, default=fields).encode()).hexdigest())
engine = Engine(org, VirtualClock(centre.START))
decided = hashlib.sha256()
for event in centre.whole_lives(org, 3000):
    decided.update(repr(engine.submit(event)).encode())
print("engine", decided.hexdigest(), repr(engine.faults))
"""


def test_the_compiled_modules_replay_a_log_and_run_a_stream_as_the_source_does(tmp_path):
    """A month's load in three days (queues, breaches, escalations, reopenings, follow-ups) replayed both ways, and 3,000
    tickets' lives through the engine: the same figures, flights and decisions from the installed package and from a copy
    of the plain source."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from simulation import write_ticket_log
    finally:
        sys.path.remove(str(ROOT / "bench"))
    log, mapping = write_ticket_log(tmp_path, 3000, days=3)
    log.rename(tmp_path / "tickets.csv")
    mapping.rename(tmp_path / "mapping.yaml")
    source = tmp_path / "source"
    shutil.copytree(ROOT / "cxrules", source / "cxrules", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    shutil.copytree(ROOT / "schemas", source / "schemas")

    def digests(python_path: str | None) -> str:
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        if python_path:
            env["PYTHONPATH"] = python_path
        run = subprocess.run([sys.executable, "-c", _DIGESTS, str(ROOT), str(tmp_path), str(ROOT / "bench")], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=1200)  # a hang guard, not a speed limit
        assert run.returncode == 0, run.stderr
        return run.stdout

    installed, interpreted = digests(None), digests(str(source))
    assert installed.count("\n") == 3 and "engine" in installed
    assert installed == interpreted
