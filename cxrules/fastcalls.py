"""The standard library's functions that the compiled modules call on every event, bound as constants.

Compiled, a module-level name declared ``Final`` is a C static, and mypyc reads another compiled module's ``Final`` names
natively; any other global name, a function imported with ``from`` included, is looked up in the module's dict at each
use (a fifth of a µs). The engine, the calendars and the replay import these from here.
"""

from __future__ import annotations

import bisect
import functools
import heapq
from typing import Final

__all__ = ["bisect_left", "bisect_right", "insort", "heappush", "heappop", "partial"]

bisect_left: Final = bisect.bisect_left
bisect_right: Final = bisect.bisect_right
insort: Final = bisect.insort
heappush: Final = heapq.heappush
heappop: Final = heapq.heappop
partial: Final = functools.partial
