"""A daemon thread that calls one function every few seconds until stopped.

The registry poller and the served-suggestions log both need one; a failing call is logged
and tried again at the next tick, so a background hiccup never stops the service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("signpost.ticker")


class Ticker:
    def __init__(self, name: str, seconds: float, work: Callable[[], object]) -> None:
        self.name = name
        self.seconds = seconds
        self.work = work
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or self.seconds <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.work()
            except Exception:  # tried again at the next tick
                log.exception("%s failed; trying again in %g s", self.name, self.seconds)
