"""Hand-offs: tickets bounced between roles (ping-pong), hand-offs to roles that cannot take them."""

from __future__ import annotations

from collections import deque
from typing import Iterator, Optional

import networkx as nx

from ..diagnostics import Related, Severity
from . import CheckContext, Finding, register


@register("CX511", "handoff-ping-pong", Severity.ERROR)
def handoff_ping_pong(context: CheckContext) -> Iterator[Finding]:
    """Hand-offs that let a ticket go round between roles with no one who may close it.

    The failure the after-sales document names: a problem bounced between departments.
    A loop of hand-offs (A → B → A) is only safe when some role on it closes the ticket's
    category. Hand-offs with `returns: true` keep ownership with the sender and are not loops.

    Failing::

        handoffs:
          - {id: to_repair, from: diagnosis, to: repair}
          - {id: back_to_diagnosis, from: repair, to: diagnosis}

    Passing (repair closes the faults it receives)::

        roles: [{id: repair, name: Repair, unit: workshop, handles: [fault], closes: [fault]}]
    """
    # One finding per group of roles that hand off to each other (a strongly connected part of
    # the hand-off graph), not per elementary loop (9 roles handing off to each other have
    # 125,664): it names the group's roles, the categories that can bounce, and one loop as an
    # example, and points at the last hand-off of that loop in the file. Everything is ordered
    # by file position, never by set iteration, so the output is the same under any hash seed.
    org = context.org
    position = {role.id: index for index, role in enumerate(org.roles)}
    steps: dict[tuple[str, str], list] = {}  # (from, to) → the hand-offs between them, in file order
    for handoff in org.handoffs:
        if not handoff.returns:
            steps.setdefault((handoff.from_role, handoff.to_role), []).append(handoff)
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted({role for pair in steps for role in pair}, key=position.__getitem__))
    graph.add_edges_from(sorted(steps, key=lambda pair: (position[pair[0]], position[pair[1]])))
    groups = [sorted(component, key=position.__getitem__) for component in nx.strongly_connected_components(graph)]
    for members in sorted(groups, key=lambda group: position[group[0]]):
        if len(members) == 1 and not graph.has_edge(members[0], members[0]):
            continue
        inside = set(members)
        pairs = [pair for pair in graph.edges if pair[0] in inside and pair[1] in inside]
        stuck: list[str] = []
        example: Optional[tuple[str, list[str]]] = None
        for category in org.categories:  # file order, so the example is the same on every run
            loop = _loop_carrying(category.id, members, pairs, steps, org)
            if loop is not None:
                stuck.append(category.id)
                example = example or (category.id, loop)
        if example is None:
            continue
        first, loop = example
        edges = [next(h for h in steps[pair] if _carries(h, first)) for pair in zip(loop, loop[1:])]
        last = max(edges, key=lambda h: (h.source.document.file, h.source.path))
        named = context._compress_categories(frozenset(stuck))
        roles = [f"`{role}`" for role in members]
        between = f"between {', '.join(roles[:-1])} and {roles[-1]}" if len(roles) > 1 else f"of {roles[0]} to itself"
        path = " → ".join(loop)
        yield Finding(
            f"{' | '.join(named)} can bounce round the hand-offs {between} "
            f"and no role on the way may close {'it' if len(named) == 1 else 'them'}: "
            f"e.g. {path if len(named) == 1 else f'{first} round {path}'}",
            last.source.at("to"), hint="let one role on the loop close these categories (`closes`), mark the way back `returns: true`, or remove a hand-off",
            related=tuple(Related(h.source.at("id"), f"hand-off `{h.id}`: {h.from_role} → {h.to_role}") for h in edges if h is not last),
            subject=last.id)


def _carries(handoff, category: str) -> bool:
    return handoff.categories is None or category in handoff.categories


def _loop_carrying(category: str, members: list[str], pairs: list[tuple[str, str]], steps: dict, org) -> Optional[list[str]]:
    """A shortest loop of hand-offs that carry ``category`` among roles that do not close it, or None.

    Linear in the hand-offs: the roles and hand-offs that may bounce the category form a
    graph; it has a loop when one of its strongly connected parts has an edge inside. The
    loop starts at the first such role in file order and is found breadth-first with
    neighbours in file order, so it is the same on every run.
    """
    open_roles = {role for role in members if category not in org.role(role).closes}
    following: dict[str, list[str]] = {role: [] for role in members if role in open_roles}
    for a, b in pairs:
        if a in open_roles and b in open_roles and any(_carries(h, category) for h in steps[(a, b)]):
            following[a].append(b)
    sub = nx.DiGraph()
    sub.add_nodes_from(following)
    sub.add_edges_from((a, b) for a, targets in following.items() for b in targets)
    cyclic = set()
    for component in nx.strongly_connected_components(sub):
        if len(component) > 1 or any(sub.has_edge(role, role) for role in component):
            cyclic |= component
    start = next((role for role in members if role in cyclic), None)
    if start is None:
        return None
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        role = queue.popleft()
        for target in following[role]:
            if target == start:
                path = [role]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if target not in parent and target in cyclic:
                parent[target] = role
                queue.append(target)
    return None  # not reached: start lies on a loop


@register("CX512", "handoff-to-role-without-category", Severity.WARNING)
def handoff_to_role_without_category(context: CheckContext) -> Iterator[Finding]:
    """A hand-off carries categories the receiving role does not handle.

    Failing::

        roles: [{id: parts, name: Parts desk, unit: workshop, handles: [parts_order]}]
        handoffs: [{id: to_parts, from: advisor, to: parts, categories: [complaint]}]

    Passing::

        handoffs: [{id: to_parts, from: advisor, to: parts, categories: [parts_order]}]
    """
    for handoff in context.org.handoffs:
        carried = handoff.categories if handoff.categories is not None else context.org.role(handoff.from_role).handles
        missing = carried - context.org.role(handoff.to_role).handles
        if missing:
            yield Finding(f"hand-off `{handoff.id}` passes {context.describe_categories(missing)} to `{handoff.to_role}`, which does not handle them",
                          handoff.source.at("to"), hint=f"limit the hand-off's `categories`, or add them to `handles` of `{handoff.to_role}`",
                          subject=handoff.id)
