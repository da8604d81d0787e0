"""Org structure: one root, spans of control, units without people.

Reporting and unit cycles are refused earlier, by validation (CX301, CX302).
"""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Related, Severity
from . import CheckContext, Finding, register


@register("CX601", "several-unit-roots", Severity.ERROR)
def several_unit_roots(context: CheckContext) -> Iterator[Finding]:
    """More than one unit has no parent, so the org chart falls apart into several trees.

    Failing::

        units: [{id: centre, name: Centre}, {id: workshop, name: Workshop}]

    Passing::

        units: [{id: centre, name: Centre}, {id: workshop, name: Workshop, parent: centre}]
    """
    roots = [unit for unit in context.org.units if unit.parent is None]
    for unit in roots[1:]:
        yield Finding(f"unit `{unit.id}` has no parent, like `{roots[0].id}`: the org has {len(roots)} roots",
                      unit.source.at("id"), hint=f"give it a `parent` (e.g. `{roots[0].id}`)",
                      related=(Related(roots[0].source.at("id"), f"root unit `{roots[0].id}`"),), subject=unit.id)


@register("CX602", "several-top-roles", Severity.WARNING)
def several_top_roles(context: CheckContext) -> Iterator[Finding]:
    """More than one role reports to nobody.

    Failing::

        roles: [{id: manager, name: Manager, unit: c}, {id: lead, name: Lead, unit: c}]

    Passing::

        roles: [{id: manager, name: Manager, unit: c}, {id: lead, name: Lead, unit: c, reports_to: manager}]
    """
    tops = [role for role in context.org.roles if role.reports_to is None]
    for role in tops[1:]:
        yield Finding(f"role `{role.id}` reports to nobody, like `{tops[0].id}`", role.source.at("id"),
                      hint="add `reports_to`", related=(Related(tops[0].source.at("id"), f"top role `{tops[0].id}`"),), subject=role.id)


@register("CX603", "span-of-control", Severity.WARNING)
def span_of_control(context: CheckContext) -> Iterator[Finding]:
    """A role has more direct reports than `org.span_of_control` (default 12).

    Failing: fifteen roles with `reports_to: supervisor`.

    Passing: team leads in between, or `org.span_of_control: 15` if that is intended.
    """
    limit = context.org.info.span_of_control
    for role in context.org.roles:
        reports = list(context.reporting_graph.successors(role.id))
        if len(reports) > limit:
            yield Finding(f"role `{role.id}` has {len(reports)} direct reports; the limit is {limit}", role.source.at("id"),
                          hint="add a level of team leads, or raise `org.span_of_control`", subject=role.id)


@register("CX604", "empty-unit", Severity.WARNING)
def empty_unit(context: CheckContext) -> Iterator[Finding]:
    """A unit with no roles, neither its own nor in units beneath it.

    Failing::

        units: [{id: centre, name: Centre}, {id: archive, name: Archive, parent: centre}]

    Passing: a role with `unit: archive`, or no such unit.
    """
    populated = {role.unit for role in context.org.roles}
    children: dict[str, list[str]] = {}
    for unit in context.org.units:
        if unit.parent:
            children.setdefault(unit.parent, []).append(unit.id)

    def has_people(unit_id: str) -> bool:
        return unit_id in populated or any(has_people(child) for child in children.get(unit_id, ()))

    for unit in context.org.units:
        if not has_people(unit.id):
            yield Finding(f"unit `{unit.id}` has no roles", unit.source.at("id"), hint="add its roles or remove the unit", subject=unit.id)
