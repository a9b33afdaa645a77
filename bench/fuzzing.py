"""Schema-driven fuzzing of the gateway with schemathesis (used by tests/reliability/test_fuzz.py and
bench/bench_fuzz.py).

Every operation of the gateway's OpenAPI schema is called with cases that schemathesis generates from
it (valid ones, and invalid ones that the API must reject), as an anonymous client, with a bearer token
and with the session cookie. Each answer is checked: no 5xx, a status code the schema documents, the
documented content type and headers, a body that matches the documented schema, invalid input
rejected with a 4xx. The app runs in-process (ASGI) with its own lifespan, so its login limiter and
caches are its own, while its database, Redis and services may be those of a real stack.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

AUTH_MODES = ("anonymous", "bearer", "cookie")
SESSION_COOKIE = "musicrec_session"


@dataclass
class FuzzReport:
    cases: Counter[str] = field(default_factory=Counter)  # "METHOD /path" -> cases sent
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # "METHOD /path [auth, mode]" -> first failure
    operations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def session_factory(db_url: str, username: str) -> Callable[[], str]:
    """A function that opens a new login session for ``username`` straight in the database.

    Every authenticated case gets its own session, so a fuzzed ``POST /api/auth/logout`` ends only its own.
    """
    from gateway.db import accounts
    from gateway.db.session import make_engine, make_sessionmaker

    sessions = make_sessionmaker(make_engine(db_url))
    with sessions() as db:
        user = accounts.find_user(db, username)
        assert user is not None, f"no user {username!r}"
        user_id = user.id

    def new_token() -> str:
        with sessions() as db:
            return accounts.start_session(db, user_id, dt.timedelta(hours=1)).token

    return new_token


def fuzz(
    app: Any,
    new_token: Callable[[], str],
    *,
    max_examples: int,
    modes: tuple[str, ...] = ("positive", "negative"),
    auth_modes: tuple[str, ...] = AUTH_MODES,
    seed: int = 0,
    skip: Callable[[str], bool] = lambda _: False,
) -> FuzzReport:
    """Fuzz every operation of ``app``'s schema; failures are collected, not raised."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        negative_data_rejection,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    report = FuzzReport()
    start = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if skip(label):
            continue
        report.operations.append(label)
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=GenerationMode(mode))
            for auth in auth_modes:
                test = _case_runner(report, label, auth, new_token, checks)
                run = hypothesis_seed(seed)(
                    settings(
                        max_examples=max_examples,
                        deadline=None,
                        database=None,
                        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure as is
                        suppress_health_check=list(HealthCheck),
                    )(given(case=strategy)(test))
                )
                try:
                    run()
                except Unsatisfiable:
                    pass  # nothing invalid can be sent to this operation (it takes no input)
                except (Exception, BaseExceptionGroup) as exc:  # failed checks: keep the first, go on
                    report.failures[f"{label} [{auth}, {mode}]"] = f"{type(exc).__name__}: {exc}"[:3000]
    report.seconds = time.monotonic() - start
    return report


def _case_runner(
    report: FuzzReport, label: str, auth: str, new_token: Callable[[], str], checks: list[Any]
) -> Callable[[Any], None]:
    def test(case: Any) -> None:
        kwargs: dict[str, Any] = {}
        if auth == "bearer":
            kwargs["headers"] = {"Authorization": f"Bearer {new_token()}"}
        elif auth == "cookie":
            kwargs["cookies"] = {SESSION_COOKIE: new_token()}
        response = case.call(**kwargs)
        report.cases[label] += 1
        report.statuses[response.status_code] += 1
        case.validate_response(response, checks=checks)

    return test
