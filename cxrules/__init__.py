"""cxrules: org-as-code for customer-service centres.

Load an org (``load_org``), validate it with every diagnostic (``validate_path``), and work
on the typed, frozen :class:`~cxrules.model.Org` it yields; prove its routing has no gaps
and no overlaps (``check``).
"""

from .diagnostics import Diagnostic, Location, Related, Severity
from .loading import LoadLimits
from .model import Org
from .validation import OrgError, ValidationResult, load_org, validate_path
from .checks import CheckConfig, check
from .version import __version__

__all__ = ["Diagnostic", "Location", "Related", "Severity", "LoadLimits", "Org", "OrgError", "ValidationResult",
           "load_org", "validate_path", "check", "CheckConfig", "__version__"]
