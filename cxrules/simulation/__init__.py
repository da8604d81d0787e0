"""`cxrules simulate`: replay a client's ticket log against an org (or two) in virtual time, driven by work.

Read a log with its mapping (:func:`read_log`: flat or event logs), replay it as-is or
what-if (:func:`simulate`), hold the replay against the log itself (:func:`backtest`), and
calibrate a what-if model from a log (:func:`calibrate`).
"""

from .backtest import Backtest, Tolerances, backtest
from .calibration import calibrate, load_model
from .customers import CrowdedCustomer, crowded_customers
from .figures import SimulationResult
from .history import Pause, Stint, TicketRecord
from .mapping import LogError, LogMapping, Unmapped, load_mapping, read_log
from .replay import SimulationError, simulate

__all__ = ["LogError", "LogMapping", "Pause", "Stint", "TicketRecord", "Unmapped", "load_mapping", "read_log", "SimulationResult",
           "SimulationError", "simulate", "Backtest", "Tolerances", "backtest", "calibrate", "load_model", "CrowdedCustomer", "crowded_customers"]
