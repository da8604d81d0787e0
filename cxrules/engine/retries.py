"""What a failing handler leaves owed: the policy it is tried again by, the decisions still owed, the dead letters.

Ordinary classes, which a service keeps, copies, pickles and extends (a policy of its own backoff): the delivery itself
(:mod:`.delivery`) is compiled, and a compiled module's classes are none of that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import decisions as d

__all__ = ["DeliveryPolicy", "Undelivered", "DeadLetter"]


@dataclass(frozen=True)
class DeliveryPolicy:
    """How often and how patiently a failing handler is tried again."""

    attempts: int = 5
    """Tries in all, the first included, before a decision becomes a dead letter."""
    first_delay: timedelta = timedelta(seconds=30)
    factor: float = 4.0
    max_delay: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.factor < 1 or self.first_delay < timedelta(0) or self.max_delay < self.first_delay:
            raise ValueError("DeliveryPolicy needs attempts >= 1, factor >= 1 and 0 <= first_delay <= max_delay")

    def delay(self, failed: int) -> timedelta:
        """The wait after the ``failed``-th failed try: 30 s, 2 min, 8 min, 32 min, then hourly by default."""
        if failed > 30:
            return self.max_delay
        return min(self.first_delay * (self.factor ** (failed - 1)), self.max_delay)


@dataclass(frozen=True)
class Undelivered:
    """A decision whose handlers have not all returned yet; tried again at ``next_try``."""

    decision: d.Decision
    attempts: int
    next_try: datetime
    error: str


@dataclass(frozen=True)
class DeadLetter:
    """A decision given up on after ``attempts`` failed tries; the store keeps it for an operator."""

    decision: d.Decision
    attempts: int
    error: str
