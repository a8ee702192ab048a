"""Prometheus metrics: request counts and latencies by route template, refusals, models served.

With several workers set PROMETHEUS_MULTIPROC_DIR (`signpost serve` does) and /metrics
aggregates every worker's figures.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("signpost_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "signpost_request_seconds",
    "Time to answer, by route template",
    ["route"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BATCH = Histogram(
    "signpost_recommendation_batch_size", "Recommendation requests answered by one model call",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
REFUSALS = Counter("signpost_refusals_total", "403 refusals by action and reason code", ["action", "code"])
RATE_LIMITED = Counter("signpost_rate_limited_total", "429 answers by kind", ["kind"])
DEGRADED = Gauge("signpost_degraded", "1 while recommendations come from the popularity fallback",
                 multiprocess_mode="max")
MODEL_VERSION = Gauge("signpost_model_version", "Registry version served (0: none)", ["model"],
                      multiprocess_mode="max")


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def models_changed(models) -> None:
    DEGRADED.set(1 if models.degraded else 0)
    for name, loaded in (("recommender", models.recommender), ("early_help", models.early_help)):
        try:
            MODEL_VERSION.labels(name).set(float(loaded.version) if loaded is not None else 0)
        except ValueError:
            MODEL_VERSION.labels(name).set(-1)
