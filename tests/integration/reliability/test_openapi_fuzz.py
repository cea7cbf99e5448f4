"""Schemathesis against the gateway's own OpenAPI, on the live stack (uvicorn on a socket,
MariaDB, Redis, the three gRPC servers).

Every operation gets valid (positive) and schema-violating (negative) Hypothesis-generated
requests, and schemathesis' deterministic coverage cases (each parameter at and past its
bounds, missing, mistyped; methods the path does not allow), signed in as a real user so
the /me routes get past 401. Each response must pass schemathesis'
default checks: no 5xx, a documented status code and content type, a body matching the
documented schema, invalid input rejected with a 4xx, auth enforced where declared.

The gateway and the gRPC servers run on the session event loop; schemathesis is
synchronous (requests), so each operation's Hypothesis run goes to a worker thread while
the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from tests.integration.gateway.conftest import Stack, sign_up
from tests.integration.reliability.conftest import FUZZ_EXAMPLES, table_counts

from kryptonite.config import Settings
from kryptonite.gateway.app import create_app

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]

SETTINGS = Settings()
#: The documented operations, read from the app without starting it.
PATHS = create_app(SETTINGS).openapi()["paths"]
OPERATIONS = sorted((method.upper(), path) for path, ops in PATHS.items() for method in ops)
#: (method, path, mode): negative cases only where there is an input to get wrong.
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE
    or PATHS[path][method.lower()].get("parameters")
    or "requestBody" in PATHS[path][method.lower()]
]
#: Tables fuzzing may add rows to (accounts, a user's own list, ratings and events).
WRITABLE = {"users", "user_movielist", "user_not_interested", "rating_explicit", "rating_implicit"}


@pytest.fixture(scope="session")
async def live_schema(api: httpx.AsyncClient) -> schemathesis.BaseSchema:
    """The schema as the running gateway serves it."""
    reply = await api.get("/openapi.json")
    assert reply.status_code == 200
    raw = reply.json()
    # A recommendations `limit` is bounded by a runtime setting; the app publishes it.
    for path in ("/me/recommendations", "/users/{user_id}/recommendations"):
        (limit,) = [p for p in raw["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        assert limit["schema"]["maximum"] == SETTINGS.gateway_max_limit
    return schemathesis.openapi.from_dict(raw)


@pytest.fixture(scope="session")
async def auth(api: httpx.AsyncClient) -> dict[str, str]:
    return (await sign_up(api))[1]


def fuzz(
    schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
) -> int:
    """Run ``FUZZ_EXAMPLES`` generated requests of one operation; the number sent."""
    operation = schema[path][method]
    sent = 0

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every CI run
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(base_url=base_url, headers=headers, session=session, timeout=30)

    with requests.Session() as session:
        run()
    return sent


def boundaries(
    schema: schemathesis.BaseSchema, method: str, path: str, base_url: str, headers: dict
) -> int:
    """Schemathesis' coverage phase for one operation: each parameter at and past its
    bounds, missing and of the wrong type, plus methods the path does not allow. All cases
    run; the failures are reported together. Returns the number of cases."""
    operation = schema[path][method]
    config = schema.config.generation_for(operation=operation, phase="coverage")
    cases = list(
        schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=config
        )
    )
    failures = []
    with requests.Session() as session:
        for case in cases:
            try:
                case.call_and_validate(
                    base_url=base_url, headers=headers, session=session, timeout=30
                )
            except FailureGroup as exc:
                failures.append(str(exc))
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(
        failures[:5]
    )
    return len(cases)


async def test_every_operation_is_fuzzed(live_schema: schemathesis.BaseSchema) -> None:
    """The list below is the live one (nothing added at runtime escapes the fuzzer)."""
    live = sorted((op.ok().method.upper(), op.ok().path) for op in live_schema.get_all_operations())
    assert live == OPERATIONS
    assert len(OPERATIONS) >= 15


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_operation_boundaries(
    live_schema: schemathesis.BaseSchema,
    api: httpx.AsyncClient,
    auth: dict[str, str],
    method: str,
    path: str,
) -> None:
    start = time.perf_counter()
    sent = await asyncio.to_thread(
        boundaries, live_schema, method, path, str(api.base_url).rstrip("/"), auth
    )
    print(f"{method} {path} coverage: {sent} requests in {time.perf_counter() - start:.1f}s")
    assert (await api.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g}" for m, p, g in CASES]
)
async def test_operation(
    live_schema: schemathesis.BaseSchema,
    api: httpx.AsyncClient,
    stack: Stack,
    auth: dict[str, str],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    before = table_counts(stack.db_url)
    start = time.perf_counter()
    sent = await asyncio.to_thread(
        fuzz, live_schema, method, path, mode, str(api.base_url).rstrip("/"), auth
    )
    assert sent >= 1, f"{method} {path}: nothing generated"
    print(f"{method} {path} {mode}: {sent} requests in {time.perf_counter() - start:.1f}s")
    after = table_counts(stack.db_url)
    assert after.keys() == before.keys()  # no table dropped or created
    assert {t: n for t, n in after.items() if t not in WRITABLE} == {
        t: n for t, n in before.items() if t not in WRITABLE
    }
    # The gateway still answers after the run.
    assert (await api.get("/healthz")).status_code == 200
