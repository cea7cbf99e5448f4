"""Structured logging set up once per process."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

#: Libraries whose INFO lines are noise in every run: faiss reports each CPU build it
#: probes ("Could not load library with AVX2 support ... ModuleNotFoundError"), httpx one
#: line per request (the demo's readiness polls, already in the gateway's access log).
QUIET_LOGGERS = ("faiss", "httpx")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra`` fields kept."""

    _std = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._std})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """Route the root logger to stderr in text or JSON form."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
