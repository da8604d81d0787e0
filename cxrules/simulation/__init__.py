"""`cxrules simulate`: replay a client's ticket log against an org (or two) in virtual time."""

from .history import Pause, Stint, TicketRecord
from .mapping import LogError, LogMapping, Unmapped, load_mapping, read_log
from .replay import SimulationResult, simulate

__all__ = ["LogError", "LogMapping", "Pause", "Stint", "TicketRecord", "Unmapped", "load_mapping", "read_log", "SimulationResult", "simulate"]
