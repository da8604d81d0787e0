"""Simulation benches: replaying tickets, a month's and then at the centre's usual load (`run.py simulate`), importing a million-row event log (`run.py import`).

Each measured part runs in its own process (`python bench/simulation.py <part> <args>`), so
the peak RSS printed is that part's alone, not whatever an earlier part left allocated; and
each is printed beside a baseline measured in the same run: reading the same file with the
csv module alone. The generated logs live in run.py's temporary folder.
"""

from __future__ import annotations

import csv
import gc
import itertools
import json
import math
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from measure import (AGAINST, REPEAT, Timing, builds_to_compare, env_int, other_build_line, peak_mb, rss_mb, runs_in_turns,
                     shares_by_module, timed)

ROOT = Path(__file__).resolve().parent.parent

HOURLY = (1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 12, 15, 17, 16, 14, 11, 9, 8, 6, 4, 2, 1)
"""Arrivals by hour of day: an office-hours peak (lunch dip at 12), evenings tailing off, nights low."""
WEEKDAYS = (1, 1, 1, 1, 0.9, 0.55, 0.45)
"""Arrivals by day of week, Monday first: weekends low."""
SKEW = (1, 3, 12, 4)
"""Weights of an org's four segments and priorities in their order (vip/key/normal/small, urgent/high/normal/low): most are everyday."""


def _arrivals(rng: random.Random, count: int, start: datetime, days: int) -> list[float]:
    """``count`` arrival times in seconds after ``start``, over ``days`` days, drawn from the hour-of-week profile, sorted."""
    weights = [HOURLY[hour % 24] * WEEKDAYS[(start.weekday() + hour // 24) % 7] for hour in range(days * 24)]
    hours = rng.choices(range(days * 24), cum_weights=list(itertools.accumulate(weights)), k=count)
    return sorted(hour * 3600 + rng.random() * 3600 for hour in hours)


# ---------------------------------------------------------------------------------------------- generated logs


CENTRE_LOAD = 10_000
"""Tickets a month that orgs/automotive.yaml's staff take without a queue growing for good: at ten times as many in a
month, 13,703 of 100,000 are still open at the end, and a ticket costs the replay half as many decisions again
(queued, warned, breached, escalated and moved)."""


def write_ticket_log(folder: Path, count: int, seed: int = 3, days: int = 31, customers: int = 0) -> tuple[Path, Path]:
    """A flat log of ``count`` tickets over ``days`` days from 1 March 2025 for orgs/automotive.yaml, and its mapping; the
    tickets come from ``customers`` customers, drawn at random (0: a third as many as tickets, three tickets each on average).

    Every category, channel, segment and priority of the org occurs (segments and priorities
    skewed to the everyday ones); resolution takes a lognormal time (median 2 h, 1 % beyond a
    day and a half), 3 % are still open at the end; 40 % have a satisfaction score for the
    follow-up call (one in four of them unsatisfied, so they reopen).
    """
    import cxrules

    org = cxrules.load_org(ROOT / "orgs" / "automotive.yaml")
    categories, channels = [c.id for c in org.categories], [c.id for c in org.channels]
    segments, priorities = [s.id for s in org.segments], list(org.info.priorities)
    rng = random.Random(seed)
    start = datetime(2025, 3, 1)
    log = folder / (f"tickets_{count}{'' if days == 31 else f'_over_{days}_days'}{f'_of_{customers}_customers' if customers else ''}.csv")
    with open(log, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["ticket_id", "created_at", "first_response_at", "resolved_at", "category", "channel", "segment",
                         "priority", "member", "customer", "satisfaction"])
        for number, offset in enumerate(_arrivals(rng, count, start, days)):
            created = start + timedelta(seconds=offset)
            resolution = rng.lognormvariate(math.log(7200), 1.2)
            answered = created + timedelta(seconds=min(rng.lognormvariate(math.log(600), 1.0), resolution))
            resolved = "" if rng.random() < 0.03 else str(created + timedelta(seconds=resolution))[:19]
            score = rng.choices((1, 2, 3, 4, 5), (5, 7, 13, 30, 45))[0] if rng.random() < 0.4 else ""
            writer.writerow([f"T{number:06}", str(created)[:19], str(answered)[:19], resolved, rng.choice(categories),
                             rng.choice(channels), rng.choices(segments, SKEW)[0], f"P{rng.choices(range(4), SKEW)[0] + 1}",
                             "yes" if rng.random() < 0.3 else "no", f"C{rng.randrange(customers or count // 3):06}", score])
    mapping = {
        "apiVersion": "cxrules/v1", "kind": "TicketLogMapping", "description": "generated flat log → automotive",
        "format": "csv", "encoding": "utf-8", "timezone": "Asia/Shanghai", "time_formats": ["iso"], "seed": 1,
        "fields": {"id": {"column": "ticket_id"}, "created": {"column": "created_at"}, "first_response": {"column": "first_response_at"},
                   "resolved": {"column": "resolved_at"}, "category": {"column": "category"}, "channel": {"column": "channel"},
                   "segment": {"column": "segment"}, "member": {"column": "member"}, "customer_id": {"column": "customer"},
                   "satisfaction": {"column": "satisfaction"},
                   "priority": {"column": "priority", "values": {f"P{i + 1}": p for i, p in enumerate(priorities)}}},
        "service_time": {"default": {"mean": "20m", "distribution": "exponential"}},
    }
    mapping_path = folder / "tickets_mapping.yaml"
    mapping_path.write_text(json.dumps(mapping, indent=1), encoding="utf-8")  # JSON is YAML
    return log, mapping_path


SERVICENOW = ROOT / "examples" / "servicenow"
EVENT_COLUMNS = ("number", "incident_state", "sys_mod_count", "opened_at", "sys_updated_at", "priority", "contact_type", "category",
                 "assignment_group", "assigned_to", "resolved_at", "closed_at", "made_sla", "caller_id")


BLOCKS = 16
"""Files the event log's rows are dealt into before they are joined: rows of one ticket land far apart."""


def write_event_log(folder: Path, rows: int, seed: int = 5) -> tuple[Path, int]:
    """An event log of about ``rows`` rows in the shape of the ServiceNow excerpt, and its number of incidents.

    Each incident: New (sometimes updated again), Active once someone has it, an update, in
    40 % a wait on the user and back, in 30 % a reassignment to another group (unassigned,
    then taken), Resolved, Closed five days later: 6.7 rows on average, as in the excerpt.
    Groups, categories and priorities are the values examples/servicenow/mapping.yaml maps,
    plus a tail it does not (read as its defaults). Incidents open over 90 days by the
    hour-of-week profile. Rows are dealt at random into :data:`BLOCKS` files, each shuffled and
    appended in turn: an incident's rows arrive anywhere in the file, in any order.
    """
    import yaml

    fields = yaml.safe_load((SERVICENOW / "mapping.yaml").read_text(encoding="utf-8"))["fields"]
    groups = [*fields["role"]["values"], *(f"Group {n}" for n in range(80, 100))]
    categories = [*fields["category"]["values"], *(f"Category {n}" for n in range(60, 80))]
    priorities = list(fields["priority"]["values"])
    rng = random.Random(seed)
    start = datetime(2016, 2, 1)
    stamps: dict[int, str] = {}

    def stamp(minute: int) -> str:
        if minute not in stamps:
            stamps[minute] = (start + timedelta(minutes=minute)).strftime("%d-%m-%Y %H:%M")
        return stamps[minute]

    def later(median_minutes: float) -> int:
        return 1 + int(rng.lognormvariate(math.log(median_minutes), 1.0))

    incidents = int(rows / 6.7) + 1
    parts = [folder / f"block{n}.csv" for n in range(BLOCKS)]
    files = [open(part, "w", encoding="utf-8") for part in parts]
    for number, offset in enumerate(_arrivals(rng, incidents, start, 90)):
        group = "Group 70" if rng.random() < 0.4 else rng.choice(groups)
        opened = int(offset // 60)
        updates = [("New", group, "?", opened + rng.randrange(10))]
        if rng.random() < 0.3:
            updates.append(("New", group, "?", updates[-1][3] + later(30)))
        resolver = f"Resolver {rng.randrange(300)}"
        updates.append(("Active", group, resolver, updates[-1][3] + later(30)))
        updates.append(("Active", group, resolver, updates[-1][3] + later(60)))
        if rng.random() < 0.4:
            updates.append(("Awaiting User Info", group, resolver, updates[-1][3] + later(60)))
            updates.append(("Active", group, resolver, updates[-1][3] + later(240)))
        if rng.random() < 0.3:
            group, resolver = rng.choice([g for g in groups if g != group]), f"Resolver {rng.randrange(300)}"
            updates.append(("Active", group, "?", updates[-1][3] + later(30)))
            updates.append(("Active", group, resolver, updates[-1][3] + later(60)))
        resolved = updates[-1][3] + later(180)
        updates.append(("Resolved", group, resolver, resolved))
        updates.append(("Closed", group, resolver, resolved + 5 * 1440))
        common = (rng.choices(priorities, (2, 3, 85, 10))[0], "Phone", rng.choice(categories))
        tail = (stamp(resolved), stamp(resolved + 5 * 1440), "TRUE" if rng.random() < 0.93 else "FALSE", f"Caller {rng.randrange(50000)}")
        for count, (state, at_group, person, minute) in enumerate(updates):
            line = (f"INC{number:07}", state, str(count), stamp(opened), stamp(minute), *common, at_group, person, *tail)
            rng.choice(files).write(",".join(line) + "\n")
    for file in files:
        file.close()
    log = folder / f"events_{rows}.csv"
    with open(log, "w", encoding="utf-8") as out:
        out.write(",".join(EVENT_COLUMNS) + "\n")
        for part in parts:
            lines = part.read_text(encoding="utf-8").splitlines(keepends=True)
            rng.shuffle(lines)
            out.writelines(lines)
            part.unlink()
    return log, incidents


# ---------------------------------------------------------------------------------------------- parts, each in its own process


def _load(org_path: str, mapping_path: str):
    import cxrules
    from cxrules.simulation import load_mapping

    org = cxrules.load_org(org_path)
    mapping, problems = load_mapping(mapping_path, org)
    assert mapping is not None, problems
    return org, mapping


def part_read_csv(log: str):
    """The baseline: every row of the file parsed by the csv module, nothing kept."""
    def work() -> dict:
        with open(log, newline="", encoding="utf-8") as stream:
            return {"rows": sum(1 for _ in csv.reader(stream)) - 1}
    return work


def part_read_log(org_path: str, mapping_path: str, log: str):
    """`read_log` with the mapping: the records built (kept, as a caller would) and the rows left unmapped."""
    from cxrules.simulation import read_log

    _, mapping = _load(org_path, mapping_path)

    def work() -> dict:
        records, unmapped = read_log(log, mapping)
        return {"records": len(records), "unmapped": unmapped.total, "reasons": dict(list(unmapped.reasons.items())[:3])}
    return work


def part_simulate(org_path: str, mapping_path: str, log: str, mode: str):
    """`read_log`, then `simulate` in ``mode`` (what-if: work from the mapping's service time); both timed, apart and together."""
    from cxrules.simulation import read_log, simulate

    org, mapping = _load(org_path, mapping_path)

    def work() -> dict:
        started = time.perf_counter()
        records, unmapped = read_log(log, mapping)
        read = time.perf_counter() - started
        result = simulate(org, records, mapping, unmapped, mode=mode)
        return {"records": len(records), "read_seconds": read, "replay_seconds": time.perf_counter() - started - read,
                "open_at_end": result.open_at_end["total"], "sla_met": result.attainment.get("resolution", {}).get("all", {}).get("all", {}).get("rate")}
    return work


def part_profile(org_path: str, mapping_path: str, log: str):
    """Where a what-if replay spends its time: the top 8 functions by cumulative time, by own time, and the share of each
    module (the read is not profiled)."""
    import cProfile
    import io
    import pstats

    from cxrules.simulation import read_log, simulate

    org, mapping = _load(org_path, mapping_path)
    records, unmapped = read_log(log, mapping)

    def work() -> dict:
        profiler = cProfile.Profile()
        profiler.runcall(simulate, org, records, mapping, unmapped, mode="what-if")
        text = io.StringIO()
        for order in ("cumulative", "tottime"):
            pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(8)
        tables = [table[table.index("ncalls"):].split("\n\n")[0] for table in text.getvalue().split("Ordered by:")[1:]]
        return {"records": len(records), "profile": tables, "modules": shares_by_module(pstats.Stats(profiler))}
    return work


PARTS = {"read-csv": part_read_csv, "read-log": part_read_log, "simulate": part_simulate, "profile": part_profile}


def _child(name: str, args: list[str]) -> None:
    """In the part's process: set up (untimed), time the work, print its figures as one JSON line."""
    work = PARTS[name](*args)
    gc.collect()
    figures = {"setup_mb": rss_mb()}
    done, figures["seconds"] = timed(work)
    figures.update(done, peak_mb=peak_mb())
    print(json.dumps(figures))


def _measure(name: str, *args, repeat: int = REPEAT) -> list[dict]:
    """Run part ``name`` ``repeat`` times, each in a fresh process; its figures per run (none if it failed: its error is printed)."""
    return _measure_in_turns(name, *args, builds=[(sys.executable, repeat)])[0]


def _measure_in_turns(name: str, *args, builds: list[tuple[str, int]]) -> list[list[dict]]:
    """Part ``name`` with each of ``builds`` (a Python, and its repeats), in turns (see :func:`runs_in_turns`), each run in a
    fresh process; the figures of each build's runs (a failure is printed)."""
    def run(python: str) -> dict | None:
        done = subprocess.run([python, __file__, name, *map(str, args)], capture_output=True, text=True)
        if done.returncode == 0:
            return json.loads(done.stdout.splitlines()[-1])
        who = "" if python == sys.executable else f" with the build at {python}"
        print(f"          {name}{who} FAILED (exit {done.returncode}):\n" + done.stderr[-3000:], flush=True)
        return None

    return runs_in_turns(builds, run)


def _report(label: str, runs: list[dict], count: int, unit: str, baseline: list[dict] | None = None, target: str = "") -> None:
    """One line: min and median seconds, rate, peak RSS (with the RSS after setup), ratios to the baseline's min."""
    if not runs:
        return
    timing, peak = _timing(runs), max(run["peak_mb"] for run in runs)
    line = (f"          {label:<26} {timing.spread(2)}, {timing.rate(count):>9,.0f} {unit}/s, "
            f"peak {peak:5.0f} MB (after setup {runs[0]['setup_mb']:.0f} MB)")
    if baseline:
        line += f"; = {timing.best / min(run['seconds'] for run in baseline):,.0f}× reading the file, {peak / baseline[0]['peak_mb']:.1f}× its memory"
    print(line + (f"; target {target}" if target else ""), flush=True)


def _timing(runs: list[dict]) -> Timing:
    return Timing([run["seconds"] for run in runs])


def _against_line(runs: list[dict], other: list[dict]) -> None:
    """The other build's read + simulate of the same log, and whether it left the same figures (else it did other work)."""
    if runs and other:
        differing = [key for key in ("records", "open_at_end", "sla_met") if other[0][key] != runs[0][key]]
        print(f"          {'':<26} {other_build_line(AGAINST, _timing(runs), _timing(other))}; "
              + ("other figures: " + ", ".join(f"{key} {other[0][key]} against {runs[0][key]}" for key in differing)
                 if differing else "the same figures"), flush=True)


def _replay_line(runs: list[dict]) -> None:
    """How much of a read + simulate part the replay took, per ticket too, and what it left: an overloaded centre replays slower."""
    if runs:
        replay = min(run['replay_seconds'] for run in runs)
        print(f"          {'':<26} of which the replay: min {replay:.2f} s, {replay / runs[0]['records'] * 1e6:.0f} µs a ticket; "
              f"{runs[0]['open_at_end']:,} tickets open at the end, resolution SLA met {runs[0]['sla_met']}", flush=True)


# ---------------------------------------------------------------------------------------------- the benches


def bench_simulate(folder: Path) -> None:
    """Read and replay BENCH_TICKETS tickets (default 100,000) against orgs/automotive.yaml, target < 20 s: all in March
    2025, however many (the centre overloaded beyond :data:`CENTRE_LOAD`), then spread over as many months as its staff
    take (the same centre at its usual load), each beside reading its file; then a month of one customer's tickets beside
    customers spread (:func:`_one_customer`)."""
    count = env_int("BENCH_TICKETS", 100_000)
    org = ROOT / "orgs" / "automotive.yaml"
    for days in dict.fromkeys((31, max(31, round(31 * count / CENTRE_LOAD)))):
        started = time.perf_counter()
        log, mapping = write_ticket_log(folder, count, days=days)
        load = count / CENTRE_LOAD * 31 / days
        print(f"simulate  {count:,} tickets over {days} days from 1 March 2025 against automotive ({load:.2g}× the load its "
              f"staff take), flat CSV of {log.stat().st_size / 1e6:.1f} MB (generated in {time.perf_counter() - started:.1f} s); "
              f"each part {REPEAT}× in its own process:", flush=True)
        baseline = _measure("read-csv", log)
        _report("read the file (csv only)", baseline, count, "tickets")
        _report("read_log", _measure("read-log", org, mapping, log), count, "tickets", baseline)
        for mode in ("as-is", "what-if"):
            runs, *other = _measure_in_turns("simulate", org, mapping, log, mode, builds=builds_to_compare())
            _report(f"read_log + simulate {mode}", runs, count, "tickets", baseline, "< 20 s")
            _replay_line(runs)
            _against_line(runs, other[0] if other else [])
    _one_customer(folder, org)
    small, small_mapping = write_ticket_log(folder, CENTRE_LOAD)
    runs = _measure("profile", org, small_mapping, small, repeat=1)
    if runs:
        cumulative, own = runs[0]["profile"]
        print(f"          profile of one what-if replay of 10,000 tickets ({runs[0]['seconds']:.1f} s under cProfile), "
              f"top 8 by cumulative time:\n{cumulative}\n          and by own time:\n{own}", flush=True)
        print("          own time by module (built-ins counted to their callers): "
              + ", ".join(f"{module} {share:.0%}" for module, share in runs[0]["modules"].items() if share >= 0.01), flush=True)


def _one_customer(folder: Path, org: Path) -> None:
    """BENCH_ONE_CUSTOMER tickets (default 4,000) in March, of customers spread and of one customer: a fleet, or a log whose
    customer column holds a catch-all id. The automotive centre's patterns across a customer's tickets then find hundreds
    in their windows (`repeat_complaint`, the second complaint within 30 days; `complaint_comes_back`, a complaint within
    7 days of a resolved one, which fires once for each such earlier ticket)."""
    count = env_int("BENCH_ONE_CUSTOMER", 4_000)
    print(f"simulate  {count:,} tickets over 31 days against automotive, of {count // 3:,} customers and of one (a fleet, a "
          f"catch-all id), what-if; each part {REPEAT}× in its own process:", flush=True)
    spread = _measure("simulate", org, *reversed(write_ticket_log(folder, count)), "what-if")
    _report("customers spread", spread, count, "tickets")
    one = _measure("simulate", org, *reversed(write_ticket_log(folder, count, customers=1)), "what-if")
    _report("one customer", one, count, "tickets")
    if spread and one:
        print(f"          {'':<26} one customer takes {min(r['seconds'] for r in one) / min(r['seconds'] for r in spread):.1f}× "
              "the time of customers spread", flush=True)


def bench_import(folder: Path) -> None:
    """Read an event log of BENCH_ROWS rows (default 1,000,000) with examples/servicenow/mapping.yaml; target peak < 500 MB."""
    rows = env_int("BENCH_ROWS", 1_000_000)
    started = time.perf_counter()
    log, incidents = write_event_log(folder, rows)
    generated = time.perf_counter() - started
    baseline = _measure("read-csv", log)
    written = baseline[0]["rows"] if baseline else rows
    print(f"import    ServiceNow-shaped event log: {written:,} rows, {incidents:,} incidents over 90 days, rows in any order, "
          f"{log.stat().st_size / 1e6:.0f} MB (generated in {generated:.1f} s); each part {REPEAT}× in its own process:", flush=True)
    _report("read the file (csv only)", baseline, written, "rows")
    org, mapping = SERVICENOW / "org.yaml", SERVICENOW / "mapping.yaml"
    runs = _measure("read-log", org, mapping, log)
    _report("read_log", runs, written, "rows", baseline, "peak < 500 MB")
    if runs:
        print(f"          {'':<26} {runs[0]['records']:,} records built ({runs[0]['records'] / min(r['seconds'] for r in runs):,.0f}/s), "
              f"{runs[0]['unmapped']:,} unmapped {runs[0]['reasons'] or ''}", flush=True)
    runs = _measure("simulate", org, mapping, log, "as-is", repeat=1)
    _report("read_log + simulate as-is", runs, written, "rows", baseline)
    _replay_line(runs)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2:])
