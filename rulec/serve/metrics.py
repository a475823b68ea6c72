"""Prometheus metrics of `rulec serve` (prometheus_client), one set per process; with several
workers they are aggregated through PROMETHEUS_MULTIPROC_DIR (set by the parent)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Latency buckets in seconds: the service target is p99 under 5 ms, so resolve around it.
BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5)


class Metrics:
    """The service's counters and histograms; `render()` gives the exposition text."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        # In multiprocess mode the values live in files of the shared directory; the
        # exposition registry only holds the collector that sums them up.
        own = None if self.multiprocess else self.registry

        def counter(name, doc, *labels):
            return Counter(name, doc, labels, registry=own)

        self.decisions = counter(
            "rulec_decisions",
            "Decisions made, by shop, step and target kind (agent, robot, group_robot, ...)",
            "shop", "step", "target_kind",
        )  # fmt: skip
        self.latency = Histogram(
            "rulec_request_seconds",
            "Time to answer a request, by endpoint",
            ["endpoint"],
            buckets=BUCKETS,
            registry=own,
        )
        self.errors = counter(
            "rulec_request_errors",
            "Requests answered with an error, by endpoint and code",
            "endpoint", "code",
        )  # fmt: skip
        self.store_errors = counter(
            "rulec_store_errors", "State store failures, by shop and code", "shop", "code"
        )
        self.degraded = counter(
            "rulec_degraded_decisions",
            "Decisions taken without the shared store (redis on_error=degrade)",
            "shop",
        )
        self.reloads = counter(
            "rulec_reloads",
            "Table reloads, by shop and result (loaded or refused)",
            "shop",
            "result",
        )
        self.log_dropped = counter(
            "rulec_decision_log_dropped", "Decision log records dropped (writer behind)"
        )
        self.loaded_at = Gauge(
            "rulec_table_loaded_at_seconds",
            "When the table now served for a shop was loaded (Unix time)",
            ["shop"],
            registry=own,
            multiprocess_mode="max",
        )
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)
        self._decision_children: dict = {}

    def decision(self, shop: str, decision: dict) -> None:
        """Count one decision (label children cached: this runs for every decision)."""
        key = (shop, decision["step"], decision["target"])
        child = self._decision_children.get(key)
        if child is None:
            kind = decision["target"].split(":", 1)[0]
            child = self.decisions.labels(shop, decision["step"], kind)
            if len(self._decision_children) < 100_000:
                self._decision_children[key] = child
        child.inc()
        if decision.get("degraded"):
            self.degraded.labels(shop).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
