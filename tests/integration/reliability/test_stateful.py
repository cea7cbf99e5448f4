"""Schemathesis in stateful mode over the live gateway (its CLI engine, as a subprocess,
while the session loop serves): chains of calls along the links schemathesis infers from
the OpenAPI (register -> the user's recommendations, a listed movie -> rate it, remove it,
its similar movies ...), signed in as a real user. Every response passes schemathesis'
default checks; none may be a 5xx. The figures go to docs/reliability.md."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import pytest
from tests.integration.gateway.conftest import sign_up
from tests.integration.reliability.conftest import FUZZ_EXAMPLES

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


async def test_stateful_workflows(api: httpx.AsyncClient, tmp_path: Path) -> None:
    _, auth = await sign_up(api)
    base = str(api.base_url).rstrip("/")
    cli = Path(sys.executable).with_name("schemathesis")
    proc = await asyncio.create_subprocess_exec(
        str(cli),
        "run",
        f"{base}/openapi.json",
        "--phases=stateful",
        f"--max-examples={FUZZ_EXAMPLES}",
        "--header",
        f"Authorization:{auth['Authorization']}",
        "--request-timeout=30",
        "--report=junit",
        f"--report-dir={tmp_path}",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 600)
    text = out.decode(errors="replace")
    print(text[-3000:])
    # Exit 0: every default check passed on every response, not_a_server_error included.
    assert proc.returncode == 0, text[-4000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", text)
    assert cases and int(cases[1]) >= FUZZ_EXAMPLES and cases[1] == cases[2], text[-2000:]
