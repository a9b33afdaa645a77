"""Prometheus counters of the gateway (text exposition format at ``GET /metrics``)."""

from __future__ import annotations

import threading
from collections import defaultdict

HELP = {
    "gateway_cache_hits_total": "Redis cache hits by cache kind",
    "gateway_cache_misses_total": "Redis cache misses by cache kind",
    "gateway_cache_errors_total": "Redis calls that failed or timed out",
    "gateway_downstream_errors_total": "Calls to cf_service / audio_service that failed, timed out or answered 5xx",
    "gateway_degraded_responses_total": "Responses served without a component, by component",
}


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._values[key] += amount

    def value(self, name: str, **labels: str) -> float:
        return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            items = sorted(self._values.items())
        for name in sorted({n for (n, _), _ in items} | set(HELP)):
            lines.append(f"# HELP {name} {HELP.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            for (n, labels), value in items:
                if n != name:
                    continue
                label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}")
        return "\n".join(lines) + "\n"
