"""Process tuning for the service's workers, in one place, each with its reason.

Both were measured on the recommendation path (README, benchmark section, "How it got
here"): the GC settings about -25 us of CPU per request; the log records are one of the three
changes of its last step.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable


def quiet_log_records() -> None:
    """Log records skip what the service's JSON lines never carry.

    Every record otherwise looks up the calling frame's file and line and the thread and
    process names, as the logging HOWTO's "Optimization" section explains. Only in the
    server's workers (`serving.http.asgi`), so tests and the CLI keep the detail. The caller
    lookup is switched off through `Logger.findCaller`, giving what logging itself records
    when it has no source file to look for.
    """
    logging.Logger.findCaller = _no_caller  # type: ignore[method-assign]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def _no_caller(self: logging.Logger, stack_info: bool = False, stacklevel: int = 1):
    return "(unknown file)", 0, "(unknown function)", None


def freeze_startup_heap() -> Callable[[], None]:
    """Keep the cyclic GC off what start-up loaded, and run it less often; returns the undo.

    Everything loaded so far (models, processed data) lives as long as the process: frozen,
    it is never re-scanned on a full collection (long pauses show up as p99 latency).
    Reference counting frees a request's garbage as it goes; at the default thresholds the
    collector ran every few requests (measured: -8% CPU per recommendation at 20,000
    allocations per young collection).
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(20_000, 50, 100)
    return lambda: gc.set_threshold(*thresholds)
