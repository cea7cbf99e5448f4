"""Errors a user can cause and fix; the CLI prints them as one line."""

from __future__ import annotations

from kryptonite.datasets.ingest import DatasetConflictError
from kryptonite.datasets.movielens import DatasetFormatError
from kryptonite.datasets.registry import UnknownDatasetError

EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    DatasetConflictError,
    DatasetFormatError,
    UnknownDatasetError,
    FileNotFoundError,
)
