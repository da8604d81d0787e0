"""The routing engine: typed events in, typed decisions out, on an injected clock."""

from .clock import Clock, RealClock, VirtualClock
from .decisions import *  # noqa: F401,F403
from .decisions import __all__ as _decisions
from .retries import DeadLetter, DeliveryPolicy, Undelivered
from .engine import Agent, Engine, ReloadReport
from .events import *  # noqa: F401,F403
from .events import __all__ as _events
from .postgres import PostgresStore
from .sqlite import SqliteStore, StoreError
from .store import MemoryStore, Store, TicketState

__all__ = ["Engine", "Agent", "ReloadReport", "DeliveryPolicy", "Undelivered", "DeadLetter", "SqliteStore", "PostgresStore", "StoreError", "Clock", "RealClock", "VirtualClock", "Store", "MemoryStore", "TicketState", *_events, *_decisions]
