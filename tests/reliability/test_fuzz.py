"""Schemathesis against the gateway's OpenAPI schema (short version of bench/bench_fuzz.py).

Every operation, as an anonymous client, with a bearer token and with the session cookie, with valid
and invalid generated input: no 5xx, only documented status codes, bodies and headers that match the
schema, invalid input rejected. The app runs in-process (its own login limiter, so the fuzzed logins
block nobody else) on the real stack's database, Redis, cf_service and audio_service.
"""

from __future__ import annotations

from typing import Any

import pytest
from fuzzing import fuzz, session_factory
from gateway.app.main import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MAX_EXAMPLES = 10  # per operation, generation mode and kind of client: about 1,000 cases, 30-40 s


def test_every_operation_survives_fuzzing(stack: Any) -> None:
    app = create_app(stack.gateway_settings())
    report = fuzz(app, session_factory(stack.env["DATABASE_URL"], "bob"), max_examples=MAX_EXAMPLES, seed=8)
    print(
        f"schemathesis: {report.total} cases over {len(report.operations)} operations in {report.seconds:.0f} s; "
        f"statuses {dict(sorted(report.statuses.items()))}"
    )
    assert report.failures == {}, "\n\n".join(f"{k}\n{v}" for k, v in report.failures.items())
    paths = app.openapi()["paths"]
    assert len(report.operations) == sum(len(ops) for ops in paths.values()) >= 20
    assert all(report.cases[op] > 0 for op in report.operations), report.cases
    assert report.total >= 500 and 500 not in report.statuses
