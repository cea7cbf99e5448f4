"""Errors a user can cause and fix; the CLI prints them as one line."""

from __future__ import annotations

from kryptonite.datasets.download import DownloadError
from kryptonite.datasets.ingest import DatasetConflictError
from kryptonite.datasets.movielens import DatasetFormatError
from kryptonite.datasets.registry import UnknownDatasetError
from kryptonite.store.bulk import BulkLoadError
from kryptonite.store.training import TrainingDataError
from kryptonite.supervisor import ServiceError

EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    BulkLoadError,
    DatasetConflictError,
    DownloadError,
    DatasetFormatError,
    UnknownDatasetError,
    FileNotFoundError,
    ServiceError,
    TrainingDataError,
)
