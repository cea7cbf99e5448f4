"""A normal run's output has no library noise: faiss's CPU probing, httpx's request lines."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import logging
from kryptonite.logging import configure_logging
configure_logging("INFO")
import faiss  # probes AVX512/AVX2 builds, logging a ModuleNotFoundError at INFO for each
logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:8000/readyz 200")
logging.getLogger("kryptonite").info("kept")
"""


def test_faiss_probing_and_httpx_requests_are_not_logged() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("INFO kryptonite: kept"), lines
