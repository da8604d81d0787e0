"""Generate large, valid orgs for benchmarks and property tests (deterministic for a seed)."""

from __future__ import annotations

import random

import yaml

__all__ = ["generate_org", "generate_yaml"]

PRIORITIES = ["urgent", "high", "normal", "low"]




def generate_org(roles: int = 2000, categories: int = 500, channels: int = 10, segments: int = 5,
                 rules: int = 20000, units: int = 50, seed: int = 0, overlaps: bool = False,
                 catch_all: bool = True, timed: float = 0.0, service: bool = False) -> dict:
    """An org of the given size; rules match 1–3 categories and sometimes channels, segments, priorities.

    ``overlaps`` draws precedences from a small range (many ties); ``catch_all=False`` leaves
    gaps; ``timed`` is the share of rules that apply only in office hours (`during`);
    ``service`` adds what a centre's tickets live by (see :func:`_add_service`) and leaves the
    routing table as it is without it.
    """
    rng = random.Random(seed)
    parents = max(1, categories // 5)
    category_tree = []
    for p in range(parents):
        children = [{"id": f"cat{p}_{c}", "name": f"Category {p}.{c}"} for c in range(min(4, categories - parents - 4 * p) if categories > parents else 0)]
        entry = {"id": f"cat{p}", "name": f"Category {p}"}
        if children:
            entry["children"] = children
        category_tree.append(entry)
    leaves = [c["id"] for p in category_tree for c in p.get("children", [])] or [p["id"] for p in category_tree]
    parent_of = {c["id"]: p["id"] for p in category_tree for c in p.get("children", [])}
    channel_ids = [f"ch{i}" for i in range(channels)]
    segment_ids = [f"seg{i}" for i in range(segments)]
    unit_list = [{"id": "root", "name": "Root"}] + [{"id": f"u{i}", "name": f"Unit {i}", "parent": "root"} for i in range(units)]
    role_list = []
    for i in range(roles):
        handles = sorted({p["id"] for p in rng.sample(category_tree, min(5, len(category_tree)))})
        role = {"id": f"r{i}", "name": f"Role {i}", "unit": "root" if i == 0 else f"u{i % units}",
                "handles": handles if i else [p["id"] for p in category_tree],
                "capacity": rng.randint(1, 5), "staff": [{"shift": "office", "agents": rng.randint(1, 10)}]}
        if i:
            role["reports_to"] = f"r{(i - 1) // 10}"
        role_list.append(role)
    rule_list = [{"id": "catch_all", "to": "r0", "precedence": 0}] if catch_all else []
    # Like a real routing table, rules mostly split the ticket space between owners: rule i
    # takes one category on one channel for one segment (cycling through them), sometimes
    # only some priorities; a few broader rules cut across with a higher precedence.
    owners: dict[str, list[dict]] = {}
    for role in role_list:
        for category in role["handles"]:
            owners.setdefault(category, []).append(role)
    for i in range(rules):
        leaf = leaves[i % len(leaves)]
        role = rng.choice(owners.get(parent_of.get(leaf, leaf)) or role_list[:1])
        match = {"category": [leaf], "channel": [channel_ids[(i // len(leaves)) % channels]]}
        if segments:
            match["segment"] = [segment_ids[(i // (len(leaves) * channels)) % segments]]
        if rng.random() < 0.3:
            match["priority"] = sorted(rng.sample(PRIORITIES, rng.randint(1, 3)))
        precedence = rng.randint(1, 50) if overlaps else 1000 + i
        if rng.random() < 0.01:  # a broader rule: the whole parent category for one segment on a channel
            parent = parent_of.get(leaf, leaf)
            role = rng.choice(owners.get(parent) or role_list[:1])
            match = {"category": [parent], "channel": [rng.choice(channel_ids)]}
            if segments:
                match["segment"] = [rng.choice(segment_ids)]
            precedence = rng.randint(1, 50) if overlaps else 100_000 + i
        rule = {"id": f"rule{i}", "match": match, "to": role["id"], "precedence": precedence}
        if rng.random() < timed:
            rule["during"] = "office"
        rule_list.append(rule)
    org = {
        "apiVersion": "cxrules/v1",
        "kind": "Organisation",
        "org": {"id": "generated", "name": "Generated org", "timezone": "Asia/Shanghai", "calendar": "office",
                "fallback_queue": "r0", "span_of_control": 20},
        "calendars": [{"id": "office", "hours": {"mon-fri": ["08:00-20:00"], "sat": ["09:00-17:00"]}},
                      {"id": "always", "hours": {"daily": ["00:00-24:00"]}}],
        "units": unit_list,
        "roles": role_list,
        "channels": [{"id": c, "name": f"Channel {c}", **({"hours": "always"} if i % 2 else {})} for i, c in enumerate(channel_ids)],
        "categories": category_tree,
        "segments": [{"id": s, "name": f"Segment {s}"} for s in segment_ids],
        "routing": rule_list,
    }
    if service:
        _add_service(org, [p["id"] for p in category_tree])
    return org


def _add_service(org: dict, parents: list[str]) -> None:
    """SLAs, escalations, shifts and a follow-up policy, so a ticket stream works the engine as a centre's does.

    Two of three roles work early (06:00–14:00) and late (14:00–22:00) shifts every day instead of
    office hours, and nobody works at night, so tickets on the round-the-clock channels queue
    overnight and drain at six; `r0`, which the catch-all rule gives over half the classes, is a
    general desk of 240 agents on those shifts, ten tickets each. Urgent tickets get 15m/4h round the clock; one parent category in
    four gets 30m/24h on office hours, escalated to the role that owns its first rule, then its
    manager, then `r0` (the authority); the rest get 2h/3wd. Tickets of those categories are
    revisited after resolution (members always, others one in five), an unsatisfied answer
    reopening the ticket and escalating it. Draws no random numbers: the routing table is the
    one of the same org without SLAs.
    """
    roles = {role["id"]: role for role in org["roles"]}
    for number, role in enumerate(org["roles"]):
        agents = sum(group["agents"] for group in role["staff"])
        if number % 3:
            early = (agents + 1) // 2
            role["staff"] = [{"shift": shift, "agents": n} for shift, n in (("early", early), ("late", agents - early)) if n]
    general = roles["r0"]  # the catch-all's role takes over half the tickets: a general desk, staffed for it
    general.update(authority=True, capacity=10, staff=[{"shift": "early", "agents": 120}, {"shift": "late", "agents": 120}])
    org["calendars"] += [{"id": "early", "hours": {"daily": ["06:00-14:00"]}},
                         {"id": "late", "hours": {"daily": ["14:00-22:00"]}},
                         {"id": "rest", "hours": {"daily": ["12:00-14:00", "21:00-09:00"]}}]
    owner = {}
    for rule in org["routing"]:
        for category in rule.get("match", {}).get("category", []):
            owner.setdefault(category.split("_")[0], rule["to"])
    covered = parents[::4]
    escalations = [{"id": "urgent_path", "levels": [{"role": "r0"}]},
                   {"id": "standard_path", "levels": [{"role": "r1", "within": "4h"}, {"role": "r0"}]}]
    slas = [{"id": "urgent", "match": {"priority": ["urgent"]}, "first_response": "15m", "resolution": "4h", "calendar": "always",
             "warn_at": "80%", "escalation": "urgent_path"}]
    for category in covered:
        first = owner.get(category, "r1")
        manager = roles[first].get("reports_to", "r0")
        levels = [{"role": first, "within": "1h"}] + ([{"role": manager, "within": "2h"}] if manager != "r0" else []) + [{"role": "r0"}]
        escalations.append({"id": f"{category}_path", "levels": levels})
        slas.append({"id": f"{category}_sla", "match": {"category": [category]}, "first_response": "30m", "resolution": "24h",
                     "warn_at": "80%", "escalation": f"{category}_path"})
    slas.append({"id": "standard", "first_response": "2h", "resolution": "3wd", "escalation": "standard_path"})
    org["slas"], org["escalations"] = slas, escalations
    org["followups"] = [{"id": "revisit", "on": "resolved", "match": {"category": covered}, "within": "3d", "by": "r1",
                         "quiet_hours": "rest", "coverage": {"members": "100%", "others": "20%"},
                         "on_unsatisfied": {"reopen": True, "escalate": "standard_path"}, "on_overdue": {"notify": ["r0"]}}]


def generate_yaml(**sizes) -> str:
    return dump_yaml(generate_org(**sizes))


def dump_yaml(data: dict) -> str:
    """Generated data as YAML, in the order it was built, with libyaml when it is there."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=200)
