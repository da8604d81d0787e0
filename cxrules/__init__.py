"""cxrules: org-as-code for customer-service centres.

Load an org (``load_org``), validate it with every diagnostic (``validate_path``), and work
on the typed, frozen :class:`~cxrules.model.Org` it yields; prove its routing has no gaps
and no overlaps (``check``); run it (``Engine``); replay a ticket log against it
(``read_log``, ``simulate``, ``backtest``) and calibrate a simulation model from a log
(``calibrate``). The engine and the simulation are imported on first use, so loading and
checking an org stays light.
"""

from .diagnostics import Diagnostic, Location, Related, Severity
from .loading import LoadLimits
from .model import Org
from .validation import OrgError, ValidationResult, load_org, validate_path
from .checks import CheckConfig, check
from .version import __version__

_LAZY = {"Engine": "cxrules.engine", "simulate": "cxrules.simulation", "backtest": "cxrules.simulation",
         "read_log": "cxrules.simulation", "load_mapping": "cxrules.simulation", "calibrate": "cxrules.simulation"}
"""Names served from the engine and the simulation on first use (they pull in durable-rules and scipy)."""


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cxrules' has no attribute {name!r}")


__all__ = ["Engine", "simulate", "backtest", "read_log", "load_mapping", "calibrate", "Diagnostic", "Location", "Related", "Severity", "LoadLimits", "Org", "OrgError", "ValidationResult",
           "load_org", "validate_path", "check", "CheckConfig", "__version__"]
