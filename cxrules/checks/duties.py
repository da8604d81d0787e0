"""Duties (RACI): no duty left unclaimed, one accountable role per duty."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Severity
from . import CheckContext, Finding, register


@register("CX611", "duty-unclaimed", Severity.ERROR)
def duty_unclaimed(context: CheckContext) -> Iterator[Finding]:
    """A duty no role is responsible for ("no duty left unclaimed").

    A role is responsible for a duty when it lists it under `duties`.

    Failing::

        duties: [{id: knowledge_base, name: Maintain the knowledge base, accountable: [supervisor]}]
        roles: [{id: supervisor, name: Supervisor, unit: cs}]

    Passing::

        roles: [{id: supervisor, name: Supervisor, unit: cs, duties: [knowledge_base]}]
    """
    claimed = {duty for role in context.org.roles for duty in role.duties}
    for duty in context.org.duties:
        if duty.id not in claimed:
            yield Finding(f"no role is responsible for duty `{duty.id}`", duty.source.at("id"),
                          hint="list it under `duties` of the role that does it", subject=duty.id)


@register("CX612", "duty-several-accountable", Severity.WARNING)
def duty_several_accountable(context: CheckContext) -> Iterator[Finding]:
    """A duty with more than one accountable role: when it fails, nobody answers for it.

    Failing::

        duties: [{id: complaints, name: Complaint handling, accountable: [cs_manager, supervisor]}]

    Passing::

        duties: [{id: complaints, name: Complaint handling, accountable: [cs_manager], consulted: [supervisor]}]
    """
    for duty in context.org.duties:
        if len(duty.accountable) > 1:
            yield Finding(f"duty `{duty.id}` has {len(duty.accountable)} accountable roles: {', '.join(duty.accountable)}",
                          duty.source.at("accountable"), hint="keep one; make the others consulted or informed", subject=duty.id)


@register("CX613", "duty-not-accountable", Severity.WARNING)
def duty_not_accountable(context: CheckContext) -> Iterator[Finding]:
    """A duty nobody is accountable for.

    Failing::

        duties: [{id: reports, name: Monthly reports}]

    Passing::

        duties: [{id: reports, name: Monthly reports, accountable: [manager]}]
    """
    for duty in context.org.duties:
        if not duty.accountable:
            yield Finding(f"duty `{duty.id}` has no accountable role", duty.source.at("id"),
                          hint="add `accountable: [role]`", subject=duty.id)
