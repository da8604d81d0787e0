"""`cxrules simulate`: replay a client's ticket log against an org (or two) in virtual time."""

from .mapping import LogError, LogMapping, TicketRecord, Unmapped, load_mapping, read_log
from .replay import SimulationResult, simulate

__all__ = ["LogError", "LogMapping", "TicketRecord", "Unmapped", "load_mapping", "read_log", "SimulationResult", "simulate"]
