"""Hand-offs: tickets bounced between roles (ping-pong), hand-offs to roles that cannot take them."""

from __future__ import annotations

from typing import Iterator

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
    everything = context.values[0]
    graph = nx.DiGraph()
    for handoff in context.org.handoffs:
        if handoff.returns:
            continue
        if not graph.has_edge(handoff.from_role, handoff.to_role):
            graph.add_edge(handoff.from_role, handoff.to_role, handoffs=[])
        graph.edges[handoff.from_role, handoff.to_role]["handoffs"].append(handoff)
    for cycle in nx.simple_cycles(graph):
        steps = [graph.edges[a, b]["handoffs"] for a, b in zip(cycle, cycle[1:] + cycle[:1])]
        edges = [h for step in steps for h in step]
        travelling = frozenset(everything)
        for step in steps:  # parallel hand-offs between the same two roles: any of them carries
            travelling &= frozenset().union(*(h.categories if h.categories is not None else everything for h in step))
        closed = frozenset().union(*(context.org.role(role).closes for role in cycle))
        stuck = travelling - closed
        if stuck:
            last = max(edges, key=lambda h: (h.source.document.file, h.source.path))
            yield Finding(
                f"{context.describe_categories(stuck)} can bounce round {' → '.join(cycle + [cycle[0]])} and no role on the way may close it",
                last.source.at("to"), hint="let one role on the loop close these categories (`closes`), mark the way back `returns: true`, or remove a hand-off",
                related=tuple(Related(h.source.at("id"), f"hand-off `{h.id}`: {h.from_role} → {h.to_role}") for h in edges if h is not last),
                subject=last.id)


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
