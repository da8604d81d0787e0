"""Workflows: a ticket of a matching class moves through declared states, and a skipped step is refused."""

from __future__ import annotations

from datetime import datetime

from ..model import Org
from . import decisions as d
from . import events as e
from .matching import MatchIndex
from .store import TicketState

__all__ = ["Workflows"]


class Workflows:
    """Puts new tickets in their workflow's first state and checks every step against the declared ones."""

    def __init__(self, org: Org):
        self.workflows = {workflow.id: workflow for workflow in org.workflows}
        self.by_class = MatchIndex(org.workflows)
        """The workflow a ticket class follows: the first that matches."""
        self.initial = {workflow.id: workflow.initial for workflow in org.workflows}
        """Each workflow's first state, asked of each new ticket (``Workflow.initial`` is an interpreted property)."""

    def start(self, ticket: TicketState) -> None:
        workflow = self.by_class.first(ticket.class_fields())
        if workflow is not None:
            ticket.workflow = workflow.id
            ticket.state = self.initial[workflow.id]

    def step(self, ticket: TicketState, event: e.WorkflowStep, at: datetime) -> list[d.Decision]:
        if ticket.workflow is None:
            return [d.Refused(ticket.id, at, "WorkflowStep", "the ticket follows no workflow")]
        workflow = self.workflows.get(ticket.workflow)
        if workflow is None or ticket.state not in {state.id for state in workflow.states}:
            return [d.Refused(ticket.id, at, "WorkflowStep", f"workflow `{ticket.workflow}` no longer exists in this version of the org")]
        current = next(s for s in workflow.states if s.id == ticket.state)
        if event.state not in current.next:
            allowed = ", ".join(f"`{s}`" for s in current.next) or "nothing (final state)"
            return [d.Refused(ticket.id, at, "WorkflowStep", f"`{workflow.id}` cannot go from `{current.id}` to `{event.state}`; "
                              f"next allowed: {allowed}")]
        ticket.state = event.state
        return [d.StateChanged(ticket.id, at, workflow.id, event.state)]
