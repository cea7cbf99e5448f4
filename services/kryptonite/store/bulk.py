"""Set-based bulk upsert of a DataFrame into a table, inside the caller's transaction.

MySQL/MariaDB: the rows are streamed with ``LOAD DATA LOCAL INFILE`` straight into an
empty table, or else into a temporary staging table that is merged with one
``INSERT … SELECT … ON DUPLICATE KEY UPDATE``.
SQLite: one ``executemany`` of ``INSERT … ON CONFLICT DO UPDATE``.
Either way the caller's transaction decides whether any of it becomes visible.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, func, literal, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

_NULL = r"\N"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> str:
    """Quote a table/column name of our schema; values always travel as parameters."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a schema identifier: {name!r}")
    return f"`{name}`"


def _tsv_column(values: pd.Series) -> pd.Series:
    """One column as LOAD DATA text: escapes for \\, tab, newline; NULL as \\N."""
    null = values.isna()
    if pd.api.types.is_float_dtype(values) and not null.any():
        text = pd.Series(np.char.mod("%.9g", values.to_numpy()), index=values.index)
    else:
        text = values.astype(str)
    special = pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
    if special and text.str.contains(r"[\\\t\n\r]", regex=True).any():
        text = (
            text.str.replace("\\", "\\\\", regex=False)
            .str.replace("\t", "\\t", regex=False)
            .str.replace("\n", "\\n", regex=False)
            .str.replace("\r", "\\r", regex=False)
        )
    return text.mask(null, _NULL)


def to_tsv(frame: pd.DataFrame, path: str) -> None:
    """Write ``frame`` as a headerless LOAD DATA file."""
    columns = [_tsv_column(frame[c]) for c in frame.columns]
    lines = columns[0].str.cat(columns[1:], sep="\t") if len(columns) > 1 else columns[0]
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write("\n".join(lines.tolist()))
        out.write("\n")


class BulkLoadError(RuntimeError):
    """LOAD DATA skipped or altered rows (LOCAL turns such errors into warnings)."""


def load_data_infile(conn: Connection, table: str, columns: Sequence[str], path: str) -> int:
    """``LOAD DATA LOCAL INFILE`` ``path`` into ``table``; any warning is an error.

    With LOCAL, MariaDB downgrades foreign-key, duplicate-key and truncation errors to
    warnings and skips or alters the row. We refuse that: the caller's transaction rolls back.
    """
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {_ident(table)} CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
            f"({', '.join(_ident(c) for c in columns)})",
            (path,),
        )
        loaded = cursor.rowcount
        cursor.execute("SHOW WARNINGS LIMIT 1")
        first = cursor.fetchone()
    finally:
        cursor.close()
    if first is not None:
        raise BulkLoadError(f"loading {table}: {first[2]}")
    return loaded


def upsert_frame(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    *,
    update: Sequence[str] = (),
    keep_existing: Sequence[str] = (),
) -> int:
    """Insert ``frame`` into ``table``; on a key clash update the ``update`` columns.

    ``keep_existing`` columns are updated only where the new value is not NULL.
    With no update columns, existing rows are left as they are.
    """
    if frame.empty:
        return 0
    if conn.dialect.name in ("mysql", "mariadb"):
        return _mysql_upsert(conn, table, frame, update, keep_existing)
    return _sqlite_upsert(conn, table, frame, update, keep_existing)


def _load_file(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    fd, path = tempfile.mkstemp(suffix=".tsv", prefix=f"kryptonite-{table}-")
    os.close(fd)
    try:
        to_tsv(frame, path)
        load_data_infile(conn, table, list(frame.columns), path)
    finally:
        os.unlink(path)


def _mysql_upsert(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    update: Sequence[str],
    keep_existing: Sequence[str],
) -> int:
    if conn.execute(select(literal(1)).select_from(table).limit(1)).first() is None:
        _load_file(conn, table.name, frame)  # empty table: nothing to merge with
        return len(frame)
    live, stage = _ident(table.name), _ident(f"stage_{table.name}")
    conn.exec_driver_sql(f"DROP TEMPORARY TABLE IF EXISTS {stage}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} LIKE {live}")
    _load_file(conn, f"stage_{table.name}", frame)
    assignments = [f"{_ident(c)} = new.{_ident(c)}" for c in update]
    assignments += [
        f"{_ident(c)} = COALESCE(new.{_ident(c)}, {live}.{_ident(c)})" for c in keep_existing
    ]
    if not assignments:  # a no-op update keeps existing rows, without IGNORE's warnings
        key = _ident(table.primary_key.columns.keys()[0])
        assignments = [f"{key} = {live}.{key}"]
    cols = ", ".join(_ident(c) for c in frame.columns)
    result = conn.exec_driver_sql(
        f"INSERT INTO {live} ({cols}) SELECT {cols} FROM {stage} AS new "  # noqa: S608
        f"ON DUPLICATE KEY UPDATE {', '.join(assignments)}"
    )
    conn.exec_driver_sql(f"DROP TEMPORARY TABLE {stage}")
    return result.rowcount


def _sqlite_upsert(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    update: Sequence[str],
    keep_existing: Sequence[str],
) -> int:
    stmt = sqlite_insert(table)
    keys = [c.name for c in table.primary_key.columns]
    sets = {c: stmt.excluded[c] for c in update}
    for c in keep_existing:
        sets[c] = func.coalesce(stmt.excluded[c], table.c[c])
    stmt = (
        stmt.on_conflict_do_update(index_elements=keys, set_=sets)
        if sets
        else stmt.on_conflict_do_nothing()
    )
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    conn.execute(stmt, records)
    return len(records)
