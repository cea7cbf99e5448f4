"""Bad-input suite: the gateway stack (real socket, MariaDB, Redis, three grpc.aio servers)
and the real trained services, reused from tests/integration/gateway and .../services.

Also the database integrity probe: the tables present and their row counts, compared
before and after hostile input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from sqlalchemy import MetaData, func, select

# Fixtures reused as they are (importing them here registers them for this folder).
from tests.integration.gateway.conftest import api, gateway_db, stack  # noqa: F401
from tests.integration.services.conftest import services, trained  # noqa: F401

from kryptonite.store.engine import create_sync_engine

#: Examples per operation (schemathesis) or per property (hypothesis); CI keeps it small,
#: a local run may raise it (KRYPTONITE_TEST_FUZZ_EXAMPLES=500).
FUZZ_EXAMPLES = int(os.environ.get("KRYPTONITE_TEST_FUZZ_EXAMPLES", "25"))


def table_counts(url: str, ignore_users: Iterable[int] = ()) -> dict[str, int]:
    """``{table: rows}`` of every table in the database at ``url``, not counting the rows
    of ``ignore_users`` (in tables with a ``user_id`` column)."""
    ignored = list(ignore_users)
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            meta = MetaData()
            meta.reflect(conn)
            out = {}
            for name, tbl in sorted(meta.tables.items()):
                query = select(func.count()).select_from(tbl)
                if ignored and "user_id" in tbl.c:
                    query = query.where(tbl.c.user_id.not_in(ignored))
                out[name] = conn.execute(query).scalar_one()
            return out
    finally:
        engine.dispose()
