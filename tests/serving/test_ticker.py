"""The background ticker: calls its work until stopped, and a failing call never stops it."""

from __future__ import annotations

import logging
import threading
import time

from serving.infra.ticker import Ticker


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_ticker_keeps_calling_through_failures_and_stops():
    log = logging.getLogger("signpost.ticker")  # `signpost` loggers do not propagate once serving runs
    collect = Collect()
    log.addHandler(collect)
    calls: list[int] = []
    third = threading.Event()

    def work() -> None:
        calls.append(len(calls))
        if len(calls) >= 3:
            third.set()
        if len(calls) == 1:
            raise RuntimeError("a background hiccup")

    ticker = Ticker("test-ticker", 0.01, work)
    ticker.start()
    ticker.start()  # a second start is a no-op, not a second thread
    try:
        assert third.wait(timeout=30), "the ticker stopped calling after a failure"
    finally:
        ticker.stop()
        log.removeHandler(collect)
    assert [t.name for t in threading.enumerate()].count("test-ticker") == 0
    after_stop = len(calls)
    time.sleep(0.05)
    assert len(calls) == after_stop  # nothing runs once stopped
    assert any("test-ticker failed" in m for m in collect.messages)


def test_a_ticker_with_no_interval_never_starts():
    ticker = Ticker("never", 0, lambda: None)
    ticker.start()
    assert all(t.name != "never" for t in threading.enumerate())
    ticker.stop()
