"""`python bench/run.py validate` and `check`: validating and checking large generated orgs, beside same-run baselines.

Sizes follow BENCH_RULES (default 20,000 rules): the large org has a tenth as many roles and a
fortieth as many categories (2,000 and 500 by default); the small org the brute force walks has
a tenth of its rules and roles and a fifth of its categories. Baselines: reading and parsing
the same file with libyaml alone, the collector paused as validation pauses it (validate);
visiting every cell of the small org one by one (check). `check` also times the whole command
from outside (`cxrules check` in a process of its own, CPU time: imports, loading, validation,
checks, report) and how both grow from BENCH_RULES to four times as many rules: k in
time ∝ rules^k (the larger org is written as a main file and fragments of at most 20,000 rules,
as files are read up to 10 MB).
"""

from __future__ import annotations

import itertools
import math
import re
import tempfile
from collections import Counter
from pathlib import Path

import yaml

import cxrules
import cxrules.calendars
from cxrules.checks import CheckConfig, CheckContext, run_checks
from cxrules.performance import paused_gc
from cxrules.routing import TicketClass
from generate import dump_yaml, generate_org, generate_yaml
from measure import (AGAINST, Timing, alternated, builds_to_compare, env_int, other_build_line, repeated, run_child,
                     runs_in_turns)

RULES = env_int("BENCH_RULES", 20_000)
ROOT = Path(__file__).resolve().parent.parent


def _write(folder: Path, name: str, **sizes) -> Path:
    path = folder / name
    path.write_text(generate_yaml(**sizes), encoding="utf-8")
    return path


def _write_with_fragments(folder: Path, name: str, **sizes) -> Path:
    """The org as a main file that includes its routing rules, 20,000 to a fragment (each well under the 10 MB limit)."""
    org = generate_org(**sizes)
    rules = org.pop("routing")
    org["include"] = []
    for number, start in enumerate(range(0, len(rules), 20_000)):
        fragment = f"{name}-routing-{number}.yaml"
        (folder / fragment).write_text(dump_yaml({"apiVersion": "cxrules/v1", "kind": "Fragment", "routing": rules[start:start + 20_000]}),
                                       encoding="utf-8")
        org["include"].append(fragment)
    path = folder / f"{name}.yaml"
    path.write_text(dump_yaml(org), encoding="utf-8")
    return path


def _checks_of(path: Path) -> Timing:
    """``run_checks`` of the org at ``path``, BENCH_REPEAT times; the org is let go when done (a large one holds hundreds of MB)."""
    org = cxrules.load_org(path)
    return repeated(lambda: run_checks(org))


_FINDING = re.compile(r"^\S+:\d+:\d+: \w+ (CX\d{3})\b", re.MULTILINE)
"""A finding's line in `cxrules check`'s report (`FILE:LINE:COLUMN: error CX403 ...`), its code taken."""


def _command(path: Path, python: str) -> tuple[int, float, Counter[str]]:
    """`cxrules check PATH` as a user runs it, in a process of its own, with the cxrules ``python`` has installed (`-P`: not
    the package in the working directory, which run from the repository's root, as README.md says, is the source with
    whatever compiled modules a build left beside it): its exit status, CPU seconds (user + system) and findings per code."""
    with tempfile.TemporaryFile() as report:
        code, usage = run_child([python, "-P", "-c", "from cxrules.cli import main; main()", "check", str(path)], stdout=report)
        report.seek(0)
        return code, usage.ru_utime + usage.ru_stime, Counter(_FINDING.findall(report.read().decode("utf-8", "replace")))


def _commands(path: Path, builds: list[tuple[str, int]]) -> tuple[Timing, Timing | None]:
    """CPU seconds of `cxrules check PATH` with each of ``builds`` (this one, then maybe another: a Python and its repeats),
    in turns (see :func:`runs_in_turns`); a timing's value is the findings per code. A failure of this build ends the part
    (a failed run's time means nothing); one of the other build is printed, and its timing is None."""
    def run(python: str) -> tuple[float, Counter[str]] | None:
        code, seconds, findings = _command(path, python)
        if code in (0, 1):  # 1: findings; anything else is a failure
            return seconds, findings
        print(f"check     the build at {python}: `cxrules check` FAILED (exit {code})", flush=True)
        return None

    this, *other = [Timing([seconds for seconds, _ in runs], runs[-1][1]) if runs else None for runs in runs_in_turns(builds, run)]
    if this is None:
        raise SystemExit(f"`cxrules check {path}` failed")
    return this, other[0] if other else None


def _findings_compared(this: Timing, other: Timing) -> str:
    """Whether two builds' `cxrules check` found the same (else they did other work, and their ratio says little)."""
    if this.value == other.value:
        return "the same findings"
    return f"other findings: {_codes(other.value)} against {_codes(this.value)}"


def _codes(findings: object) -> str:
    """`CX403 66, CX711 5`."""
    assert isinstance(findings, Counter)
    return ", ".join(f"{code} {count}" for code, count in sorted(findings.items())) or "none"


def _growth(small: Timing, large: Timing, factor: int) -> float:
    """k in time ∝ rules^k, from the best times at two sizes ``factor`` apart."""
    return math.log(large.best / small.best) / math.log(factor)


def _large(rules: int = RULES) -> dict:
    """Sizes of the large org: 2,000 roles and 500 categories for 20,000 rules."""
    return {"roles": max(rules // 10, 10), "categories": max(rules // 40, 10), "rules": rules}


def _small(rules: int = RULES) -> dict:
    """Sizes of the org the brute force walks: 200 roles, 100 categories and 2,000 rules for a large org of 20,000."""
    return {"roles": max(rules // 100, 5), "categories": max(rules // 200, 5), "rules": max(rules // 10, 20)}


def bench_validate(folder: Path) -> None:
    """Validate the large org; baseline: reading and parsing the same file with libyaml alone (what validation starts with)."""
    sizes = _large()
    path = _write(folder, "large.yaml", **sizes)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def parse() -> object:
        with paused_gc():  # as validate_path pauses it while it builds: the same conditions for both
            return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    timings = alternated({"parse": parse, "validate": lambda: cxrules.validate_path(path)})
    result = timings["validate"].value
    assert result.ok, result.diagnostics[:3]
    parse, validate = timings["parse"], timings["validate"]
    print(f"validate  {sizes['roles']:,} roles, {sizes['rules']:,} rules ({path.stat().st_size / 1e6:.1f} MB): {validate.spread(2)} "
          f"(target < 2 s); read + parse with libyaml alone {parse.spread(2)}; ratio {validate.best / parse.best:.2f}x "
          f"(target ≤ 1.5x)")
    shipped = sorted((ROOT / "orgs").glob("*.yaml"))
    if shipped:
        timing = repeated(lambda: [cxrules.validate_path(p) for p in shipped])
        print(f"validate  the {len(shipped)} shipped orgs: min {timing.best * 1000:.0f} ms, median {timing.median * 1000:.0f} ms")


def _cells(context) -> list:
    """Every (channel, ticket class, piece of the week) a brute-force check must visit."""
    found = []
    for channel, space in context.channel_spaces:
        points = sorted({p for b in [space, *context.rule_boxes.values()] for span in b.hours.intervals for p in span})
        pieces = [(s, e) for s, e in zip(points, points[1:]) if space.hours & cxrules.calendars.WeekSet(((s, e),))]
        found.append((channel, space, pieces))
    return found


def _brute_force(org) -> tuple[int, int]:
    """Cell by cell: route every class at every piece of the week; count cells without an owner (the collector paused,
    as run_checks pauses it)."""
    with paused_gc():
        return _cells_without_owner(CheckContext(org))


def _cells_without_owner(context: CheckContext) -> tuple[int, int]:
    router = context.router
    gaps = cells = 0
    for channel, space, pieces in _cells(context):
        for category, segment, priority, member in itertools.product(space.sets[0], space.sets[2], space.sets[3], (True, False)):
            ticket = TicketClass(category, channel.id, segment, priority, member)
            for _ in pieces:
                cells += 1
                if not router.candidates(ticket):
                    gaps += 1
    return cells, gaps


def bench_check(folder: Path) -> None:
    """Check the large org; baseline: brute force cell by cell on the small org, beside the regions on it, in the same run."""
    small_sizes = _small()
    small = cxrules.load_org(_write(folder, "small.yaml", channels=5, segments=5, **small_sizes))
    timings = alternated({"brute": lambda: _brute_force(small),
                          "regions": lambda: run_checks(small, CheckConfig(select=frozenset({"CX401"})))})
    brute, regions = timings["brute"], timings["regions"]
    cells = brute.value[0]
    print(f"gaps      small org ({small_sizes['rules']:,} rules, {cells:,} cells): brute force {brute.spread(2)}, "
          f"regions {regions.spread(2)}; ratio {brute.best / regions.best:.1f}x")
    sizes = _large()
    large = cxrules.load_org(_write(folder, "large.yaml", channels=10, segments=5, **sizes))
    large_cells = sum(len(s.sets[0]) * len(s.sets[2]) * len(s.sets[3]) * 2 * len(p) for _, s, p in _cells(CheckContext(large)))
    timing = repeated(lambda: run_checks(large))
    brute_estimate = brute.best / cells * large_cells
    print(f"check     {sizes['roles']:,} roles, {sizes['categories']:,} categories, 10 channels, 5 segments, 4 priorities, "
          f"{sizes['rules']:,} rules: checks alone {timing.spread(2)}, {len(timing.value.diagnostics)} findings; brute force "
          f"would visit {large_cells:,} cells (≈{brute_estimate:.0f} s at the small org's rate, ratio {brute_estimate / timing.best:.0f}x)")
    overlaps = _checks_of(_write(folder, "overlapping.yaml", channels=10, overlaps=True, **sizes))
    print(f"check     same size, precedence drawn from 1..50 (many overlaps): {overlaps.spread(2)}, "
          f"{len(overlaps.value.diagnostics)} findings")
    command, other = _commands(folder / "large.yaml", builds_to_compare())
    print(f"check     whole command `cxrules check` on the large org, own process (imports, loading, validation, checks, report): "
          f"CPU {command.spread(2)} (target < 5 s)")
    if other is not None:
        print(f"check     the same command, {other_build_line(AGAINST, command, other)}; {_findings_compared(command, other)}", flush=True)
    factor = 4
    larger_path = _write_with_fragments(folder, "larger", **_large(RULES * factor))
    larger_timing = _checks_of(larger_path)
    larger_command, _ = _commands(larger_path, builds_to_compare(""))
    print(f"check     growth {RULES:,} -> {RULES * factor:,} rules: checks {timing.best:.2f} -> {larger_timing.best:.2f} s, "
          f"k {_growth(timing, larger_timing, factor):.2f}; whole command (CPU) {command.best:.2f} -> {larger_command.best:.2f} s, "
          f"k {_growth(command, larger_command, factor):.2f} (target k ≤ 1.2)")
